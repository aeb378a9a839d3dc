/** Figure 2: QK and OV dynamics of every head over steps (w^h(t) and mu^h(t), one line per head). */
import { CATEGORY, STEP_LABEL_EXPR, round, topLevel, type VlSpec } from './theme.js';

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
  const x = { field: 'step', type: 'quantitative', title: 'Training step', axis: { labelExpr: STEP_LABEL_EXPR } };
  const panel = (layer: number, field: 'w' | 'mu'): VlSpec => ({
    title: field === 'w' ? `Layer ${layer} QK dynamics: wʰ(t)` : `Layer ${layer} OV dynamics: μʰ(t)`,
    width: opts.width ?? 380,
    height: opts.height ?? 280,
    transform: [{ filter: `datum.layer === ${layer}` }],
    mark: { type: 'line', strokeWidth: 1.8, point: points ? { filled: true, size: 20 } : false },
    encoding: {
      x,
      y: {
        field, type: 'quantitative',
        title: field === 'w' ? 'wʰ (mean x-diagonal of scaled QKʰ)' : 'μʰ (y entry of OVʰ)',
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
