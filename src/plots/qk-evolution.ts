/**
 * Figure 4: the QK evolution grid. Rows = heads, columns = snapshots at round steps (or chosen
 * steps) and always the last one (the final step), one shared
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
  /** Snapshot indices to show (default: `columns` at round steps, see `roundStepIndices`). */
  indices?: number[];
  /** Steps to show (each the snapshot at that step, else the nearest one); the last snapshot is always added. */
  steps?: number[];
  columns?: number;
  /** Cell edge in pixels (default 22). */
  cell?: number;
  /** Outputs per token (multi-task: N; tokens [x1..xd, y1..yN], d = E - N). Default 1 (labels x1..xd, y). */
  outputs?: number;
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

/** Smallest "nice" interval (1, 2, 2.5, 4, 5 x 10^p) at least `x`. */
function niceInterval(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 4, 5, 10]) if (m * p >= x - 1e-9 * p) return m * p;
  return 10 * p;
}

/** Index of the snapshot whose step is `target`, else the nearest one. */
function nearestIndex(steps: ArrayLike<number>, target: number): number {
  let best = 0;
  for (let i = 1; i < steps.length; i++) if (Math.abs(steps[i]! - target) < Math.abs(steps[best]! - target)) best = i;
  return best;
}

/**
 * About `k` columns at round steps 0, iv, 2 iv, ... (iv a nice interval, e.g. 4,000 for 20,000 steps)
 * and always the last snapshot (the final step), each the snapshot at that step or the nearest one.
 * A round step closer than half an interval to the last one is left out.
 */
export function roundStepIndices(steps: ArrayLike<number>, k: number): number[] {
  const n = steps.length;
  if (n === 0) return [];
  const first = steps[0]!, last = steps[n - 1]!;
  if (k <= 1 || n === 1 || last <= first) return [n - 1];
  const iv = niceInterval((last - first) / (k - 1));
  const out: number[] = [];
  for (let t = Math.ceil(first / iv) * iv; t < last - iv / 2; t += iv) out.push(nearestIndex(steps, t));
  out.push(n - 1);
  return [...new Set(out)].sort((a, b) => a - b);
}

/** The snapshots at the chosen steps (nearest where a step was not logged), plus the last one. */
export function stepIndices(steps: ArrayLike<number>, chosen: readonly number[]): number[] {
  const out = chosen.map((t) => nearestIndex(steps, t));
  if (steps.length > 0) out.push(steps.length - 1);
  return [...new Set(out)].sort((a, b) => a - b);
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
  const indices = opts.indices ?? (opts.steps ? stepIndices(s.step, opts.steps) : roundStepIndices(s.step, opts.columns ?? 6));
  for (const i of indices) {
    if (!(Number.isInteger(i) && i >= 0 && i < nSnap)) throw new Error(`qkEvolution: snapshot index ${i} not in 0..${nSnap - 1}`);
  }
  const outputs = opts.outputs ?? 1;
  if (!(Number.isInteger(outputs) && outputs >= 1 && outputs < E)) throw new Error(`qkEvolution: outputs ${outputs} not in 1..${E - 1}`);
  const d = E - outputs;
  const cell = opts.cell ?? 22;

  const stepLabels = indices.map((i) => `Step ${s.step[i]!.toLocaleString('en-US')}${i === nSnap - 1 ? ' (last)' : ''}`);
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
  const axisX = tokenAxis('x0', d, E, null, false, outputs);
  const axisY = tokenAxis('y0', d, E, null, true, outputs);
  return topLevel({
    title: {
      text: `Layer ${layer}: QKʰ over training (scaled by ${outputs > 1 ? '1/√E, E = d + N' : '1/√(d+1)'}, not transposed)`,
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
          field: 'v', type: 'quantitative', title: 'QKʰ', scale: divergingScale(m),
          legend: { orient: 'right', gradientLength: Math.max(120, cell * E * Math.min(heads, 3)), gradientThickness: 14 },
        },
        maxAbs: m, showValues: false, fontSize: 9, separatorWidth: 1.5,
      }),
    },
  });
}
