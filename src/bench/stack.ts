/**
 * Training throughput of the multi-layer causal stack (core/stack.ts) at the seed configuration:
 * d = 5, L = 40, B = 128, Adam lr 1e-3, random init, a fresh batch every step, one thread. The same
 * step `icl-lab train --layers N` runs: sample, stackLossAndGrad, Adam update.
 *
 * The `bench` command shows it as a "N-layer" row (see docs/readme/stack.md for the PyTorch peer).
 */
import { allocBatch } from '../core/batch.js';
import { createOptimizer, defaultOptimizerConfig } from '../core/optim.js';
import { Rng } from '../core/rng.js';
import { stackLossAndGrad } from '../core/stack.js';
import { initStackParams } from '../core/stack-init.js';
import { DEFAULT_TASK, sampleBatch, type TaskSpec } from '../core/task.js';

export interface StackBenchOptions {
  /** attention layers (default 2) */
  layers?: number;
  /** heads per layer (default 2) */
  heads?: number;
  weightTying?: boolean;
  /** measured seconds (default 3), after a warm-up of `warmupSeconds` (default min(1, seconds/2)) */
  seconds?: number;
  warmupSeconds?: number;
  task?: TaskSpec;
  seed?: number;
}

export interface StackBenchRow {
  layers: number;
  heads: number;
  weightTying: boolean;
  steps: number;
  stepsPerSecond: number;
  msPerStep: number;
  /** steps/s of the fastest 20-step chunk: robust to other jobs on a shared machine */
  bestStepsPerSecond: number;
  /** training loss of the last step (sanity: finite) */
  lastLoss: number;
  /** ms per step in each phase (timed inside the step, so they add up to slightly less than msPerStep) */
  samplingMs: number;
  forwardBackwardMs: number;
  optimizerMs: number;
}

const CHUNK = 20;

/** Steps/s of `train --layers N` at the seed configuration (one thread, no logging). */
export function benchStack(o: StackBenchOptions = {}): StackBenchRow {
  const layers = o.layers ?? 2;
  const H = o.heads ?? 2;
  const weightTying = o.weightTying ?? false;
  const seconds = o.seconds ?? 3;
  const warmup = o.warmupSeconds ?? Math.min(1, seconds / 2);
  const task = o.task ?? { ...DEFAULT_TASK };
  const rng = new Rng(o.seed ?? 0);
  const p = initStackParams(task.d, H, layers, weightTying, 'random', rng);
  const opt = createOptimizer(defaultOptimizerConfig('adam', 1e-3), p.theta.length);
  const batch = allocBatch(task.batchSize, task.L, task.d); // [B, L, E]
  const grad = new Float64Array(p.theta.length); // [nTheta]
  let loss = NaN;
  const step = (): void => {
    sampleBatch(task, rng, batch);
    loss = stackLossAndGrad(p, batch, grad);
    opt.step(p.theta, grad);
  };
  const now = () => performance.now();
  const w0 = now();
  while (now() - w0 < warmup * 1000) for (let i = 0; i < CHUNK; i++) step();
  let steps = 0;
  let bestChunk = Infinity;
  let tSample = 0, tFb = 0, tOpt = 0;
  const start = now();
  let end = start;
  while (end - start < seconds * 1000) {
    const c0 = now();
    for (let i = 0; i < CHUNK; i++) {
      const a = now();
      sampleBatch(task, rng, batch);
      const b = now();
      loss = stackLossAndGrad(p, batch, grad);
      const c = now();
      opt.step(p.theta, grad);
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
    layers,
    heads: H,
    weightTying,
    steps,
    stepsPerSecond: (steps / ms) * 1000,
    msPerStep: ms / steps,
    bestStepsPerSecond: (CHUNK / bestChunk) * 1000,
    lastLoss: loss,
    samplingMs: tSample / steps,
    forwardBackwardMs: tFb / steps,
    optimizerMs: tOpt / steps,
  };
}
