/**
 * The model as the training loop sees it: flat float64 theta, loss + gradient, forward, and the
 * per-head read-outs the run directory logs. One implementation per architecture; the loop,
 * checkpoints and run directories only talk to this interface.
 *
 * Implemented: the seed's single-layer model (`layers = 1`, core/attention.ts) and the multi-layer
 * strictly-causal stack (`layers > 1`, optionally with tied weights; core/stack.ts).
 * For the stack, `dynamics` logs mu^h = OV^h[-1,-1] (the y -> y entry) for EVERY layer
 * (stackDynamics 'y-to-y'); analyze reports the last layer's value through final_linear separately.
 * No node:* imports.
 */
import type { Batch } from '../core/batch.js';
import { UsageError } from '../cli/errors.js';
import { forward, lossAndGrad } from '../core/attention.js';
import { createWasmKernel, registeredAttentionWasm, registeredAttentionWasmShared, type WasmKernel } from '../core/attention-wasm.js';
import { headOV, headQK, ovDynamics, qkDynamics } from '../core/circuits.js';
import { initParams } from '../core/init.js';
import { allocParams, STATE_DICT_KEYS, WEIGHT_NAMES, weightShape, type AttentionParams } from '../core/params.js';
import type { NormalStream2 } from '../core/normal2.js';
import type { Rng } from '../core/rng.js';
import type { TaskSpec } from '../core/task.js';
import { allocStackParams, stackDynamics, stackForward, stackLossAndGrad, stackMetadata, stackParamCount, stackSnapshot, stackStateDict, type StackParams } from '../core/stack.js';
import { initStackParams } from '../core/stack-init.js';
import type { TrainConfig } from './config.js';

/** One weight of the seed's state_dict: key, PyTorch shape, values (a copy). */
export interface StateEntry {
  key: string;
  shape: number[];
  data: Float64Array;
}

/** The seed model's unused `final_linear` (1, E) for one layer: written as zeros so `load_state_dict` works. */
export const FINAL_LINEAR_KEY = 'final_linear.weight';

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
  /** Scaled QK^h into qk [layers, H, E, E] and OV^h[:, -1] into ov [layers, H, E]. */
  snapshot(qk: Float64Array, ov: Float64Array): void;
  /** The state dict under the seed's keys (copies), for model files and checkpoints. */
  stateDict(): StateEntry[];
  /** Safetensors metadata that goes with the state dict (e.g. n_layers). */
  metadata(): Record<string, string>;
  /** A training batch the model reads without a copy (the wasm engine: in wasm memory); absent = core/batch.ts allocBatch. */
  allocBatch?(B: number, L: number, d: number): Batch;
  /** core/task.ts sampleBatch, faster (the wasm engine: ziggurat in wasm, the same batch and RNG state bit for bit); absent = sampleBatch. */
  sampleBatch?(spec: TaskSpec, rng: Rng, out: Batch): Batch;
  /** core/normal2.ts sampleBatch2 (stream version 2), faster (the wasm engine: asm/sampler2.ts, bit for bit); absent = sampleBatch2. */
  sampleBatch2?(spec: TaskSpec, stream: NormalStream2, out: Batch): Batch;
  /** The wasm kernel (the wasm engine): `train --threads 2` samples straight into its memory when it is shared. */
  wasmKernel?(): WasmKernel;
}

/**
 * The seed's single-layer `MultiHeadAttention` (n_out = 1), on the TypeScript kernel or its
 * WebAssembly build (`engine`, config field `engine`; needs a registered module, see io/wasm.ts).
 */
