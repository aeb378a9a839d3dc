/**
 * Training throughput at the seed configuration (d = 5, L = 40, B = 128, Adam lr 1e-3, random init,
 * a fresh batch every step, one thread), per head count, with the time split between sampling,
 * forward + backward and the optimizer.
 */
import { initParams } from '../core/init.js';
import { createOptimizer, defaultOptimizerConfig } from '../core/optim.js';
import { Rng } from '../core/rng.js';
import { DEFAULT_TASK, type TaskSpec } from '../core/task.js';
import { createTrainStep } from '../core/train-step.js';

export interface BenchOptions {
  heads: number[];
  /** measured seconds per head count (after warm-up) */
  seconds: number;
  /** warm-up seconds per head count (JIT) */
  warmupSeconds?: number;
  task?: TaskSpec;
  seed?: number;
}

export interface BenchRow {
  heads: number;
  steps: number;
  stepsPerSecond: number;
  msPerStep: number;
  samplingMs: number;
  forwardBackwardMs: number;
  optimizerMs: number;
  /** steps/s of the fastest 20-step chunk: robust to other jobs on a shared machine */
  bestStepsPerSecond: number;
  /** training loss of the last step (sanity: finite, falling) */
  lastLoss: number;
}

const CHUNK = 20;

export function benchHeads(H: number, seconds: number, warmupSeconds: number, task: TaskSpec, seed: number): BenchRow {
  const rng = new Rng(seed);
  const p = initParams(task.d, H, 'random', rng);
  const opt = createOptimizer(defaultOptimizerConfig('adam', 1e-3), p.theta.length);
  const ts = createTrainStep(task, p, opt, rng);
  const now = () => performance.now();
  // warm-up: let the JIT settle
  const w0 = now();
  while (now() - w0 < warmupSeconds * 1000) for (let i = 0; i < 20; i++) ts.step();
  let tSample = 0, tFb = 0, tOpt = 0, steps = 0, loss = NaN;
  const start = now();
  const budget = seconds * 1000;
  let end = start, bestChunk = Infinity;
  while (end - start < budget) {
    const c0 = now();
    for (let i = 0; i < CHUNK; i++) {
      const a = now();
      ts.sample();
      const b = now();
      loss = ts.lossAndGrad();
      const c = now();
      ts.update();
      const e = now();
      tSample += b - a;
      tFb += c - b;
      tOpt += e - c;
    }
    steps += CHUNK;
    end = now();
    bestChunk = Math.min(bestChunk, end - c0);
  }
  const ms = end - start;
  return {
    heads: H,
    steps,
    stepsPerSecond: (steps / ms) * 1000,
    msPerStep: ms / steps,
    samplingMs: tSample / steps,
    forwardBackwardMs: tFb / steps,
    optimizerMs: tOpt / steps,
    bestStepsPerSecond: (CHUNK / bestChunk) * 1000,
    lastLoss: loss,
  };
}

export function runBench(o: BenchOptions, onRow?: (r: BenchRow) => void): BenchRow[] {
  const task = o.task ?? { ...DEFAULT_TASK };
  const rows: BenchRow[] = [];
  for (const H of o.heads) {
    const r = benchHeads(H, o.seconds, o.warmupSeconds ?? Math.min(1, o.seconds / 2), task, o.seed ?? 0);
    rows.push(r);
    onRow?.(r);
  }
  return rows;
}
