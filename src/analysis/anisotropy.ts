/**
 * For a model trained on anisotropic x (run.json rho != 0, Sigma_jk = rho^|j-k|): which theory
 * applies, and how the learned x-block of each head's QK compares with I (the isotropic kernel form
 * w^h I) and with Sigma^-1 (the preconditioner of one-step GD on Sigma-distributed x).
 *
 * A relative distance to a matrix M is the residual of the best multiple of M:
 *   c* = <A, M>_F / <M, M>_F,   rel(A, M) = ||A - c* M||_F / ||A||_F   (0 = A is a multiple of M)
 */
import type { HeadCircuit } from '../model/circuits.js';
import { solveDense } from '../math/linalg.js';

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

/** Gamma* = ((1 + 1/L) Sigma + (tr Sigma + sigma^2/tau^2)/L I)^-1 for x ~ N(0, Sigma): the optimum of plain preconditioned GD. */
export function optimalPreconditioner(sigma: Float64Array, d: number, L: number, noiseOverPrior: number): Float64Array {
  return inverse(shifted(sigma, d, 1 + 1 / L, (trace(sigma, d) + noiseOverPrior) / L), d);
}

/**
 * Gamma*_deb = (Sigma + (tr Sigma + sigma^2/tau^2)/L I)^-1: the optimum of the DEBIASED preconditioned
 * step x_q . Gamma (1/L) sum_i y_i (x_i - xbar), the one a paired softmax model linearises to (its
 * isotropic case is L/(L + d + sigma^2/tau^2) I, theory.ts optimalDebiasedEta).
 */
export function optimalDebiasedPreconditioner(sigma: Float64Array, d: number, L: number, noiseOverPrior: number): Float64Array {
  return inverse(shifted(sigma, d, 1, (trace(sigma, d) + noiseOverPrior) / L), d);
}

/** The noise and prior of a task's risk (theory.ts riskParams): context noise variance, tau^2, query noise variance. */
export interface PreconditionedRiskParams {
  L: number;
  sigma2: number;
  priorVar?: number;
  queryNoiseVar?: number;
}

/**
 * Population risk of one preconditioned GD step with any Gamma, x ~ N(0, Sigma), beta ~ N(0, tau^2 I):
 * with h = (1/L) sum_i y_i u_i (u_i = x_i, or x_i - xbar when debiased) = C beta + noise,
 *   R(Gamma) = tau^2 [tr(Sigma Gamma M Gamma^T) - 2 tr(Sigma Gamma E[C]) + tr Sigma] + sigma_q^2,
 *   plain:    E[C] = Sigma,          M = (1 + 1/L) Sigma^2 + (tr Sigma + sigma^2/tau^2)/L Sigma
 *   debiased: E[C] = (L-1)/L Sigma,  M = (L-1)/L^2 [L Sigma^2 + (tr Sigma + sigma^2/tau^2) Sigma]
 * (Wishart moments). At Gamma* (resp. Gamma*_deb) it is tau^2 [tr Sigma - tr(Sigma Gamma E[C])] + sigma_q^2.
 */
export function preconditionedGdRisk(sigma: Float64Array, gamma: ArrayLike<number>, d: number, r: PreconditionedRiskParams, debiased: boolean): number {
  const { L } = r;
  const tau2 = r.priorVar ?? 1;
  const c = (trace(sigma, d) + r.sigma2 / tau2) / L;
  const s2 = matmul(sigma, sigma, d);
  const n = (L - 1) / L;
  const m = new Float64Array(d * d);
  const ec = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) {
    m[i] = debiased ? n * (s2[i]! + c * sigma[i]!) : (1 + 1 / L) * s2[i]! + c * sigma[i]!;
    ec[i] = debiased ? n * sigma[i]! : sigma[i]!;
  }
  const g = Float64Array.from(gamma);
  const gt = new Float64Array(d * d);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) gt[a * d + b] = g[b * d + a]!;
  const quad = trace(matmul(matmul(matmul(sigma, g, d), m, d), gt, d), d);
  const cross = trace(matmul(matmul(sigma, g, d), ec, d), d);
  return tau2 * (quad - 2 * cross + trace(sigma, d)) + (r.queryNoiseVar ?? 0);
}

function trace(a: ArrayLike<number>, d: number): number {
  let t = 0;
  for (let j = 0; j < d; j++) t += a[j * d + j]!;
  return t;
}

function matmul(a: ArrayLike<number>, b: ArrayLike<number>, d: number): Float64Array {
  const o = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) {
    const x = a[i * d + k]!;
    for (let j = 0; j < d; j++) o[i * d + j] += x * b[k * d + j]!;
  }
  return o;
}

/** a Sigma + b I. */
function shifted(sigma: Float64Array, d: number, a: number, b: number): Float64Array {
  const m = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) m[i] = a * sigma[i]!;
  for (let j = 0; j < d; j++) m[j * d + j] += b;
  return m;
}

