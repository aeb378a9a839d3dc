/**
 * Vega-Lite spec -> SVG (vega View, renderer 'none') -> PNG (resvg). No browser.
 * resvg gets the DejaVu TTFs by file and no system fonts, so text renders the same on every
 * machine (and never silently disappears for lack of a font).
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import { writeFileAtomic } from '../io/atomic.js';
import { fontMetricsFromFile, textWidth } from './font-metrics.js';
import { FIGURE_FORMATS, FONT_FAMILY, type FigureFormat, type VlSpec } from './theme.js';

const require = createRequire(import.meta.url);

let fontFilesCache: string[] | undefined;
/** Absolute paths of the DejaVu Sans TTFs shipped by the `dejavu-fonts-ttf` package. */
export function fontFiles(): string[] {
  fontFilesCache ??= ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSans-Oblique.ttf'].map((f) =>
    require.resolve(`dejavu-fonts-ttf/ttf/${f}`),
  );
  return fontFilesCache;
}

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  fontStyle?: string;
}
type TextMetrics = { width: (item: TextItem, text?: string) => number };

let metricsInstalled = false;
/**
 * Make Vega measure text with DejaVu's real advance widths (Vega has no canvas here and would
 * otherwise guess 0.8 em per character). Vega supports replacing `textMetrics.width` (vl-convert
 * does the same); `vega` re-exports the scenegraph's shared `textMetrics` object.
 */
export function installTextMetrics(): void {
  if (metricsInstalled) return;
  const [regular, bold, oblique] = fontFiles().map(fontMetricsFromFile) as [ReturnType<typeof fontMetricsFromFile>, ReturnType<typeof fontMetricsFromFile>, ReturnType<typeof fontMetricsFromFile>];
  const tm = (vega as unknown as { textMetrics: TextMetrics }).textMetrics;
  tm.width = (item: TextItem, text?: string): number => {
    const size = item.fontSize != null ? +item.fontSize || 0 : 11;
    const str = text == null ? '' : String(text).trim();
    if (size <= 0 || str.length === 0) return 0;
    const w = item.fontWeight;
    const isBold = w === 'bold' || w === 'bolder' || (typeof w === 'number' && w >= 600) || (typeof w === 'string' && Number(w) >= 600);
    const m = isBold ? bold : item.fontStyle === 'italic' || item.fontStyle === 'oblique' ? oblique : regular;
    return textWidth(m, str, size);
  };
  metricsInstalled = true;
}

/** Compile a Vega-Lite spec and render it to an SVG string. */
export async function specToSvg(spec: VlSpec): Promise<string> {
  installTextMetrics();
  // Vega tags data rows in place (Symbol(vega_id)): compile a copy so the caller's spec stays clean.
  const vg = compile(structuredClone(spec) as unknown as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface RasterOptions {
  /** Zoom factor (default: 2, raised so the PNG is at least `minWidth` pixels wide). */
  scale?: number;
  /** Minimum PNG width in pixels (default 1600), capped at 4x zoom. */
  minWidth?: number;
  /** Load the DejaVu fonts (default true; false only to show what happens without fonts). */
  fonts?: boolean;
  /** Also write the Vega-Lite spec (data inline) as NAME.vl.json (renderFigure only). */
  writeSpec?: boolean;
  /** Which files renderFigure writes (default both): `plot --format svg` writes only the vector file. */
  formats?: readonly FigureFormat[];
}


/** SVG width in CSS pixels, read from the root element. */
export function svgWidth(svg: string): number {
  const m = /<svg[^>]*\swidth="([\d.]+)"/.exec(svg);
  return m ? Number(m[1]) : 800;
}

function zoomFor(svg: string, opts: RasterOptions): number {
  const base = opts.scale ?? 2;
  const minWidth = opts.minWidth ?? 1600;
  return Math.min(4, Math.max(base, minWidth / svgWidth(svg)));
}

function resvgFor(svg: string, opts: RasterOptions): Resvg {
  const fonts = opts.fonts ?? true;
  return new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: zoomFor(svg, opts) },
    font: fonts
      ? { fontFiles: fontFiles(), loadSystemFonts: false, defaultFontFamily: FONT_FAMILY }
      : { fontFiles: [], loadSystemFonts: false, defaultFontFamily: FONT_FAMILY },
  });
}

/** Rasterise an SVG to PNG bytes. */
export function svgToPng(svg: string, opts: RasterOptions = {}): Uint8Array {
  return resvgFor(svg, opts).render().asPng();
}

/** Raw RGBA pixels (row-major, 4 bytes per pixel) of the rasterised SVG, for tests and checks. */
export function svgToPixels(svg: string, opts: RasterOptions = {}): { width: number; height: number; zoom: number; pixels: Uint8Array } {
  const img = resvgFor(svg, opts).render();
  return { width: img.width, height: img.height, zoom: zoomFor(svg, opts), pixels: new Uint8Array(img.pixels) };
}

/** Render `spec` to `dir/name.svg` and `dir/name.png` (those of `opts.formats`; + `name.vl.json` with `writeSpec`), atomically; returns the paths. */
export async function renderFigure(spec: VlSpec, dir: string, name: string, opts: RasterOptions = {}): Promise<string[]> {
  // synchronous, like every write of a report: an async mkdir -p still running on the thread pool
  // could recreate a report's staging folder after a SIGTERM handler removed it (report/write-unit.ts)
  mkdirSync(dir, { recursive: true });
  await new Promise((resolve) => setImmediate(resolve)); // a turn of the event loop per figure: a SIGTERM or Ctrl-C is handled between figures
  const svg = await specToSvg(spec);
  const formats = opts.formats ?? FIGURE_FORMATS;
  const files: string[] = [];
  if (formats.includes('svg')) {
    files.push(join(dir, `${name}.svg`));
    await writeFileAtomic(files[files.length - 1]!, svg);
  }
  if (formats.includes('png')) {
    files.push(join(dir, `${name}.png`));
    await writeFileAtomic(files[files.length - 1]!, svgToPng(svg, opts));
  }
  if (!opts.writeSpec) return files;
  const specPath = join(dir, `${name}.vl.json`);
  await writeFileAtomic(specPath, JSON.stringify(spec) + '\n');
  return [...files, specPath];
}
