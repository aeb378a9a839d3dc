/**
 * Text widths from the DejaVu TTFs themselves (advance widths from `hmtx`, glyphs via the `cmap`
 * format-4 table), so Vega lays out titles, legends and labels for the font resvg really draws.
 * Without a canvas, Vega guesses 0.8 em per character, ~35% too wide for DejaVu Sans, which
 * leaves large gaps beside long titles.
 */
import { readFileSync } from 'node:fs';

export interface FontMetrics {
  unitsPerEm: number;
  /** Advance width in font units of a BMP code point (the .notdef advance if unmapped). */
  advance(codePoint: number): number;
}

/** Parse the advance widths and the BMP character map of a TrueType font. */
export function parseFontMetrics(bytes: Uint8Array): FontMetrics {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tables = new Map<string, number>();
  const numTables = view.getUint16(4);
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + 16 * i;
    const tag = String.fromCharCode(bytes[rec]!, bytes[rec + 1]!, bytes[rec + 2]!, bytes[rec + 3]!);
    tables.set(tag, view.getUint32(rec + 8));
  }
  const need = (tag: string): number => {
    const off = tables.get(tag);
    if (off === undefined) throw new Error(`font: table '${tag}' missing`);
    return off;
  };
  const unitsPerEm = view.getUint16(need('head') + 18);
  const numberOfHMetrics = view.getUint16(need('hhea') + 34);
  const hmtx = need('hmtx');
  const glyphAdvance = (g: number): number => view.getUint16(hmtx + 4 * Math.min(g, numberOfHMetrics - 1));

  // cmap: the (3,1) Windows Unicode BMP subtable, format 4.
  const cmap = need('cmap');
  let sub = -1;
  for (let i = 0, n = view.getUint16(cmap + 2); i < n; i++) {
    const rec = cmap + 4 + 8 * i;
    if (view.getUint16(rec) === 3 && view.getUint16(rec + 2) === 1) sub = cmap + view.getUint32(rec + 4);
  }
  if (sub < 0 || view.getUint16(sub) !== 4) throw new Error('font: no (3,1) format-4 cmap');
  const segCount = view.getUint16(sub + 6) / 2;
  const endCodes = sub + 14;
  const startCodes = endCodes + 2 * segCount + 2;
  const idDeltas = startCodes + 2 * segCount;
  const idRangeOffsets = idDeltas + 2 * segCount;

  const glyphOf = (c: number): number => {
    for (let i = 0; i < segCount; i++) {
      if (c > view.getUint16(endCodes + 2 * i)) continue;
      const start = view.getUint16(startCodes + 2 * i);
      if (c < start) return 0;
      const delta = view.getInt16(idDeltas + 2 * i);
      const ro = view.getUint16(idRangeOffsets + 2 * i);
      if (ro === 0) return (c + delta) & 0xffff;
      const g = view.getUint16(idRangeOffsets + 2 * i + ro + 2 * (c - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  const cache = new Map<number, number>();
  return {
    unitsPerEm,
    advance(codePoint: number): number {
      let a = cache.get(codePoint);
      if (a === undefined) {
        a = glyphAdvance(codePoint > 0xffff ? 0 : glyphOf(codePoint));
        cache.set(codePoint, a);
      }
      return a;
    },
  };
}

/** Width in pixels of `text` set in a font with `metrics` at `fontSize` px (no kerning). */
export function textWidth(metrics: FontMetrics, text: string, fontSize: number): number {
  let units = 0;
  for (const ch of text) units += metrics.advance(ch.codePointAt(0)!);
  return (units * fontSize) / metrics.unitsPerEm;
}

/** Metrics of a font file, parsed once. */
const fileCache = new Map<string, FontMetrics>();
export function fontMetricsFromFile(path: string): FontMetrics {
  let m = fileCache.get(path);
  if (!m) {
    m = parseFontMetrics(readFileSync(path));
    fileCache.set(path, m);
  }
  return m;
}
