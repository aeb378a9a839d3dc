/**
 * For a model trained on anisotropic x (run.json rho != 0, Sigma_jk = rho^|j-k|): which theory
 * applies, and how the learned x-block of each head's QK compares with I (the isotropic kernel form
 * w^h I) and with Sigma^-1 (the preconditioner of one-step GD on Sigma-distributed x).
 *
 * A relative distance to a matrix M is the residual of the best multiple of M:
 *   c* = <A, M>_F / <M, M>_F,   rel(A, M) = ||A - c* M||_F / ||A||_F   (0 = A is a multiple of M)
 */
import type { HeadCircuit } from '../model/circuits.js';

/** Sigma_jk = rho^|j-k| (d x d, row-major). */
export function ar1Covariance(d: number, rho: number): Float64Array {
  const s = new Float64Array(d * d);
  for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) s[j * d + k] = rho ** Math.abs(j - k);
  return s;
}

/** Sigma^-1 of the AR(1) covariance: tridiagonal, (1/(1-rho^2)) [1, 1+rho^2, ..., 1+rho^2, 1] on the diagonal, -rho/(1-rho^2) beside it. */
export function ar1Precision(d: number, rho: number): Float64Array {
  const p = new Float64Array(d * d);
  const c = 1 / (1 - rho * rho);
  for (let j = 0; j < d; j++) {
    p[j * d + j] = c * (d === 1 ? 1 - rho * rho : j === 0 || j === d - 1 ? 1 : 1 + rho * rho);
    if (j + 1 < d) {
      p[j * d + j + 1] = -rho * c;
      p[(j + 1) * d + j] = -rho * c;
    }
  }
  return p;
}

/** rel(A, M) = ||A - c* M||_F / ||A||_F with c* the best multiple; and c*. */
export function relativeDistance(a: ArrayLike<number>, m: ArrayLike<number>): { rel: number; scale: number } {
  let am = 0, mm = 0, aa = 0;
  for (let i = 0; i < a.length; i++) {
    am += a[i]! * m[i]!;
    mm += m[i]! * m[i]!;
    aa += a[i]! * a[i]!;
  }
  const c = mm > 0 ? am / mm : 0;
  let r = 0;
  for (let i = 0; i < a.length; i++) r += (a[i]! - c * m[i]!) ** 2;
  return { rel: aa > 0 ? Math.sqrt(r / aa) : NaN, scale: c };
}

/** The x-block QK^h[:d, :d] of a head (row-major d x d). */
export function xBlock(c: HeadCircuit, d: number): Float64Array {
  const E = d + 1;
  const out = new Float64Array(d * d);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) out[a * d + b] = c.qk[a * E + b]!;
  return out;
}

export interface HeadMetric {
  /** Numbered from 1, as printed. */
  layer: number;
  head: number;
  /** rel(QK x-block, I) and the best multiple of I. */
  relToIdentity: number;
  scaleIdentity: number;
  /** rel(QK x-block, Sigma^-1) and the best multiple of Sigma^-1. */
  relToPrecision: number;
  scalePrecision: number;
  closer: 'identity' | 'sigma_inverse';
}

export interface Anisotropy {
  rho: number;
  /** Which theory applies, in words. */
  theory: string;
  sigmaInverse: number[][];
  heads: HeadMetric[];
}

export const ANISOTROPIC_THEORY =
  'x ~ N(0, Sigma) with Sigma_jk = rho^|j-k|, not N(0, I): the isotropic theory (QK x-block = w^h I, ' +
  'eta_TF ~ L/(L+d), tuned eta*, the equivalent two-head model, and the kernel estimator built from w^h I) ' +
  'assumes Sigma = I and does not apply as such. For Sigma-distributed x, one step of gradient descent ' +
  'is best preconditioned by Sigma^-1 (trained linear attention learns QK x-block ~ Sigma^-1), so the ' +
  'question is whether each head\'s learned x-block is closer to a multiple of I or of Sigma^-1. ' +
  'The isotropic numbers below are shown for reference only; a large kernel gap is expected when the ' +
  'x-block is far from a multiple of I.';

/** The anisotropy read-out of the heads of a model trained with `rho` (non-zero). */
export function anisotropy(heads: readonly HeadCircuit[], d: number, rho: number): Anisotropy {
  const eye = new Float64Array(d * d);
  for (let j = 0; j < d; j++) eye[j * d + j] = 1;
  const prec = ar1Precision(d, rho);
  return {
    rho,
    theory: ANISOTROPIC_THEORY,
    sigmaInverse: Array.from({ length: d }, (_, j) => Array.from(prec.subarray(j * d, (j + 1) * d))),
    heads: heads.map((c) => {
      const a = xBlock(c, d);
      const i = relativeDistance(a, eye);
      const p = relativeDistance(a, prec);
      return {
        layer: c.layer + 1, head: c.head + 1,
        relToIdentity: i.rel, scaleIdentity: i.scale, relToPrecision: p.rel, scalePrecision: p.scale,
        closer: p.rel < i.rel ? 'sigma_inverse' : 'identity',
      };
    }),
  };
}
