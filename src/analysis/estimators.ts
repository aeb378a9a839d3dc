/**
 * In-context estimators of y_q, each `(batch, ...params, out: Float64Array[B])`. Notation: x_i, y_i
 * context tokens, x_q the query, s_i = <x_q, x_i>, L context length, d dimension.
 *
 *   kernelEstimator   sum_h mu^h sum_i y_i softmax_i(w^h s_i)        (seed `kernel_estimator`; no 1/sqrt(E):
 *                                                                      w^h is already the scaled QK diagonal)
 *   oneStepGd         (eta/L) sum_i y_i s_i                          (seed `gradient_step_estimator` at eta = 1)
 *   tunedGd           oneStepGd at eta* = L / (L + d + 1 + sigma^2/tau^2)   (theory.ts `optimalEta`)
 *   debiasedGd        ybar * muSum + (eta/L) sum_i y_i (s_i - sbar)  the linearised kernel: softmax(w s_i)
 *                                                                      ≈ (1 + w (s_i - sbar)) / L (docs/THEORY.md)
 *   preconditionedGd  x_q . Gamma (1/L) sum_i y_i x_i               (anisotropic x: Gamma* of anisotropy.ts)
 *   debiasedPreconditionedGd  x_q . Gamma (1/L) sum_i y_i (x_i - xbar)
 *   ridge             x_q · (X^T X + lambda I)^{-1} X^T y            (Bayes posterior mean at lambda = sigma^2/tau^2)
 *   ols               ridge at lambda = 0; NaN when L <= d (X^T X singular or the risk infinite)
 *   transformerEstimator  the model (its own attention's TypeScript kernel: softmax, linear)
 */
import type { Batch } from '../data/batch.js';
import type { AttentionParams } from '../model/params.js';
import { singleLayerKernel } from '../engine/single-layer-kernel.js';
import { attentionOf } from '../model/attention-name.js';
import { optimalEta } from './theory.js';
import { choleskySolveInPlace } from '../math/linalg.js';

/** Kernel estimator from per-head (w, mu). Dot products s_i are computed once and shared by all heads. */
export function kernelEstimator(batch: Batch, w: ArrayLike<number>, mu: ArrayLike<number>, out: Float64Array): Float64Array {
  const { B, L, d, E, z, zq } = batch;
  const H = w.length;
  if (mu.length !== H) throw new RangeError(`w has ${H} heads but mu has ${mu.length}`);
  checkOut(out, B);
  const s = new Float64Array(L); // [L]  s_i = <x_q, x_i>, shared by all heads
  const y = new Float64Array(L); // [L]  y_i, contiguous
  for (let b = 0; b < B; b++) {
    const q0 = b * E;
    const z0 = b * L * E;
    let sMin = Infinity;
    let sMax = -Infinity;
    for (let i = 0; i < L; i++) {
      let dot = 0;
      const zi = z0 + i * E;
      for (let c = 0; c < d; c++) dot += zq[q0 + c]! * z[zi + c]!;
      s[i] = dot;
      y[i] = z[zi + d]!;
      sMin = Math.min(sMin, dot);
      sMax = Math.max(sMax, dot);
    }
    let acc = 0;
    for (let h = 0; h < H; h++) {
      const wh = w[h]!;
      const m = wh >= 0 ? wh * sMax : wh * sMin; // max_i of w s_i, for a stable softmax
      let num = 0;
      let den = 0;
      for (let i = 0; i < L; i++) {
        const e = Math.exp(wh * s[i]! - m);
        den += e;
        num += e * y[i]!;
      }
      acc += mu[h]! * (num / den);
    }
    out[b] = acc;
  }
  return out;
}

/** One step of gradient descent from beta = 0 on the in-context squared loss: (eta/L) sum_i y_i <x_i, x_q>. */
export function oneStepGd(batch: Batch, eta: number, out: Float64Array): Float64Array {
  const { B, L, d, E, z, zq } = batch;
  checkOut(out, B);
  for (let b = 0; b < B; b++) {
    const q0 = b * E;
    const z0 = b * L * E;
    let acc = 0;
    for (let i = 0; i < L; i++) {
      const zi = z0 + i * E;
      let dot = 0;
      for (let c = 0; c < d; c++) dot += zq[q0 + c]! * z[zi + c]!;
      acc += z[zi + d]! * dot;
    }
    out[b] = (eta * acc) / L;
  }
  return out;
}

/** One preconditioned GD step from zero, x_q^T Gamma (1/L) sum_i y_i x_i (Gamma d x d, row-major; Gamma = eta I is oneStepGd). */
export function preconditionedGd(batch: Batch, gamma: ArrayLike<number>, out: Float64Array): Float64Array {
  return preconditionedStep(batch, gamma, out, false);
}

/**
 * Debiased (mean-centred) one-step GD preconditioned by Gamma: x_q . Gamma (1/L) sum_i y_i (x_i - xbar),
 * the linearised softmax kernel for a QK x-block Gamma (docs/THEORY.md), without the ybar term.
 */
