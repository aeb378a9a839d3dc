/**
 * Training throughput at the seed configuration (d = 5, L = 40, B = 128, Adam lr 1e-3, random init,
 * a fresh batch every step, one thread), per head count, with the time split between sampling,
 * forward + backward and the optimizer.
 */
import { lossAndGrad } from '../core/attention.js';
import { allocBatch } from '../core/batch.js';
import { initParams } from '../core/init.js';
import { createOptimizer, defaultOptimizerConfig } from '../core/optim.js';
import { Rng } from '../core/rng.js';
import { DEFAULT_TASK, sampleBatch, type TaskSpec } from '../core/task.js';
import { loadWasmKernel, wasmAvailable } from '../io/wasm.js';

/** The training-step engine: the TypeScript kernel (core/attention.ts) or its WebAssembly build (core/attention-wasm.ts). */
export type Engine = 'ts' | 'wasm';
export const ENGINES: readonly Engine[] = ['ts', 'wasm'];

/** wasm when dist/wasm/attention.wasm loads, else ts */
export function defaultEngine(): Engine {
  return wasmAvailable() ? 'wasm' : 'ts';
}

export interface BenchOptions {
  heads: number[];
  /** measured seconds per head count (after warm-up) */
  seconds: number;
  /** warm-up seconds per head count (JIT) */
  warmupSeconds?: number;
  task?: TaskSpec;
  seed?: number;
  /** engines to measure, each head count on each in turn (default: [defaultEngine()]) */
  engines?: Engine[];
}

export interface BenchRow {
  heads: number;
  engine: Engine;
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

/** One preallocated training step (sample, loss + gradient, Adam) on the given engine; the wasm one samples (ziggurat in wasm) straight into wasm memory. */
function trainStep(task: TaskSpec, H: number, seed: number, engine: Engine) {
  const rng = new Rng(seed);
  const p = initParams(task.d, H, 'random', rng);
  const opt = createOptimizer(defaultOptimizerConfig('adam', 1e-3), p.theta.length);
  const grad = new Float64Array(p.theta.length);
  const kernel = engine === 'wasm' ? loadWasmKernel() : null;
  const batch = kernel ? kernel.allocBatch(task.batchSize, task.L, task.d) : allocBatch(task.batchSize, task.L, task.d);
  const lg = kernel ? () => kernel.lossAndGrad(p, batch, grad) : () => lossAndGrad(p, batch, grad);
  // the same batches either way: the wasm sampler is core/task.ts sampleBatch with the ziggurat in wasm, bit for bit
  const sample = kernel ? () => void kernel.sampleBatch(task, rng, batch) : () => void sampleBatch(task, rng, batch);
  return {
    sample,
    lossAndGrad: lg,
    update: () => opt.step(p.theta, grad),
    step(): number {
      sample();
      const loss = lg();
      opt.step(p.theta, grad);
      return loss;
    },
  };
}

export function benchHeads(H: number, seconds: number, warmupSeconds: number, task: TaskSpec, seed: number, engine: Engine = 'ts'): BenchRow {
  const ts = trainStep(task, H, seed, engine);
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
    engine,
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
  const engines = o.engines ?? [defaultEngine()];
  for (const H of o.heads) {
    for (const engine of engines) {
      const r = benchHeads(H, o.seconds, o.warmupSeconds ?? Math.min(1, o.seconds / 2), task, o.seed ?? 0, engine);
      rows.push(r);
      onRow?.(r);
    }
  }
  return rows;
}
