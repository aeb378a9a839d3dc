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
import { NormalStream2, sampleBatch2 } from '../core/normal2.js';
import { attentionSharedWasmModule, loadWasmKernel, wasmAvailable } from '../io/wasm.js';
import { createWasmKernel } from '../core/attention-wasm.js';
import { timeSteps, type PhasedStep, type StepTiming } from './timing.js';
import { startPrefetch } from '../train/prefetch.js';
import { restoreStream } from '../train/stream.js';

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
  /** batch stream version (train/stream.ts; default 2, what new runs use) */
  stream?: 1 | 2;
  /** 2 = the batches are drawn on a second thread (train --threads 2, train/prefetch.ts); default 1 */
  threads?: 1 | 2;
}

/** One measured head count on one engine (phase times in ms per step; see timing.ts). */
export interface BenchRow extends StepTiming {
  heads: number;
  engine: Engine;
  /** 2: sampling on a second thread (samplingMs is then the wait for and copy of the batch) */
  threads: 1 | 2;
}


/** One preallocated training step (sample, loss + gradient, Adam) on the given engine; the wasm one samples (ziggurat in wasm) straight into wasm memory. */
function trainStep(task: TaskSpec, H: number, seed: number, engine: Engine, stream: 1 | 2 = 2, threads: 1 | 2 = 1): PhasedStep & { close(): void } {
  const rng = new Rng(seed);
  const p = initParams(task.d, H, 'random', rng);
  const s2 = NormalStream2.fromRng(rng.clone());
  const opt = createOptimizer(defaultOptimizerConfig('adam', 1e-3), p.theta.length);
  const grad = new Float64Array(p.theta.length);
  // --threads 2 on the wasm engine: the shared-memory build, so the sampling thread writes into the kernel's memory (as train does)
  const shared = threads === 2 && engine === 'wasm' ? attentionSharedWasmModule() : null;
  const kernel = engine === 'wasm' ? (shared ? createWasmKernel(shared) : loadWasmKernel()) : null;
  const batch = kernel ? kernel.allocBatch(task.batchSize, task.L, task.d) : allocBatch(task.batchSize, task.L, task.d);
  let cur = batch; // the batch of this step (--threads 2 zero-copy: the worker's buffer)
  const lg = kernel ? () => kernel.lossAndGrad(p, cur, grad) : () => lossAndGrad(p, cur, grad);
  // the same batches either way: the wasm sampler is core/task.ts sampleBatch with the ziggurat in wasm, bit for bit
  let sample = stream === 1
    ? kernel ? () => void kernel.sampleBatch(task, rng, batch) : () => void sampleBatch(task, rng, batch)
    : kernel ? () => void kernel.sampleBatch2(task, s2, batch) : () => void sampleBatch2(task, s2, batch);
  let close = () => {};
  if (threads === 2) {
    // no validation batches in the bench: a schedule whose only validation step (0) is never reached
    const p2 = startPrefetch(stream === 1 ? restoreStream(1, rng.getState()) : restoreStream(2, s2.getState()), { task, valTask: task, valEvery: Number.MAX_SAFE_INTEGER, startStep: 1, ...(kernel ? { kernel } : {}) });
    sample = () => void (cur = p2.stream.sample(task, batch));
    close = () => void p2.close();
  }
  return {
    close,
    sample,
    lossAndGrad: lg,
    update: () => opt.step(p.theta, grad),
  };
}

export function benchHeads(H: number, seconds: number, warmupSeconds: number, task: TaskSpec, seed: number, engine: Engine = 'ts', stream: 1 | 2 = 2, threads: 1 | 2 = 1): BenchRow {
  const step = trainStep(task, H, seed, engine, stream, threads);
  try {
    return { heads: H, engine, threads, ...timeSteps(step, seconds, warmupSeconds) };
  } finally {
    step.close();
  }
}

export function runBench(o: BenchOptions, onRow?: (r: BenchRow) => void): BenchRow[] {
  const task = o.task ?? { ...DEFAULT_TASK };
  const rows: BenchRow[] = [];
  const engines = o.engines ?? [defaultEngine()];
  for (const H of o.heads) {
    for (const engine of engines) {
      const r = benchHeads(H, o.seconds, o.warmupSeconds ?? Math.min(1, o.seconds / 2), task, o.seed ?? 0, engine, o.stream ?? 2, o.threads ?? 1);
      rows.push(r);
      onRow?.(r);
    }
  }
  return rows;
}
