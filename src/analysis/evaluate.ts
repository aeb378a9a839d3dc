/**
 * Error against context length (the seed's `evaluate_errors`, done properly: SEED_NOTES #9).
 *
 * For each L, `samples` fresh prompts are drawn in chunks of `chunk` prompts; every method sees the
 * SAME prompts, so differences between methods are paired. Per method and L we report the mean
 * squared error against y_q and its standard error, sd(squared errors, ddof = 1) / sqrt(samples).
 *
 * Also the kernel gap of a model: how closely the kernel estimator built from its (w, mu) reproduces
 * its outputs on fresh prompts, as a relative (normalised) MSE between the two functions,
 *
 *   kernelGap = sum_b (f_TF - f_K)^2 / sum_b (f_TF - mean f_TF)^2
 *
 * the fraction of the model's output variance that the kernel regressor does not reproduce (0 = the
 * kernel regressor is the model; 0.01 = 1 - R^2 of 1 %). Reported beside it: the same squared
 * distance relative to the model's own error, sum (f_TF - f_K)^2 / sum (f_TF - y_q)^2, a stricter
 * yardstick (for a trained H = 2 model about 5x the normalised gap).
 */
import { allocBatch, batchFromArrays, type Batch } from '../data/batch.js';
import type { AttentionParams } from '../model/params.js';
import type { Rng } from '../data/rng.js';
import { sampleBatch, type PresetName, type TaskSpec } from '../data/task.js';
import { layerCircuits } from '../model/circuits.js';
import { bayesRidgeLambda, contextMoments, kernelEstimator, linearFromMoments, oneStepGd, transformerEstimator, type ContextMoments } from './estimators.js';
import { optimalEta, riskParams } from './theory.js';

/** A named method: writes its predictions for `batch` into `out` [B]. */
export interface EvalMethod {
  readonly name: string;
  run(batch: Batch, out: Float64Array): void;
  /**
   * Optional work shared by several methods (the same function object on each of them):
   * `evaluateErrors` calls each distinct `prepare` once per batch, before any `run` on it.
   * `run` must still be correct when called without it.
   */
  readonly prepare?: (batch: Batch) => void;
}

/** The prompt distribution (TaskSpec without L and batch size). */
export interface PromptSpec {
  readonly d: number;
  readonly noiseStd: number;
  readonly preset: PresetName;
  readonly rho?: number;
}

export interface MethodErrors {
  /** Mean squared error per L (NaN where the method is undefined, e.g. OLS for L <= d). */
  readonly mse: number[];
  /** Standard error of that mean per L. */
  readonly stderr: number[];
}

export interface EvaluateResult {
  readonly lengths: number[];
  readonly samples: number;
  readonly methods: Record<string, MethodErrors>;
}

