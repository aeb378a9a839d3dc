/** issue 12, figures: report.html has a table of contents with anchors, and sharp (inline SVG) figures. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headingId, inlineSvg, markdownToHtml } from '../src/report/html.js';
import { tempDir } from './cli.helpers.js';

const tmp = tempDir('report-html');

const svg = (n: number) => `<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="100" height="50" viewBox="0 0 100 50"><defs><linearGradient id="gradient_1"/></defs><g class="mark-group role-frame root" role="graphics-object" aria-roledescription="group mark container"><rect fill="url(#gradient_1)" aria-label="cell ${n}"/><text font-family="DejaVu Sans">μʰ ${n}</text></g></svg>`;

describe('report.html', () => {
  it('has a table of contents (every h2 with its h3) before the first section, and an anchor on every heading', () => {
    const md = '# icl-lab report\n\nintro\n\n## Findings\n\n### 1. kernel-regressor\n\ntext\n\n### 2. two-heads-pair\n\n## Runs\n\ntable\n\n## Runs\n\nagain\n';
    const html = markdownToHtml(md, tmp);
    expect(html).toContain('<nav class="toc" id="contents"><h2>Contents</h2><ul><li><a href="#findings">Findings</a><ul><li><a href="#1-kernel-regressor">1. kernel-regressor</a></li><li><a href="#2-two-heads-pair">2. two-heads-pair</a></li></ul></li><li><a href="#runs">Runs</a></li><li><a href="#runs-2">Runs</a></li></ul></nav>');
    expect(html.indexOf('<nav class="toc"')).toBeLessThan(html.indexOf('<h2 id="findings">'));
    expect(html.indexOf('intro')).toBeLessThan(html.indexOf('<nav'));
    expect(html).toContain('<h3 id="1-kernel-regressor"><a class="anchor" href="#1-kernel-regressor">#</a> 1. kernel-regressor</h3>');
    expect(html).toContain('<h2 id="runs-2">');
    expect(headingId('h2: qk evolution layer1')).toBe('h2-qk-evolution-layer1');
  });

  it('inlines the SVG beside each PNG (vector: sharp at any zoom), ids prefixed per figure, Vega\'s aria/class attributes dropped', () => {
    mkdirSync(join(tmp, 'figures'), { recursive: true });
    for (const n of [1, 2]) {
      writeFileSync(join(tmp, 'figures', `f${n}.svg`), svg(n));
      writeFileSync(join(tmp, 'figures', `f${n}.png`), 'not used');
    }
    const html = markdownToHtml('## Figures\n\n![first](figures/f1.png)\n\n![second](figures/f2.png)\n', tmp);
    expect(html).not.toContain('data:image/png');
    expect(html).toContain('<svg role="img" aria-label="first" xmlns=');
    expect(html).toContain('id="f1-gradient_1"');
    expect(html).toContain('fill="url(#f2-gradient_1)"');
    expect(html).not.toMatch(/aria-roledescription|class="mark|role="graphics-object"|aria-label="cell/);
    expect(html).toContain('μʰ 2');
    expect(inlineSvg('<svg a="1"><use xlink:href="#x"/></svg>', 't', 'p')).toBe('<svg role="img" aria-label="t" a="1"><use xlink:href="#p-x"/></svg>');
  });
});
