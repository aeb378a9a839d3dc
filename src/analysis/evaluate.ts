/**
 * Error against context length (the seed's `evaluate_errors`, done properly: SEED_NOTES #9).
 *
 * For each L, `samples` fresh prompts are drawn in chunks of `chunk` prompts; every method
 * (methods.ts) sees the SAME prompts, so differences between methods are paired. Per method and L we
 * report the mean squared error against y_q and its standard error, sd(squared errors, ddof = 1) /
 * sqrt(samples).
 */
import { allocBatch, batchFromArrays, type Batch } from '../data/batch.js';
import { Rng } from '../data/rng.js';
import { sampleBatch } from '../data/task.js';
import { sampleHeads, sampleTokens } from '../data/nested.js';
import { isShifted, shiftPrompts, type PromptShift } from '../data/shift.js';
import type { EvalMethod } from './methods.js';
import { promptTask, type PromptSpec } from './prompts.js';

/** Errors of one method, one entry per L. */
export interface MethodErrors {
  /** Mean squared error per L (NaN where the method is undefined, e.g. OLS for L <= d). */
  mse: number[];
  /** Standard error of that mean per L (always computed; an evaluation JSON file may leave it out). */
  stderr?: number[];
  /** The step a GD-like estimator used at each L (one-step-gd, tuned-gd, debiased-gd; absent for others). */
  eta?: number[];
}

/**
 * Error against context length of several methods: what `evaluateErrors` computes and the evaluate
 * command's JSON, `{"lengths":[...],"samples":N,"methods":{"<name>":{"mse":[...],"stderr":[...]}}}`.
 * A file read back (plots/evaluation.ts) or cut down for a figure may lack `samples` and `stderr`.
 */
export interface Evaluation {
  lengths: number[];
  /** Prompts per L. */
  samples?: number;
  methods: Record<string, MethodErrors>;
}

/** One method's errors as `evaluateErrors` returns them: mse and stderr at every L (eta for GD-like estimators). */
export type FullMethodErrors = Required<Pick<MethodErrors, 'mse' | 'stderr'>> & Pick<MethodErrors, 'eta'>;

/** An Evaluation as `evaluateErrors` returns it: every field filled. */
export interface FullEvaluation extends Evaluation {
  samples: number;
  methods: Record<string, FullMethodErrors>;
}

export interface EvaluateOptions {
  /** Prompts per batch (bounds memory: chunk * L * (d+1) doubles). Default 1000. */
  readonly chunk?: number;
  /** Nested prompts across L (default true; see `evaluateErrors`). */
  readonly nested?: boolean;
  /** Called as work completes with (units done, total units): chunks when nested, else lengths. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Prompts shifted away from the task (data/shift.ts), applied to every batch before any method sees it. */
  readonly shift?: PromptShift;
}

/** Prompts per batch by default. */
export const DEFAULT_CHUNK = 1000;

/**
 * Mean squared error vs L for every method on shared prompts, with standard errors.
 *
 * The prompts at a context length L depend only on (the seed, L, the task, and `chunk`), never on
 * which other lengths are asked: `rng` gives one base seed (two draws), and every group of prompts
 * comes from its own stream seeded by (base, group).
 *
 * Prompts are NESTED across L by default (`nested: true`): each prompt is one unbounded prompt
 * (same beta, x_q, y_q for every L) generated in segments [2^k - 1, 2^(k+1) - 1) of context
 * positions, each segment from its own stream (data/nested.ts), and the prompt at length L is its
 * first L tokens. Each L then still sees `samples` prompts from exactly the right distribution, so
 * every point and its standard error are as with fresh draws, but sampling costs at most two
 * prompts' worth of tokens per chunk instead of one prompt per L (25x less for the seed sweep), and
 * all L share randomness (common random numbers: the curves are smoother than independent draws).
 * `nested: false` draws fresh prompts at every L (one stream per L), like the seed.
 */
export function evaluateErrors(methods: readonly EvalMethod[], spec: PromptSpec, lengths: readonly number[], samples: number, rng: Rng, opts: EvaluateOptions = {}): FullEvaluation {
  const chunk = opts.chunk ?? DEFAULT_CHUNK;
  const nested = opts.nested ?? true;
  if (!Number.isInteger(samples) || samples < 2) throw new RangeError(`samples must be an integer >= 2, got ${samples}`);
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
  if (lengths.length === 0) throw new RangeError('no context lengths to evaluate');
  const names = new Set<string>();
  for (const m of methods) {
    if (names.has(m.name)) throw new RangeError(`two methods are named ${m.name}`);
    names.add(m.name);
  }
  for (const L of lengths) if (!Number.isInteger(L) || L < 1) throw new RangeError(`context lengths must be positive integers, got ${L}`);
  const M = methods.length;
  const s1 = new Float64Array(lengths.length * M); // [nL, M] sum of squared errors
  const s2 = new Float64Array(lengths.length * M); // [nL, M] sum of their squares
  const outs = new Map<number, Float64Array>();
  const outFor = (B: number) => {
    let o = outs.get(B);
    if (!o) outs.set(B, (o = new Float64Array(B)));
    return o;
  };
  const prepares = [...new Set(methods.map((m) => m.prepare).filter((f): f is (b: Batch) => void => f !== undefined))];
  const shifted = isShifted(opts.shift);
  const score = (li: number, drawn: Batch) => {
    const batch = shifted ? shiftPrompts(drawn, opts.shift!) : drawn;
    for (const f of prepares) f(batch);
    const out = outFor(batch.B);
    methods.forEach((m, mi) => {
      m.run(batch, out);
      let a = 0;
      let q = 0;
      for (let b = 0; b < batch.B; b++) {
        const e = (out[b]! - batch.yq[b]!) ** 2;
        a += e;
        q += e * e;
      }
      s1[li * M + mi] += a;
      s2[li * M + mi] += q;
    });
  };
  const nChunks = Math.ceil(samples / chunk);
  const base = baseSeed(rng);
  if (nested) {
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
        score(li, { ...batch, beta });
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
        score(li, { ...batch, beta });
      }
      opts.onProgress?.(li + 1, lengths.length);
    });
  }
  const result: Record<string, FullMethodErrors> = {};
  methods.forEach((m, mi) => {
    const mse: number[] = [];
    const stderr: number[] = [];
    lengths.forEach((_, li) => {
      const mean = s1[li * M + mi]! / samples;
      const variance = Math.max(0, (s2[li * M + mi]! - samples * mean * mean) / (samples - 1));
      mse.push(mean);
      stderr.push(Math.sqrt(variance / samples));
    });
    result[m.name] = { mse, stderr, ...(m.stepAt ? { eta: lengths.map((L) => m.stepAt!(L)) } : {}) };
  });
  return { lengths: [...lengths], samples, methods: result };
}

/**
 * The default sweep: every L up to 10, every second L up to 40, then every fifth up to 500 (117
 * lengths). Denser than the seed's range(1, 501, 5) where the curves bend (small L), same range.
 */
export function defaultLengths(): number[] {
  const out: number[] = [];
  for (let L = 1; L <= 10; L++) out.push(L);
  for (let L = 12; L <= 40; L += 2) out.push(L);
  for (let L = 45; L <= 500; L += 5) out.push(L);
  return out;
}

/** The default sweep in words, for help texts. */
export const DEFAULT_LENGTHS_TEXT = '1..10, 12..40 step 2, 45..500 step 5';

/** The seed's sweep: L = 1, 6, ..., 496 (range(1, 501, 5)). */
export function seedLengths(): number[] {
  const out: number[] = [];
  for (let L = 1; L <= 500; L += 5) out.push(L);
  return out;
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
