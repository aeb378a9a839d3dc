/** Figure 2: QK and OV dynamics of every head over steps (w^h(t) and mu^h(t), one line per head). */
import { CATEGORY, round, stepAxis, topLevel, type VlSpec } from './theme.js';

export interface HeadDynamics {
  /** dyn_step, F64[nDyn]. */
  step: ArrayLike<number>;
  /** qk_dynamics, F64[nDyn, layers, H] row-major: w^h(t). */
  qk: ArrayLike<number>;
  /** ov_dynamics, F64[nDyn, layers, H] row-major: mu^h(t). */
  ov: ArrayLike<number>;
  layers: number;
  heads: number;
}

export interface DynamicsSpecOptions {
  width?: number;
  height?: number;
  /** Draw a point per logged step (default: only when there are at most 60 steps). */
  points?: boolean;
  /** A multi-task run's w^h / mu^h (summed over its tasks; runs of builds before issue 22 log nothing finer): panels say so. */
  multitask?: boolean;
}

/** Long-format rows {step, layer, head, w, mu} (layer and head 1-based). */
export function dynamicsRows(dyn: HeadDynamics): { step: number; layer: number; head: string; w: number; mu: number }[] {
  const { layers, heads } = dyn;
  const n = dyn.step.length;
  const need = n * layers * heads;
  if (dyn.qk.length !== need || dyn.ov.length !== need) {
    throw new Error(
      `dynamics: expected qk/ov of shape [${n}, ${layers}, ${heads}] (${need} values), got ${dyn.qk.length} and ${dyn.ov.length}`,
    );
  }
  const rows = [];
  for (let t = 0; t < n; t++) {
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < heads; h++) {
        const i = (t * layers + l) * heads + h; // [nDyn, layers, H]
        rows.push({ step: round(dyn.step[t]!), layer: l + 1, head: `Head ${h + 1}`, w: round(dyn.qk[i]!), mu: round(dyn.ov[i]!) });
      }
    }
  }
  return rows;
}

export function dynamicsSpec(dyn: HeadDynamics, opts: DynamicsSpecOptions = {}): VlSpec {
  const rows = dynamicsRows(dyn);
  const points = opts.points ?? dyn.step.length <= 60;
  const headNames = Array.from({ length: dyn.heads }, (_, h) => `Head ${h + 1}`);
  const color = {
    field: 'head', type: 'nominal', title: null,
    scale: { domain: headNames, range: headNames.map((_, h) => CATEGORY[h % CATEGORY.length]) },
  };
  const x = { field: 'step', type: 'quantitative', title: 'Training step', axis: stepAxis(opts.width ?? 380) };
  const panel = (layer: number, field: 'w' | 'mu'): VlSpec => ({
    title: opts.multitask
      ? field === 'w' ? { text: 'wʰ(t), all tasks', subtitle: 'mean QKʰ diagonal on x1..xd' } : { text: 'μʰ(t) = Σₖ OVʰ[yₖ, out k]', subtitle: 'summed over the tasks' }
      : field === 'w' ? `Layer ${layer} QK dynamics: wʰ(t)` : `Layer ${layer} OV dynamics: μʰ(t)`,
    width: opts.width ?? 380,
    height: opts.height ?? 280,
    transform: [{ filter: `datum.layer === ${layer}` }],
    mark: { type: 'line', strokeWidth: 1.8, point: points ? { filled: true, size: 20 } : false },
    encoding: {
      x,
      y: {
        field, type: 'quantitative',
        title: field === 'w' ? 'wʰ (mean x-diagonal of scaled QKʰ)' : opts.multitask ? 'μʰ (sum of the yₖ → out k entries)' : 'μʰ (y entry of OVʰ)',
      },
      color,
    },
  });
  const rowsPerLayer = Array.from({ length: dyn.layers }, (_, l) => ({
    hconcat: [panel(l + 1, 'w'), panel(l + 1, 'mu')],
  }));
  return topLevel({
    data: { values: rows },
    ...(dyn.layers === 1 ? rowsPerLayer[0] : { vconcat: rowsPerLayer }),
  });
}

