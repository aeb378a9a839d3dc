/**
 * Estimators for the pool and sparse task families (issue 19), each an evaluate method:
 *
 *   dmmse           the posterior mean of beta . x_q under the discrete uniform prior on the pool
 *                   (Raventós et al. 2023): weights proportional to exp(-||y - X beta_m||^2 / (2 sigma^2)),
 *                   sigma^2 the context noise variance; exact (log-sum-exp), cost M L d per prompt.
 *   lasso           coordinate descent on (1/2L)||y - X b||^2 + alpha ||b||_1 (scikit-learn's scaling),
 *                   alpha = sigma^2 / L (fixed), 200 sweeps or a change below 1e-10;
 *   lasso-tuned     the same with alpha chosen per L from 13 values 1e-4 .. 1 (log grid) by the MSE on
 *                   500 calibration prompts of the task drawn from their own seed (never the evaluated ones);
 *   support-oracle  least squares on the true support of beta (the batch's beta; Garg et al.'s baseline).
 */
import type { Batch } from '../data/batch.js';
import { Rng } from '../data/rng.js';
import { sampleBatch } from '../data/task.js';
import { choleskySolveInPlace } from '../math/linalg.js';
import type { EvalMethod } from './methods.js';
import { promptTask, type PromptSpec } from './prompts.js';
import { riskParams } from './theory.js';

/** Largest M * L * d a dmmse evaluation batch may cost per prompt (2^27: about 0.1 s per prompt). */
export const DMMSE_MAX_WORK = 2 ** 27;

/** Context noise variance of the task (the convention's). */
function contextNoise(spec: PromptSpec): number {
  return riskParams({ d: spec.d, L: 1, noiseStd: spec.noiseStd, preset: spec.preset }).sigma2;
}

export function dmmseMethod(pool: Float64Array, spec: PromptSpec): EvalMethod {
  const d = spec.d;
  const M = pool.length / d;
  const s2 = contextNoise(spec);
  return {
    name: 'dmmse',
    run(b: Batch, out: Float64Array) {
      const { B, L, E } = b;
      if (M * L * d > DMMSE_MAX_WORK) throw new RangeError(`dmmse: M * L * d = ${M * L * d} per prompt is more than ${DMMSE_MAX_WORK}; use a smaller --task-pool or shorter context lengths`);
      const logw = new Float64Array(M);
      for (let p = 0; p < B; p++) {
        let top = -Infinity;
        for (let m = 0; m < M; m++) {
          let r = 0;
          for (let i = 0; i < L; i++) {
            const t = (p * L + i) * E;
            let y = 0;
            for (let j = 0; j < d; j++) y += pool[m * d + j]! * b.z[t + j]!;
            r += (b.z[t + d]! - y) ** 2;
          }
          logw[m] = s2 > 0 ? -r / (2 * s2) : r === 0 ? 0 : -Infinity;
          if (logw[m]! > top) top = logw[m]!;
        }
        let wsum = 0, pred = 0;
        for (let m = 0; m < M; m++) {
          const w = Math.exp(logw[m]! - top);
          let yq = 0;
          for (let j = 0; j < d; j++) yq += pool[m * d + j]! * b.zq[p * E + j]!;
          wsum += w;
          pred += w * yq;
        }
        out[p] = pred / wsum;
      }
    },
  };
}

/** Lasso by cyclic coordinate descent for one prompt: X [L, d] rows of z, y; writes b [d]. */
function lassoOne(z: Float64Array, t0: number, L: number, d: number, E: number, alpha: number, b: Float64Array, r: Float64Array, col2: Float64Array): void {
  b.fill(0);
  for (let i = 0; i < L; i++) r[i] = z[t0 + i * E + d]!; // residual y - X b with b = 0
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let i = 0; i < L; i++) s += z[t0 + i * E + j]! ** 2;
    col2[j] = s / L;
  }
  for (let sweep = 0; sweep < 200; sweep++) {
    let change = 0;
    for (let j = 0; j < d; j++) {
      if (col2[j]! === 0) continue;
      let rho = 0;
      for (let i = 0; i < L; i++) rho += z[t0 + i * E + j]! * r[i]!;
      rho = rho / L + col2[j]! * b[j]!;
      const nb = Math.sign(rho) * Math.max(0, Math.abs(rho) - alpha) / col2[j]!;
      const delta = nb - b[j]!;
      if (delta !== 0) {
        for (let i = 0; i < L; i++) r[i] -= delta * z[t0 + i * E + j]!;
        b[j] = nb;
        change = Math.max(change, Math.abs(delta));
      }
    }
    if (change < 1e-10) break;
  }
}

