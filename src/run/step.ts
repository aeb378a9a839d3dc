/**
 * THE training step (the seed's `train_step` inside `run_experiment`): draw a fresh batch, loss +
 * gradient, optimizer update, preallocated. `icl-lab train` runs it (run/loop.ts) and `icl-lab
 * bench` times its three phases (bench/*.ts), so the benchmark measures exactly what training runs.
 */
import { allocBatch, type Batch } from '../data/batch.js';
import type { Rng } from '../data/rng.js';
import { sampleBatch, type TaskSpec } from '../data/task.js';
import type { TrainModel } from '../engine/model.js';
import type { Optimizer } from '../optim/optim.js';

export interface TrainStep {
  /** The training batch [B, L, E] (the wasm engine's lives in wasm memory). */
  readonly batch: Batch;
  /** d loss / d theta of the last `lossAndGrad()`, [nTheta]. */
  readonly grad: Float64Array;
  /** A fresh batch from the task (the wasm engine samples the same batch, faster). */
  sample(): void;
  /** MSE loss of the batch before the update; fills `grad`. */
  lossAndGrad(): number;
  /** One optimizer update of the model's theta with `grad`. */
  update(): void;
}

export function createTrainStep(model: TrainModel, optimizer: Optimizer, task: TaskSpec, rng: Rng): TrainStep {
  if (model.E !== task.d + 1) throw new RangeError(`task d=${task.d} does not match the model's d=${model.E - 1}`);
  const batch = model.allocBatch ? model.allocBatch(task.batchSize, task.L, task.d) : allocBatch(task.batchSize, task.L, task.d);
  const grad = new Float64Array(model.theta.length); // [nTheta]
  const theta = model.theta;
  const sample = model.sampleBatch;
  return {
    batch,
    grad,
    sample: sample ? () => void sample(task, rng, batch) : () => void sampleBatch(task, rng, batch),
    lossAndGrad: () => model.lossAndGrad(batch, grad),
    update: () => optimizer.step(theta, grad),
  };
}
