/**
 * In-context linear-regression prompts (the seed's `LinearReg.__generatedata__`).
 *
 * preset 'seed'  (the notebook, default):
 *   x_i, x_q ~ N(0, Sigma),  beta ~ N(0, I_d),
 *   y_i = beta.x_i + sqrt(d) * noiseStd * eps_i      (context noise variance d * noiseStd^2)
 *   y_q = beta.x_q                                    (noise-free)
 * preset 'paper':
 *   beta ~ N(0, I_d / d),  y_i = beta.x_i + noiseStd * eps_i,  y_q = beta.x_q + noiseStd * eps_q
 * Sigma: identity, or with `rho` the AR(1) covariance Sigma_jk = rho^|j-k| across the d coordinates
 *   (x_1 = g_1, x_k = rho x_{k-1} + sqrt(1 - rho^2) g_k).
 *
 * Tokens z_i = [x_i, y_i], query z_q = [x_q, 0] (see batch.ts).
 */
import { allocBatch, type Batch } from './batch.js';
import type { Rng } from './rng.js';
import { applyBetaPrior, type BetaPrior } from './beta-prior.js';

export type PresetName = 'seed' | 'paper';
export const PRESET_NAMES: readonly PresetName[] = ['seed', 'paper'];

export interface TaskSpec extends BetaPrior {
  /** regression dimension (token width E = d + 1) */
  d: number;
  /** context length (tokens per prompt) */
  L: number;
  batchSize: number;
  /** seed: context noise std is sqrt(d) * noiseStd; paper: noiseStd on context and query */
  noiseStd: number;
  preset: PresetName;
  /** AR(1) correlation of the coordinates of x, |rho| < 1 (0 or absent = isotropic) */
  rho?: number;
}

/** The seed's main experiment (config_1). */
export const DEFAULT_TASK: Readonly<TaskSpec> = { d: 5, L: 40, batchSize: 128, noiseStd: 0.01, preset: 'seed' };

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`task ${name} must be a positive integer, got ${v}`);
}

export function validateTaskSpec(spec: TaskSpec): void {
  const posInt = checkPositiveInt;
  posInt('d', spec.d);
  posInt('L', spec.L);
  posInt('batchSize', spec.batchSize);
  if (!(spec.noiseStd >= 0) || !Number.isFinite(spec.noiseStd)) throw new RangeError(`task noiseStd must be a finite number >= 0, got ${spec.noiseStd}`);
  if (!PRESET_NAMES.includes(spec.preset)) throw new RangeError(`task preset must be one of ${PRESET_NAMES.join(', ')}, got ${String(spec.preset)}`);
  const rho = spec.rho ?? 0;
  if (!(Math.abs(rho) < 1)) throw new RangeError(`task rho must satisfy |rho| < 1, got ${rho}`);
  if (spec.pool !== undefined && (spec.pool.length === 0 || spec.pool.length % spec.d !== 0)) throw new RangeError(`task pool has ${spec.pool.length} values, not a whole number of d = ${spec.d} vectors`);
  const s = spec.sparsity ?? 0;
  if (!Number.isInteger(s) || s < 0 || s > spec.d) throw new RangeError(`task sparsity must be an integer in 0..d = ${spec.d}, got ${s}`);
  if (spec.pool !== undefined && s > 0) throw new RangeError('a task pool and sparsity do not go together');
}

export type Assemble = (z: Float64Array, beta: Float64Array, B: number, L: number, sigma: number) => void;
const assembleCache = new Map<number, Assemble | null>();

/**
 * y_i = beta . x_i + sigma * eps_i for every token, with the loop over the d coordinates unrolled
 * and beta in registers (4x faster than the generic loop at d = 5); same summation order as the
 * generic loop. Generated once per d <= 16; null if larger or if code generation is not allowed.
 */
export function assembleKernel(d: number): Assemble | null {
  let k = assembleCache.get(d);
  if (k === undefined) {
    k = null;
    if (d <= 16) {
      const E = d + 1;
      const idx = Array.from({ length: d }, (_, j) => j);
      const src = `"use strict";
return function assembleY_d${d}(z, beta, B, L, sigma) {
  for (let b = 0; b < B; b++) {
    const bo = b * ${d};
    ${idx.map((j) => `const b${j} = beta[bo + ${j}];`).join(' ')}
    for (let t = b * L * ${E}, te = t + L * ${E}; t < te; t += ${E}) {
      z[t + ${d}] = ${idx.map((j) => `b${j} * z[t + ${j}]`).join(' + ')} + sigma * z[t + ${d}];
    }
  }
};`;
      try {
        k = new Function(src)() as Assemble;
      } catch {
        k = null;
      }
    }
    assembleCache.set(d, k);
  }
  return k;
}

