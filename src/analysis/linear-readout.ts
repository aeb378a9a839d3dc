/**
 * The read-out of a trained LINEAR attention model (`analyze` on a model whose attention is linear
 * or linear-sum): how close it is to the GD construction, and what preconditioner it learned.
 *
 * With QK^h x-blocks A_h (rows: query coordinate) and OV^h y-entries mu^h only, a 'linear' model
 * predicts x_q^T Gamma (1/L) sum_i y_i x_i with the learned preconditioner
 *
 *   Gamma = sum_h mu^h A_h        ('linear-sum': L sum_h mu^h A_h at the analysis L)
 *
 * so one-step GD at eta is Gamma = eta I (the construction, model/gd-construction.ts). Reported:
 *   gap       sum (f_model - f_GD)^2 / sum (f_model - mean f_model)^2 on fresh prompts of the training
 *             task, f_GD = tuned one-step GD (eta* at L, theory.ts) = the constructed model's output;
 *             the same distance against the model's own error; both MSEs
 *   x-block   Gamma against I, Sigma^-1 and Gamma* (rel = residual of the best multiple,
 *             anisotropy.ts relativeDistance; for Gamma* also ||Gamma - Gamma*||_F / ||Gamma*||_F),
 *             Gamma* = ((1 + 1/L) Sigma + (tr Sigma + sigma^2/tau^2)/L I)^-1 (Zhang-Frei-Bartlett, the
 *             optimal preconditioner of one GD step; = eta* I for Sigma = I)
 *   the MSE of the Gamma*-preconditioned step and of the step with the model's own Gamma, and the
 *   entries a linear head has beyond the GD term (QK x -> y and y -> x entries, OV x entries).
 */
import type { AttentionParams } from '../model/params.js';
import { attentionOf, isLinearAttention, type LinearNorm } from '../model/attention-name.js';
import { layerCircuits } from '../model/circuits.js';
import type { Rng } from '../data/rng.js';
import { sampleBatch } from '../data/task.js';
import { solveDense } from '../math/linalg.js';
import { ar1Covariance, ar1Precision, optimalPreconditioner, relativeDistance } from './anisotropy.js';
import { oneStepGd, preconditionedGd, transformerEstimator } from './estimators.js';
import { KernelGapSums } from './kernel-gap.js';
import { promptTask, type PromptSpec } from './prompts.js';
import { optimalEta, riskParams } from './theory.js';

export interface MatrixDistance {
  /** ||Gamma - c M||_F / ||Gamma||_F for the best multiple c. */
  rel: number;
  scale: number;
}

export interface LinearReadout {
  attention: LinearNorm;
  L: number;
  samples: number;
  /** eta* of tuned one-step GD at L (the construction's step). */
  tunedEta: number;
  /** sum (f_model - f_GD)^2 / sum (f_model - mean f_model)^2. */
  gap: number;
  /** sum (f_model - f_GD)^2 / sum (f_model - y_q)^2. */
  gapToModelError: number;
  modelMse: number;
  gdMse: number;
  /** Gamma, Gamma*, Sigma^-1 (d x d, rows: query coordinate). */
  gamma: number[][];
  gammaStar: number[][];
  sigmaInverse: number[][];
  toIdentity: MatrixDistance;
  toSigmaInverse: MatrixDistance;
  toGammaStar: MatrixDistance & { absolute: number };
  /** MSE of x_q^T Gamma* (1/L) sum y_i x_i and of the same step with the model's own Gamma. */
  gammaStarMse: number;
  ownGammaMse: number;
  /** Largest |entry| beyond the GD term: QK^h x -> y (query x, key y) and y -> x entries, OV^h x entries. */
  extra: { qkXY: number; qkYX: number; qkYY: number; ovX: number };
}

const rows = (a: Float64Array, d: number) => Array.from({ length: d }, (_, i) => Array.from(a.subarray(i * d, (i + 1) * d)));

