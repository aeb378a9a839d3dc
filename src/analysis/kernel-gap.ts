/**
 * The kernel gap of a model: how closely the kernel estimator built from its (w, mu) reproduces
 * its outputs on fresh prompts, as a relative (normalised) MSE between the two functions,
 *
 *   kernelGap = sum_b (f_TF - f_K)^2 / sum_b (f_TF - mean f_TF)^2
 *
 * the fraction of the model's output variance that the kernel regressor does not reproduce (0 = the
 * kernel regressor is the model; 0.01 = 1 - R^2 of 1 %). Reported beside it: the same squared
 * distance relative to the model's own error, sum (f_TF - f_K)^2 / sum (f_TF - y_q)^2, a stricter
 * yardstick (for a trained H = 2 model about 5x the normalised gap).
 */
import type { AttentionParams } from '../model/params.js';
import type { Rng } from '../data/rng.js';
import { kernelEstimator, transformerEstimator } from './estimators.js';
import type { PromptSpec } from './prompts.js';
import { forEachPromptBatch } from './eval-prompts.js';

/** The kernel gap of a model (see the file comment), with the numbers it is made of. */
export interface KernelGap {
  readonly L: number;
  readonly samples: number;
  /** sum (f_TF - f_K)^2 / sum (f_TF - mean f_TF)^2: the relative MSE between model and kernel. */
  readonly relative: number;
  /** sum (f_TF - f_K)^2 / sum (f_TF - y_q)^2: the same distance relative to the model's own error. */
  readonly relativeToModelError: number;
  /** mean (f_TF - f_K)^2. */
  readonly meanSquaredDiff: number;
  /** mean (f_TF - y_q)^2. */
  readonly modelMse: number;
  /** mean (f_K - y_q)^2. */
  readonly kernelMse: number;
  /** Standard errors of modelMse and kernelMse: sd of the squared errors (ddof 1) / sqrt(samples). */
  readonly modelStderr: number;
  readonly kernelStderr: number;
}

/** Running sums of the kernel gap over batches of prompts (the one definition, see the file comment). */
export class KernelGapSums {
  private diff = 0;
  private tf = 0;
  private k = 0;
  private tf2 = 0;
  private k2 = 0;
  private fSum = 0;
  private fSq = 0;
  private n = 0;

  /** Add B prompts: the model's outputs fTF, the kernel estimator's fK and the targets yq, each [B]. */
  add(fTF: ArrayLike<number>, fK: ArrayLike<number>, yq: ArrayLike<number>, B: number): void {
    for (let b = 0; b < B; b++) {
      this.diff += (fTF[b]! - fK[b]!) ** 2;
      const et = (fTF[b]! - yq[b]!) ** 2;
      const ek = (fK[b]! - yq[b]!) ** 2;
      this.tf += et;
      this.k += ek;
      this.tf2 += et * et;
      this.k2 += ek * ek;
      this.fSum += fTF[b]!;
      this.fSq += fTF[b]! * fTF[b]!;
    }
    this.n += B;
  }

  result(L: number): KernelGap {
    const { diff, tf, k, n } = this;
    const fVar = this.fSq - (this.fSum * this.fSum) / n; // sum (f_TF - mean)^2
    const se = (sum: number, sum2: number) => (n > 1 ? Math.sqrt(Math.max(0, (sum2 - (sum * sum) / n) / (n - 1)) / n) : NaN);
    return { L, samples: n, relative: diff / fVar, relativeToModelError: diff / tf, meanSquaredDiff: diff / n, modelMse: tf / n, kernelMse: k / n, modelStderr: se(tf, this.tf2), kernelStderr: se(k, this.k2) };
  }
}

/**
 * Kernel gap of model `p` against the kernel estimator from (w, mu), on `samples` prompts of length L
 * of the evaluation stream (eval-prompts.ts): the prompts `evaluate` measures at L with the same seed.
 */
export function kernelGap(p: AttentionParams, w: ArrayLike<number>, mu: ArrayLike<number>, spec: PromptSpec, L: number, samples: number, rng: Rng, chunk = 1000): KernelGap {
  const sums = new KernelGapSums();
  let fTF = new Float64Array(0);
  let fK = new Float64Array(0);
  forEachPromptBatch(spec, [L], samples, rng, { chunk }, (_, batch) => {
    if (fTF.length !== batch.B) {
      fTF = new Float64Array(batch.B);
      fK = new Float64Array(batch.B);
    }
    transformerEstimator(p, batch, fTF);
    kernelEstimator(batch, w, mu, fK);
    sums.add(fTF, fK, batch.yq, batch.B);
  });
  return sums.result(L);
}
