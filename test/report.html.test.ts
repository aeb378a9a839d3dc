/**
 * issue 12, figures: report.html has a table of contents with anchors, and sharp (inline SVG) figures.
 * issue 22 item 19: the summary first, each run's figures folded in a <details>, no '#' before headings
 * (a real report in real Chromium at 1400 px).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { headingId, inlineSvg, markdownToHtml } from '../src/report/html.js';
import { tempDir } from './cli.helpers.js';
import { cli, launchBrowser, requireBrowserSetup, SHOTS } from './web.helpers.js';

const tmp = tempDir('report-html');

const svg = (n: number) => `<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="100" height="50" viewBox="0 0 100 50"><defs><linearGradient id="gradient_1"/></defs><g class="mark-group role-frame root" role="graphics-object" aria-roledescription="group mark container"><rect fill="url(#gradient_1)" aria-label="cell ${n}"/><text font-family="DejaVu Sans">μʰ ${n}</text></g></svg>`;

describe('report.html', () => {
  it('has a table of contents (every h2 with its h3) before the first section, and an anchor on every heading', () => {
    const md = '# icl-lab report\n\nintro\n\n## Findings\n\n### 1. kernel-regressor\n\ntext\n\n### 2. two-heads-pair\n\n## Runs\n\ntable\n\n## Runs\n\nagain\n';
    const html = markdownToHtml(md, tmp);
    expect(html).toContain('<nav class="toc" id="contents"><h2>Contents</h2><ul><li><a href="#findings">Findings</a><ul><li><a href="#1-kernel-regressor">1. kernel-regressor</a></li><li><a href="#2-two-heads-pair">2. two-heads-pair</a></li></ul></li><li><a href="#runs">Runs</a></li><li><a href="#runs-2">Runs</a></li></ul></nav>');
    expect(html.indexOf('<nav class="toc"')).toBeLessThan(html.indexOf('<h2 id="findings">'));
    expect(html.indexOf('intro')).toBeLessThan(html.indexOf('<nav'));
    // the heading text links to itself: no '#' drawn before it (issue 22 item 19)
    expect(html).toContain('<h3 id="1-kernel-regressor"><a class="self" href="#1-kernel-regressor">1. kernel-regressor</a></h3>');
    expect(html).not.toMatch(/>#</);
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

describe('report.html folds (issue 22 item 19)', () => {
  it('keeps the report\'s own <details>/<summary> folds, and shows any other raw HTML as text', () => {
    const md = '## Figures of each run\n\n<details>\n<summary>h2 &lt;b&gt; (H = 2): 1 figures (loss)</summary>\n\n#### h2: loss\n\ntext\n\n</details>\n\n<details onclick="x()">\n<summary>bad</summary>\n\n</details>\n\n<script>alert(1)</script>\n';
    const html = markdownToHtml(md, tmp);
    expect(html).toContain('<details>\n<summary>h2 &lt;b&gt; (H = 2): 1 figures (loss)</summary>\n<h4 id="h2-loss"><a class="self" href="#h2-loss">h2: loss</a></h4>');
    expect(html).toContain('&lt;details onclick=&quot;x()&quot;&gt;');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<details onclick');
    // h4 (the per-run figures) stay out of the table of contents
    expect(html).toContain('<nav class="toc" id="contents"><h2>Contents</h2><ul><li><a href="#figures-of-each-run">Figures of each run</a></li></ul></nav>');
  });
});

describe('a real report in Chromium at 1400 px (issue 22 item 19)', () => {
  const dir = tempDir('report-chromium');
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  afterAll(async () => browser?.close());

  it('opens with the summary (verdict, findings, headline figures) and each run\'s figures folded; no text starts with #', async () => {
    requireBrowserSetup();
    const tiny = ['--d', '3', '--context-length', '10', '--batch-size', '16', '--steps', '300', '--progress', 'none'];
    for (const h of ['1', '2']) cli(['train', '--out', join(dir, `h${h}`), '--heads', h, ...tiny]);
    cli(['report', join(dir, 'h1'), join(dir, 'h2'), '--out', join(dir, 'rep'), '--lengths', '5,10,20', '--eval-samples', '50', '--samples', '200']);
    const md = readFileSync(join(dir, 'rep', 'report.md'), 'utf8');
    const order = ['## Findings', '## Figures\n', '## Runs', '## Circuits', '## How each finding is judged', '## Figures of each run'].map((h) => md.indexOf(h));
    expect(order.every((x) => x >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(md.match(/^<details>$/gm)).toHaveLength(2);
    browser = await launchBrowser(join(dir, 'profile'));
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.goto(`file://${join(dir, 'rep', 'report.html')}`);
    const closed = await page.evaluate(() => document.documentElement.scrollHeight);
    // every per-run figure sits inside a closed <details>; the headline figures are outside any
    const figs = await page.evaluate(() => [...document.querySelectorAll('svg[role=img]')].map((e) => !!e.closest('details')));
    expect(figs.filter((x) => !x).length).toBeGreaterThanOrEqual(1);
    expect(figs.filter((x) => x).length).toBeGreaterThanOrEqual(8);
    expect(await page.evaluate(() => [...document.querySelectorAll('details')].map((d) => d.open))).toEqual([false, false]);
    const hashed = await page.evaluate(() => {
      const out: string[] = [];
      const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = w.nextNode(); n; n = w.nextNode()) if (n.textContent!.trim().startsWith('#') && !n.parentElement!.closest('svg')) out.push(n.textContent!);
      return out;
    });
    expect(hashed).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'report-folded.png') });
    await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
    const open = await page.evaluate(() => document.documentElement.scrollHeight);
    // two tiny runs: 11 figures folded, ~45 % of the page (the seed report of four runs: 26 folded, see docs/readme/formats.md)
    expect(closed).toBeLessThan(open * 0.6);
    expect(open - closed).toBeGreaterThan(4000);
    await page.close();
  }, 180_000);
});
