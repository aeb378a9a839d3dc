/**
 * Closed forms (docs/THEORY.md). Risk = E[(prediction - y_q)^2] for x_i, x_q ~ N(0, I_d),
 * beta ~ N(0, priorVar I_d), context noise variance sigma2, query noise variance queryNoiseVar.
 *
 *   seed preset:  priorVar = 1,   sigma2 = d noiseStd^2, queryNoiseVar = 0
 *   paper preset: priorVar = 1/d, sigma2 = noiseStd^2,   queryNoiseVar = noiseStd^2
 *
 * One-step GD from zero with step eta, prediction (eta/L) sum_i y_i <x_i, x_q>:
 *   R(eta)  = priorVar d [eta^2 (1 + (d+1)/L) - 2 eta + 1] + eta^2 sigma2 d / L + queryNoiseVar
 *   (uses E[S^2] = (1 + (d+1)/L) I for S = X^T X / L), minimised at
 *   eta*    = L / (L + d + 1 + sigma2/priorVar),   R(eta*) = priorVar d (1 - eta*) + queryNoiseVar.
 * OLS: R = sigma2 d / (L - d - 1) + queryNoiseVar for L > d + 1 (infinite otherwise).
 *
 * Reduced loss of the kernel regressor (the authors' follow-up code, their convention beta ~ N(0, I/d),
 * noise variance sigma2 on context and query; a large-L approximation):
 *   L(mu, w) = 1 + sigma2 - 2 mu.w + mu^T (w w^T + c exp(d w w^T)) mu,   c = (1 + sigma2)/L
 *   mu*(w)   = (w w^T + c exp(d w w^T))^{-1} w      (exp entrywise)
 */
import { solveDense } from '../math/linalg.js';

/**
 * The risk-minimising step size of one-step GD, eta* = L / (L + d + 1 + sigma2 / priorVar), for context
 * noise variance sigma2 and prior beta ~ N(0, priorVar I) (seed preset: priorVar = 1, sigma2 = d noiseStd^2).
 */
export function optimalEta(L: number, d: number, sigma2: number, priorVar = 1): number {
  return L / (L + d + 1 + sigma2 / priorVar);
}

/** Noise and prior of a task. */
export interface RiskParams {
  readonly d: number;
  readonly L: number;
  /** Context noise variance sigma^2 (seed: d noiseStd^2). */
  readonly sigma2: number;
  /** Prior variance tau^2 of each beta coordinate (seed 1, paper 1/d). Default 1. */
  readonly priorVar?: number;
  /** Noise variance added to y_q (seed 0, paper noiseStd^2). Default 0. */
  readonly queryNoiseVar?: number;
}

/** Risk parameters of a preset (`TaskSpec` fields d, L, noiseStd, preset). */
export function riskParams(spec: { d: number; L: number; noiseStd: number; preset: 'seed' | 'paper' }): RiskParams {
  const { d, L, noiseStd } = spec;
  return spec.preset === 'seed'
    ? { d, L, sigma2: d * noiseStd * noiseStd, priorVar: 1, queryNoiseVar: 0 }
    : { d, L, sigma2: noiseStd * noiseStd, priorVar: 1 / d, queryNoiseVar: noiseStd * noiseStd };
}

/** R(eta): risk of one-step GD with step eta. */
export function oneStepGdRisk(eta: number, r: RiskParams): number {
  const { d, L, sigma2 } = r;
  const tau2 = r.priorVar ?? 1;
  return tau2 * d * (eta * eta * (1 + (d + 1) / L) - 2 * eta + 1) + (eta * eta * sigma2 * d) / L + (r.queryNoiseVar ?? 0);
}

/** eta* for these risk parameters. */
export function optimalEtaOf(r: RiskParams): number {
  return optimalEta(r.L, r.d, r.sigma2, r.priorVar ?? 1);
}

/**
 * Risk of debiased (mean-centred) one-step GD, y = (eta/L) sum_i y_i (x_i - xbar).x_q, at step eta:
 * with C = (1/L) sum (x_i - xbar)(x_i - xbar)^T (E tr C = d(L-1)/L, E tr C^2 = d(L-1)(L+d)/L^2),
 * R(eta) = tau^2 d [eta^2 (L-1)(L+d)/L^2 - 2 eta (L-1)/L + 1] + eta^2 sigma^2 d (L-1)/L^2 + queryNoiseVar.
 */