/** A multi-task run's per-task dynamics (metrics.safetensors qk_dynamics_task / ov_dynamics_task). */
export interface TaskDynamics {
  /** dyn_step, F64[nDyn]. */
  step: ArrayLike<number>;
  /** w^h_k(t): mean of QK^h's diagonal on task k's block, F64[nDyn, layers, H, N] row-major. */
  qk: ArrayLike<number>;
  /** mu^h_k(t) = OV^h[d + k, k] (y_k -> output k), F64[nDyn, layers, H, N]. */
  ov: ArrayLike<number>;
  layers: number;
  heads: number;
  tasks: number;
}

/**
 * w^h_k(t) and mu^h_k(t) of a multi-task run (last layer): one row per task k (its block named by
 * `taskNames[k]`, e.g. 'x1..x4'), w beside mu, one line per head (colour = head, as figure 2).
 */
export function taskDynamicsSpec(dyn: TaskDynamics, opts: DynamicsSpecOptions & { taskNames?: readonly string[] } = {}): VlSpec {
  const { layers, heads, tasks: N } = dyn;
  const n = dyn.step.length;
  const need = n * layers * heads * N;
  if (dyn.qk.length !== need || dyn.ov.length !== need) {
    throw new Error(`task dynamics: expected qk/ov of shape [${n}, ${layers}, ${heads}, ${N}] (${need} values), got ${dyn.qk.length} and ${dyn.ov.length}`);
  }
  const rows: { step: number; task: number; head: string; w: number; mu: number }[] = [];
  const l = layers - 1;
  for (let t = 0; t < n; t++) {
    for (let h = 0; h < heads; h++) {
      for (let k = 0; k < N; k++) {
        const i = ((t * layers + l) * heads + h) * N + k;
        rows.push({ step: round(dyn.step[t]!), task: k + 1, head: `Head ${h + 1}`, w: round(dyn.qk[i]!), mu: round(dyn.ov[i]!) });
      }
    }
  }
  const points = opts.points ?? n <= 60;
  const headNames = Array.from({ length: heads }, (_, h) => `Head ${h + 1}`);
  const color = { field: 'head', type: 'nominal', title: null, scale: { domain: headNames, range: headNames.map((_, h) => CATEGORY[h % CATEGORY.length]) } };
  const x = { field: 'step', type: 'quantitative', title: 'Training step', axis: stepAxis(opts.width ?? 300) };
  const panel = (k: number, field: 'w' | 'mu'): VlSpec => {
    const block = opts.taskNames?.[k - 1];
    return {
      title: {
        text: field === 'w' ? `Task ${k}: wʰ${sub(k)}(t)` : `Task ${k}: μʰ${sub(k)}(t)`,
        subtitle: field === 'w' ? `mean QKʰ diagonal on task ${k}'s block${block ? ` ${block}` : ''}` : `OVʰ[y${k}, out ${k}]: y${k} → output ${k}`,
      },
      width: opts.width ?? 300,
      height: opts.height ?? 200,
      transform: [{ filter: `datum.task === ${k}` }],
      mark: { type: 'line', strokeWidth: 1.8, point: points ? { filled: true, size: 20 } : false },
      encoding: { x, y: { field, type: 'quantitative', title: field === 'w' ? `wʰ${sub(k)}` : `μʰ${sub(k)}` }, color, tooltip: [{ field: 'head' }, { field: 'step' }, { field, format: '.4f' }] },
    };
  };
  return topLevel({
    data: { values: rows },
    vconcat: Array.from({ length: N }, (_, k) => ({ hconcat: [panel(k + 1, 'w'), panel(k + 1, 'mu')] })),
  });
}

/** Unicode subscript digits of k (μʰ₁). */
const sub = (k: number): string => String(k).replace(/\d/g, (c) => '₀₁₂₃₄₅₆₇₈₉'[Number(c)]!);
