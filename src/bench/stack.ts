/**
 * Training throughput of the multi-layer causal stack (model/stack.ts) at the seed configuration:
 * d = 5, L = 40, B = 128, Adam lr 1e-3, random init, a fresh batch every step, one thread. The very
 * step `icl-lab train --layers N` runs (run/step.ts): sample, loss + gradient, Adam update.
 *
 * The `bench` command shows it as a "N-layer" row (see docs/readme/stack.md for the PyTorch peer).
 */
import { DEFAULT_TASK, type TaskSpec } from '../data/task.js';
import { benchConfig, phasedTrainStep } from './bench.js';
import { timeSteps, type StepTiming } from './timing.js';

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
  /** the TypeScript stack kernel (engine/ts/stack.ts) or its WebAssembly build (asm/stack.ts); default ts */
  engine?: 'ts' | 'wasm';
}

/** A stack's training step timing (phase times in ms per step; see timing.ts). */
export interface StackBenchRow extends StepTiming {
  layers: number;
  heads: number;
  weightTying: boolean;
  engine: 'ts' | 'wasm';
}

/** Steps/s of `train --layers N` at the seed configuration (one thread, no logging). */
export function benchStack(o: StackBenchOptions = {}): StackBenchRow {
  const layers = o.layers ?? 2;
  const H = o.heads ?? 2;
  const weightTying = o.weightTying ?? false;
  const seconds = o.seconds ?? 3;
  const warmup = o.warmupSeconds ?? Math.min(1, seconds / 2);
  const task = o.task ?? { ...DEFAULT_TASK };
  const engine = o.engine ?? 'ts';
  const step = phasedTrainStep(benchConfig(task, { layers, heads: H, weightTying, seed: o.seed ?? 0, engine }));
  try {
    return { layers, heads: H, weightTying, engine, ...timeSteps(step, seconds, warmup) };
  } finally {
    step.close();
  }
}
