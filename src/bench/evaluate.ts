/**
 * Speed goal of `evaluate`: the seed's sweep (L = 1, 6, ..., 496) with 10,000 prompts per L for the
 * transformer, its kernel estimator and one-step GD, on one thread. Target: under 60 s.
 * (analysis/evaluate.ts `benchEvaluate` does the work; this picks the model and formats the result.)
 */
import { benchEvaluate, seedLengths, type BenchEvaluateResult } from '../analysis/evaluate.js';
import { initParams } from '../model/init.js';
import { Rng } from '../data/rng.js';

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