export function debiasedPreconditionedGd(batch: Batch, gamma: ArrayLike<number>, out: Float64Array): Float64Array {
  return preconditionedStep(batch, gamma, out, true);
}

/** x_q . Gamma (1/L) sum_i y_i u_i with u_i = x_i (plain) or x_i - xbar (debiased). */
function preconditionedStep(batch: Batch, gamma: ArrayLike<number>, out: Float64Array, debiased: boolean): Float64Array {
  const { B, L, d, E, z, zq } = batch;
  checkOut(out, B);
  if (gamma.length !== d * d) throw new RangeError(`Gamma has ${gamma.length} values, expected d*d = ${d * d}`);
  const xy = new Float64Array(d);
  const xbar = new Float64Array(d);
  for (let b = 0; b < B; b++) {
    xy.fill(0);
    xbar.fill(0);
    let ysum = 0;
    const z0 = b * L * E, q0 = b * E;
    for (let i = 0; i < L; i++) {
      const zi = z0 + i * E;
      const y = z[zi + d]!;
      ysum += y;
      for (let c = 0; c < d; c++) {
        xy[c] += y * z[zi + c]!;
        xbar[c] += z[zi + c]!;
      }
    }
    // sum_i y_i (x_i - xbar) = sum_i y_i x_i - (sum_i y_i) xbar
    if (debiased) for (let c = 0; c < d; c++) xy[c] -= (ysum * xbar[c]!) / L;
    let acc = 0;
    for (let a = 0; a < d; a++) {
      let g = 0;
      for (let c = 0; c < d; c++) g += gamma[a * d + c]! * xy[c]!;
      acc += zq[q0 + a]! * g;
    }
    out[b] = acc / L;
  }
  return out;
}

/** The seed's `gradient_step_estimator`: one-step GD with eta = 1. */
export function gradientStepEstimator(batch: Batch, out: Float64Array): Float64Array {
  return oneStepGd(batch, 1, out);
}

/** One-step GD at eta* (see `optimalEta`) for this batch's L and d. */
export function tunedGd(batch: Batch, sigma2: number, priorVar: number, out: Float64Array): Float64Array {
  return oneStepGd(batch, optimalEta(batch.L, batch.d, sigma2, priorVar), out);
}

/**
 * Debiased (mean-centred) one-step GD, the linearisation of the kernel estimator for small w
 * (docs/THEORY.md): softmax_i(w s_i) ≈ (1 + w (s_i - sbar)) / L gives
 *
 *   ybar * muSum + (eta / L) sum_i y_i (s_i - sbar),   s_i = <x_q, x_i>, sbar = mean_i s_i,
 *
 * with muSum = sum_h mu^h and eta = sum_h mu^h w^h. muSum = 0 (the default) is the pure centred GD.
 */
export function debiasedGd(batch: Batch, eta: number, out: Float64Array, muSum = 0): Float64Array {
  const { B, L, d, E, z, zq } = batch;
  checkOut(out, B);
  for (let b = 0; b < B; b++) {
    const q0 = b * E;
    const z0 = b * L * E;
    let sy = 0;
    let ss = 0;
    let ys = 0;
    for (let i = 0; i < L; i++) {
      const zi = z0 + i * E;
      let dot = 0;
      for (let c = 0; c < d; c++) dot += zq[q0 + c]! * z[zi + c]!;
      const y = z[zi + d]!;
      sy += y;
      ss += dot;
      ys += y * dot;
    }
    const ybar = sy / L;
    const sbar = ss / L;
    // sum_i y_i (s_i - sbar) = sum_i y_i s_i - L ybar sbar
    out[b] = ybar * muSum + (eta / L) * (ys - L * ybar * sbar);
  }
  return out;
}

/** lambda of the Bayes posterior mean: sigma^2 / tau^2 (seed preset: sigma^2; paper preset tau^2 = 1/d: d sigma^2). */
export function bayesRidgeLambda(sigma2: number, priorVar = 1): number {
  return sigma2 / priorVar;
}

/**
 * Ridge regression on the context, evaluated at the query: x_q · (X^T X + lambda I)^{-1} X^T y.
 * lambda = 0 is OLS (see `ols`). A singular system (lambda = 0, L < d) gives NaN.
 */
export function ridge(batch: Batch, lambda: number, out: Float64Array): Float64Array {
  const { B, L, d, E, z, zq } = batch;
  checkOut(out, B);
  if (!(lambda >= 0)) throw new RangeError(`ridge lambda must be >= 0, got ${lambda}`);
  const A = new Float64Array(d * d); // [d, d] X^T X + lambda I, then its Cholesky factor
  const r = new Float64Array(d); // [d] X^T y, then the solution
  for (let b = 0; b < B; b++) {
    A.fill(0);
    r.fill(0);
    const z0 = b * L * E;
    for (let i = 0; i < L; i++) {
      const zi = z0 + i * E;
      const y = z[zi + d]!;
      for (let a = 0; a < d; a++) {
        const xa = z[zi + a]!;
        r[a] += xa * y;
        for (let c = 0; c <= a; c++) A[a * d + c] += xa * z[zi + c]!;
      }
    }
    for (let a = 0; a < d; a++) A[a * d + a] += lambda;
    out[b] = choleskySolveInPlace(A, r, d) ? dotPrefix(zq, b * E, r, d) : NaN;
  }
  return out;
}

