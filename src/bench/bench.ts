/**
 * Training throughput at the seed configuration (d = 5, L = 40, B = 128, Adam lr 1e-3, random init,
 * a fresh batch every step, one thread), per head count, with the time split between sampling,
 * forward + backward and the optimizer.
 */
import { DEFAULT_TASK, type TaskSpec } from '../data/task.js';
import type { EngineName } from '../engine/model.js';
import { nodeKernels, wasmAvailable } from '../io/wasm.js';
import { makeTrainConfig, type TrainConfig } from '../run/config.js';
import { createState } from '../run/loop.js';
import { timeSteps, type PhasedStep, type StepTiming } from './timing.js';


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
}

/** One measured head count on one engine (phase times in ms per step; see timing.ts). */
export interface BenchRow extends StepTiming {
  heads: number;
  engine: EngineName;
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

/** The phases of train's step for `config` (sample, loss + gradient, optimizer update). */
export function phasedTrainStep(config: TrainConfig): PhasedStep {
  const s = createState(config, nodeKernels()).trainStep;
  return { sample: s.sample, lossAndGrad: s.lossAndGrad, update: s.update };
}

export function benchHeads(H: number, seconds: number, warmupSeconds: number, task: TaskSpec, seed: number, engine: EngineName = 'ts'): BenchRow {
  const step = phasedTrainStep(benchConfig(task, { heads: H, seed, engine }));
  return { heads: H, engine, ...timeSteps(step, seconds, warmupSeconds) };
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
