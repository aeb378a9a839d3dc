/**
 * The training loop of the seed's `run_experiment`, step by step in the seed's order, so the RNG
 * stream is defined:
 *
 *   for step s = 0, 1, ...:
 *     sample batch                                    (rng)
 *     loss, grad at the current weights; update       (train_loss[s] = loss before the update)
 *     if s % dynamics_every == 0: w^h, mu^h           (after the update)
 *     if s % val_every == 0:      fresh batch (same rng), validation loss (after the update);
 *                                 if also s % print_every == 0: print the seed's line
 *     if s % qk_every == 0:       snapshot QK^h and OV^h (single task: OV^h[:, -1], E values; multi-task:
 *                                 the whole E x N, and w^h_k, mu^h_k per task with the dynamics)
 *
 * One RNG (seeded with `seed`) draws the initial weights; every batch then comes from the run's
 * batch stream (data/stream.ts: version 1 continues that RNG, version 2 is seeded from it).
 *
 * When a run completes, `logFinalStep` also logs its last step (dynamics, validation, snapshot) if it
 * is not on the grid above, with a validation batch from its own RNG (the training stream is not
 * touched), and `heldOutValidation` measures the final model on FINAL_VALIDATION_SAMPLES held-out
 * prompts. A resume that trains further drops those off-grid entries first, so a run trained in
 * several sessions keeps the files of a run trained in one.
 * No node:* imports, no I/O: state in, state out. Everything per step is preallocated (the logs
 * grow only when a resume extends the run), so the work beyond the training step is O(1).
 */
import { Rng } from '../data/rng.js';
import { allocBatch, type Batch } from '../data/batch.js';
import { sampleBatch, type TaskSpec } from '../data/task.js';
import { createStream, restoreStream, type BatchStream, type StreamVersion } from '../data/stream.js';
import type { TrainModel } from '../engine/model.js';
import { createOptimizer, type Optimizer, type OptimizerState } from '../optim/optim.js';
import { countLogged, type TrainConfig } from './config.js';
import { createModel, modelFromTheta, type EngineKernels } from './model.js';
import { createTrainStep, type TrainStep } from './step.js';
import { taskFamily } from './task-families.js';

/** Everything logged so far. Arrays have room for `capacity` steps; the first n* entries are valid. */
export interface TrainLogs {
  /** Steps the arrays have room for. */
  capacity: number;
  trainLoss: Float64Array; // [capacity]
  nVal: number;
  valLoss: Float64Array; // [nValCap]
  valStep: Float64Array; // [nValCap]
  nDyn: number;
  qkDynamics: Float64Array; // [nDynCap, layers, H]
  ovDynamics: Float64Array; // [nDynCap, layers, H]
  dynStep: Float64Array; // [nDynCap]
  nSnap: number;
  qk: Float64Array; // [nSnapCap, layers, H, E, E]
  ov: Float64Array; // [nSnapCap, layers, H, E, outputs]
  snapStep: Float64Array; // [nSnapCap]
  /**
   * OV^h columns per snapshot and tasks of the per-task dynamics: 1 = OV^h[:, -1] and no per-task
   * dynamics (single-task runs; multi-task runs of builds before issue 22, resumed in their own
   * format); N = a multi-task run's whole OV^h [E, N] and w^h_k, mu^h_k of every task.
   */
  outputs: number;
  /** outputs > 1: w^h_k (mean QK^h diagonal on task k's block), [nDynCap, layers, H, outputs]; else empty. */
  qkTask: Float64Array;
  /** outputs > 1: mu^h_k = OV^h[d + k, k] (y_k -> output k), [nDynCap, layers, H, outputs]; else empty. */
  ovTask: Float64Array;
}

export interface TrainState {
  readonly config: TrainConfig;
  /** Steps done (= index of the next step). */
  step: number;
  readonly model: TrainModel;
  readonly optimizer: Optimizer;
  /** The one training step (sample, loss + gradient, update) on model, optimizer, task and the state's stream. */
  readonly trainStep: TrainStep;
  /** Where the batches come from (its version is recorded in run.json and the checkpoint); `--threads 2` swaps in a prefetching stream for a session. */
  stream: BatchStream;
  readonly task: TaskSpec;
  readonly valTask: TaskSpec;
  readonly valBatch: Batch;
  readonly valOut: Float64Array; // [valSamples]
  logs: TrainLogs;
  /** Loss of the last step done (NaN before the first). */
  lastLoss: number;
  /** Last validation loss (NaN before the first) and its step. */
  lastVal: number;
  lastValStep: number;
  /** Loss shown by progress displays, refreshed every loss_every steps (the seed's tqdm description). */
  shownLoss: number;
  /** Set when the run completes: the final model on a large held-out set (`heldOutValidation`). */
  finalValidation?: FinalValidation;
}

