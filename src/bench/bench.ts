/**
 * Training throughput at the seed configuration (d = 5, L = 40, B = 128, Adam lr 1e-3, random init,
 * a fresh batch every step, one thread), per head count, with the time split between sampling,
 * forward + backward and the optimizer.
 */
import { DEFAULT_TASK, type TaskSpec } from '../data/task.js';
import type { StreamVersion } from '../data/stream.js';
import type { EngineName } from '../engine/model.js';
import type { AttentionName } from '../model/attention-name.js';
import { nodeKernels, wasmAvailable } from '../io/wasm.js';
import { makeTrainConfig, type TrainConfig } from '../run/config.js';
import { createState } from '../run/loop.js';
import { timeSteps, type PhasedStep, type StepTiming } from './timing.js';
import { startPrefetch } from '../run/prefetch.js';


/** wasm when dist/wasm/attention.wasm loads, else ts */
export function defaultEngine(): EngineName {
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
  engines?: EngineName[];
  /** batch stream version (data/stream.ts; default 2, what new runs use) */
  stream?: StreamVersion;
  /** 2 = the batches are drawn on a second thread (train --threads 2, run/prefetch.ts); default 1 */
  threads?: 1 | 2;
  /** the one-layer model's attention (default softmax, the seed's) */
  attention?: AttentionName;
}

/** One measured head count on one engine (phase times in ms per step; see timing.ts). */
export interface BenchRow extends StepTiming {
  heads: number;
  engine: EngineName;
  /** 2: sampling on a second thread (samplingMs is then the wait for and copy of the batch) */
  threads: 1 | 2;
  /** the attention measured, when not softmax */
  attention?: AttentionName;
}


/**
 * The config `icl-lab train` would run for this task, head count and engine (Adam lr 1e-3, random
 * init: the seed's), cut to one logged step: the bench builds its state with run/loop.ts
 * createState and times that state's own training step (run/step.ts), nothing else.
 */
export function benchConfig(task: TaskSpec, overrides: Partial<TrainConfig>): TrainConfig {
  return makeTrainConfig({
    d: task.d, contextLength: task.L, batchSize: task.batchSize, noiseStd: task.noiseStd, preset: task.preset, ...(task.rho !== undefined ? { rho: task.rho } : {}),
    optimizer: 'adam', lr: 1e-3, init: 'random', steps: 1, ...overrides,
  });
}

/**
 * The phases of train's step for `config` (sample, loss + gradient, optimizer update) on a batch
 * stream of `stream` version; with `threads` 2 the batches come from a second thread, as
 * `train --threads 2` draws them (run/prefetch.ts). `close()` stops that thread.
 */
export function phasedTrainStep(config: TrainConfig, stream: StreamVersion = 2, threads: 1 | 2 = 1): PhasedStep & { close(): void } {
  const s = createState(config, nodeKernels(), stream);
  let close = () => {};
  if (threads === 2) {
    // no validation batches in the bench: a schedule whose only validation step (0) is never reached
    // the wasm engine's kernel memory is shared (io/wasm.ts nodeKernels): the sampling thread writes batches straight into it, as train does
    const kernel = s.model.wasmKernel?.();
    const p = startPrefetch(s.stream, { task: s.task, valTask: s.task, valEvery: Number.MAX_SAFE_INTEGER, startStep: 1, ...(kernel ? { kernel } : {}) });
    s.stream = p.stream;
    close = () => void p.close();
  }
  const t = s.trainStep;
  return { sample: t.sample, lossAndGrad: t.lossAndGrad, update: t.update, close };
}

export function benchHeads(H: number, seconds: number, warmupSeconds: number, task: TaskSpec, seed: number, engine: EngineName = 'ts', stream: StreamVersion = 2, threads: 1 | 2 = 1, attention: AttentionName = 'softmax'): BenchRow {
  const step = phasedTrainStep(benchConfig(task, { heads: H, seed, engine, attention }), stream, threads);
  try {
    return { heads: H, engine, threads, ...(attention !== 'softmax' ? { attention } : {}), ...timeSteps(step, seconds, warmupSeconds) };
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
      const r = benchHeads(H, o.seconds, o.warmupSeconds ?? Math.min(1, o.seconds / 2), task, o.seed ?? 0, engine, o.stream ?? 2, o.threads ?? 1, o.attention);
      rows.push(r);
      onRow?.(r);
    }
  }
  return rows;
}
