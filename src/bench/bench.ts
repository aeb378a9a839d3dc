/**
 * Training throughput at the seed configuration (d = 5, L = 40, B = 128, Adam lr 1e-3, random init,
 * a fresh batch every step, one thread), per head count, with the time split between sampling,
 * forward + backward and the optimizer.
 */
import { lossAndGrad } from '../engine/ts/attention.js';
import { allocBatch } from '../data/batch.js';
import { initParams } from '../model/init.js';
import { createOptimizer, defaultOptimizerConfig } from '../optim/optim.js';
import { Rng } from '../data/rng.js';
import { DEFAULT_TASK, sampleBatch, type TaskSpec } from '../data/task.js';
import { loadWasmKernel, wasmAvailable } from '../io/wasm.js';
import { timeSteps, type PhasedStep, type StepTiming } from './timing.js';

/** The training-step engine: the TypeScript kernel (engine/ts/attention.ts) or its WebAssembly build (engine/wasm/attention.ts). */
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

/** One measured head count on one engine (phase times in ms per step; see timing.ts). */
export interface BenchRow extends StepTiming {
  heads: number;
  engine: Engine;
}


/** One preallocated training step (sample, loss + gradient, Adam) on the given engine; the wasm one samples (ziggurat in wasm) straight into wasm memory. */
function trainStep(task: TaskSpec, H: number, seed: number, engine: Engine): PhasedStep {
  const rng = new Rng(seed);
  const p = initParams(task.d, H, 'random', rng);
  const opt = createOptimizer(defaultOptimizerConfig('adam', 1e-3), p.theta.length);
  const grad = new Float64Array(p.theta.length);
  const kernel = engine === 'wasm' ? loadWasmKernel() : null;
  const batch = kernel ? kernel.allocBatch(task.batchSize, task.L, task.d) : allocBatch(task.batchSize, task.L, task.d);
  const lg = kernel ? () => kernel.lossAndGrad(p, batch, grad) : () => lossAndGrad(p, batch, grad);
  // the same batches either way: the wasm sampler is data/task.ts sampleBatch with the ziggurat in wasm, bit for bit
  const sample = kernel ? () => void kernel.sampleBatch(task, rng, batch) : () => void sampleBatch(task, rng, batch);
  return {
    sample,
    lossAndGrad: lg,
    update: () => opt.step(p.theta, grad),
  };
}

export function benchHeads(H: number, seconds: number, warmupSeconds: number, task: TaskSpec, seed: number, engine: Engine = 'ts'): BenchRow {
  return { heads: H, engine, ...timeSteps(trainStep(task, H, seed, engine), seconds, warmupSeconds) };
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
