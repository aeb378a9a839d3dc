/**
 * The report's error sweep on every core: the context lengths are split between worker threads
 * (report/evaluate-worker.ts), each running analysis/evaluate.ts `evaluateErrors` on its share with
 * the same seed. The prompts at a length depend only on (seed, L, task, chunk), never on which other
 * lengths are asked (evaluate.ts), so every number is the one-thread sweep's, bit for bit; the
 * results are put back in the caller's length order.
 *
 * The job is plain data (the models' weights, the task), so a worker can rebuild the methods:
 * every model with its kernel estimator, then the estimator baselines, as the report lists them.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { evaluateErrors, type FullEvaluation } from '../analysis/evaluate.js';
import { estimatorMethods, modelMethods, type EvalMethod } from '../analysis/methods.js';
import type { PromptSpec } from '../analysis/prompts.js';
import { Rng } from '../data/rng.js';
import type { ModelForward } from '../engine/model.js';
import { allocParams } from '../model/params.js';
import { withAttention, type AttentionName } from '../model/attention-name.js';

/** One model of the sweep as plain data. */
export interface SweepModel {
  name: string;
  d: number;
  H: number;
  theta: Float64Array;
  /** The model's attention (absent: softmax). */
  attention?: AttentionName;
}

/** What a worker needs to rebuild the methods and draw the same prompts. */
export interface SweepJob {
  models: SweepModel[];
  spec: PromptSpec;
  lengths: number[];
  samples: number;
  /** The state of the Rng the one-thread sweep would be given (evaluate.ts draws its base seed from it). */
  rngState: number[];
}

/** Every model and its kernel estimator, then the estimator baselines (the report's method list). */
export function sweepMethods(job: Pick<SweepJob, 'models' | 'spec'>, forward?: ModelForward): EvalMethod[] {
  return [...job.models.flatMap((m) => modelMethods(m.name, withAttention(allocParams(m.d, m.H, 1, m.theta), m.attention ?? 'softmax'), true, forward)), ...estimatorMethods(job.spec)];
}

/** The compiled worker next to this file, or (running from the .ts sources: tests) in dist/; null when not built. */
export function workerScript(): string | null {
  for (const u of [new URL('./evaluate-worker.js', import.meta.url), new URL('../../dist/report/evaluate-worker.js', import.meta.url)]) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  return null;
}

/**
 * Split `lengths` into `n` groups of about equal cost (a prompt at length L costs about L + 10
 * token-units: the models and kernel estimators are linear in L, the baselines add a per-prompt
 * solve), longest first onto the least loaded group. Returns indices into `lengths`.
 */
export function splitLengths(lengths: readonly number[], n: number): number[][] {
  const groups: number[][] = Array.from({ length: n }, () => []);
  const load = new Array<number>(n).fill(0);
  const order = lengths.map((L, i) => ({ L, i })).sort((a, b) => b.L - a.L || a.i - b.i);
  for (const { L, i } of order) {
    const g = load.indexOf(Math.min(...load));
    groups[g]!.push(i);
    load[g]! += L + 10;
  }
  return groups.filter((g) => g.length > 0).map((g) => g.sort((a, b) => a - b));
}

/**
 * The sweep of `job` on `threads` worker threads (default: one per core, at most one per length);
 * one thread, or no compiled worker (tests from the sources without a build), runs it here.
 */
export async function evaluateSweep(job: SweepJob, o: { threads?: number; forward?: ModelForward } = {}): Promise<FullEvaluation> {
  const script = workerScript();
  const threads = Math.max(1, Math.min(o.threads ?? availableParallelism(), job.lengths.length));
  if (threads === 1 || script === null) return evaluateErrors(sweepMethods(job, o.forward), job.spec, job.lengths, job.samples, Rng.fromState(job.rngState));
  const groups = splitLengths(job.lengths, threads);
  const parts = await Promise.all(groups.map((idx) => runWorker(script, { ...job, lengths: idx.map((i) => job.lengths[i]!) })));
  const methods: FullEvaluation['methods'] = {};
  for (const name of Object.keys(parts[0]!.methods)) {
    const mse = new Array<number>(job.lengths.length), stderr = new Array<number>(job.lengths.length);
    const withEta = parts[0]!.methods[name]!.eta !== undefined;
    const eta = new Array<number>(job.lengths.length);
    groups.forEach((idx, g) => idx.forEach((li, k) => {
      mse[li] = parts[g]!.methods[name]!.mse[k]!;
      stderr[li] = parts[g]!.methods[name]!.stderr[k]!;
      if (withEta) eta[li] = parts[g]!.methods[name]!.eta![k]!;
    }));
    methods[name] = { mse, stderr, ...(withEta ? { eta } : {}) };
  }
  return { lengths: [...job.lengths], samples: job.samples, methods };
}

function runWorker(script: string, job: SweepJob): Promise<FullEvaluation> {
  return new Promise((resolve, reject) => {
    const w = new Worker(script, { workerData: job });
    let result: FullEvaluation | undefined;
    w.on('message', (m: FullEvaluation) => (result = m));
    w.on('error', reject);
    w.on('exit', (code) => (result ? resolve(result) : reject(new Error(`the evaluation worker stopped (exit code ${code}) before sending its results`))));
  });
}
