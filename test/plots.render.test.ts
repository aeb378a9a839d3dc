/**
 * Rendered figures: the colours at -max, 0 and +max of a heatmap in the PNG pixels, text really
 * drawn (fonts loaded), DejaVu text widths used for layout, and the SVG/PNG files written.
 * Pixels come straight from resvg's RGBA buffer (no PNG decoder needed).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { circuitSpec } from '../src/plots/circuits.js';
import { fontMetricsFromFile, textWidth } from '../src/plots/font-metrics.js';
import { lossSpec } from '../src/plots/loss.js';
import { errorVsLengthSpec } from '../src/plots/error-curves.js';
import { CATEGORY, paperSpec, withContext } from '../src/plots/theme.js';
import { fontFiles, renderFigure, specToSvg, svgToPixels } from '../src/plots/render.js';

type Pixels = ReturnType<typeof svgToPixels>;
const rgbAt = (p: Pixels, x: number, y: number): number[] => {
  const i = 4 * (Math.round(y) * p.width + Math.round(x));
  return [p.pixels[i]!, p.pixels[i + 1]!, p.pixels[i + 2]!];
};
const isRgb = (p: Pixels, i: number, rgb: number[]): boolean =>
  p.pixels[i] === rgb[0] && p.pixels[i + 1] === rgb[1] && p.pixels[i + 2] === rgb[2];
/** Dark (text-like) pixels in a rectangle. */
function darkPixels(p: Pixels, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = 4 * (y * p.width + x);
      if (p.pixels[i]! < 100 && p.pixels[i + 1]! < 100 && p.pixels[i + 2]! < 100) n++;
    }
  }
  return n;
}

const NAVY_RGB = [0x0d, 0x27, 0x58];
const RED_RGB = [0xa3, 0x20, 0x15];
const WHITE_RGB = [255, 255, 255];

// QK with -max at (0,0), exactly 0 at (0,1), +max at (1,1); OV on a 30x larger scale, so a shared
// scale would wash the QK cells out.
const E = 6;
const qk = new Float64Array(E * E).map((_, i) => 0.01 * Math.sin(i + 1)); // [6, 6]
qk[0] = -0.2;
qk[1] = 0;
qk[E + 1] = 0.2;
const ov = Float64Array.from([0.5, -0.3, 0.1, 0.2, -0.4, 6]); // [6]

