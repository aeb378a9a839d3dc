/**
 * One training step of the seed's loop (`run_experiment` -> `train_step`), preallocated:
 * draw a fresh batch, loss + gradient, optimizer update. The three phases are separate methods so
 * the benchmark can time them; `step()` runs all three.
 */
import { lossAndGrad } from '../engine/ts/attention.js';
import { allocBatch, type Batch } from '../data/batch.js';
import type { Optimizer } from '../optim/optim.js';
import type { AttentionParams } from '../model/params.js';
import type { Rng } from '../data/rng.js';
import { sampleBatch, validateTaskSpec, type TaskSpec } from '../data/task.js';

export interface TrainStep {
  readonly batch: Batch;
  /** d loss / d theta of the last `lossAndGrad()`. */
  readonly grad: Float64Array;
  /** Model outputs [B] of the last `lossAndGrad()`. */
  readonly out: Float64Array;
  sample(): void;
  lossAndGrad(): number;
  update(): void;
  /** sample + lossAndGrad + update; returns the loss before the update. */
  step(): number;
}

export function createTrainStep(spec: TaskSpec, p: AttentionParams, opt: Optimizer, rng: Rng): TrainStep {
  validateTaskSpec(spec);
  if (spec.d !== p.d) throw new RangeError(`task d=${spec.d} does not match the model's d=${p.d}`);
  const batch = allocBatch(spec.batchSize, spec.L, spec.d);
  const grad = new Float64Array(p.theta.length);
  const out = new Float64Array(spec.batchSize);
  return {
    batch,
    grad,
    out,
    sample: () => void sampleBatch(spec, rng, batch),
    lossAndGrad: () => lossAndGrad(p, batch, grad, out),
    update: () => opt.step(p.theta, grad),
    step() {
      sampleBatch(spec, rng, batch);
      const loss = lossAndGrad(p, batch, grad, out);
      opt.step(p.theta, grad);
      return loss;
    },
  };
}
