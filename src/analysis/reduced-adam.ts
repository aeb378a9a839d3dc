/**
 * The reduced loss trained the way the run is trained: Adam on the FACTORISED parameters.
 *
 * The (w, mu) gradient flow of theory.ts moves each w^h along the sign of its mu^h from a near-zero
 * start, so both heads of an H = 2 run usually end on one side, while Adam splits them into a +/- pair.
 * Two things differ from the run: (1) Adam takes per-coordinate steps of size ~lr whatever the
 * gradient's size (a sign-like method), and (2) it steps on W_Q, W_K, W_V, W_O, not on (w, mu). Here
 * both are kept and only the loss is reduced. Per head h (E = d + 1):
 *
 *   a_h[r, c] = W_Q^h[r, c],  b_h[r, c] = W_K^h[r, c]   (r < E, c < d: the entries that form the x-block diagonal)
 *   p_h[r] = W_V^h[r, d],     q_h[r] = W_O[0, h E + r]  (the entries that form OV^h[y, y])
 *   w_h  = (1 / (d sqrt E)) sum_{r, c} a_h[r, c] b_h[r, c]    (mean of the QK^h x-block diagonal)
 *   mu_h = sum_r p_h[r] q_h[r]                                 (OV^h[-1, -1])
 *
 * and the chain rule gives dL/da = dL/dw_h b / (d sqrt E), dL/db = dL/dw_h a / (d sqrt E),
 * dL/dp = dL/dmu_h q, dL/dq = dL/dmu_h p, with L = scale * reducedLoss(mu, w) (theory.ts; scale = the
 * task's signal variance d tau^2 so that L is on the run's MSE scale). Adam (the run's lr, betas, eps,
 * bias-corrected) then steps on (a, b, p, q) with the exact gradient: one step per training step, so the
 * prediction lives on the run's own step axis, with no time fitted. Started from the run's own initial
 * weights it predicts which heads take which sign; what it cannot predict is the slowing that the
 * batch noise in Adam's second moment causes.
 */
import type { AttentionParams } from '../model/params.js';
import type { Rng } from '../data/rng.js';
import { reducedLossGrad, reducedLoss, type ReducedLossParams } from './theory.js';