export function debiasedGdRisk(eta: number, r: RiskParams): number {
  const { d, L, sigma2 } = r;
  const tau2 = r.priorVar ?? 1;
  return tau2 * d * ((eta * eta * (L - 1) * (L + d)) / (L * L) - (2 * eta * (L - 1)) / L + 1) + (eta * eta * sigma2 * d * (L - 1)) / (L * L) + (r.queryNoiseVar ?? 0);
}

/** The step that minimises debiasedGdRisk: L / (L + d + sigma^2/tau^2) (its sigma^2 -> 0 limit is L/(L+d)). */
export function optimalDebiasedEta(L: number, d: number, sigma2: number, priorVar = 1): number {
  return L / (L + d + sigma2 / priorVar);
}

/** debiasedGdRisk at its own optimum: tau^2 d (1 - eta (L-1)/L) + queryNoiseVar. */
export function tunedDebiasedGdRisk(r: RiskParams): number {
  const eta = optimalDebiasedEta(r.L, r.d, r.sigma2, r.priorVar ?? 1);
  return (r.priorVar ?? 1) * r.d * (1 - (eta * (r.L - 1)) / r.L) + (r.queryNoiseVar ?? 0);
}

/** R(eta*) = priorVar d (1 - eta*) + queryNoiseVar. */
export function tunedGdRisk(r: RiskParams): number {
  return (r.priorVar ?? 1) * r.d * (1 - optimalEtaOf(r)) + (r.queryNoiseVar ?? 0);
}

/** OLS risk sigma2 d / (L - d - 1) (+ query noise); Infinity for L <= d + 1. */
export function olsRisk(r: RiskParams): number {
  const { d, L, sigma2 } = r;
  if (L <= d + 1) return Infinity;
  return (sigma2 * d) / (L - d - 1) + (r.queryNoiseVar ?? 0);
}

/** Parameters of the authors' reduced loss. */
export interface ReducedLossParams {
  readonly d: number;
  readonly L: number;
  readonly sigma2: number;
}

/** K = w w^T + c exp(d w w^T), [H, H]. */
function kernelMatrix(w: ArrayLike<number>, p: ReducedLossParams): Float64Array {
  const H = w.length;
  const c = (1 + p.sigma2) / p.L;
  const K = new Float64Array(H * H); // [H, H]
  for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) K[i * H + j] = w[i]! * w[j]! + c * Math.exp(p.d * w[i]! * w[j]!);
  return K;
}

/** L(mu, w) = 1 + sigma2 - 2 mu.w + mu^T (w w^T + (1+sigma2)/L exp(d w w^T)) mu. */
export function reducedLoss(mu: ArrayLike<number>, w: ArrayLike<number>, p: ReducedLossParams): number {
  const H = checkPair(mu, w);
  const K = kernelMatrix(w, p);
  let quad = 0;
  let lin = 0;
  for (let i = 0; i < H; i++) {
    lin += mu[i]! * w[i]!;
    for (let j = 0; j < H; j++) quad += mu[i]! * K[i * H + j]! * mu[j]!;
  }
  return 1 + p.sigma2 - 2 * lin + quad;
}

/**
 * Gradient of the reduced loss, written out:
 *   dL/dmu_k = -2 w_k + 2 (K mu)_k
 *   dL/dw_k  = -2 mu_k + 2 (mu.w) mu_k + 2 c d mu_k sum_j mu_j w_j exp(d w_k w_j)
 */
export function reducedLossGrad(mu: ArrayLike<number>, w: ArrayLike<number>, p: ReducedLossParams, gMu = new Float64Array(mu.length), gW = new Float64Array(w.length)): { gMu: Float64Array; gW: Float64Array } {
  const H = checkPair(mu, w);
  const c = (1 + p.sigma2) / p.L;
  let muW = 0;
  for (let i = 0; i < H; i++) muW += mu[i]! * w[i]!;
  for (let k = 0; k < H; k++) {
    let kmu = 0;
    let ew = 0;
    for (let j = 0; j < H; j++) {
      const e = Math.exp(p.d * w[k]! * w[j]!);
      kmu += (w[k]! * w[j]! + c * e) * mu[j]!;
      ew += mu[j]! * w[j]! * e;
    }
    gMu[k] = -2 * w[k]! + 2 * kmu;
    gW[k] = -2 * mu[k]! + 2 * muW * mu[k]! + 2 * c * p.d * mu[k]! * ew;
  }
  return { gMu, gW };
}

