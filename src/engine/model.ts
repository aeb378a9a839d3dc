/**
 * The model as the training loop sees it: flat float64 theta, loss + gradient, forward, and the
 * per-head read-outs the run directory logs. One implementation per architecture; the loop,
 * checkpoints and run directories only talk to this interface.
 *
 * Implemented: the seed's single-layer model (`layers = 1`, engine/ts/attention.ts) and the multi-layer
 * strictly-causal stack (`layers > 1`, optionally with tied weights; model/stack.ts).
 * For the stack, `dynamics` logs mu^h = OV^h[-1,-1] (the y -> y entry) for EVERY layer
 * (stackDynamics 'y-to-y'); analyze reports the last layer's value through final_linear separately.
 * No node:* imports.
 */
import type { Batch } from '../data/batch.js';
import { singleLayerKernel } from './single-layer-kernel.js';
import { attentionOf } from '../model/attention-name.js';
import type { WasmKernel } from './wasm/attention.js';
import { ovDynamics, qkDynamics, snapshotCircuits, stackDynamics, stackSnapshot } from '../model/circuits.js';
import { FINAL_LINEAR_KEY, STATE_DICT_KEYS, WEIGHT_NAMES, weightShape, type AttentionParams } from '../model/params.js';
import type { NormalStream2 } from '../data/normal2.js';
import type { Rng } from '../data/rng.js';
import type { TaskSpec } from '../data/task.js';
import { stackMetadata, stackStateDict, type StackParams } from '../model/stack.js';
import { stackForward, stackLossAndGrad } from './ts/stack.js';

/** One weight of the seed's state_dict: key, PyTorch shape, values (a copy). */
export interface StateEntry {
  key: string;
  shape: number[];
  data: Float64Array;
}

/** The kernel a single-layer model trains on: TypeScript (engine/ts) or its WebAssembly build (engine/wasm). */
export type EngineName = 'ts' | 'wasm';
/** A single-layer model's forward (outputs [B]): the TypeScript kernel's `forward`, or the wasm kernel's (the same doubles). */
export type ModelForward = (p: AttentionParams, batch: Batch, out: Float64Array) => void;
export const ENGINE_NAMES: readonly EngineName[] = ['ts', 'wasm'];

export interface TrainModel {
  readonly layers: number;
  readonly heads: number;
  /** Token width E = d + 1. */
  readonly E: number;
  /** All weights, flat; the optimizer updates it in place. */
  readonly theta: Float64Array;
  /** MSE loss of the batch; `grad` (theta-length) is overwritten with d loss / d theta. */
  lossAndGrad(batch: Batch, grad: Float64Array): number;
  /** Outputs [B] for the batch. */
  forward(batch: Batch, out: Float64Array): void;
  /** w^h into w[l*H + h] and mu^h into mu[l*H + h] (the seed's QK_dyn_stack / OV_dyn_stack). */
  dynamics(w: Float64Array, mu: Float64Array): void;
  /**
   * Scaled QK^h into qk [layers, H, E, E] and OV^h into ov: [layers, H, E] = OV^h[:, -1] for a
   * single-output model; a multi-task model writes as many columns as `ov` has room for, the last
   * ones ([H, E, N] the whole OV^h, [H, E] its last column as runs of earlier builds hold).
   */
  snapshot(qk: Float64Array, ov: Float64Array): void;
  /** Multi-task models: w^h_k (mean QK^h diagonal on task k's block) and mu^h_k = OV^h[d + k, k] into w, mu [layers, H, N]. */
  taskDynamics?(w: Float64Array, mu: Float64Array): void;
  /** The state dict under the seed's keys (copies), for model files and checkpoints. */
  stateDict(): StateEntry[];
  /** Safetensors metadata that goes with the state dict (e.g. n_layers). */
  metadata(): Record<string, string>;
  /** A training batch the model reads without a copy (the wasm engine: in wasm memory); absent = data/batch.ts allocBatch. */
  allocBatch?(B: number, L: number, d: number): Batch;
  /** data/task.ts sampleBatch, faster (the wasm engine: ziggurat in wasm, the same batch and RNG state bit for bit); absent = sampleBatch. */
  sampleBatch?(spec: TaskSpec, rng: Rng, out: Batch): Batch;
  /** data/normal2.ts sampleBatch2 (stream version 2), faster (the wasm engine: asm/sampler2.ts, bit for bit); absent = sampleBatch2. */
  sampleBatch2?(spec: TaskSpec, stream: NormalStream2, out: Batch): Batch;
  /** Outputs per prompt (multi-task: N; absent = 1). */
  readonly outputs?: number;
  /** Validation batches of another task (multi-task); absent = data/batch.ts allocBatch. */
  allocValBatch?(B: number, L: number, d: number): Batch;
  /** The wasm kernel (the wasm engine): `train --threads 2` samples straight into its memory when it is shared. */
  wasmKernel?(): WasmKernel;
  /** The sampler of the validation batches (multi-task: its own task, on the run's stream version 1); absent = the stream's. */
  readonly valSampler?: { sampleBatch(spec: TaskSpec, rng: Rng, out: Batch): Batch };
}