export interface EvaluateOptions {
  /** Prompts per batch (bounds memory: chunk * L * (d+1) doubles). Default 1000. */
  readonly chunk?: number;
  /** Nested prompts across L (default true; see `evaluateErrors`). */
  readonly nested?: boolean;
  /** Called as work completes with (units done, total units): chunks when nested, else lengths. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Prompts per batch by default. */
export const DEFAULT_CHUNK = 1000;

/** The estimator baselines, named as in the CLI: one-step-gd, tuned-gd, debiased-gd, ridge, ols. */
export const ESTIMATOR_NAMES = ['one-step-gd', 'tuned-gd', 'debiased-gd', 'ridge', 'ols'] as const;

/**
 * Baseline estimators for a prompt distribution:
 *   one-step-gd  eta = 1 (the seed's gradient_step_estimator)
 *   tuned-gd     eta* = L / (L + d + 1 + sigma^2/tau^2)
 *   debiased-gd  mean-centred one-step GD at the same eta* (sum mu = 0)
 *   ridge        lambda = sigma^2 / tau^2 (the Bayes posterior mean)
 *   ols          NaN for L <= d
 * sigma^2, tau^2 from the preset (theory.ts `riskParams`).
 */
export function estimatorMethods(spec: PromptSpec): EvalMethod[] {
  const r = riskParams({ d: spec.d, L: 1, noiseStd: spec.noiseStd, preset: spec.preset });
  const tau2 = r.priorVar ?? 1;
  const eta = (b: Batch) => optimalEta(b.L, b.d, r.sigma2, tau2);
  const lambda = bayesRidgeLambda(r.sigma2, tau2);
  // All five are linear in the context moments X^T X, X^T y, sum x, sum y: one pass over the tokens
  // (`prepare`) serves them all. Each `run` reads the results if `prepare` saw this batch and not
  // all five have run since, else computes its own.
  const names = ['one-step-gd', 'tuned-gd', 'debiased-gd', 'ridge', 'ols'] as const;
  let moments: ContextMoments | undefined;
  let prepared: Batch | undefined;
  let outs: Record<string, Float64Array> = {};
  let left = 0;
  const compute = (b: Batch): Record<string, Float64Array> => {
    moments = contextMoments(b, moments);
    const o: Record<string, Float64Array> = {};
    for (const n of names) o[n] = new Float64Array(b.B);
    const e = eta(b);
    linearFromMoments(b, moments, {
      oneStep: [{ eta: 1, out: o['one-step-gd']! }, { eta: e, out: o['tuned-gd']! }],
      debiased: [{ eta: e, out: o['debiased-gd']! }],
      ridge: [{ lambda, out: o['ridge']! }, { lambda: 0, out: o['ols']! }],
    });
    return o;
  };
  const prepare = (b: Batch) => {
    outs = compute(b);
    prepared = b;
    left = names.length;
  };
  return names.map((name) => ({
    name,
    prepare,
    run: (b: Batch, out: Float64Array) => {
      if (prepared === b && left > 0) {
        out.set(outs[name]!);
        if (--left === 0) prepared = undefined;
      } else {
        out.set(compute(b)[name]!);
      }
    },
  }));
}

/** A model and, unless `kernel` is false, its kernel estimator `<name>/kernel` from its (w^h, mu^h). */
export function modelMethods(name: string, p: AttentionParams, kernel = true): EvalMethod[] {
  const methods: EvalMethod[] = [{ name, run: (b, out) => transformerEstimator(p, b, out) }];
  if (kernel) {
    const heads = layerCircuits(p);
    const w = heads.map((c) => c.w);
    const mu = heads.map((c) => c.mu);
    methods.push({ name: `${name}/kernel`, run: (b, out) => kernelEstimator(b, w, mu, out) });
  }
  return methods;
}

/**
 * Mean squared error vs L for every method on shared prompts, with standard errors.
 *
 * Prompts are NESTED across L by default (`nested: true`): each chunk draws prompts of the largest
 * L once, and the prompt at length L is the first L context tokens of that prompt (same beta, x_q,
 * y_q). Each L then still sees `samples` prompts from exactly the right distribution, so every
 * point and its standard error are as with fresh draws, but sampling costs one prompt per chunk
 * instead of one per L (50× less for the seed sweep) and neighbouring L share randomness (common
 * random numbers: the curves are smoother than independent draws, and differences between L are
 * more precise). `nested: false` draws fresh prompts at every L, like the seed.
 */
export function evaluateErrors(methods: readonly EvalMethod[], spec: PromptSpec, lengths: readonly number[], samples: number, rng: Rng, opts: EvaluateOptions = {}): EvaluateResult {
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
  const task = (L: number, B: number): TaskSpec => ({ d: spec.d, L, batchSize: B, noiseStd: spec.noiseStd, preset: spec.preset, ...(spec.rho ? { rho: spec.rho } : {}) });
  const prepares = [...new Set(methods.map((m) => m.prepare).filter((f): f is (b: Batch) => void => f !== undefined))];
  const score = (li: number, batch: Batch) => {
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
  if (nested) {
    const Lmax = Math.max(...lengths);
    const E = spec.d + 1;
    let full: Batch | undefined;
    let prefix = new Float64Array(0);
    for (let c = 0; c < nChunks; c++) {
      const B = Math.min(chunk, samples - c * chunk);
      if (!full || full.B !== B) {
        full = allocBatch(B, Lmax, spec.d); // [B, Lmax, E]
        prefix = new Float64Array(B * Lmax * E); // [B, L, E] views for shorter L
      }
      sampleBatch(task(Lmax, B), rng, full);
      lengths.forEach((L, li) => {
        let batch: Batch = full!;
        if (L !== Lmax) {
          const z = prefix.subarray(0, B * L * E); // [B, L, E]
          for (let b = 0; b < B; b++) z.set(full!.z.subarray(b * Lmax * E, (b * Lmax + L) * E), b * L * E);
          batch = batchFromArrays(B, L, spec.d, z, full!.zq, full!.yq);
        }
        score(li, batch);
      });
      opts.onProgress?.(c + 1, nChunks);
    }
  } else {
    lengths.forEach((L, li) => {
      let batch: Batch | undefined;
      for (let c = 0; c < nChunks; c++) {
        const B = Math.min(chunk, samples - c * chunk);
        if (!batch || batch.B !== B) batch = allocBatch(B, L, spec.d); // [B, L, E]
        sampleBatch(task(L, B), rng, batch);
        score(li, batch);
      }
      opts.onProgress?.(li + 1, lengths.length);
    });
  }
  const result: Record<string, MethodErrors> = {};
  methods.forEach((m, mi) => {
    const mse: number[] = [];
    const stderr: number[] = [];
    lengths.forEach((_, li) => {
      const mean = s1[li * M + mi]! / samples;
      const variance = Math.max(0, (s2[li * M + mi]! - samples * mean * mean) / (samples - 1));
      mse.push(mean);
      stderr.push(Math.sqrt(variance / samples));
    });
    result[m.name] = { mse, stderr };
  });
  return { lengths: [...lengths], samples, methods: result };
}

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
}

/** Kernel gap of model `p` against the kernel estimator from (w, mu), on `samples` fresh prompts of length L. */
/** Running sums of the kernel gap over batches of prompts (the one definition, see the file comment). */
export class KernelGapSums {
  private diff = 0;
  private tf = 0;
  private k = 0;
  private fSum = 0;
  private fSq = 0;
  private n = 0;