/** The final model's mean squared error on a large held-out set of prompts, with its standard error. */
export interface FinalValidation {
  /** Steps done when it was measured. */
  step: number;
  samples: number;
  mse: number;
  /** sd(squared errors, ddof 1) / sqrt(samples). */
  stderr: number;
  /** Seed of the held-out prompts (derived from the run's seed; the same for every run with that seed and task). */
  prompt_seed: number;
}

/** Held-out prompts of the final validation. */
export const FINAL_VALIDATION_SAMPLES = 20_000;

export function taskSpecs(c: TrainConfig): { task: TaskSpec; valTask: TaskSpec } {
  const task: TaskSpec = { d: c.d, L: c.contextLength, batchSize: c.batchSize, noiseStd: c.noiseStd, preset: c.preset, rho: c.rho, ...taskFamily(c).prior?.(c) };
  return { task, valTask: { ...task, batchSize: c.valSamples } };
}

/** OV^h columns a new run of c logs (and tasks of its per-task dynamics): its outputs (1 but for a multi-task run). */
export const loggedOutputs = (c: TrainConfig): number => taskFamily(c).outputs(c);

/** `outputs`: see TrainLogs.outputs (default: a new run's, loggedOutputs). */
export function allocLogs(c: TrainConfig, capacity: number, outputs = loggedOutputs(c)): TrainLogs {
  const LH = c.layers * c.heads;
  const E = taskFamily(c).tokenWidth(c);
  const task = outputs > 1 ? outputs : 0;
  // + 1: room for the last step when it is not on the grid (logFinalStep)
  const nVal = countLogged(capacity, c.valEvery) + 1;
  const nDyn = countLogged(capacity, c.dynamicsEvery) + 1;
  const nSnap = countLogged(capacity, c.qkEvery) + 1;
  return {
    capacity,
    trainLoss: new Float64Array(capacity),
    nVal: 0,
    valLoss: new Float64Array(nVal),
    valStep: new Float64Array(nVal),
    nDyn: 0,
    qkDynamics: new Float64Array(nDyn * LH),
    ovDynamics: new Float64Array(nDyn * LH),
    dynStep: new Float64Array(nDyn),
    nSnap: 0,
    qk: new Float64Array(nSnap * LH * E * E),
    ov: new Float64Array(nSnap * LH * E * outputs),
    snapStep: new Float64Array(nSnap),
    outputs,
    qkTask: new Float64Array(nDyn * LH * task),
    ovTask: new Float64Array(nDyn * LH * task),
  };
}

/**
 * Logs with room for `capacity` steps holding the first entries of `src` up to step `upTo`
 * (exclusive) that are on the logging grid (step % every == 0): a completed run's extra last-step
 * entries (logFinalStep) are dropped, to be logged again when the run completes.
 */
export function copyLogs(c: TrainConfig, src: TrainLogs, capacity: number, upTo: number): TrainLogs {
  const out = allocLogs(c, Math.max(capacity, upTo), src.outputs);
  const LH = c.layers * c.heads;
  const E = taskFamily(c).tokenWidth(c);
  const K = src.outputs;
  const T = K > 1 ? K : 0;
  out.trainLoss.set(src.trainLoss.subarray(0, upTo));
  const keep = (steps: Float64Array, n: number, every: number): number => {
    let k = 0;
    while (k < n && steps[k]! < upTo && steps[k]! % every === 0) k++;
    return k;
  };
  out.nVal = keep(src.valStep, src.nVal, c.valEvery);
  out.valLoss.set(src.valLoss.subarray(0, out.nVal));
  out.valStep.set(src.valStep.subarray(0, out.nVal));
  out.nDyn = keep(src.dynStep, src.nDyn, c.dynamicsEvery);
  out.qkDynamics.set(src.qkDynamics.subarray(0, out.nDyn * LH));
  out.ovDynamics.set(src.ovDynamics.subarray(0, out.nDyn * LH));
  out.qkTask.set(src.qkTask.subarray(0, out.nDyn * LH * T));
  out.ovTask.set(src.ovTask.subarray(0, out.nDyn * LH * T));
  out.dynStep.set(src.dynStep.subarray(0, out.nDyn));
  out.nSnap = keep(src.snapStep, src.nSnap, c.qkEvery);
  out.qk.set(src.qk.subarray(0, out.nSnap * LH * E * E));
  out.ov.set(src.ov.subarray(0, out.nSnap * LH * E * K));
  out.snapStep.set(src.snapStep.subarray(0, out.nSnap));
  return out;
}

