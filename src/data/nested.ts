/**
 * Nested prompts that do not depend on which lengths are asked: one unbounded prompt per (stream
 * base, chunk, prompt), generated in segments. Segment k holds context positions
 * [2^k - 1, 2^(k+1) - 1) and comes from its own random stream; beta, x_q and y_q (the "head") from
 * another. The prompt at context length L is the first L tokens, so it depends only on the seed, L,
 * the task and the chunk size, and every shorter L sees a prefix of every longer one (smooth curves).
 *
 * Same conventions as task.ts `sampleBatch` (preset seed / paper, AR(1) covariance with rho).
 */
import type { PresetName } from './task.js';
import type { Rng } from './rng.js';
import { applyBetaPrior, type BetaPrior } from './beta-prior.js';

export interface NestedSpec extends BetaPrior {
  readonly d: number;
  readonly noiseStd: number;
  readonly preset: PresetName;
  readonly rho?: number;
}

function ar1(v: Float64Array, n: number, E: number, d: number, rho: number): void {
  if (rho === 0) return;
  const c = Math.sqrt(1 - rho * rho);
  for (let t = 0; t < n * E; t += E) for (let j = 1; j < d; j++) v[t + j] = rho * v[t + j - 1]! + c * v[t + j]!;
}

/** beta [B, d], the queries zq [B, E] (y slot 0) and their targets yq [B]. */
export function sampleHeads(spec: NestedSpec, rng: Rng, B: number, beta: Float64Array, zq: Float64Array, yq: Float64Array): void {
  const { d } = spec;
  const E = d + 1;
  const paper = spec.preset === 'paper';
  rng.fillNormal(zq, 0, B * E); // x_q and eps_q
  rng.fillNormal(beta, 0, B * d);
  if (paper) {
    const s = 1 / Math.sqrt(d);
    for (let j = 0; j < B * d; j++) beta[j] *= s;
  }
  applyBetaPrior(spec, beta, B);
  ar1(zq, B, E, d, spec.rho ?? 0);
  const sigmaQ = paper ? spec.noiseStd : 0;
  for (let b = 0; b < B; b++) {
    const q = b * E;
    let y = 0;
    for (let j = 0; j < d; j++) y += beta[b * d + j]! * zq[q + j]!;
    yq[b] = y + sigmaQ * zq[q + d]!;
    zq[q + d] = 0;
  }
}

/** n context tokens per prompt, z [B, n, E]: x_i and y_i = beta . x_i + noise, for the prompts' beta [B, d]. */
export function sampleTokens(spec: NestedSpec, rng: Rng, B: number, n: number, beta: Float64Array, z: Float64Array): void {
  const { d } = spec;
  const E = d + 1;
  rng.fillNormal(z, 0, B * n * E); // x_i and eps_i
  ar1(z, B * n, E, d, spec.rho ?? 0);
  const sigma = spec.preset === 'paper' ? spec.noiseStd : Math.sqrt(d) * spec.noiseStd;
  for (let b = 0; b < B; b++) {
    const bo = b * d;
    for (let t = b * n * E, te = t + n * E; t < te; t += E) {
      let y = 0;
      for (let j = 0; j < d; j++) y += beta[bo + j]! * z[t + j]!;
      z[t + d] = y + sigma * z[t + d]!;
    }
  }
}
