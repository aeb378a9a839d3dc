/**
 * Figure 3: one head's circuits. The scaled QK^h ((d+1) x (d+1), row = query coordinate, column =
 * key coordinate, so score = z_q QK^h z_i^T; not transposed) beside OV^h (d+1 entries, y last),
 * each on its own diverging scale with symmetric limits +-max|.| (as the seed does), with the
 * seed's green dashed separators before the y row and column.
 */
import { heatmapLayers, matrixCells, separators, tokenAxis } from './heatmap.js';
import { divergingScale, maxAbs, topLevel, type VlSpec } from './theme.js';

/** What figure 3 draws of one head (from model/circuits.ts `HeadCircuit`, or a snapshot), with 1-based labels. */
export interface CircuitFigureData {
  /** Scaled QK^h = W_Q^h W_K^h^T / sqrt(E), F64[E, E] row-major. */
  qk: ArrayLike<number>;
  /**
   * OV^h: F64[E] (the column feeding the output; the last entry is mu^h), or F64[E, K] row-major
   * with `ovColumns` = K (a multi-task run's whole OV^h, K = N: column j = output j).
   */
  ov: ArrayLike<number>;
  /** 1-based labels for the title. */
  layer: number;
  head: number;
}

export interface CircuitSpecOptions {
  /** Print each cell's value (default: when E <= 11). */
  showValues?: boolean;
  /** Cell edge in pixels (default: 64, smaller for large E so QK stays <= ~460 px). */
  cell?: number;
  /** Where the matrices come from, shown in the subtitle (e.g. 'final weights'). */
  note?: string;
  /**
   * Outputs per token (a multi-task run's N: tokens [x1..xd, y1..yN], d = E - N). Default 1 (x1..xd, y).
   */
  outputs?: number;
  /**
   * Columns of OV^h in `ov`: 1 (default) = the last output's column (a multi-task run of a build
   * before issue 22 snapshotted only OV^h[:, out N]), or `outputs` = the whole OV^h, columns out 1..out N.
   */
  ovColumns?: number;
}

/** Token width E from QK (E x E), checking OV has E * columns values. */
export function circuitWidth(c: { qk: ArrayLike<number>; ov: ArrayLike<number> }, columns = 1): number {
  const E = Math.round(Math.sqrt(c.qk.length));
  if (E < 2 || c.qk.length !== E * E || c.ov.length !== E * columns) {
    throw new Error(`circuits: expected qk of shape [E, E] and ov of shape [E${columns > 1 ? `, ${columns}` : ''}] with E >= 2, got ${c.qk.length} and ${c.ov.length} values`);
  }
  return E;
}

export function circuitSpec(c: CircuitFigureData, opts: CircuitSpecOptions = {}): VlSpec {
  const K = opts.ovColumns ?? 1;
  const E = circuitWidth(c, K);
  const N = opts.outputs ?? 1;
  if (!(Number.isInteger(N) && N >= 1 && N < E)) throw new Error(`circuits: outputs ${N} not in 1..${E - 1}`);
  if (K !== 1 && K !== N) throw new Error(`circuits: ovColumns ${K}: expected 1 (the last output's column) or outputs = ${N}`);
  const d = E - N;
  const cell = opts.cell ?? Math.min(64, Math.floor(460 / E));
  const showValues = opts.showValues ?? E <= 11;
  const fontSize = Math.max(7, Math.min(11, Math.floor(cell / 5)));
  const mQk = maxAbs(c.qk);
  const mOv = maxAbs(c.ov);

  const legend = (title: string): VlSpec => ({
    title, orient: 'right', direction: 'vertical', gradientLength: cell * E, gradientThickness: 14, tickCount: 5,
  });

  const qkPanel: VlSpec = {
    title: { text: `Layer ${c.layer}, Head ${c.head}: QKʰ (scaled by 1/√${N > 1 ? 'E' : '(d+1)'})`, subtitle: `${opts.note ? opts.note + '; ' : ''}${N > 1 ? `E = d+${N}` : 'd+1'} = ${E}, limits ±${mQk.toPrecision(3)}, not transposed` },
    width: cell * E,
    height: cell * E,
    data: { values: [...matrixCells(c.qk, E, E), ...separators(d, E, E, true)] },
    layer: heatmapLayers({
      x: tokenAxis('x0', d, E, 'key coordinate', false, N),
      y: tokenAxis('y0', d, E, 'query coordinate', true, N),
      color: { field: 'v', type: 'quantitative', title: 'QKʰ', scale: divergingScale(mQk), legend: legend('QKʰ') },
      maxAbs: mQk, showValues, fontSize,
    }),
  };
  // a whole multi-task OV^h: columns out 1..out N (the y_k -> out k entry of each task on the diagonal of its y rows)
  const outAxis: VlSpec = K > 1
    ? {
      field: 'x0', type: 'quantitative', title: null, scale: { domain: [0, K], nice: false, zero: false },
      axis: { values: Array.from({ length: K }, (_, i) => i + 0.5), labelExpr: "'out ' + (floor(datum.value) + 1)", tickCount: K, labelOverlap: false, grid: false, ticks: false, domain: false, labelAngle: 0, orient: 'top', labelFontSize: cell < 36 ? 9 : 11 },
    }
    : { field: 'x0', type: 'quantitative', title: null, scale: { domain: [0, 1], nice: false, zero: false }, axis: null };
  const ovPanel: VlSpec = {
    title: { text: K > 1 ? `OVʰ (E × ${K})` : N > 1 ? `OVʰ[:, out ${N}]` : 'OVʰ', subtitle: `±${mOv.toPrecision(3)}${K === 1 && N > 1 ? '; only column saved' : ''}` },
    width: cell * K,
    height: cell * E,
    data: { values: [...matrixCells(c.ov, E, K), ...separators(d, K, E, false)] },
    layer: heatmapLayers({
      x: outAxis,
      y: tokenAxis('y0', d, E, 'input coordinate', true, N),
      color: { field: 'v', type: 'quantitative', title: 'OVʰ', scale: divergingScale(mOv), legend: legend('OVʰ') },
      maxAbs: mOv, showValues, fontSize,
    }),
  };
  return topLevel({
    hconcat: [qkPanel, ovPanel],
    spacing: 40,
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  });
}