function inverse(m: Float64Array, d: number): Float64Array {
  const inv = new Float64Array(d * d);
  for (let c = 0; c < d; c++) {
    const e = new Float64Array(d);
    e[c] = 1;
    const x = solveDense(m, e, d);
    for (let r = 0; r < d; r++) inv[r * d + c] = x[r]!;
  }
  return inv;
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
  /** rel(QK x-block, Gamma*) and the best multiple of Gamma*. */
  relToGammaStar: number;
  scaleGammaStar: number;
  closer: 'identity' | 'sigma_inverse' | 'gamma_star';
}

export interface Anisotropy {
  rho: number;
  /** Which theory applies, in words. */
  theory: string;
  sigmaInverse: number[][];
  /** Gamma* = ((1 + 1/L) Sigma + (tr Sigma + sigma^2/tau^2)/L I)^-1, the optimum of one preconditioned GD step at the run's L. */
  gammaStar: number[][];
  L: number;
  heads: HeadMetric[];
  /** The effective preconditioner sum_h mu^h QK^h x-block (the model's x-block as one GD step sees it): rel to I, Sigma^-1, Gamma*. */
  relIdentity: number;
  relSigmaInverse: number;
  relGammaStar: number;
  /** Whether the heads split into a +/- pair (an active head in each sign group); an unpaired model is not read as preconditioned GD. */
  paired: boolean;
  /** What the read-out says, in words. */
  verdict: string;
}

export const ANISOTROPIC_THEORY =
  'x ~ N(0, Sigma) with Sigma_jk = rho^|j-k|, not N(0, I): the isotropic theory (QK x-block = w^h I, ' +
  'eta_TF ~ L/(L+d), tuned eta*, the equivalent two-head model, and the kernel estimator built from w^h I) ' +
  'assumes Sigma = I and does not apply as such. For Sigma-distributed x, one step of gradient descent ' +
  'is best preconditioned by Sigma^-1 (trained linear attention learns QK x-block ~ Sigma^-1), so the ' +
  'question is whether the learned x-block is closer to a multiple of I, of Sigma^-1 or of Gamma*, the finite-L optimum ' +
  'of one preconditioned GD step (Zhang-Frei-Bartlett; Ahn et al.), itself a few per cent from Sigma^-1. ' +
  'The isotropic numbers below are shown for reference only; a large kernel gap is expected when the ' +
  'x-block is far from a multiple of I.';

/**
 * The anisotropy read-out of the heads of a model trained with `rho` (non-zero) at context length L
 * (noiseOverPrior = sigma^2/tau^2 of its task); `paired`: whether its heads split into a +/- pair.
 */
export function anisotropy(heads: readonly HeadCircuit[], d: number, rho: number, L: number, noiseOverPrior: number, paired: boolean): Anisotropy {
  const eye = new Float64Array(d * d);
  for (let j = 0; j < d; j++) eye[j * d + j] = 1;
  const prec = ar1Precision(d, rho);
  const star = optimalPreconditioner(ar1Covariance(d, rho), d, L, noiseOverPrior);
  const rows = (m: Float64Array) => Array.from({ length: d }, (_, j) => Array.from(m.subarray(j * d, (j + 1) * d)));
  const closest = (i: number, p: number, g: number): HeadMetric['closer'] => (g <= Math.min(i, p) ? 'gamma_star' : p < i ? 'sigma_inverse' : 'identity');
  const effective = new Float64Array(d * d);
  for (const c of heads) {
    const a = xBlock(c, d);
    for (let k = 0; k < d * d; k++) effective[k] += c.mu * a[k]!;
  }
  const e = { i: relativeDistance(effective, eye).rel, p: relativeDistance(effective, prec).rel, g: relativeDistance(effective, star).rel };
  const near = closest(e.i, e.p, e.g);
  const name = { identity: 'I', sigma_inverse: 'Sigma^-1', gamma_star: 'Gamma*' }[near];
  return {
    rho,
    theory: ANISOTROPIC_THEORY,
    sigmaInverse: rows(prec),
    gammaStar: rows(star),
    L,
    heads: heads.map((c) => {
      const a = xBlock(c, d);
      const i = relativeDistance(a, eye);
      const p = relativeDistance(a, prec);
      const g = relativeDistance(a, star);
      return {
        layer: c.layer + 1, head: c.head + 1,
        relToIdentity: i.rel, scaleIdentity: i.scale, relToPrecision: p.rel, scalePrecision: p.scale, relToGammaStar: g.rel, scaleGammaStar: g.scale,
        closer: closest(i.rel, p.rel, g.rel),
      };
    }),
    relIdentity: e.i, relSigmaInverse: e.p, relGammaStar: e.g,
    paired,
    verdict: paired
      ? `paired (+/- heads): the effective preconditioner sum_h mu^h QK^h x-block is closest to a multiple of ${name} (rel ${e.g.toFixed(4)} to Gamma*, ${e.p.toFixed(4)} to Sigma^-1, ${e.i.toFixed(4)} to I)`
      : 'not paired: the heads have not split into a +/- pair, so the model is not read as a preconditioned GD step (its x-block distances are shown for reference only)',
  };
}
