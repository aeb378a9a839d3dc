/**
 * THE training step (the seed's `train_step` inside `run_experiment`): the next batch of the run's
 * stream (data/stream.ts), loss + gradient, optimizer update, preallocated. `icl-lab train` runs it (run/loop.ts) and `icl-lab
 * bench` times its three phases (bench/*.ts), so the benchmark measures exactly what training runs.
 */
import { allocBatch, type Batch } from '../data/batch.js';
import type { BatchStream } from '../data/stream.js';
import type { TaskSpec } from '../data/task.js';
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

/**
 * `source.stream` is read at every sample: a run's state is the source, so `--threads 2` can swap
 * in a prefetching stream between chunks (run/prefetch.ts) and the step follows.
 */
export function createTrainStep(model: TrainModel, optimizer: Optimizer, task: TaskSpec, source: { readonly stream: BatchStream }): TrainStep {
  const outputs = model.outputs ?? 1; // tokens [x, y_1..y_N]
  if (model.E !== task.d + outputs) throw new RangeError(`task d=${task.d} does not match the model's d=${model.E - outputs}`);
  const batch = model.allocBatch ? model.allocBatch(task.batchSize, task.L, task.d) : allocBatch(task.batchSize, task.L, task.d);
  const grad = new Float64Array(model.theta.length); // [nTheta]
  const theta = model.theta;
  let current = batch; // the stream may hand back another buffer holding the batch (--threads 2, zero-copy)
  return {
    batch,
    grad,
    sample: () => void (current = source.stream.sample(task, batch, model)), // the model's faster sampler when it has one (wasm), the same batch
    lossAndGrad: () => model.lossAndGrad(current, grad),
    update: () => optimizer.step(theta, grad),
  };
}