/** Scratch for beta when the caller does not ask for it (grown on demand, never shrunk). */
let betaScratch = new Float64Array(0);

/**
 * Draw a fresh batch into `out` (allocated if absent; its B, L, d must match the spec).
 * `betaOut` (optional, [B, d]) receives each prompt's beta.
 */
/**
 * The checked spec's batch buffer (`out`, or a new one; its B, L, d must match) and where the betas
 * go ([B, d]: `betaOut`, or a scratch buffer). Shared by every sampler of a task.
 */
export function batchAndBeta(spec: TaskSpec, out?: Batch, betaOut?: Float64Array): { batch: Batch; beta: Float64Array } {
  validateTaskSpec(spec);
  const { d, L, batchSize: B } = spec;
  const batch = out ?? allocBatch(B, L, d);
  if (batch.B !== B || batch.L !== L || batch.d !== d)
    throw new RangeError(`batch buffer is B=${batch.B}, L=${batch.L}, d=${batch.d}; the task needs B=${B}, L=${L}, d=${d}`);
  if (betaOut) {
    if (betaOut.length !== B * d) throw new RangeError(`betaOut has ${betaOut.length} values, expected B*d = ${B}*${d}`);
    return { batch, beta: betaOut };
  }
  if (betaScratch.length < B * d) betaScratch = new Float64Array(B * d);
  return { batch, beta: betaScratch };
}

export function sampleBatch(spec: TaskSpec, rng: Rng, out?: Batch, betaOut?: Float64Array): Batch {
  const { batch, beta } = batchAndBeta(spec, out, betaOut);
  const { d, L, batchSize: B } = spec;
  const E = d + 1;
  const paper = spec.preset === 'paper';
  const rho = spec.rho ?? 0;
  const z = batch.z, zq = batch.zq, yq = batch.yq; // [B, L, E], [B, E], [B]

  // All Gaussians in three tight passes; the y slot of every token (and of the query) first holds
  // the noise draw eps, then becomes y.
  rng.fillNormal(z, 0, B * L * E); // x_i and eps_i
  rng.fillNormal(zq, 0, B * E); // x_q and eps_q
  rng.fillNormal(beta, 0, B * d);

  const sigmaCtx = paper ? spec.noiseStd : Math.sqrt(d) * spec.noiseStd;
  const betaScale = paper ? 1 / Math.sqrt(d) : 1;
  const sigmaQ = paper ? spec.noiseStd : 0;
  const c = Math.sqrt(1 - rho * rho);
  if (betaScale !== 1) for (let j = 0; j < B * d; j++) beta[j] *= betaScale;
  applyBetaPrior(spec, beta, B);
  if (rho !== 0) {
    // AR(1) across the coordinates of every x_i and x_q
    for (let t = 0; t < B * L * E; t += E) for (let j = 1; j < d; j++) z[t + j] = rho * z[t + j - 1]! + c * z[t + j]!;
    for (let q = 0; q < B * E; q += E) for (let j = 1; j < d; j++) zq[q + j] = rho * zq[q + j - 1]! + c * zq[q + j]!;
  }
  // y_i = beta . x_i + sigma eps_i (eps_i sits in the y slot)
  const assemble = assembleKernel(d);
  if (assemble) assemble(z, beta, B, L, sigmaCtx);
  else {
    for (let b = 0; b < B; b++) {
      const bo = b * d;
      for (let t = b * L * E, te = t + L * E; t < te; t += E) {
        let y = 0;
        for (let j = 0; j < d; j++) y += beta[bo + j]! * z[t + j]!;
        z[t + d] = y + sigmaCtx * z[t + d]!;
      }
    }
  }
  for (let b = 0; b < B; b++) {
    const bo = b * d, q = b * E;
    let y = 0;
    for (let j = 0; j < d; j++) y += beta[bo + j]! * zq[q + j]!;
    yq[b] = y + sigmaQ * zq[q + d]!;
    zq[q + d] = 0;
  }
  return batch;
}