describe('rendered circuit heatmap', async () => {
  const svg = await specToSvg(circuitSpec({ qk, ov, layer: 1, head: 1 }, { showValues: false }));
  const px = svgToPixels(svg);

  it('is at least 1600 px wide (legible PNG)', () => {
    expect(px.zoom).toBeGreaterThanOrEqual(2);
    expect(px.width).toBeGreaterThanOrEqual(1600);
  });

  it('shows navy at -max, white at 0 and dark red at +max (QK on its own scale)', () => {
    // The first exact-navy pixel in raster order is the top-left corner of cell (0, 0): the only
    // other navy is the bottom end of the legend gradient, far lower.
    let first = -1;
    for (let i = 0; i < px.pixels.length; i += 4) {
      if (isRgb(px, i, NAVY_RGB)) { first = i / 4; break; }
    }
    expect(first).toBeGreaterThan(0);
    const x0 = first % px.width;
    const y0 = Math.floor(first / px.width);
    const cell = 64 * px.zoom; // default cell edge (64 px at E = 6) times the zoom
    expect(rgbAt(px, x0 + 0.5 * cell, y0 + 0.5 * cell)).toEqual(NAVY_RGB); // QK[0,0] = -max
    expect(rgbAt(px, x0 + 1.5 * cell, y0 + 0.5 * cell)).toEqual(WHITE_RGB); // QK[0,1] = 0
    expect(rgbAt(px, x0 + 1.5 * cell, y0 + 1.5 * cell)).toEqual(RED_RGB); // QK[1,1] = +max
    // a small entry (0.01 of 0.2) is close to white, not navy/red
    const small = rgbAt(px, x0 + 3.5 * cell, y0 + 2.5 * cell);
    expect(Math.min(...small)).toBeGreaterThan(225);
  });

  it('writes the same colours into the SVG (rgb-interpolated scale, exact endpoints)', () => {
    expect(svg).toMatch(/; r: 0; c: 0; v: −0\.2"[^>]*fill="rgb\(13, 39, 88\)"/);
    expect(svg).toMatch(/; r: 0; c: 1; v: 0"[^>]*fill="rgb\(255, 255, 255\)"/);
    expect(svg).toMatch(/; r: 1; c: 1; v: 0\.2"[^>]*fill="rgb\(163, 32, 21\)"/);
    expect(svg).toMatch(/; r: 5; c: 0; v: 6"[^>]*fill="rgb\(163, 32, 21\)"/); // OV's +max
    expect(svg).toContain('stroke="#008000"'); // green separators
    expect(svg).toContain('stroke-dasharray="7,4"');
  });

  it('draws the title text with the DejaVu fonts, and draws nothing there without them', () => {
    const band = Math.round(22 * px.zoom); // title line
    const withFonts = darkPixels(px, 0, 0, Math.round(300 * px.zoom), band);
    const bare = svgToPixels(svg, { fonts: false });
    const withoutFonts = darkPixels(bare, 0, 0, Math.round(300 * bare.zoom), band);
    expect(withFonts).toBeGreaterThan(2000);
    expect(withoutFonts).toBe(0);
    expect(svg).toContain('font-family="DejaVu Sans"');
  });
});

describe('text metrics', () => {
  it('measures DejaVu Sans advances close to what resvg draws (Vega would guess 0.8 em per character)', () => {
    const m = fontMetricsFromFile(fontFiles()[0]!);
    for (const t of ['Layer 1, Head 2: QK^h (scaled by 1/sqrt(d+1))', 'iiiiii', 'MMMMMM', '−0.139 ±3.17']) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="40"><text x="10" y="30" font-family="DejaVu Sans" font-size="20">${t}</text></svg>`;
      const ink = new Resvg(svg, { font: { fontFiles: fontFiles(), loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' } }).getBBox()!.width;
      const advance = textWidth(m, t, 20);
      // advance width = ink width + the side bearings of the first and last glyphs (a few px)
      expect(advance).toBeGreaterThan(ink);
      expect(advance - ink).toBeLessThan(6);
    }
    expect(textWidth(m, '0123456789', 10)).toBeCloseTo(10 * 10 * 1303 / 2048, 6); // tabular digits
  });
});

describe('figure files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'icl-plots-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes NAME.svg and NAME.png (PNG signature, 2x size) atomically, leaving no temp files', async () => {
    const files = await renderFigure(lossSpec({ trainLoss: Float64Array.from({ length: 3000 }, (_, i) => 1 + 4 * Math.exp(-i / 300)) }), dir, 'loss');
    expect(files).toEqual([join(dir, 'loss.svg'), join(dir, 'loss.png')]);
    const svgText = readFileSync(files[0]!, 'utf8');
    expect(svgText.startsWith('<svg')).toBe(true);
    const png = readFileSync(files[1]!);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const width = png.readUInt32BE(16);
    const svgW = Number(/width="([\d.]+)"/.exec(svgText)![1]);
    expect(width).toBe(Math.round(svgW * Math.max(2, 1600 / svgW)));
    expect(readdirSync(dir).sort()).toEqual(['loss.png', 'loss.svg']);
  });

  it('also writes the Vega-Lite spec with its data inline on request', async () => {
    const spec = lossSpec({ trainLoss: [3, 2, 1] });
    const files = await renderFigure(spec, dir, 'tiny', { writeSpec: true, scale: 1, minWidth: 0 });
    expect(files[2]).toBe(join(dir, 'tiny.vl.json'));
    const back = JSON.parse(readFileSync(files[2]!, 'utf8'));
    expect(back).toEqual(spec);
    expect(back.layer[1].data.values.map((r: { loss: number }) => r.loss)).toEqual([3, 2, 1]);
  });
});

describe('paper mode, rendered (plot --paper, issue 22 item 15)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'icl-paper-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const loss = withContext(lossSpec({ trainLoss: Float64Array.from({ length: 300 }, (_, i) => 1 + 4 * Math.exp(-i / 30)) }), 'run h2 · H = 2 · 300 steps');
  const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
  const sizes = (svg: string) => [...new Set([...svg.matchAll(/font-size="(\d+)px"/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);

  it('draws no title or context line, and sets every label in the paper size (14 px; titles 15)', async () => {
    const screen = await specToSvg(loss);
    const paper = await specToSvg(paperSpec(loss));
    expect(texts(screen)).toContain('Training and Validation Loss');
    expect(screen).toContain('>run h2 · H = 2 · 300 steps</tspan>'); // the context line, a subtitle line
    expect(paper).not.toMatch(/Training and Validation|run h2|subtitle/);
    expect(texts(paper)).toContain('Training step');
    expect(sizes(screen)).toEqual([11, 12, 15]);
    expect(sizes(paper)).toEqual([14, 15]);
    expect(sizes(await specToSvg(paperSpec(loss, 18)))).toEqual([18, 19]);
  });

  it('writes only the formats asked for (--format svg)', async () => {
    const files = await renderFigure(paperSpec(loss), dir, 'loss', { formats: ['svg'] });
    expect(files).toEqual([join(dir, 'loss.svg')]);
    expect(readdirSync(dir)).toEqual(['loss.svg']);
  });

  it('draws the model\'s line after (above) its kernel estimator\'s', async () => {
    const svg = await specToSvg(errorVsLengthSpec({ lengths: [10, 40, 160], methods: { h2: { mse: [1, 0.7, 0.3], stderr: [0.1, 0.1, 0.1] }, 'h2/kernel': { mse: [1, 0.7, 0.3], stderr: [0.1, 0.1, 0.1] } } }));
    // the line paths (stroke-width 2), in drawing order, by colour: the kernel's (2nd colour) then the model's (1st)
    const lines = [...svg.matchAll(/<path[^>]*stroke="(#[0-9a-fA-F]{6})"[^>]*stroke-width="2"/g)].map((m) => m[1]!.toUpperCase());
    expect(lines).toEqual([CATEGORY[1], CATEGORY[0]]);
  });
});