  /** Add B prompts: the model's outputs fTF, the kernel estimator's fK and the targets yq, each [B]. */
  add(fTF: ArrayLike<number>, fK: ArrayLike<number>, yq: ArrayLike<number>, B: number): void {
    for (let b = 0; b < B; b++) {
      this.diff += (fTF[b]! - fK[b]!) ** 2;
      this.tf += (fTF[b]! - yq[b]!) ** 2;
      this.k += (fK[b]! - yq[b]!) ** 2;
      this.fSum += fTF[b]!;
      this.fSq += fTF[b]! * fTF[b]!;
    }
    this.n += B;
  }

  result(L: number): KernelGap {
    const { diff, tf, k, n } = this;
    const fVar = this.fSq - (this.fSum * this.fSum) / n; // sum (f_TF - mean)^2
    return { L, samples: n, relative: diff / fVar, relativeToModelError: diff / tf, meanSquaredDiff: diff / n, modelMse: tf / n, kernelMse: k / n };
  }
}

/** Kernel gap of model `p` against the kernel estimator from (w, mu), on `samples` fresh prompts of length L. */
export function kernelGap(p: AttentionParams, w: ArrayLike<number>, mu: ArrayLike<number>, spec: PromptSpec, L: number, samples: number, rng: Rng, chunk = 1000): KernelGap {
  const sums = new KernelGapSums();
  let fTF = new Float64Array(0);
  let fK = new Float64Array(0);
  for (let done = 0; done < samples; done += chunk) {
    const B = Math.min(chunk, samples - done);
    const batch = sampleBatch({ d: spec.d, L, batchSize: B, noiseStd: spec.noiseStd, preset: spec.preset, ...(spec.rho ? { rho: spec.rho } : {}) }, rng);
    if (fTF.length !== B) {
      fTF = new Float64Array(B);
      fK = new Float64Array(B);
    }
    transformerEstimator(p, batch, fTF);
    kernelEstimator(batch, w, mu, fK);
    sums.add(fTF, fK, batch.yq, B);
  }
  return sums.result(L);
}

/** The seed's sweep: L = 1, 6, ..., 496 (range(1, 501, 5)). */
export function seedLengths(): number[] {
  const out: number[] = [];
  for (let L = 1; L <= 500; L += 5) out.push(L);
  return out;
}

export interface BenchEvaluateResult {
  readonly lengths: number;
  readonly samples: number;
  /** Wall seconds for the whole sweep (sampling + all methods). */
  readonly seconds: number;
  /** Seconds in each method, and in sampling the prompts (`sampling`). */
  readonly breakdown: Record<string, number>;
}

/**
 * Speed goal: the seed's sweep (L = 1..500 step 5) with `samples` prompts per L (default 10,000) for
 * the transformer, its kernel estimator and one-step GD, single-threaded. `now` is a clock in
 * milliseconds (performance.now in Node); `params` the model (e.g. a trained H = 2 run).
 */
export function benchEvaluate(params: AttentionParams, rng: Rng, now: () => number, samples = 10_000, lengths = seedLengths(), opts: { chunk?: number; nested?: boolean } = {}): BenchEvaluateResult {
  const heads = layerCircuits(params);
  const w = heads.map((c) => c.w);
  const mu = heads.map((c) => c.mu);
  const timed: Record<string, number> = { sampling: 0, transformer: 0, kernel: 0, 'one-step-gd': 0 };
  const tick = (name: string, f: () => void) => {
    const t0 = now();
    f();
    timed[name]! += (now() - t0) / 1000;
  };
  const methods: EvalMethod[] = [
    { name: 'transformer', run: (b, out) => transformerEstimator(params, b, out) },
    { name: 'kernel', run: (b, out) => kernelEstimator(b, w, mu, out) },
    { name: 'one-step-gd', run: (b, out) => oneStepGd(b, 1, out) },
  ];
  const wrapped: EvalMethod[] = methods.map((m) => ({ name: m.name, run: (b, out) => tick(m.name, () => m.run(b, out)) }));
  const spec: PromptSpec = { d: params.d, noiseStd: 0.01, preset: 'seed' };
  // Sampling time = total minus the methods.
  const t0 = now();
  evaluateErrors(wrapped, spec, lengths, samples, rng, opts);
  const seconds = (now() - t0) / 1000;
  timed.sampling = seconds - timed.transformer! - timed.kernel! - timed['one-step-gd']!;
  return { lengths: lengths.length, samples, seconds, breakdown: timed };
}
