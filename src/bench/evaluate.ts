/**
 * Speed goal of `evaluate`: the seed's sweep (L = 1, 6, ..., 496) with 10,000 prompts per L for the
 * transformer, its kernel estimator and one-step GD, on one thread. Target: under 60 s.
 * `benchEvaluate` times the sweep of analysis/evaluate.ts method by method; `runEvaluateBench` picks
 * the model and `formatEvaluateBench` formats the result.
 */
import { evaluateErrors, seedLengths } from '../analysis/evaluate.js';
import { kernelEstimator, oneStepGd, transformerEstimator } from '../analysis/estimators.js';
import type { EvalMethod } from '../analysis/methods.js';
import type { PromptSpec } from '../analysis/prompts.js';
import { layerCircuits } from '../model/circuits.js';
import type { AttentionParams } from '../model/params.js';
import { initParams } from '../model/init.js';
import { Rng } from '../data/rng.js';

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

export interface EvaluateBenchOptions {
  /** Prompts per L (default 10,000). */
  samples?: number;
  /** Heads of the (randomly initialised) model (default 2; speed does not depend on the weights). */
  heads?: number;
  seed?: number;
  /** Fresh prompts at every L instead of nested prompts (default false, as `icl-lab evaluate`). */
  independent?: boolean;
}

export interface EvaluateBenchResult extends BenchEvaluateResult {
  heads: number;
  nested: boolean;
  /** CPU seconds of this process during the sweep (user + system). */
  cpuSeconds: number;
}

export function runEvaluateBench(o: EvaluateBenchOptions = {}): EvaluateBenchResult {
  const heads = o.heads ?? 2;
  const rng = new Rng(o.seed ?? 0);
  const p = initParams(5, heads, 'random', rng);
  const c0 = process.cpuUsage();
  const nested = !o.independent;
  const r = benchEvaluate(p, rng, () => performance.now(), o.samples ?? 10_000, seedLengths(), { nested });
  const c = process.cpuUsage(c0);
  return { ...r, heads, nested, cpuSeconds: (c.user + c.system) / 1e6 };
}

export function formatEvaluateBench(r: EvaluateBenchResult): string {
  const parts = Object.entries(r.breakdown).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
  return (
    `evaluate sweep: L = 1..496 step 5 (${r.lengths} lengths) x ${r.samples} prompts, H = ${r.heads}, ` +
    `transformer + kernel + one-step GD, ${r.nested ? 'nested' : 'fresh'} prompts, 1 thread\n` +
    `  ${r.seconds.toFixed(1)} s wall (${r.cpuSeconds.toFixed(1)} s CPU; goal < 60 s): ${parts}\n`
  );
}
