/**
 * The evaluation prompts: the one stream of held-out prompts that `evaluate`, `analyze`'s kernel gap
 * and the report's findings all measure on, so "seed S, N prompts at L" means the same prompts
 * wherever it is printed (issue 22 item 7).
 *
 * The prompts at a context length L depend only on (the seed, L, the task, `chunk`), never on which
 * other lengths are asked: `rng` gives one base seed (two draws), and every group of prompts comes
 * from its own stream seeded by (base, group).
 *
 * Prompts are NESTED across L by default (`nested: true`): each prompt is one unbounded prompt (same
 * beta, x_q, y_q for every L) generated in segments [2^k - 1, 2^(k+1) - 1) of context positions, each
 * segment from its own stream (data/nested.ts), and the prompt at length L is its first L tokens.
 * Each L then still sees `samples` prompts from exactly the right distribution, so every point and
 * its standard error are as with fresh draws, but sampling costs at most two prompts' worth of tokens
 * per chunk instead of one prompt per L (25x less for the seed sweep), and all L share randomness
 * (common random numbers: the curves are smoother than independent draws). `nested: false` draws
 * fresh prompts at every L (one stream per L), like the seed.
 */
import { allocBatch, batchFromArrays, type Batch } from '../data/batch.js';
import { Rng } from '../data/rng.js';
import { sampleBatch } from '../data/task.js';
import { sampleHeads, sampleTokens } from '../data/nested.js';
import { promptTask, type PromptSpec } from './prompts.js';

export interface PromptStreamOptions {
  /** Prompts per batch (bounds memory: chunk * L * (d+1) doubles). Default 1000. */
  readonly chunk?: number;
  /** Nested prompts across L (default true). */
  readonly nested?: boolean;
  /** Called as work completes with (units done, total units): chunks when nested, else lengths. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** A batch of evaluation prompts with the beta of each prompt [B, d]. */
export type PromptBatch = Batch & { readonly beta: Float64Array };

/**
 * Calls `visit(li, batch)` for every batch of the `samples` prompts at each `lengths[li]`, in order
 * of chunks (nested) or of lengths (not nested). A batch's arrays are reused after `visit` returns.
 */
export function forEachPromptBatch(spec: PromptSpec, lengths: readonly number[], samples: number, rng: Rng, opts: PromptStreamOptions, visit: (li: number, batch: PromptBatch) => void): void {
  const chunk = opts.chunk ?? 1000;
  const nChunks = Math.ceil(samples / chunk);
  const base = baseSeed(rng);
  if (opts.nested ?? true) {
    const E = spec.d + 1;
    const d = spec.d;
    const K = Math.max(...lengths.map(blockOf)); // segments 0..K hold positions [0, 2^(K+1) - 1)
    const Lfull = 2 ** (K + 1) - 1;
    let full: Batch | undefined;
    let prefix = new Float64Array(0);
    let beta = new Float64Array(0);
    let seg = new Float64Array(0);
    for (let c = 0; c < nChunks; c++) {
      const B = Math.min(chunk, samples - c * chunk);
      if (!full || full.B !== B) {
        full = allocBatch(B, Lfull, d); // [B, Lfull, E]
        prefix = new Float64Array(B * Lfull * E); // [B, L, E] views for shorter L
        beta = new Float64Array(B * d);
        seg = new Float64Array(B * 2 ** K * E); // [B, 2^k, E]
      }
      // one stream for the heads (beta, x_q, y_q) and one per segment, all per chunk
      sampleHeads(spec, new Rng(streamSeed(base, c * 64 + 63)), B, beta, full.zq, full.yq);
      for (let k = 0; k <= K; k++) {
        const n = 2 ** k, at = n - 1; // positions [at, at + n)
        sampleTokens(spec, new Rng(streamSeed(base, c * 64 + k)), B, n, beta, seg);
        for (let b = 0; b < B; b++) full.z.set(seg.subarray(b * n * E, (b + 1) * n * E), (b * Lfull + at) * E);
      }
      lengths.forEach((L, li) => {
        let batch: Batch = full!;
        if (L !== Lfull) {
          const z = prefix.subarray(0, B * L * E); // [B, L, E]
          for (let b = 0; b < B; b++) z.set(full!.z.subarray(b * Lfull * E, (b * Lfull + L) * E), b * L * E);
          batch = batchFromArrays(B, L, d, z, full!.zq, full!.yq);
        }
        visit(li, { ...batch, beta });
      });
      opts.onProgress?.(c + 1, nChunks);
    }
  } else {
    lengths.forEach((L, li) => {
      const lrng = new Rng(streamSeed(base, 2 * L + 1));
      let batch: Batch | undefined;
      let beta = new Float64Array(0);
      for (let c = 0; c < nChunks; c++) {
        const B = Math.min(chunk, samples - c * chunk);
        if (!batch || batch.B !== B) {
          batch = allocBatch(B, L, spec.d); // [B, L, E]
          beta = new Float64Array(B * spec.d);
        }
        sampleBatch(promptTask(spec, L, B), lrng, batch, beta);
        visit(li, { ...batch, beta });
      }
      opts.onProgress?.(li + 1, lengths.length);
    });
  }
}

/** Block of context length L for nested prompts: k = floor(log2 L); the block is [2^k, 2^(k+1) - 1]. */
export function blockOf(L: number): number {
  let k = 0;
  while (2 ** (k + 1) <= L) k++;
  return k;
}

/** A 53-bit base seed from two draws of `rng` (so `new Rng(seed)` gives one base per seed). */
function baseSeed(rng: Rng): number {
  return (rng.nextUint32() & 0x1fffff) * 2 ** 32 + rng.nextUint32();
}

/** Seed of stream `id` under `base`: a safe integer (the Rng constructor mixes it with splitmix64). */
export function streamSeed(base: number, id: number): number {
  const x = BigInt(base) * 0x9e3779b97f4a7c15n + BigInt(id + 1) * 0xbf58476d1ce4e5b9n;
  return Number(BigInt.asUintN(53, x ^ (x >> 29n)));
}
