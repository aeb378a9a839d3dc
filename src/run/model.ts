/**
 * The model a run config describes, on the engine it names (chosen here, explicitly: no import
 * side effects): fresh from the run's RNG, or from a checkpoint's theta; the family it names
 * (model-families.ts) builds it.
 */
import type { Rng } from '../data/rng.js';
import type { TrainModel } from '../engine/model.js';
import type { WasmKernel } from '../engine/wasm/attention.js';
import { UsageError } from '../errors.js';
import type { TrainConfig } from './config.js';
import { modelFamily } from './model-families.js';

/**
 * What the platform provides to build kernels: in Node io/wasm.ts `nodeKernels()` (reads
 * dist/wasm/attention.wasm), in a browser worker a fetch-based loader. Passed in, never imported,
 * so this module and the training loop stay free of node:* and run in a browser.
 */
export interface EngineKernels {
  /** A fresh WebAssembly kernel (own instance and memory). */
  wasm?: () => WasmKernel;
}

/** The wasm kernel factory for a `engine: wasm` config (undefined = the TypeScript kernel). */
function kernelFor(c: TrainConfig, kernels: EngineKernels): (() => WasmKernel) | undefined {
  if (c.engine !== 'wasm') return undefined;
  return kernels.wasm ?? (() => {
    throw new UsageError('--engine wasm: no WebAssembly kernel loader was given here (use --engine ts)');
  });
}

/** Fresh weights for `c`, drawn from `rng` (the run's one RNG: init first, then the data). */
export function createModel(c: TrainConfig, rng: Rng, kernels: EngineKernels = {}): TrainModel {
  return modelFamily(c).create(c, rng, kernelFor(c, kernels));
}

/** The model of `c` with the given flat theta (copied). */
export function modelFromTheta(c: TrainConfig, theta: Float64Array, kernels: EngineKernels = {}): TrainModel {
  const family = modelFamily(c);
  const n = family.paramCount(c);
  if (theta.length !== n) {
    const what = c.layers > 1 ? `, layers=${c.layers}, weight_tying=${c.weightTying}` : '';
    throw new RangeError(`theta has ${theta.length} values, expected ${n} for d=${c.d}, heads=${c.heads}${what}`);
  }
  return family.fromTheta(c, Float64Array.from(theta), kernelFor(c, kernels));
}
