/**
 * Priors of beta beyond the Gaussian (Raventós et al. 2023; Garg et al. 2022), applied by every
 * sampler right after it has drawn and scaled each prompt's Gaussian beta:
 *
 *   pool (M tasks)   beta = pool[m]: M vectors drawn once from the Gaussian prior (makeTaskPool,
 *                    from their own seed), m uniform in 0..M-1 per prompt;
 *   sparse (s of d)  beta keeps s coordinates (support uniform among the d-choose-s subsets) and
 *                    zeroes the rest; the kept entries are multiplied by sqrt(d / s), so
 *                    E||beta||^2 is that of the dense prior (stated in docs/readme/task-families.md).
 *
 * The choice (m, the support) is a hash of the prompt's own fresh Gaussian draw (its 64-bit
 * patterns through murmur3's finaliser): no extra random numbers, so the batch stream, its state
 * and resume stay exactly those of the dense task, and the choice is independent of x and the
 * noise (drawn apart). Uniformity is that of a 32-bit hash: bias below M / 2^32. Pure.
 */
import { Rng } from './rng.js';

/** What a task adds to say its prior of beta (data/task.ts TaskSpec extends it). */
export interface BetaPrior {
  /** A finite pool of tasks [M, d] each prompt's beta is drawn from (absent = the Gaussian prior). */
  pool?: Float64Array;
  /** s-sparse beta (0 or absent = dense). */
  sparsity?: number;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit hash of beta[o .. o + d). */
export function promptHash(beta: Float64Array, o: number, d: number): number {
  let h = 0x9e3779b9;
  for (let j = 0; j < d; j++) {
    f64[0] = beta[o + j]!;
    h = fmix32(h ^ u32[0]!);
    h = fmix32(h ^ u32[1]!);
  }
  return h;
}

/** Whether spec draws beta from a prior other than the Gaussian. */
export function hasBetaPrior(spec: BetaPrior): boolean {
  return (spec.pool !== undefined && spec.pool.length > 0) || (spec.sparsity ?? 0) > 0;
}

/**
 * M tasks from the Gaussian prior of the convention (beta ~ N(0, I) seed, N(0, I/d) paper), [M, d],
 * drawn from Rng(poolSeed).
 */
export function makeTaskPool(M: number, d: number, preset: 'seed' | 'paper', poolSeed: number): Float64Array {
  if (!Number.isInteger(M) || M < 1) throw new RangeError(`task pool size must be a positive integer, got ${M}`);
  const pool = new Float64Array(M * d);
  new Rng(poolSeed).fillNormal(pool, 0, M * d);
  if (preset === 'paper') {
    const s = 1 / Math.sqrt(d);
    for (let i = 0; i < pool.length; i++) pool[i] *= s;
  }
  return pool;
}

/** The pool index of the prompt whose fresh beta sits at beta[o ..]. */
export function poolIndex(beta: Float64Array, o: number, d: number, M: number): number {
  return Math.floor((promptHash(beta, o, d) / 4294967296) * M);
}

/** The support (sorted coordinates) of an s-sparse prompt whose fresh beta sits at beta[o ..]. */
export function sparseSupport(beta: Float64Array, o: number, d: number, s: number): number[] {
  const idx = Array.from({ length: d }, (_, j) => j);
  let h = promptHash(beta, o, d);
  for (let k = 0; k < s; k++) {
    // partial Fisher-Yates: position k takes a uniform one of k..d-1
    h = fmix32(h + 0x6d2b79f5 * (k + 1));
    const r = k + Math.floor((h / 4294967296) * (d - k));
    const t = idx[k]!;
    idx[k] = idx[r]!;
    idx[r] = t;
  }
  return idx.slice(0, s).sort((a, b) => a - b);
}

/** Replace each of the B fresh (scaled) Gaussian betas [B, d] by its draw from spec's prior. */
export function applyBetaPrior(spec: BetaPrior & { d: number }, beta: Float64Array, B: number): void {
  const d = spec.d;
  const pool = spec.pool;
  if (pool && pool.length > 0) {
    const M = pool.length / d;
    for (let b = 0; b < B; b++) {
      const m = poolIndex(beta, b * d, d, M);
      beta.set(pool.subarray(m * d, m * d + d), b * d);
    }
    return;
  }
  const s = spec.sparsity ?? 0;
  if (s > 0 && s < d) {
    const scale = Math.sqrt(d / s);
    const keep = new Uint8Array(d);
    for (let b = 0; b < B; b++) {
      const o = b * d;
      keep.fill(0);
      for (const j of sparseSupport(beta, o, d, s)) keep[j] = 1;
      for (let j = 0; j < d; j++) beta[o + j] = keep[j] ? beta[o + j]! * scale : 0;
    }
  }
}
