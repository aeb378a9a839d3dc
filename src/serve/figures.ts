/**
 * The web lab's figures: the Vega-Lite specs of src/plots/ (the same builders that draw the PNGs),
 * plus what only the interactive views need, built from the same theme: an EMA-smoothed line over
 * the loss figure, η_TF(t) against its theory lines, curves of several runs on one plot, and
 * parallel coordinates over a sweep. Pure: arrays in, specs out (the browser imports it too).
 */
import { downsampleMinMax } from '../plots/downsample.js';
import { dynamicsSpec, taskDynamicsSpec, type TaskDynamics } from '../plots/dynamics.js';
import { lossSpec } from '../plots/loss.js';
import { CATEGORY, round, stepAxis, topLevel, type VlSpec } from '../plots/theme.js';

/** Buckets of the server-side loss downsampling (min–max band + mean per bucket). */
export const LOSS_BUCKETS = 800;
/** Most points per curve sent for dynamics (w^h, μ^h, η_TF). */
export const MAX_DYNAMICS_POINTS = 1000;

/** TensorBoard's debiased exponential moving average (weight `a` in [0, 1)); non-finite values are carried over. */
export function emaSmooth(values: ArrayLike<number>, a: number): Float64Array {
  const out = new Float64Array(values.length);
  let m = 0;
  let w = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      m = a * m + (1 - a) * v;
      w = a * w + (1 - a);
    }
    out[i] = w > 0 ? m / w : NaN;
  }
  return out;
}

/**
 * plots/loss.ts's figure (min–max band + bucket mean, validation dashed), and with `smooth` > 0 an
 * EMA of the per-step loss (downsampled the same way) drawn over it as a dark line.
 */
export function smoothedLossSpec(
  curves: { trainLoss: ArrayLike<number>; valLoss?: ArrayLike<number>; valStep?: ArrayLike<number> },
  opts: { smooth?: number; buckets?: number; width?: number; height?: number; title?: string } = {},
): VlSpec {
  const buckets = opts.buckets ?? LOSS_BUCKETS;
  const spec = lossSpec(curves, { buckets, width: opts.width ?? 640, height: opts.height ?? 300, ...(opts.title ? { title: opts.title } : {}) });
  const a = opts.smooth ?? 0;
  if (a > 0 && curves.trainLoss.length > 1) {
    const sm = downsampleMinMax(emaSmooth(curves.trainLoss, a), buckets, undefined, true);
    const layer = spec['layer'] as VlSpec[];
    layer.push({
      data: { values: sm.map((b) => ({ step: round(b.x), smoothed: round(b.mean) })) },
      mark: { type: 'line', strokeWidth: 2, color: '#1B2A49' },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'smoothed', type: 'quantitative' },
        tooltip: [{ field: 'step', type: 'quantitative' }, { field: 'smoothed', type: 'quantitative', format: '.4f' }],
      },
    });
    const title = spec['title'] as { text: string; subtitle: string };
    title.subtitle = `${title.subtitle}; dark line: EMA smoothing ${a}`;
  }
  return spec;
}

/** Indices 0..n-1 thinned to at most `max`, evenly, the last one kept. */
export function thinIndices(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let j = 0; j < max; j++) out.push(Math.round((j * (n - 1)) / (max - 1)));
  return [...new Set(out)];
}

export interface Dynamics {
  step: ArrayLike<number>;
  /** [nDyn, layers, H] */
  qk: ArrayLike<number>;
  ov: ArrayLike<number>;
  layers: number;
  heads: number;
}

/** The dynamics thinned to at most `max` logged steps (evenly, last kept). */
export function thinDynamics(dyn: Dynamics, max = MAX_DYNAMICS_POINTS): Dynamics {
  const n = dyn.step.length;
  if (n <= max) return dyn;
  const LH = dyn.layers * dyn.heads;
  const idx = thinIndices(n, max);
  const step = new Float64Array(idx.length);
  const qk = new Float64Array(idx.length * LH);
  const ov = new Float64Array(idx.length * LH);
  idx.forEach((i, j) => {
    step[j] = dyn.step[i]!;
    for (let k = 0; k < LH; k++) {
      qk[j * LH + k] = dyn.qk[i * LH + k]!;
      ov[j * LH + k] = dyn.ov[i * LH + k]!;
    }
  });
  return { ...dyn, step, qk, ov };
}