/** What the wasm engine adds to a model: batches in its memory, its samplers (the same batches, faster), the kernel. */
function wasmBatches(k: () => WasmKernel): Pick<TrainModel, 'allocBatch' | 'sampleBatch' | 'sampleBatch2' | 'wasmKernel'> {
  return {
    allocBatch: (B, L, d) => k().allocBatch(B, L, d),
    sampleBatch: (spec, rng, out) => k().sampleBatch(spec, rng, out),
    sampleBatch2: (spec, stream, out) => k().sampleBatch2(spec, stream, out),
    wasmKernel: k,
  };
}

/**
 * The seed's single-layer `MultiHeadAttention` (n_out = 1) on the TypeScript kernel, or on the
 * WebAssembly kernel when `wasm` is given (a factory: the kernel, its own instance and memory, is
 * made on first use, since checkpoint code builds models only for their state dict). `p.attention`
 * picks softmax (the seed's, absent) or linear attention (engine/ts/linear-attention.ts): the same
 * weights, state dict and circuits; a linear model's metadata says `attention`.
 */
export function singleLayerModel(p: AttentionParams, wasm?: () => WasmKernel): TrainModel {
  const { E, H } = p;
  const attention = attentionOf(p);
  let kernel: WasmKernel | null = null;
  const k = (): WasmKernel => (kernel ??= wasm!());
  let chosen: ReturnType<typeof singleLayerKernel> | null = null;
  const run = () => (chosen ??= singleLayerKernel(attention, wasm ? k() : undefined));
  return {
    layers: 1,
    heads: H,
    E,
    theta: p.theta,
    lossAndGrad: (batch, grad) => run().lossAndGrad(p, batch, grad),
    forward: (batch, out) => run().forward(p, batch, out),
    ...(wasm ? wasmBatches(k) : {}),
    dynamics(w, mu) {
      w.set(qkDynamics(p)); // [H]
      mu.set(ovDynamics(p)); // [H]
    },
    snapshot: (qk, ov) => snapshotCircuits([p], qk, ov), // [1, H, E, E], [1, H, E]
    stateDict: () => [
      ...WEIGHT_NAMES.map((w) => ({ key: STATE_DICT_KEYS[w], shape: weightShape(w, p.d, H, p.nOut), data: Float64Array.from(p[w]) })),
      { key: FINAL_LINEAR_KEY, shape: [p.nOut, E], data: new Float64Array(p.nOut * E) },
    ],
    metadata: () => ({ d: String(p.d), heads: String(H), n_layers: '1', ...(attention === 'softmax' ? {} : { attention }) }),
  };
}

/**
 * The multi-layer strictly-causal stack (model/stack.ts). The state dict is the unique form: tied
 * weights appear once, under `attention_layers.0.*`, and `metadata()` says `weight_tying` and
 * `n_layers` (io/model-file.ts reads both forms).
 */
export function stackModel(p: StackParams, wasm?: () => WasmKernel): TrainModel {
  let kernel: WasmKernel | null = null;
  const k = (): WasmKernel => (kernel ??= wasm!());
  return {
    layers: p.nLayers,
    heads: p.H,
    E: p.E,
    theta: p.theta,
    lossAndGrad: wasm ? (batch, grad) => k().stackLossAndGrad(p, batch, grad) : (batch, grad) => stackLossAndGrad(p, batch, grad),
    forward: wasm ? (batch, out) => k().stackForward(p, batch, out) : (batch, out) => stackForward(p, batch, out),
    ...(wasm ? wasmBatches(k) : {}),
    dynamics: (w, mu) => stackDynamics(p, w, mu, 'y-to-y'), // [layers*H] each
    snapshot: (qk, ov) => stackSnapshot(p, qk, ov), // [layers, H, E, E], [layers, H, E]
    stateDict: () => stackStateDict(p, true).map((e) => ({ key: e.key, shape: [...e.shape], data: Float64Array.from(e.data) })),
    metadata: () => ({ d: String(p.d), heads: String(p.H), ...stackMetadata(p) }),
  };
}
