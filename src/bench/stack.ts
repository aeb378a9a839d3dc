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
import { DEFAULT_TASK, type TaskSpec } from '../core/task.js';
import { NormalStream2, sampleBatch2 } from '../core/normal2.js';
import { loadWasmKernel } from '../io/wasm.js';
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
  /** the TypeScript stack kernel (core/stack.ts) or its WebAssembly build (asm/stack.ts); default ts */
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
  const rng = new Rng(o.seed ?? 0);
  const p = initStackParams(task.d, H, layers, weightTying, 'random', rng);
  const opt = createOptimizer(defaultOptimizerConfig('adam', 1e-3), p.theta.length);
  const engine = o.engine ?? 'ts';
  const kernel = engine === 'wasm' ? loadWasmKernel() : null;
  const batch = kernel ? kernel.allocBatch(task.batchSize, task.L, task.d) : allocBatch(task.batchSize, task.L, task.d); // [B, L, E]
  const grad = new Float64Array(p.theta.length); // [nTheta]
  const s2 = NormalStream2.fromRng(rng);
  const t = timeSteps({
    sample: kernel ? () => void kernel.sampleBatch2(task, s2, batch) : () => void sampleBatch2(task, s2, batch),
    lossAndGrad: kernel ? () => kernel.stackLossAndGrad(p, batch, grad) : () => stackLossAndGrad(p, batch, grad),
    update: () => opt.step(p.theta, grad),
  }, seconds, warmup);
  return { layers, heads: H, weightTying, engine, ...t };
}
