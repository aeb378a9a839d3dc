/**
 * checkpoint.safetensors: everything needed to continue a run bit-identically from an exact step
 * boundary (the logs so far live in metrics.safetensors / snapshots.safetensors, cut to `step`).
 *
 *   attention_layer.{q,k,v,o}_proj.weight  F64   the weights (seed state_dict keys, so loadModel
 *   final_linear.weight                    F64   and PyTorch read a checkpoint like a model file;
 *                                                a stack: attention_layers.{l}.*, tied ones once)
 *   theta                                  F64   [n_params] the same weights, flat (what resume reads)
 *   optimizer.<buffer>                     F64   [n_theta] torch names: exp_avg, exp_avg_sq (Adam/AdamW)
 *   rng_state                              F64   the batch stream's complete state (uint32 words):
 *                                                [6] for stream version 1, [16] for version 2
 *   metadata: icl_lab = "checkpoint", format = "1", step, optimizer_t, rng_state (JSON), config (JSON),
 *             stream_version ("2"; absent in checkpoints of earlier builds = version 1, data/stream.ts),
 *             and the model file's metadata (n_layers, weight_tying, d, heads, ...)
 */
import { FileFormatError, f64, readSafetensors, tensorF64, writeSafetensors, type Tensor } from '../io/safetensors.js';
import { configFromJson, configToJson, type TrainConfig } from './config.js';
import type { Resumable } from './loop.js';
import { parseModelTensors } from '../io/model-file.js';
import { modelFromTheta } from './model.js';
import { parseStreamVersion, restoreStream, type StreamVersion } from '../data/stream.js';

export const CHECKPOINT_FORMAT = '1';
const OPT_PREFIX = 'optimizer.';

export interface Checkpoint extends Resumable {
  config: TrainConfig;
}

/** Tensors + metadata of a checkpoint (copies: safe to keep while training continues). */
export function checkpointTensors(config: TrainConfig, r: Resumable): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const model = modelFromTheta(config, r.theta);
  const tensors: Record<string, Tensor> = Object.fromEntries(model.stateDict().map((e) => [e.key, tensorF64(e.shape, e.data)]));
  tensors.theta = tensorF64([r.theta.length], Float64Array.from(r.theta));
  for (const [name, buf] of Object.entries(r.optimizer.buffers)) tensors[OPT_PREFIX + name] = tensorF64([buf.length], Float64Array.from(buf));
  tensors.rng_state = tensorF64([r.rng.length], r.rng);
  const metadata = {
    ...model.metadata(), // n_layers, weight_tying, ...: the weights load as a model file too
    icl_lab: 'checkpoint',
    format: CHECKPOINT_FORMAT,
    step: String(r.step),
    optimizer_t: String(r.optimizer.t),
    rng_state: JSON.stringify(r.rng),
    stream_version: String(r.streamVersion),
    config: JSON.stringify(configToJson(config)),
  };
  return { tensors, metadata };
}

export function writeCheckpoint(path: string, config: TrainConfig, r: Resumable): void {
  const { tensors, metadata } = checkpointTensors(config, r);
  writeSafetensors(path, tensors, metadata);
}

/** A NaN or infinity in a checkpoint tensor is damage (a diverged run is never checkpointed as such): name it. */
function checkFinite(a: ArrayLike<number>, name: string, path: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new FileFormatError(`tensor ${name} holds ${a[i]} at index ${i}; the checkpoint is damaged (resume from an earlier copy, or train again)`, path);
  }
}

function intMeta(meta: Record<string, string>, key: string, path: string): number {
  const s = meta[key];
  const n = s === undefined ? NaN : Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new FileFormatError(`checkpoint metadata "${key}" must be an integer >= 0, got ${JSON.stringify(s)}`, path);
  return n;
}

export function readCheckpoint(path: string): Checkpoint {
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.icl_lab !== 'checkpoint') throw new FileFormatError('not an icl-lab checkpoint (metadata icl_lab != "checkpoint")', path);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new FileFormatError(`checkpoint format ${metadata.format} is not supported (expected ${CHECKPOINT_FORMAT})`, path);
  let config: TrainConfig;
  try {
    config = configFromJson(JSON.parse(metadata.config ?? 'null'), `${path}: config`);
  } catch (err) {
    throw new FileFormatError(`bad config in checkpoint metadata: ${err instanceof Error ? err.message : String(err)}`, path);
  }
  // flat theta (any architecture); checkpoints written before it existed: the single-layer state dict
  const theta = tensors.theta ? Float64Array.from(f64(tensors.theta)) : parseModelTensors(tensors, path).params.theta;
  try {
    modelFromTheta(config, theta); // checks the length against the config
  } catch (err) {
    throw new FileFormatError(err instanceof Error ? err.message : String(err), path);
  }
  checkFinite(theta, 'theta', path);
  if (tensors.theta) {
    // the weights are stored twice (model keys for loadModel/PyTorch, theta for resume): they must agree
    for (const e of modelFromTheta(config, theta).stateDict()) {
      const t = tensors[e.key];
      if (!t) continue;
      const w = f64(t);
      if (w.length !== e.data.length || w.some((x, i) => !Object.is(x, e.data[i]))) {
        throw new FileFormatError(`the weights ${e.key} and theta disagree (the checkpoint is damaged); resume from an earlier copy, or train again`, path);
      }
    }
  }
  const buffers: Record<string, Float64Array> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith(OPT_PREFIX)) buffers[name.slice(OPT_PREFIX.length)] = Float64Array.from(f64(t));
  }
  const need = config.optimizer === 'sgd' ? [] : ['exp_avg', 'exp_avg_sq'];
  for (const b of need) {
    const buf = buffers[b];
    if (!buf) throw new FileFormatError(`missing tensor ${OPT_PREFIX}${b} (the ${config.optimizer} state); the checkpoint is damaged`, path);
    if (buf.length !== theta.length) throw new FileFormatError(`tensor ${OPT_PREFIX}${b} has ${buf.length} values, theta ${theta.length}; the checkpoint is damaged`, path);
  }
  for (const [b, buf] of Object.entries(buffers)) checkFinite(buf, OPT_PREFIX + b, path);
  const rngT = tensors.rng_state;
  if (!rngT) throw new FileFormatError('missing tensor rng_state', path);
  let streamVersion: StreamVersion;
  const rng = Array.from(f64(rngT));
  try {
    streamVersion = parseStreamVersion(metadata.stream_version, 'checkpoint');
    restoreStream(streamVersion, rng); // the state fits its version
  } catch (err) {
    throw new FileFormatError(err instanceof Error ? err.message : String(err), path);
  }
  return {
    config,
    step: intMeta(metadata, 'step', path),
    theta,
    optimizer: { t: intMeta(metadata, 'optimizer_t', path), buffers },
    streamVersion,
    rng,
  };
}

