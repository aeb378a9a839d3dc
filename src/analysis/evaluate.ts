/**
 * Error against context length (the seed's `evaluate_errors`, done properly: SEED_NOTES #9).
 *
 * For each L, `samples` fresh prompts are drawn in chunks of `chunk` prompts; every method
 * (methods.ts) sees the SAME prompts, so differences between methods are paired. Per method and L we
 * report the mean squared error against y_q and its standard error, sd(squared errors, ddof = 1) /
 * sqrt(samples).
 */
import type { Batch } from '../data/batch.js';
import type { Rng } from '../data/rng.js';
import { isShifted, shiftPrompts, type PromptShift } from '../data/shift.js';
import type { EvalMethod } from './methods.js';
import type { PromptSpec } from './prompts.js';
import { forEachPromptBatch } from './eval-prompts.js';

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
  /** The seed of the evaluation stream (eval-prompts.ts): with samples, which prompts these are. */
  seed?: number;
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
 * The prompts are the evaluation stream of eval-prompts.ts (nested across L by default: each L sees
 * `samples` prompts from exactly the task's distribution, all L sharing randomness): at the same seed,
 * chunk and L they are the prompts of `analyze`'s kernel gap and of the report's findings.
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
  forEachPromptBatch(spec, lengths, samples, rng, { chunk, nested, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) }, score);
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
