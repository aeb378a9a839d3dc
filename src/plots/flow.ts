/**
 * Figure 7: observed (w^h(t), mu^h(t)) against the reduced-loss gradient-flow prediction from
 * the same start. Left: paths in the (w, mu) plane (circle = start, one colour per head, observed
 * solid, prediction dashed). Right: w^h and mu^h over time.
 */
import { CATEGORY, DASH_LEGEND, round, stepAxis, topLevel, type VlSpec } from './theme.js';

export interface WMuTrajectory {
  /** Time of each sample (training steps, or flow time mapped to steps), F64[n]. */
  step: ArrayLike<number>;
  /** w^h(t), F64[n, H] row-major. */
  w: ArrayLike<number>;
  /** mu^h(t), F64[n, H] row-major. */
  mu: ArrayLike<number>;
  heads: number;
}

export interface FlowSpecOptions {
  observedLabel?: string;
  predictedLabel?: string;
  title?: string;
  subtitle?: string;
  /** Title of the time axis (default 'Training step'). */
  timeTitle?: string;
}

type Row = { source: string; head: string; step: number; w: number; mu: number; first: boolean };

function trajectoryRows(t: WMuTrajectory, source: string, what: string): Row[] {
  const n = t.step.length;
  if (t.w.length !== n * t.heads || t.mu.length !== n * t.heads) {
    throw new Error(`flow: ${what} w/mu must have shape [${n}, ${t.heads}], got ${t.w.length} and ${t.mu.length} values`);
  }
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < t.heads; h++) {
      const w = t.w[i * t.heads + h]!; // [n, H]
      const mu = t.mu[i * t.heads + h]!;
      if (!Number.isFinite(w) || !Number.isFinite(mu)) continue;
      rows.push({ source, head: `Head ${h + 1}`, step: round(t.step[i]!), w: round(w), mu: round(mu), first: i === 0 });
    }
  }
  return rows;
}

export function flowSpec(observed: WMuTrajectory, predicted: WMuTrajectory, opts: FlowSpecOptions = {}): VlSpec {
  if (observed.heads !== predicted.heads) {
    throw new Error(`flow: observed has ${observed.heads} heads but the prediction has ${predicted.heads}`);
  }
  const obs = opts.observedLabel ?? 'observed (training)';
  const pred = opts.predictedLabel ?? 'gradient flow on the reduced loss';
  const rows = [...trajectoryRows(observed, obs, 'observed'), ...trajectoryRows(predicted, pred, 'predicted')];
  const heads = Array.from({ length: observed.heads }, (_, h) => `Head ${h + 1}`);
  const color = {
    field: 'head', type: 'nominal', title: null,
    scale: { domain: heads, range: heads.map((_, h) => CATEGORY[h % CATEGORY.length]) },
  };
  const dash = {
    field: 'source', type: 'nominal', title: null,
    scale: { domain: [obs, pred], range: [[1, 0], [6, 4]] },
    legend: DASH_LEGEND,
  };
  const detail = { field: 'source', type: 'nominal' };
  const stepX = { field: 'step', type: 'quantitative', title: opts.timeTitle ?? 'Training step', axis: stepAxis(340) };
  const overTime = (field: 'w' | 'mu'): VlSpec => ({
    width: 340,
    height: 170,
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: stepX,
      y: { field, type: 'quantitative', title: field === 'w' ? 'wʰ(t)' : 'μʰ(t)' },
      color, strokeDash: dash, detail,
    },
  });
  const plane: VlSpec = {
    width: 400,
    height: 400,
    title: { text: 'Paths in the (w, μ) plane', subtitle: 'circles = where each path starts', fontSize: 13 },
    layer: [
      {
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          x: { field: 'w', type: 'quantitative', title: 'wʰ (mean x-diagonal of scaled QKʰ)', scale: { zero: false } },
          y: { field: 'mu', type: 'quantitative', title: 'μʰ (y entry of OVʰ)', scale: { zero: false } },
          order: { field: 'step', type: 'quantitative' },
          color, strokeDash: dash, detail,
        },
      },
      {
        transform: [{ filter: 'datum.first' }],
        mark: { type: 'point', shape: 'circle', size: 70, filled: false, strokeWidth: 2 },
        encoding: {
          x: { field: 'w', type: 'quantitative' },
          y: { field: 'mu', type: 'quantitative' },
          color,
        },
      },
    ],
  };
  return topLevel({
    title: {
      text: opts.title ?? 'Observed circuit dynamics against the gradient-flow prediction',
      subtitle: opts.subtitle ?? 'solid: observed wʰ(t), μʰ(t); dashed: gradient flow on the reduced loss from the same start',
    },
    data: { values: rows },
    hconcat: [plane, { vconcat: [overTime('w'), overTime('mu')], spacing: 16 }],
    spacing: 30,
  });
}

/**
 * Adapt a `analysis/theory.ts` FlowTrajectory ({t, w, mu}, [n, H]) to this figure's input. Flow time
 * t is "learning rate x steps" for plain gradient descent on the reduced loss, so by default
 * step = t / lr; pass `timeToStep` to map it otherwise (Adam is not plain gradient descent).
 */
export function trajectoryFromFlow(
  f: { t: ArrayLike<number>; w: ArrayLike<number>; mu: ArrayLike<number> },
  heads: number,
  timeToStep: number | ((t: number) => number) = 1,
): WMuTrajectory {
  const map = typeof timeToStep === 'function' ? timeToStep : (t: number) => t * timeToStep;
  return { step: Float64Array.from(f.t, map), w: f.w, mu: f.mu, heads };
}