function optimizerFor(c: TrainConfig, n: number): Optimizer {
  return createOptimizer({ kind: c.optimizer, lr: c.lr, betas: [c.betas[0], c.betas[1]], eps: c.eps, weightDecay: c.weightDecay }, n);
}

function assemble(c: TrainConfig, model: TrainModel, optimizer: Optimizer, stream: BatchStream, step: number, logs: TrainLogs): TrainState {
  const { task, valTask } = taskSpecs(c);
  const s = {
    config: c,
    step,
    model,
    optimizer,
    stream,
    task,
    valTask,
    valBatch: model.allocValBatch ? model.allocValBatch(c.valSamples, c.contextLength, c.d) : allocBatch(c.valSamples, c.contextLength, c.d),
    valOut: new Float64Array(c.valSamples * (model.outputs ?? 1)),
    logs,
    lastLoss: step > 0 ? logs.trainLoss[step - 1]! : NaN,
    lastVal: logs.nVal > 0 ? logs.valLoss[logs.nVal - 1]! : NaN,
    lastValStep: logs.nVal > 0 ? logs.valStep[logs.nVal - 1]! : -1,
    shownLoss: step > 0 ? logs.trainLoss[Math.floor((step - 1) / c.lossEvery) * c.lossEvery]! : NaN,
  };
  return Object.assign(s, { trainStep: createTrainStep(model, optimizer, task, s) }); // the step reads s.stream, which --threads 2 swaps
}

/**
 * A fresh run at step 0: weights from `init` with an RNG seeded by `seed`, then the batch stream
 * (`streamVersion`: new runs get the current one; 1 only to reproduce runs of earlier builds).
 * `kernels`: what the platform provides to build the engine (Node: io/wasm.ts nodeKernels()).
 */
export function createState(c: TrainConfig, kernels: EngineKernels = {}, streamVersion: StreamVersion = defaultStreamVersion(c)): TrainState {
  const rng = new Rng(c.seed);
  const model = createModel(c, rng, kernels);
  return assemble(c, model, optimizerFor(c, model.theta.length), createStream(streamVersion, rng), 0, allocLogs(c, c.steps));
}

/** The stream a new run of `c` draws: its task family's (task-families.ts). */
export function defaultStreamVersion(c: TrainConfig): StreamVersion {
  return taskFamily(c).streamVersion(c);
}

/** What a checkpoint holds (see checkpoint.ts). */
export interface Resumable {
  step: number;
  theta: Float64Array;
  optimizer: OptimizerState;
  /** The batch stream's version and state (checkpoint metadata stream_version, tensor rng_state). */
  streamVersion: StreamVersion;
  rng: number[];
}

/** Continue from a checkpoint and the logs recorded so far (cut to the checkpoint's step). */
export function restoreState(c: TrainConfig, ck: Resumable, logs: TrainLogs, kernels: EngineKernels = {}): TrainState {
  const model = modelFromTheta(c, ck.theta, kernels);
  const optimizer = optimizerFor(c, model.theta.length);
  optimizer.setState(ck.optimizer);
  return assemble(c, model, optimizer, restoreStream(ck.streamVersion, ck.rng), ck.step, copyLogs(c, logs, c.steps, ck.step));
}

/** Make room for `steps` steps in total (a resume with a larger --steps). */
export function ensureCapacity(s: TrainState, steps: number): void {
  if (steps > s.logs.capacity) s.logs = copyLogs(s.config, s.logs, steps, s.step);
}

/** The resumable part of a state (views, not copies: serialise before the next step). */
export function resumable(s: TrainState): Resumable {
  return { step: s.step, theta: s.model.theta, optimizer: s.optimizer.getState(), streamVersion: s.stream.version, rng: s.stream.getState() };
}

/** Mean squared error of `out` against the batch's y_q. */
function mse(out: Float64Array, yq: Float64Array): number {
  let s = 0;
  for (let b = 0; b < yq.length; b++) {
    const e = out[b]! - yq[b]!;
    s += e * e;
  }
  return s / yq.length;
}

