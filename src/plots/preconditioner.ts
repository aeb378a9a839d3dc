/**
 * The preconditioner figure of an anisotropic run (experiments/anisotropic-report.ts): d x d heatmaps
 * side by side on ONE diverging scale, e.g. the model's effective x-block sum_h mu^h QK^h[:d, :d]
 * beside the best multiples of Gamma* and Sigma^-1 and the residual, so equal colours are equal values.
 */
import { heatmapLayers, matrixCells, tokenAxis } from './heatmap.js';
import { divergingScale, maxAbs, topLevel, type VlSpec } from './theme.js';

export interface MatrixPanel {
  title: string;
  subtitle: string;
  /** Row-major d x d. */
  m: ArrayLike<number>;
}

export function preconditionerSpec(panels: readonly MatrixPanel[], d: number, opts: { title: string; cell?: number }): VlSpec {
  for (const p of panels) if (p.m.length !== d * d) throw new Error(`preconditioner figure: panel '${p.title}' has ${p.m.length} values, expected d*d = ${d * d}`);
  const cell = opts.cell ?? Math.min(48, Math.floor(260 / d));
  const m = Math.max(...panels.map((p) => maxAbs(p.m)));
  const fontSize = Math.max(7, Math.min(11, Math.floor(cell / 5)));
  const panel = (p: MatrixPanel, i: number): VlSpec => ({
    // one legend: the colour scale is shared, so Vega-Lite merges the panels' identical legends
    title: { text: p.title, subtitle: p.subtitle },
    width: cell * d,
    height: cell * d,
    data: { values: matrixCells(p.m, d, d) },
    layer: heatmapLayers({
      x: tokenAxis('x0', d, d, 'key coordinate', false),
      y: tokenAxis('y0', d, d, i === 0 ? 'query coordinate' : null, true),
      color: { field: 'v', type: 'quantitative', title: 'value', scale: divergingScale(m), legend: { orient: 'right', gradientLength: cell * d, gradientThickness: 14, tickCount: 5 } },
      maxAbs: m, showValues: d <= 8, fontSize,
    }),
  });
  return topLevel({
    title: { text: opts.title, subtitle: `one colour scale for every panel, limits ±${m.toPrecision(3)}` },
    hconcat: panels.map(panel),
    spacing: 24,
    resolve: { scale: { color: 'shared' } },
  });
}