/** plots/dynamics.ts's figure (w^h(t), μ^h(t) per head), thinned; `multitask`: the sums over a multi-task run's tasks, titled so. */
export function webDynamicsSpec(dyn: Dynamics, size: { width?: number; height?: number; multitask?: boolean } = {}): VlSpec {
  return dynamicsSpec(thinDynamics(dyn), { width: size.width ?? 300, height: size.height ?? 220, ...(size.multitask ? { multitask: true } : {}) });
}

/** plots/dynamics.ts's per-task figure of a multi-task run (w^h_k, μ^h_k: one row per task), thinned. */
export function webTaskDynamicsSpec(dyn: TaskDynamics, taskNames: readonly string[], max = MAX_DYNAMICS_POINTS): VlSpec {
  const n = dyn.step.length;
  let d = dyn;
  if (n > max) {
    const B = dyn.layers * dyn.heads * dyn.tasks;
    const idx = thinIndices(n, max);
    const pick = (a: ArrayLike<number>) => {
      const out = new Float64Array(idx.length * B);
      idx.forEach((i, j) => { for (let k = 0; k < B; k++) out[j * B + k] = a[i * B + k]!; });
      return out;
    };
    d = { ...dyn, step: Float64Array.from(idx, (i) => dyn.step[i]!), qk: pick(dyn.qk), ov: pick(dyn.ov) };
  }
  return taskDynamicsSpec(d, { taskNames, width: 300, height: 180 });
}

export interface TheoryLines {
  /** L / (L + d). */
  ratio: number;
  /** Tuned one-step GD η* = L / (L + d + 1 + σ²) (seed preset). */
  etaStar: number;
}

/** η_TF(t) = Σ_h μ^h w^h of the last layer, with the theory lines L/(L+d) and η*. */
export function etaSpec(dyn: Dynamics, theory: TheoryLines, size: { width?: number; height?: number } = {}): VlSpec {
  const d = thinDynamics(dyn);
  const { layers, heads } = d;
  const rows: { step: number; eta: number }[] = [];
  for (let t = 0; t < d.step.length; t++) {
    let eta = 0;
    for (let h = 0; h < heads; h++) {
      const i = (t * layers + (layers - 1)) * heads + h;
      eta += d.qk[i]! * d.ov[i]!;
    }
    if (Number.isFinite(eta)) rows.push({ step: round(d.step[t]!), eta: round(eta) });
  }
  const lines = [
    { name: `L/(L+d) = ${theory.ratio.toFixed(4)}`, value: round(theory.ratio) },
    { name: `η* (tuned GD) = ${theory.etaStar.toFixed(4)}`, value: round(theory.etaStar) },
  ];
  const x = { field: 'step', type: 'quantitative', title: 'Training step', axis: stepAxis(size.width ?? 300) };
  return topLevel({
    title: { text: 'η_TF(t) = Σ_h μʰ wʰ', subtitle: 'dashed: the theory values it should approach' },
    width: size.width ?? 300,
    height: size.height ?? 220,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', strokeWidth: 1.8, color: CATEGORY[4] },
        encoding: { x, y: { field: 'eta', type: 'quantitative', title: 'η_TF' }, tooltip: [{ field: 'step' }, { field: 'eta', format: '.4f' }] },
      },
      {
        data: { values: lines },
        mark: { type: 'rule', strokeDash: [6, 3], strokeWidth: 1.5 },
        encoding: {
          y: { field: 'value', type: 'quantitative' },
          color: { field: 'name', type: 'nominal', title: null, scale: { range: ['#555555', CATEGORY[2]] }, legend: { orient: 'bottom-right', fillColor: 'white' } },
        },
      },
    ],
  });
}