/** The seed's printed line (`After {step} steps, Training Loss: {loss:.4f}, Validation Loss: {val:.4f}`). */
export function seedLine(step: number, loss: number, val: number): string {
  const f = (x: number) => (Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : x.toFixed(4));
  return `After ${step} steps, Training Loss: ${f(loss)}, Validation Loss: ${f(val)}`;
}

export interface Divergence {
  step: number;
  loss: number;
  reason: string;
}

export interface StepHooks {
  /** The seed's printed line, at steps where s % val_every == 0 and s % print_every == 0. */
  onPrint?(line: string): void;
  /** Clock in ms (default performance.now); read once per step only when `deadline` is set. */
  now?(): number;
}

/**
 * Run steps until `s.step === until`, or the clock passes `deadline` (ms, checked after each step),
 * or the loss diverges (not finite, or above diverge_loss). A diverged loss stops BEFORE the update: the weights, optimizer and
 * logs stay at the last good step; train_loss[step] holds the bad value, `s.step` does not advance.
 */
export function runSteps(s: TrainState, until: number, deadline = Infinity, hooks: StepHooks = {}): Divergence | null {
  const c = s.config;
  const { model, trainStep, valBatch, valOut, valTask } = s;
  const logs = s.logs;
  if (until > logs.capacity) throw new RangeError(`logs have room for ${logs.capacity} steps, asked to run to ${until}`);
  const LH = c.layers * c.heads;
  const E = model.E;
  const now = hooks.now ?? (() => performance.now());
  const timed = deadline !== Infinity;
  const limit = c.divergeLoss > 0 ? c.divergeLoss : Infinity;
  while (s.step < until) {
    const step = s.step;
    trainStep.sample(); // [B, L, E] (wasm engine: the same batch, sampled in wasm; --threads 2 may hand back another buffer holding it)
    const loss = trainStep.lossAndGrad(); // loss before the update
    logs.trainLoss[step] = loss;
    if (!Number.isFinite(loss) || loss > limit) {
      const why = Number.isFinite(loss) ? `${loss.toExponential(3)}, above --diverge-loss ${c.divergeLoss}` : String(loss);
      return { step, loss, reason: `training loss is ${why} at step ${step} (diverged; try a smaller --lr)` };
    }
    trainStep.update();
    s.step = step + 1;
    s.lastLoss = loss;
    if (step % c.lossEvery === 0) s.shownLoss = loss;
    if (step % c.dynamicsEvery === 0) {
      const i = logs.nDyn++;
      logDynamics(model, logs, i, LH);
      logs.dynStep[i] = step;
    }
    if (step % c.valEvery === 0) {
      const vb = s.stream.sample(valTask, valBatch, model.valSampler); // [Bval, L, E] (a multi-task model draws its own task's batch)
      model.forward(vb, valOut); // [Bval]
      const val = mse(valOut, vb.yq);
      const i = logs.nVal++;
      logs.valLoss[i] = val;
      logs.valStep[i] = step;
      s.lastVal = val;
      s.lastValStep = step;
      if (step % c.printEvery === 0) hooks.onPrint?.(seedLine(step, loss, val));
    }
    if (step % c.qkEvery === 0) {
      const i = logs.nSnap++;
      logSnapshot(model, logs, i, LH, E);
      logs.snapStep[i] = step;
    }
    if (timed && now() >= deadline) break;
  }
  return null;
}

/** Dynamics entry i: w^h, mu^h [layers, H]; with outputs > 1 also w^h_k, mu^h_k [layers, H, outputs]. */
function logDynamics(model: TrainModel, logs: TrainLogs, i: number, LH: number): void {
  model.dynamics(logs.qkDynamics.subarray(i * LH, (i + 1) * LH), logs.ovDynamics.subarray(i * LH, (i + 1) * LH));
  const K = logs.outputs;
  if (K > 1) model.taskDynamics!(logs.qkTask.subarray(i * LH * K, (i + 1) * LH * K), logs.ovTask.subarray(i * LH * K, (i + 1) * LH * K));
}

/** Snapshot i: QK^h [layers, H, E, E] and OV^h [layers, H, E, outputs] (outputs 1: OV^h[:, -1]). */
function logSnapshot(model: TrainModel, logs: TrainLogs, i: number, LH: number, E: number): void {
  const O = LH * E * logs.outputs;
  model.snapshot(logs.qk.subarray(i * LH * E * E, (i + 1) * LH * E * E), logs.ov.subarray(i * O, (i + 1) * O));
}