export interface ReducedAdamOptions extends ReducedLossParams {
  /** The run's initial weights (one layer). */
  init: AttentionParams;
  steps: number;
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Multiplies the reduced loss (d tau^2: 1 in the paper convention, d in the seed's). Default 1. */
  scale?: number;
  /** Record every this many steps (and the first and last). Default 1000. */
  recordEvery?: number;
  /**
   * Batch noise: per-entry standard deviation of the stochastic gradient, in theta layout [q | k | v | o]
   * of `init` (e.g. sqrt of the run's Adam exp_avg_sq at its end, where the mean gradient is ~0).
   * Each step adds noise[i] * N(0, 1) to the gradient of the corresponding factor entry. Needs `rng`.
   */
  noise?: Float64Array;
  rng?: Rng;
}

export interface ReducedAdamTrajectory {
  /** Steps of the records, [n]. */
  step: Float64Array;
  /** w per record and head, [n, H]. */
  w: Float64Array;
  /** mu per record and head, [n, H]. */
  mu: Float64Array;
  /** reduced loss per record (times scale), [n]. */
  loss: Float64Array;
}

/** Adam on the factorised reduced model; see the file comment. */
export function reducedAdam(o: ReducedAdamOptions): ReducedAdamTrajectory {
  const p0 = o.init;
  const { d, E, H } = p0;
  if (p0.nOut !== 1) throw new RangeError(`reducedAdam needs a one-output model, got n_out = ${p0.nOut}`);
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new RangeError(`steps must be an integer >= 0, got ${o.steps}`);
  const every = o.recordEvery ?? 1000;
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999, eps = o.eps ?? 1e-8, scale = o.scale ?? 1;
  const nA = E * d; // entries of a_h (and b_h)
  const per = 2 * nA + 2 * E; // [a | b | p | q] per head
  const theta = new Float64Array(H * per);
  for (let h = 0; h < H; h++) {
    const base = h * per;
    for (let r = 0; r < E; r++) {
      for (let c = 0; c < d; c++) {
        theta[base + r * d + c] = p0.q[(h * E + r) * E + c]!; // W_Q^h[r, c]: q_proj row h E + r
        theta[base + nA + r * d + c] = p0.k[(h * E + r) * E + c]!;
      }
      theta[base + 2 * nA + r] = p0.v[(h * E + r) * E + d]!; // W_V^h[r, d]
      theta[base + 2 * nA + E + r] = p0.o[h * E + r]!; // o_proj[0, h E + r]
    }
  }
  const m = new Float64Array(theta.length);
  const v = new Float64Array(theta.length);
  const g = new Float64Array(theta.length);
  const w = new Float64Array(H);
  const mu = new Float64Array(H);
  const gW = new Float64Array(H);
  const gMu = new Float64Array(H);
  const k = 1 / (d * Math.sqrt(E));
  const readOut = () => {
    for (let h = 0; h < H; h++) {
      const base = h * per;
      let s = 0;
      for (let i = 0; i < nA; i++) s += theta[base + i]! * theta[base + nA + i]!;
      w[h] = k * s;
      let t = 0;
      for (let r = 0; r < E; r++) t += theta[base + 2 * nA + r]! * theta[base + 2 * nA + E + r]!;
      mu[h] = t;
    }
  };
  // noise std per factor entry, same layout as theta
  const sd = o.noise ? new Float64Array(theta.length) : undefined;
  if (o.noise) {
    if (o.noise.length !== p0.theta.length) throw new RangeError(`noise has ${o.noise.length} values, expected ${p0.theta.length} (theta of the initial model)`);
    if (!o.rng) throw new RangeError('noise needs an rng');
    const w3 = E * H * E;
    for (let h = 0; h < H; h++) {
      const base = h * per;
      for (let r = 0; r < E; r++) {
        for (let c = 0; c < d; c++) {
          sd![base + r * d + c] = o.noise[(h * E + r) * E + c]!;
          sd![base + nA + r * d + c] = o.noise[w3 + (h * E + r) * E + c]!;
        }
        sd![base + 2 * nA + r] = o.noise[2 * w3 + (h * E + r) * E + d]!;
        sd![base + 2 * nA + E + r] = o.noise[3 * w3 + h * E + r]!;
      }
    }
  }
  const xi = sd ? new Float64Array(theta.length) : undefined;
  const nRec = Math.floor(o.steps / every) + 1 + (o.steps % every === 0 ? 0 : 1);
  const stepRec = new Float64Array(nRec), wRec = new Float64Array(nRec * H), muRec = new Float64Array(nRec * H), lossRec = new Float64Array(nRec);
  let r = 0;
  const record = (step: number) => {
    stepRec[r] = step;
    wRec.set(w, r * H);
    muRec.set(mu, r * H);
    lossRec[r] = scale * reducedLoss(mu, w, o);
    r++;
  };
  readOut();
  record(0);
  let p1 = 1, p2 = 1;
  for (let step = 1; step <= o.steps; step++) {
    reducedLossGrad(mu, w, o, gMu, gW);
    for (let h = 0; h < H; h++) {
      const base = h * per;
      const dw = scale * gW[h]! * k;
      const dmu = scale * gMu[h]!;
      for (let i = 0; i < nA; i++) {
        g[base + i] = dw * theta[base + nA + i]!;
        g[base + nA + i] = dw * theta[base + i]!;
      }
      for (let i = 0; i < E; i++) {
        g[base + 2 * nA + i] = dmu * theta[base + 2 * nA + E + i]!;
        g[base + 2 * nA + E + i] = dmu * theta[base + 2 * nA + i]!;
      }
    }
    if (sd) {
      o.rng!.fillNormal(xi!, 0, xi!.length);
      for (let i = 0; i < g.length; i++) g[i] += sd[i]! * xi![i]!;
    }
    p1 *= b1;
    p2 *= b2;
    const c1 = 1 - p1, c2 = 1 - p2;
    for (let i = 0; i < theta.length; i++) {
      const gi = g[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      theta[i] -= (o.lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
    readOut();
    if (step % every === 0 || step === o.steps) record(step);
  }
  return { step: stepRec, w: wRec, mu: muRec, loss: lossRec };
}