export function singleLayerModel(p: AttentionParams, engine: 'ts' | 'wasm' = 'ts'): TrainModel {
  const { E, H } = p;
  // the wasm kernel (own instance and memory) is made on first use: checkpoint code builds models only for their state dict
  let kernel: WasmKernel | null = null;
  const wasm = (): WasmKernel => {
    if (kernel) return kernel;
    const m = registeredAttentionWasmShared() ?? registeredAttentionWasm(); // shared memory: --threads 2 samples into it
    if (!m) throw new UsageError('--engine wasm: the WebAssembly kernel is not available here (build it with npm run build, or use --engine ts)');
    return (kernel = createWasmKernel(m));
  };
  const ts = engine === 'ts';
  return {
    layers: 1,
    heads: H,
    E,
    theta: p.theta,
    lossAndGrad: ts ? (batch, grad) => lossAndGrad(p, batch, grad) : (batch, grad) => wasm().lossAndGrad(p, batch, grad),
    forward: ts ? (batch, out) => forward(p, batch, out) : (batch, out) => wasm().forward(p, batch, out),
    ...(ts ? {} : {
      allocBatch: (B: number, L: number, d: number) => wasm().allocBatch(B, L, d),
      sampleBatch: (spec: TaskSpec, rng: Rng, out: Batch) => wasm().sampleBatch(spec, rng, out),
      sampleBatch2: (spec: TaskSpec, stream: NormalStream2, out: Batch) => wasm().sampleBatch2(spec, stream, out),
      wasmKernel: wasm,
    }),
    dynamics(w, mu) {
      w.set(qkDynamics(p)); // [H]
      mu.set(ovDynamics(p)); // [H]
    },
    snapshot(qk, ov) {
      for (let h = 0; h < H; h++) {
        headQK(p, h, qk.subarray(h * E * E, (h + 1) * E * E) as Float64Array<ArrayBuffer>); // [E, E]
        ov.set(headOV(p, h), h * E); // [E]
      }
    },
    stateDict: () => [
      ...WEIGHT_NAMES.map((w) => ({ key: STATE_DICT_KEYS[w], shape: weightShape(w, p.d, H, p.nOut), data: Float64Array.from(p[w]) })),
      { key: FINAL_LINEAR_KEY, shape: [p.nOut, E], data: new Float64Array(p.nOut * E) },
    ],
    metadata: () => ({ d: String(p.d), heads: String(H), n_layers: '1' }),
  };
}

/**
 * The multi-layer strictly-causal stack (core/stack.ts). The state dict is the unique form: tied
 * weights appear once, under `attention_layers.0.*`, and `metadata()` says `weight_tying` and
 * `n_layers` (io/model-file.ts reads both forms).
 */
export function stackModel(p: StackParams, engine: 'ts' | 'wasm' = 'ts'): TrainModel {
  let kernel: WasmKernel | null = null;
  const wasm = (): WasmKernel => {
    if (kernel) return kernel;
    const m = registeredAttentionWasmShared() ?? registeredAttentionWasm(); // shared memory: --threads 2 samples into it
    if (!m) throw new UsageError('--engine wasm: the WebAssembly kernel is not available here (build it with npm run build, or use --engine ts)');
    return (kernel = createWasmKernel(m));
  };
  const ts = engine === 'ts';
  return {
    layers: p.nLayers,
    heads: p.H,
    E: p.E,
    theta: p.theta,
    lossAndGrad: ts ? (batch, grad) => stackLossAndGrad(p, batch, grad) : (batch, grad) => wasm().stackLossAndGrad(p, batch, grad),
    forward: ts ? (batch, out) => stackForward(p, batch, out) : (batch, out) => wasm().stackForward(p, batch, out),
    ...(ts ? {} : {
      allocBatch: (B: number, L: number, d: number) => wasm().allocBatch(B, L, d),
      sampleBatch: (spec: TaskSpec, rng: Rng, out: Batch) => wasm().sampleBatch(spec, rng, out),
      sampleBatch2: (spec: TaskSpec, stream: NormalStream2, out: Batch) => wasm().sampleBatch2(spec, stream, out),
      wasmKernel: wasm,
    }),
    dynamics: (w, mu) => stackDynamics(p, w, mu, 'y-to-y'), // [layers*H] each
    snapshot: (qk, ov) => stackSnapshot(p, qk, ov), // [layers, H, E, E], [layers, H, E]
    stateDict: () => stackStateDict(p, true).map((e) => ({ key: e.key, shape: [...e.shape], data: Float64Array.from(e.data) })),
    metadata: () => ({ d: String(p.d), heads: String(p.H), ...stackMetadata(p) }),
  };
}

/** Fresh weights for `c`, drawn from `rng` (the run's one RNG: init first, then the data). */
export function createModel(c: TrainConfig, rng: Rng): TrainModel {
  if (c.layers > 1) return stackModel(initStackParams(c.d, c.heads, c.layers, c.weightTying, c.init, rng), c.engine);
  return singleLayerModel(initParams(c.d, c.heads, c.init, rng), c.engine);
}

/** The model of `c` with the given flat theta (copied). */
export function modelFromTheta(c: TrainConfig, theta: Float64Array): TrainModel {
  const stack = c.layers > 1;
  const n = stack ? stackParamCount(c.d, c.heads, c.layers, c.weightTying) : allocParams(c.d, c.heads, c.nOut).theta.length;
  if (theta.length !== n) {
    const what = stack ? `, layers=${c.layers}, weight_tying=${c.weightTying}` : '';
    throw new RangeError(`theta has ${theta.length} values, expected ${n} for d=${c.d}, heads=${c.heads}${what}`);
  }
  if (stack) return stackModel(allocStackParams(c.d, c.heads, c.layers, c.weightTying, Float64Array.from(theta)), c.engine);
  return singleLayerModel(allocParams(c.d, c.heads, c.nOut, Float64Array.from(theta)), c.engine);
}