/** An RNG for `tag` under the run's seed, unrelated to the training stream `new Rng(seed)`. */
function derivedRng(seed: number, tag: number): Rng {
  return new Rng(derivedSeed(seed, tag));
}

/** A safe-integer seed mixed from (seed, tag). */
export function derivedSeed(seed: number, tag: number): number {
  const x = BigInt.asUintN(64, BigInt(Math.trunc(seed))) * 0x9e3779b97f4a7c15n + BigInt(tag) * 0xd1b54a32d192ed03n + 0x632be59bd9b4e019n;
  return Number(BigInt.asUintN(53, x ^ (x >> 31n)));
}

/** Tags of the derived streams. */
const FINAL_VAL_TAG = 1;
const HELD_OUT_TAG = 2;

/**
 * Log the last step done (s.step - 1) where the grid did not: dynamics, a validation batch of
 * val_samples prompts (from an RNG derived from the seed and the step, so the training stream is not
 * touched) and a snapshot. Called when a run completes; idempotent.
 */
export function logFinalStep(s: TrainState): void {
  const c = s.config;
  const f = s.step - 1;
  if (f < 0) return;
  const logs = s.logs;
  const { model } = s;
  const LH = c.layers * c.heads;
  const E = model.E;
  const last = (steps: Float64Array, n: number) => (n > 0 ? steps[n - 1]! : -1);
  if (last(logs.dynStep, logs.nDyn) < f) {
    const i = logs.nDyn++;
    logDynamics(model, logs, i, LH);
    logs.dynStep[i] = f;
  }
  if (last(logs.valStep, logs.nVal) < f) {
    const rng = derivedRng(c.seed, FINAL_VAL_TAG * 2 ** 32 + f);
    if (model.valSampler) model.valSampler.sampleBatch(s.valTask, rng, s.valBatch);
    else sampleBatch(s.valTask, rng, s.valBatch); // [Bval, L, E]
    model.forward(s.valBatch, s.valOut); // [Bval]
    const val = mse(s.valOut, s.valBatch.yq);
    const i = logs.nVal++;
    logs.valLoss[i] = val;
    logs.valStep[i] = f;
    s.lastVal = val;
    s.lastValStep = f;
  }
  if (last(logs.snapStep, logs.nSnap) < f) {
    const i = logs.nSnap++;
    logSnapshot(model, logs, i, LH, E);
    logs.snapStep[i] = f;
  }
}

/**
 * The model's mean squared error on `samples` held-out prompts of the training task (drawn in chunks
 * of `chunk` from an RNG derived from the run's seed only: every run with that seed and task sees
 * the same prompts), with its standard error.
 */
export function heldOutValidation(s: TrainState, samples = FINAL_VALIDATION_SAMPLES, chunk = 1000): FinalValidation {
  const c = s.config;
  const promptSeed = derivedSeed(c.seed, HELD_OUT_TAG);
  const rng = new Rng(promptSeed);
  let sum = 0;
  let n = 0; // squared errors: samples x outputs
  let sum2 = 0;
  let batch: Batch | undefined;
  let out = new Float64Array(0);
  for (let done = 0; done < samples; done += chunk) {
    const B = Math.min(chunk, samples - done);
    const m = s.model;
    if (!batch || batch.B !== B) {
      batch = m.allocValBatch ? m.allocValBatch(B, c.contextLength, c.d) : allocBatch(B, c.contextLength, c.d); // [B, L, E]
      out = new Float64Array(B * (m.outputs ?? 1));
    }
    if (m.valSampler) m.valSampler.sampleBatch({ ...s.task, batchSize: B }, rng, batch);
    else sampleBatch({ ...s.task, batchSize: B }, rng, batch);
    m.forward(batch, out); // [B * outputs]
    for (let b = 0; b < batch.yq.length; b++) {
      const e = (out[b]! - batch.yq[b]!) ** 2;
      n++;
      sum += e;
      sum2 += e * e;
    }
  }
  const mean = sum / n;
  const variance = n > 1 ? Math.max(0, (sum2 - n * mean * mean) / (n - 1)) : 0;
  return { step: s.step, samples, mse: mean, stderr: Math.sqrt(variance / n), prompt_seed: promptSeed };
}