function lassoPredict(batch: Batch, alpha: number, out: Float64Array): void {
  const { B, L, d, E } = batch;
  const b = new Float64Array(d), r = new Float64Array(L), col2 = new Float64Array(d);
  for (let p = 0; p < B; p++) {
    lassoOne(batch.z, p * L * E, L, d, E, alpha, b, r, col2);
    let y = 0;
    for (let j = 0; j < d; j++) y += b[j]! * batch.zq[p * E + j]!;
    out[p] = y;
  }
}

export const LASSO_GRID: readonly number[] = Array.from({ length: 13 }, (_, k) => 10 ** (-4 + k / 3));

export function lassoMethods(spec: PromptSpec): EvalMethod[] {
  const s2 = contextNoise(spec);
  const tuned = new Map<number, number>();
  const tune = (L: number): number => {
    let a = tuned.get(L);
    if (a === undefined) {
      const cal = sampleBatch(promptTask(spec, L, 500), new Rng(0x1a550 + L)); // calibration prompts, apart from the evaluated ones
      const out = new Float64Array(cal.B);
      let best = Infinity;
      a = LASSO_GRID[0]!;
      for (const alpha of LASSO_GRID) {
        lassoPredict(cal, alpha, out);
        let e = 0;
        for (let p = 0; p < cal.B; p++) e += (out[p]! - cal.yq[p]!) ** 2;
        if (e < best) { best = e; a = alpha; }
      }
      tuned.set(L, a);
    }
    return a;
  };
  return [
    { name: 'lasso', run: (b, out) => lassoPredict(b, s2 / b.L, out) },
    { name: 'lasso-tuned', run: (b, out) => lassoPredict(b, tune(b.L), out) },
  ];
}

/** Least squares on the support of the batch's true beta (NaN without it, or where L < s). */
export function supportOracleMethod(): EvalMethod {
  return {
    name: 'support-oracle',
    run(b: Batch, out: Float64Array) {
      const { B, L, d, E } = b;
      if (!b.beta) {
        out.fill(NaN);
        return;
      }
      for (let p = 0; p < B; p++) {
        const S: number[] = [];
        for (let j = 0; j < d; j++) if (b.beta[p * d + j] !== 0) S.push(j);
        const s = S.length;
        if (s === 0) { out[p] = 0; continue; }
        if (L < s) { out[p] = NaN; continue; }
        const A = new Float64Array(s * s), r = new Float64Array(s);
        for (let i = 0; i < L; i++) {
          const t = (p * L + i) * E;
          for (let a = 0; a < s; a++) {
            r[a] += b.z[t + S[a]!]! * b.z[t + d]!;
            for (let c = 0; c < s; c++) A[a * s + c] += b.z[t + S[a]!]! * b.z[t + S[c]!]!;
          }
        }
        if (!choleskySolveInPlace(A, r, s)) { out[p] = NaN; continue; }
        let y = 0;
        for (let a = 0; a < s; a++) y += r[a]! * b.zq[p * E + S[a]!]!;
        out[p] = y;
      }
    },
  };
}

/** The estimators a task family adds to evaluate's baselines. */
export function priorMethods(spec: PromptSpec): EvalMethod[] {
  if (spec.pool && spec.pool.length > 0) return [dmmseMethod(spec.pool, spec)];
  if (spec.sparsity) return [...lassoMethods(spec), supportOracleMethod()];
  return [];
}