/** mu*(w) = (w w^T + c exp(d w w^T))^{-1} w, the minimiser of L(., w) (NaN if the matrix is singular). */
export function optimalMu(w: ArrayLike<number>, p: ReducedLossParams): Float64Array {
  const H = w.length;
  return solveDense(kernelMatrix(w, p), Float64Array.from(w), H);
}

/** A trajectory of the reduced loss's gradient flow, sampled every `recordEvery` steps (and at the end). */
export interface FlowTrajectory {
  /** Times, [n]. */
  readonly t: Float64Array;
  /** mu per record and head, row-major [n, H]. */
  readonly mu: Float64Array;
  /** w per record and head, [n, H]. */
  readonly w: Float64Array;
  /** L(mu, w) per record, [n]. */
  readonly loss: Float64Array;
}

export interface FlowOptions extends ReducedLossParams {
  readonly mu0: ArrayLike<number>;
  readonly w0: ArrayLike<number>;
  /** Fixed step size of the integrator. */
  readonly dt: number;
  readonly steps: number;
  /** Record every this many steps (default 1); the initial point and the last step are always recorded. */
  readonly recordEvery?: number;
}

/**
 * Integrate the gradient flow d(mu, w)/dt = -grad L(mu, w) with the classical fourth-order
 * Runge–Kutta method at a fixed step dt (no adaptivity, so choose dt small against the flow's
 * fastest time scale; halving dt should not move the result). Time is in units of
 * "learning rate × steps" for plain gradient descent on L.
 */
export function integrateReducedFlow(o: FlowOptions): FlowTrajectory {
  const H = checkPair(o.mu0, o.w0);
  if (!(o.dt > 0) || !Number.isInteger(o.steps) || o.steps < 0) throw new RangeError(`need dt > 0 and an integer steps >= 0, got dt=${o.dt}, steps=${o.steps}`);
  const every = o.recordEvery ?? 1;
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`recordEvery must be a positive integer, got ${every}`);
  const n = Math.floor(o.steps / every) + 1 + (o.steps % every === 0 ? 0 : 1);
  const t = new Float64Array(n);
  const muRec = new Float64Array(n * H); // [n, H]
  const wRec = new Float64Array(n * H); // [n, H]
  const loss = new Float64Array(n);
  const state = new Float64Array(2 * H); // [mu | w]
  state.set(Array.from(o.mu0), 0);
  state.set(Array.from(o.w0), H);
  const k1 = new Float64Array(2 * H), k2 = new Float64Array(2 * H), k3 = new Float64Array(2 * H), k4 = new Float64Array(2 * H);
  const tmp = new Float64Array(2 * H);
  const deriv = (s: Float64Array, out: Float64Array) => {
    const { gMu, gW } = reducedLossGrad(s.subarray(0, H), s.subarray(H), o);
    for (let i = 0; i < H; i++) { out[i] = -gMu[i]!; out[H + i] = -gW[i]!; }
  };
  let r = 0;
  const record = (step: number) => {
    t[r] = step * o.dt;
    muRec.set(state.subarray(0, H), r * H);
    wRec.set(state.subarray(H), r * H);
    loss[r] = reducedLoss(state.subarray(0, H), state.subarray(H), o);
    r++;
  };
  record(0);
  const h = o.dt;
  for (let step = 1; step <= o.steps; step++) {
    deriv(state, k1);
    for (let i = 0; i < 2 * H; i++) tmp[i] = state[i]! + 0.5 * h * k1[i]!;
    deriv(tmp, k2);
    for (let i = 0; i < 2 * H; i++) tmp[i] = state[i]! + 0.5 * h * k2[i]!;
    deriv(tmp, k3);
    for (let i = 0; i < 2 * H; i++) tmp[i] = state[i]! + h * k3[i]!;
    deriv(tmp, k4);
    for (let i = 0; i < 2 * H; i++) state[i] += (h / 6) * (k1[i]! + 2 * k2[i]! + 2 * k3[i]! + k4[i]!);
    if (step % every === 0 || step === o.steps) record(step);
  }
  return { t, mu: muRec, w: wRec, loss };
}

function checkPair(mu: ArrayLike<number>, w: ArrayLike<number>): number {
  if (mu.length !== w.length) throw new RangeError(`mu has ${mu.length} heads but w has ${w.length}`);
  return mu.length;
}