/** Ordinary least squares on the context at the query. Defined for L > d; NaN for every prompt when L <= d. */
export function ols(batch: Batch, out: Float64Array): Float64Array {
  if (batch.L <= batch.d) {
    checkOut(out, batch.B);
    return out.fill(NaN);
  }
  return ridge(batch, 0, out);
}

/**
 * Per-prompt sufficient statistics of every linear estimator above (one pass over the tokens):
 *   xtx [B, d, d] = X^T X (lower triangle filled),  xty [B, d] = X^T y,  sumX [B, d] = sum_i x_i,  sumY [B] = sum_i y_i.
 * Then with s_i = <x_q, x_i>:  sum_i y_i s_i = x_q . X^T y  and  sum_i s_i = x_q . sum_i x_i.
 */
export interface ContextMoments {
  B: number;
  d: number;
  xtx: Float64Array;
  xty: Float64Array;
  sumX: Float64Array;
  sumY: Float64Array;
}

export function contextMoments(batch: Batch, m?: ContextMoments): ContextMoments {
  const { B, L, d, E, z } = batch;
  if (!m || m.B !== B || m.d !== d) {
    m = { B, d, xtx: new Float64Array(B * d * d), xty: new Float64Array(B * d), sumX: new Float64Array(B * d), sumY: new Float64Array(B) };
  }
  const { xtx, xty, sumX, sumY } = m;
  xtx.fill(0);
  xty.fill(0);
  sumX.fill(0);
  for (let b = 0; b < B; b++) {
    const z0 = b * L * E;
    const g = b * d * d;
    const v = b * d;
    let sy = 0;
    for (let i = 0; i < L; i++) {
      const zi = z0 + i * E;
      const y = z[zi + d]!;
      sy += y;
      for (let a = 0; a < d; a++) {
        const xa = z[zi + a]!;
        xty[v + a] += xa * y;
        sumX[v + a] += xa;
        for (let c = 0; c <= a; c++) xtx[g + a * d + c] += xa * z[zi + c]!;
      }
    }
    sumY[b] = sy;
  }
  return m;
}

/** The linear estimators from `contextMoments` (same values as the direct functions up to rounding). */
export function linearFromMoments(batch: Batch, m: ContextMoments, o: { oneStep?: { eta: number; out: Float64Array }[]; debiased?: { eta: number; muSum?: number; out: Float64Array }[]; ridge?: { lambda: number; out: Float64Array }[] }): void {
  const { B, L, d, E, zq } = batch;
  if (m.B !== B || m.d !== d) throw new RangeError(`moments are for B=${m.B}, d=${m.d}; the batch has B=${B}, d=${d}`);
  for (const r of [...(o.oneStep ?? []), ...(o.debiased ?? []), ...(o.ridge ?? [])]) checkOut(r.out, B);
  const A = new Float64Array(d * d); // [d, d]
  const r = new Float64Array(d); // [d]
  for (let b = 0; b < B; b++) {
    const q0 = b * E;
    const v = b * d;
    let ys = 0; // sum_i y_i s_i
    let ss = 0; // sum_i s_i
    for (let a = 0; a < d; a++) {
      ys += zq[q0 + a]! * m.xty[v + a]!;
      ss += zq[q0 + a]! * m.sumX[v + a]!;
    }
    for (const g of o.oneStep ?? []) g.out[b] = (g.eta * ys) / L;
    const ybar = m.sumY[b]! / L;
    for (const g of o.debiased ?? []) g.out[b] = ybar * (g.muSum ?? 0) + (g.eta / L) * (ys - ybar * ss);
    for (const g of o.ridge ?? []) {
      if (g.lambda === 0 && L <= d) { // OLS undefined (see `ols`)
        g.out[b] = NaN;
        continue;
      }
      A.set(m.xtx.subarray(b * d * d, (b + 1) * d * d));
      for (let a = 0; a < d; a++) A[a * d + a] += g.lambda;
      r.set(m.xty.subarray(v, v + d));
      g.out[b] = choleskySolveInPlace(A, r, d) ? dotPrefix(zq, q0, r, d) : NaN;
    }
  }
}

/**
 * The attention model itself: attention.ts `forward` (its inference path does no gradient work and
 * allocates nothing; measured faster here than a one-pass online-softmax variant).
 */
export function transformerEstimator(p: AttentionParams, batch: Batch, out: Float64Array): Float64Array {
  checkOut(out, batch.B);
  singleLayerKernel(attentionOf(p)).forward(p, batch, out);
  return out;
}

function dotPrefix(a: Float64Array, offset: number, b: Float64Array, n: number): number {
  let s = 0;
  for (let c = 0; c < n; c++) s += a[offset + c]! * b[c]!;
  return s;
}

function checkOut(out: Float64Array, B: number): void {
  if (out.length !== B) throw new RangeError(`out has ${out.length} values, expected B = ${B}`);
}