/** Several runs' training loss on one plot: bucket mean lines with min–max bands, one colour per run. */
export function compareLossSpec(series: { name: string; trainLoss: ArrayLike<number> }[], opts: { buckets?: number; smooth?: number } = {}): VlSpec {
  const buckets = opts.buckets ?? 500;
  const rows: { run: string; step: number; loss: number; lo: number; hi: number }[] = [];
  for (const s of series) {
    const raw = downsampleMinMax(s.trainLoss, buckets, undefined, true);
    const sm = opts.smooth ? downsampleMinMax(emaSmooth(s.trainLoss, opts.smooth), buckets, undefined, true) : raw;
    raw.forEach((b, i) => rows.push({ run: s.name, step: round(b.x), loss: round(sm[i]?.mean ?? b.mean), lo: round(b.min), hi: round(b.max) }));
  }
  const names = series.map((s) => s.name);
  // one legend naming every run (both layers carry it: a legend: null on the band would drop the merged legend)
  const legend = { orient: 'bottom', direction: 'vertical', columns: Math.min(names.length, 2), labelLimit: 400, symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1, title: 'run' };
  const color = { field: 'run', type: 'nominal', title: 'run', scale: { domain: names, range: names.map((_, i) => runColor(i)) }, legend };
  const x = { field: 'step', type: 'quantitative', title: 'Training step', axis: stepAxis(640) };
  const y = { type: 'quantitative', scale: { type: 'log' } };
  return topLevel({
    title: { text: 'Training loss', subtitle: `mean per bucket${opts.smooth ? ` (EMA ${opts.smooth})` : ''}, band = min–max in the bucket` },
    width: 640,
    height: 300,
    data: { values: rows },
    layer: [
      { mark: { type: 'area', opacity: 0.15 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } },
      { mark: { type: 'line', strokeWidth: 1.5 }, encoding: { x, y: { ...y, field: 'loss', title: 'Loss (MSE, log scale)' }, color, tooltip: [{ field: 'run' }, { field: 'step' }, { field: 'loss', format: '.4f' }] } },
    ],
  });
}

/** Colour of the i-th run of a comparison (its heads are shades of it: headColor). */
export const runColor = (i: number): string => CATEGORY[i % CATEGORY.length]!;

/**
 * Colour of head h of H in run i: the run's colour (runColor) from darker (head 1) to lighter (head
 * H), so heads differ within a run and runs differ across (one hue per run).
 */