/** The learned preconditioner Gamma of a linear model at L (see the file comment). */
export function learnedPreconditioner(p: AttentionParams, L: number): Float64Array {
  const d = p.d, E = d + 1;
  const scale = attentionOf(p) === 'linear-sum' ? L : 1;
  const g = new Float64Array(d * d);
  for (const c of layerCircuits(p)) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) g[a * d + b] += scale * c.mu * c.qk[a * E + b]!;
  return g;
}

/** The read-out of linear model `p` on `samples` fresh prompts of length L from `spec`; null for softmax. */
export function linearReadout(p: AttentionParams, spec: PromptSpec, L: number, samples: number, rng: Rng, chunk = 1000): LinearReadout | null {
  const attention = attentionOf(p);
  if (!isLinearAttention(attention)) return null;
  const d = p.d, E = d + 1;
  const r = riskParams({ d, L, noiseStd: spec.noiseStd, preset: spec.preset });
  const tau2 = r.priorVar ?? 1;
  const eta = optimalEta(L, d, r.sigma2, tau2);
  const rho = spec.rho ?? 0;
  const sigma = ar1Covariance(d, rho);
  const gammaStar = optimalPreconditioner(sigma, d, L, r.sigma2 / tau2);
  const gamma = learnedPreconditioner(p, L);
  const sums = new KernelGapSums();
  let star = 0, own = 0, n = 0;
  for (let done = 0; done < samples; done += chunk) {
    const B = Math.min(chunk, samples - done);
    const batch = sampleBatch(promptTask(spec, L, B), rng);
    const fm = new Float64Array(B), fg = new Float64Array(B), fs = new Float64Array(B), fo = new Float64Array(B);
    transformerEstimator(p, batch, fm);
    oneStepGd(batch, eta, fg);
    preconditionedGd(batch, gammaStar, fs);
    preconditionedGd(batch, gamma, fo);
    sums.add(fm, fg, batch.yq, B);
    for (let b = 0; b < B; b++) {
      star += (fs[b]! - batch.yq[b]!) ** 2;
      own += (fo[b]! - batch.yq[b]!) ** 2;
    }
    n += B;
  }
  const g = sums.result(L);
  const eye = new Float64Array(d * d);
  for (let j = 0; j < d; j++) eye[j * d + j] = 1;
  let diff = 0, norm = 0;
  for (let i = 0; i < d * d; i++) {
    diff += (gamma[i]! - gammaStar[i]!) ** 2;
    norm += gammaStar[i]! ** 2;
  }
  const extra = { qkXY: 0, qkYX: 0, qkYY: 0, ovX: 0 };
  for (const c of layerCircuits(p)) {
    for (let a = 0; a < d; a++) {
      extra.qkXY = Math.max(extra.qkXY, Math.abs(c.qk[a * E + d]!));
      extra.qkYX = Math.max(extra.qkYX, Math.abs(c.qk[d * E + a]!));
      extra.ovX = Math.max(extra.ovX, Math.abs(c.ov[a * c.ovCols + c.ovCols - 1]!));
    }
    extra.qkYY = Math.max(extra.qkYY, Math.abs(c.qk[d * E + d]!));
  }
  return {
    attention, L, samples: n, tunedEta: eta,
    gap: g.relative, gapToModelError: g.relativeToModelError, modelMse: g.modelMse, gdMse: g.kernelMse,
    gamma: rows(gamma, d), gammaStar: rows(gammaStar, d), sigmaInverse: rows(rho ? ar1Precision(d, rho) : eye, d),
    toIdentity: relativeDistance(gamma, eye),
    toSigmaInverse: relativeDistance(gamma, rho ? ar1Precision(d, rho) : eye),
    toGammaStar: { ...relativeDistance(gamma, gammaStar), absolute: Math.sqrt(diff / norm) },
    gammaStarMse: star / n, ownGammaMse: own / n, extra,
  };
}
