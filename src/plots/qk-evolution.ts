/**
 * Figure 4: the QK evolution grid. Rows = heads, columns = chosen snapshot steps, one shared
 * diverging colour scale (symmetric, +-max|.| over every matrix shown) and one legend.
 * Shows the scaled QK^h = W_Q^h W_K^h^T / sqrt(d+1), NOT transposed (row = query coordinate).
 * (The seed's version shows the unscaled matrix, transposed, with limit max(.) instead of max|.|.)
 */
import { matrixCells, separators, heatmapLayers, tokenAxis, type CellRow, type SeparatorRow } from './heatmap.js';
import { divergingScale, maxAbs, topLevel, type VlSpec } from './theme.js';

export interface QkSnapshots {
  /** snapshot_step, F64[nSnap]. */
  step: ArrayLike<number>;
  /** qk, F64[nSnap, layers, H, E, E] row-major. */
  qk: ArrayLike<number>;
  layers: number;
  heads: number;
  E: number;
}

export interface QkEvolutionOptions {
  /** 1-based layer to show (default 1). */
  layer?: number;
  /** Snapshot indices to show (default: `columns` evenly spaced, always first and last). */
  indices?: number[];
  columns?: number;
  /** Cell edge in pixels (default 22). */
  cell?: number;
}

/** `k` snapshot indices evenly spread over 0..n-1, first and last included, no repeats. */
export function evenIndices(n: number, k: number): number[] {
  if (n <= 0) return [];
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  if (k <= 1) return [n - 1];
  const out = new Set<number>();
  for (let j = 0; j < k; j++) out.add(Math.round((j * (n - 1)) / (k - 1)));
  return [...out];
}

export function qkEvolutionSpec(s: QkSnapshots, opts: QkEvolutionOptions = {}): VlSpec {
  const { layers, heads, E } = s;
  const nSnap = s.step.length;
  const block = E * E;
  if (s.qk.length !== nSnap * layers * heads * block) {
    throw new Error(`qkEvolution: expected qk of shape [${nSnap}, ${layers}, ${heads}, ${E}, ${E}], got ${s.qk.length} values`);
  }
  const layer = opts.layer ?? 1;
  if (!(layer >= 1 && layer <= layers)) throw new Error(`qkEvolution: layer ${layer} not in 1..${layers}`);
  const indices = opts.indices ?? evenIndices(nSnap, opts.columns ?? 6);
  for (const i of indices) {
    if (!(Number.isInteger(i) && i >= 0 && i < nSnap)) throw new Error(`qkEvolution: snapshot index ${i} not in 0..${nSnap - 1}`);
  }
  const d = E - 1;
  const cell = opts.cell ?? 22;

  const stepLabels = indices.map((i) => `Step ${s.step[i]}`);
  const headLabels = Array.from({ length: heads }, (_, h) => `Head ${h + 1}`);
  const rows: ((CellRow | SeparatorRow) & { head: string; step: string })[] = [];
  const shown: number[] = [];
  for (let h = 0; h < heads; h++) {
    indices.forEach((i, j) => {
      const offset = ((i * layers + (layer - 1)) * heads + h) * block; // [nSnap, layers, H, E, E]
      for (let k = 0; k < block; k++) shown.push(s.qk[offset + k]!);
      for (const r of [...matrixCells(s.qk, E, E, offset), ...separators(d, E, E, true)]) {
        rows.push({ ...r, head: headLabels[h]!, step: stepLabels[j]! });
      }
    });
  }
  const m = maxAbs(shown);
  const axisX = tokenAxis('x0', d, E, null, false);
  const axisY = tokenAxis('y0', d, E, null, true);
  return topLevel({
    title: {
      text: `Layer ${layer}: QK^h over training (scaled by 1/sqrt(d+1), not transposed)`,
      subtitle: `rows of each matrix = query coordinate, columns = key coordinate; one colour scale, limits ±${m.toPrecision(3)}`,
    },
    data: { values: rows },
    facet: {
      row: { field: 'head', type: 'nominal', sort: headLabels, title: null, header: { labelAngle: 0, labelAlign: 'left' } },
      column: { field: 'step', type: 'nominal', sort: stepLabels, title: null },
    },
    spacing: 8,
    spec: {
      width: cell * E,
      height: cell * E,
      layer: heatmapLayers({
        x: axisX, y: axisY,
        color: {
          field: 'v', type: 'quantitative', title: 'QK^h', scale: divergingScale(m),
          legend: { orient: 'right', gradientLength: Math.max(120, cell * E * Math.min(heads, 3)), gradientThickness: 14 },
        },
        maxAbs: m, showValues: false, fontSize: 9, separatorWidth: 1.5,
      }),
    },
  });
}