export function headColor(i: number, h: number, H: number): string {
  const base = runColor(i);
  const t = H <= 1 ? 0 : -0.45 + (0.9 * h) / (H - 1); // < 0: towards black, > 0: towards white
  const ch = [1, 3, 5].map((k) => parseInt(base.slice(k, k + 2), 16));
  const mixed = ch.map((c) => Math.round(t < 0 ? c * (1 + t) : c + (255 - c) * t));
  return `#${mixed.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** Several runs' w^h(t) and μ^h(t) (last layer): one hue per run, one shade of it per head, a legend naming run and head. */
export function compareDynamicsSpec(series: { name: string; dyn: Dynamics; multitask?: boolean }[]): VlSpec {
  const rows: { run: string; head: string; step: number; w: number; mu: number }[] = [];
  const keys: string[] = [];
  const range: string[] = [];
  series.forEach((s, r) => {
    const d = thinDynamics(s.dyn, 500);
    const l = d.layers - 1;
    for (let h = 0; h < d.heads; h++) {
      keys.push(`${s.name} · head ${h + 1}`);
      range.push(headColor(r, h, d.heads));
    }
    for (let t = 0; t < d.step.length; t++) {
      for (let h = 0; h < d.heads; h++) {
        const i = (t * d.layers + l) * d.heads + h;
        rows.push({ run: s.name, head: `${s.name} · head ${h + 1}`, step: round(d.step[t]!), w: round(d.qk[i]!), mu: round(d.ov[i]!) });
      }
    }
  });
  const H = Math.max(1, ...series.map((s) => s.dyn.heads));
  const color = {
    field: 'head', type: 'nominal', title: 'run · head', scale: { domain: keys, range },
    legend: { orient: 'bottom', direction: 'vertical', columns: Math.min(H, 4), labelLimit: 300, symbolType: 'stroke', symbolStrokeWidth: 3 },
  };
  const x = { field: 'step', type: 'quantitative', title: 'Training step', axis: stepAxis(300) };
  const panel = (field: 'w' | 'mu', title: string): VlSpec => ({
    title, width: 300, height: 220,
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: { x, y: { field, type: 'quantitative', title: field === 'w' ? 'wʰ' : 'μʰ' }, color, tooltip: [{ field: 'head' }, { field: 'step' }, { field, format: '.4f' }] },
  });
  const multi = series.filter((s) => s.multitask).map((s) => s.name);
  const muTitle = multi.length > 0 ? { text: 'μʰ(t), every head', subtitle: `${multi.join(', ')}: Σₖ OVʰ[yₖ, out k] over the tasks (per task: the run's page)` } : 'μʰ(t), every head';
  return topLevel({ data: { values: rows }, hconcat: [panel('w', 'wʰ(t), every head'), { ...panel('mu', 'μʰ(t), every head'), title: muTitle }] });
}

/**
 * Parallel coordinates over sweep results: one line per row across `fields` (each axis scaled to its
 * own min–max), coloured by `colorField`.
 */
export function parallelSpec(rows: Record<string, unknown>[], fields: string[], colorField?: string): VlSpec {
  const values = rows.map((r, i) => ({ ...r, __row: i }));
  const xAxis = { field: 'field', type: 'nominal', sort: fields, title: null, scale: { type: 'point', padding: 0.3 }, axis: { labelAngle: 0, orient: 'top', labelPadding: 16, domain: false, ticks: false } };
  return topLevel({
    title: { text: 'Sweep: parallel coordinates', subtitle: 'one line per result; each axis from its min (bottom) to its max (top)' },
    width: Math.max(360, fields.length * 90),
    height: 260,
    data: { values },
    transform: [
      { fold: fields, as: ['field', 'raw'] },
      { calculate: 'toNumber(datum.raw)', as: 'value' },
      { joinaggregate: [{ op: 'min', field: 'value', as: 'lo' }, { op: 'max', field: 'value', as: 'hi' }], groupby: ['field'] },
      { calculate: 'datum.hi > datum.lo ? (datum.value - datum.lo) / (datum.hi - datum.lo) : 0.5', as: 'norm' },
    ],
    layer: [
      { mark: { type: 'rule', color: '#BBBBBB' }, encoding: { x: xAxis } },
      {
        mark: { type: 'line', opacity: 0.8, strokeWidth: 1.5 },
        encoding: {
          x: xAxis,
          y: { field: 'norm', type: 'quantitative', axis: null, scale: { domain: [0, 1] } },
          detail: { field: '__row', type: 'nominal' },
          ...(colorField ? { color: { field: colorField, type: 'quantitative', scale: { scheme: 'viridis' }, legend: { title: colorField, orient: 'right' } } } : {}),
          tooltip: fields.map((f) => ({ field: f })),
        },
      },
      ...(['hi', 'lo'] as const).map((end) => ({
        transform: [{ aggregate: [{ op: end === 'hi' ? 'max' : 'min', field: 'value', as: `v_${end}` }], groupby: ['field'] }, { calculate: end === 'hi' ? '1' : '0', as: `y_${end}` }],
        mark: { type: 'text', dy: end === 'hi' ? -7 : 10, fontSize: 10, color: '#333333' },
        encoding: { x: xAxis, y: { field: `y_${end}`, type: 'quantitative' }, text: { field: `v_${end}`, type: 'quantitative', format: '.4~g' } },
      })),
    ],
  });
}

/** η_TF (last logged Σ_h μ^h w^h) of each run against its L/(L+d), with the line η_TF = L/(L+d). */
export function etaVsRatioSpec(points: { run: string; ratio: number; eta: number; heads: number }[]): VlSpec {
  const lo = Math.min(...points.map((p) => Math.min(p.ratio, p.eta)), 0.5);
  const hi = Math.max(...points.map((p) => Math.max(p.ratio, p.eta)), 1);
  const domain = [Math.floor(lo * 20) / 20, Math.ceil(hi * 20) / 20];
  return topLevel({
    title: { text: 'η_TF against L/(L+d)', subtitle: 'one point per run (its last logged wʰ, μʰ); dashed: η_TF = L/(L+d)' },
    width: 320,
    height: 280,
    layer: [
      {
        data: { values: [{ x: domain[0], y: domain[0] }, { x: domain[1], y: domain[1] }] },
        mark: { type: 'line', strokeDash: [6, 3], color: '#777777' },
        encoding: { x: { field: 'x', type: 'quantitative', scale: { domain, zero: false } }, y: { field: 'y', type: 'quantitative', scale: { domain, zero: false } } },
      },
      {
        data: { values: points.map((p) => ({ ...p, ratio: round(p.ratio), eta: round(p.eta) })) },
        mark: { type: 'point', filled: true, size: 80 },
        encoding: {
          x: { field: 'ratio', type: 'quantitative', title: 'L/(L+d)', scale: { domain, zero: false } },
          y: { field: 'eta', type: 'quantitative', title: 'η_TF = Σ_h μʰ wʰ', scale: { domain, zero: false } },
          color: { field: 'heads', type: 'ordinal', title: 'H', scale: { scheme: 'tableau10' } },
          tooltip: [{ field: 'run' }, { field: 'heads' }, { field: 'ratio', format: '.4f' }, { field: 'eta', format: '.4f' }],
        },
      },
    ],
  });
}

/**
 * Colour of run i of n overlaid: the comparison colours (runColor) while they last, else n hues
 * spaced evenly around the colour wheel (every run its own colour, as far as eyes tell them apart).
 */
export function overlayColor(i: number, n: number): string {
  if (n <= CATEGORY.length) return runColor(i);
  const h = (i * 360) / n;
  const l = i % 2 === 0 ? 0.42 : 0.58; // alternate lightness: neighbours in hue differ in brightness too
  const s = 0.7;
  const f = (k: number): number => {
    const kk = (k + h / 30) % 12;
    return l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(kk - 3, 9 - kk, 1));
  };
  return `#${[f(0), f(8), f(4)].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')}`;
}

