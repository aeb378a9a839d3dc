/**
 * The model a run config describes, on the engine it names (chosen here, explicitly: no import
 * side effects): fresh from the run's RNG, or from a checkpoint's theta.
 */
import type { Rng } from '../data/rng.js';
import { singleLayerModel, stackModel, type TrainModel } from '../engine/model.js';
import type { WasmKernel } from '../engine/wasm/attention.js';
import { UsageError } from '../errors.js';
import { initParams } from '../model/init.js';
import { allocParams } from '../model/params.js';
import { allocStackParams, stackParamCount } from '../model/stack.js';
import { initStackParams } from '../model/stack-init.js';
import type { TrainConfig } from './config.js';
import { parseTasks } from '../data/multitask.js';
import { multitaskModel, tokenWidth } from '../engine/multitask.js';

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
  if (c.tasks) {
    const tasks = parseTasks(c.tasks);
    return multitaskModel(initParams(c.d + tasks.length - 1, c.heads, c.init, rng, tasks.length), c.d, tasks, kernelFor(c, kernels));
  }
  if (c.layers > 1) return stackModel(initStackParams(c.d, c.heads, c.layers, c.weightTying, c.init, rng), kernelFor(c, kernels));
  return singleLayerModel(initParams(c.d, c.heads, c.init, rng), kernelFor(c, kernels));
}

/** The model of `c` with the given flat theta (copied). */
export function modelFromTheta(c: TrainConfig, theta: Float64Array, kernels: EngineKernels = {}): TrainModel {
  const stack = c.layers > 1;
  const n = stack ? stackParamCount(c.d, c.heads, c.layers, c.weightTying) : allocParams(tokenWidth(c) - 1, c.heads, c.nOut).theta.length;
  if (theta.length !== n) {
    const what = stack ? `, layers=${c.layers}, weight_tying=${c.weightTying}` : '';
    throw new RangeError(`theta has ${theta.length} values, expected ${n} for d=${c.d}, heads=${c.heads}${what}`);
  }
  if (stack) return stackModel(allocStackParams(c.d, c.heads, c.layers, c.weightTying, Float64Array.from(theta)), kernelFor(c, kernels));
  if (c.tasks) {
    const tasks = parseTasks(c.tasks);
    return multitaskModel(allocParams(c.d + tasks.length - 1, c.heads, tasks.length, Float64Array.from(theta)), c.d, tasks, kernelFor(c, kernels));
  }
  return singleLayerModel(allocParams(c.d, c.heads, c.nOut, Float64Array.from(theta)), kernelFor(c, kernels));
}
