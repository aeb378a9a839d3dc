/**
 * The reduced-loss gradient-flow prediction for a run's (w^h(t), mu^h(t)), started from the run's
 * first logged point. The flow lives in its own time (gradient flow, not Adam steps), so its clock
 * is matched to the run's: both are put on one axis by the time each needs to reach 90 % of its final
 * eta_TF = sum_h mu^h w^h. Pure.
 *
 * The reduced loss is written in the authors' convention (beta ~ N(0, I/d)); the seed convention
 * (beta ~ N(0, I)) multiplies the loss by d and the relative noise sigma^2 by 1/d, which changes only
 * the time scale of the flow, so sigma^2 = noiseStd^2 serves both presets.
 */
import { integrateReducedFlow } from '../analysis/theory.js';
import { reducedAdam } from '../analysis/reduced-adam.js';
import { Rng } from '../data/rng.js';
import { effectiveLearningRate } from '../model/circuits.js';
import { initParams } from '../model/init.js';
import type { TrainConfig } from '../run/config.js';
import type { WMuTrajectory } from '../plots/flow.js';

export interface FlowPrediction {
  observed: WMuTrajectory;
  predicted: WMuTrajectory;
  /** Training steps per unit of flow time. */
  stepsPerTime: number;
}

function etaSeries(w: Float64Array, mu: Float64Array, H: number): Float64Array {
  const n = w.length / H;
  const eta = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let h = 0; h < H; h++) eta[i] += w[i * H + h]! * mu[i * H + h]!;
  return eta;
}

/** Index at which eta first reaches `frac` of its final value (n - 1 if never). */
function reachIndex(eta: Float64Array, frac: number): number {
  const target = frac * eta[eta.length - 1]!;
  for (let i = 0; i < eta.length; i++) if ((target >= 0 && eta[i]! >= target) || (target < 0 && eta[i]! <= target)) return i;
  return eta.length - 1;
}

/**
 * @param step  logged steps [n]
 * @param w     w^h at those steps [n, H]
 * @param mu    mu^h at those steps [n, H]
 */
export function predictFlow(step: Float64Array, w: Float64Array, mu: Float64Array, H: number, task: { d: number; L: number; noiseStd: number }, start = 0): FlowPrediction {
  const n = step.length;
  if (n < 2) throw new RangeError('need at least two logged points of the dynamics');
  if (!Number.isInteger(start) || start < 0 || start >= n - 1) throw new RangeError(`start must index a logged point before the last, got ${start} of ${n}`);
  if (start > 0) {
    // Predict from logged point `start` (its clock matched on the rest of the run); show the whole run.
    const p = predictFlow(step.subarray(start), w.subarray(start * H), mu.subarray(start * H), H, task, 0);
    return { ...p, observed: { step, w, mu, heads: H } };
  }
  const flow = integrateReducedFlow({
    d: task.d, L: task.L, sigma2: task.noiseStd ** 2,
    mu0: mu.subarray(0, H), w0: w.subarray(0, H),
    dt: 0.01, steps: 200_000, recordEvery: 100,
  });
  const obsEta = etaSeries(w, mu, H);
  const predEta = etaSeries(flow.w, flow.mu, H);
  const tObs = step[reachIndex(obsEta, 0.9)]! - step[0]!;
  const tPred = flow.t[reachIndex(predEta, 0.9)]!;
  const last = step[n - 1]! - step[0]!;
  const stepsPerTime = tObs > 0 && tPred > 0 ? tObs / tPred : last / flow.t[flow.t.length - 1]!;
  // Keep the prediction on the run's time span (plus nothing beyond its last logged step).
  let m = 0;
  while (m < flow.t.length && flow.t[m]! * stepsPerTime <= last) m++;
  m = Math.max(m, 2);
  const predStep = new Float64Array(m);
  for (let i = 0; i < m; i++) predStep[i] = step[0]! + flow.t[i]! * stepsPerTime;
  return {
    observed: { step, w, mu, heads: H },
    predicted: { step: predStep, w: flow.w.slice(0, m * H), mu: flow.mu.slice(0, m * H), heads: H },
    stepsPerTime,
  };
}

/**
 * Adam on the factorised reduced model from the run's own initial weights (analysis/reduced-adam.ts),
 * `steps` steps: its end point. Undefined for runs it does not describe (stacks, other optimizers).
 */
export function fromInitPrediction(c: TrainConfig, steps: number): { ws: number[]; ms: number[]; eta: number; paired: boolean } | undefined {
  if (c.layers !== 1 || c.optimizer !== 'adam' || c.weightDecay !== 0 || c.rho !== 0) return undefined;
  const init = initParams(c.d, c.heads, c.init, new Rng(c.seed));
  const t = reducedAdam({
    init, d: c.d, L: c.contextLength, sigma2: c.noiseStd ** 2, steps: Math.round(steps), lr: c.lr,
    beta1: c.betas[0], beta2: c.betas[1], eps: c.eps, scale: c.preset === 'paper' ? 1 : c.d, recordEvery: Math.max(1, Math.round(steps)),
  });
  const H = c.heads;
  const n = t.step.length;
  const ws = Array.from(t.w.subarray((n - 1) * H));
  const ms = Array.from(t.mu.subarray((n - 1) * H));
  return { ws, ms, eta: effectiveLearningRate(ws, ms), paired: ws.some((x) => x > 0) && ws.some((x) => x < 0) };
}