/** One metric of many runs on one chart: a line per run in its colour, a legend naming each run (every entry, however many). */
export function overlaySpec(
  series: { label: string; color: string; step: ArrayLike<number>; value: ArrayLike<number> }[],
  opts: { title: string; subtitle: string; yTitle: string; log: boolean; width?: number; height?: number },
): VlSpec {
  const rows: { run: string; step: number; value: number }[] = [];
  for (const s of series) {
    for (let i = 0; i < s.step.length; i++) {
      const v = s.value[i]!;
      if (Number.isFinite(v) && (!opts.log || v > 0)) rows.push({ run: s.label, step: round(s.step[i]!), value: round(v) });
    }
  }
  const names = series.map((s) => s.label);
  const columns = names.length <= 4 ? names.length : names.length <= 12 ? 3 : 4;
  const legend = { orient: 'bottom', direction: 'vertical', columns, symbolLimit: 0, labelLimit: 280, columnPadding: 18, symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1, title: `${names.length} run${names.length === 1 ? '' : 's'}` };
  return topLevel({
    title: { text: opts.title, subtitle: opts.subtitle },
    width: opts.width ?? 900,
    height: opts.height ?? 360,
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 1.6, clip: true },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'Training step', axis: stepAxis(opts.width ?? 900) },
      y: { field: 'value', type: 'quantitative', title: opts.yTitle, scale: opts.log ? { type: 'log' } : { zero: false } },
      color: { field: 'run', type: 'nominal', title: 'run', scale: { domain: names, range: series.map((s) => s.color) }, legend },
      tooltip: [{ field: 'run' }, { field: 'step', format: ',' }, { field: 'value', format: '.4f' }],
    },
  });
}
