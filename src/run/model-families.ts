/**
 * Model families: the architecture a run config names (`attention`), built on the engine it names.
 * Each entry makes a fresh model from the run's RNG or one from a checkpoint's theta; the math lives
 * in model/ (parameters, circuits) and engine/ (forward, backward, their wasm kernels). Adding a
 * family: its kernels in engine/ (and asm/), an entry here, its name in config.ts ATTENTION_NAMES.
 */
import type { Rng } from '../data/rng.js';
import { singleLayerModel, stackModel, type TrainModel } from '../engine/model.js';
import type { WasmKernel } from '../engine/wasm/attention.js';
import { multitaskModel } from '../engine/multitask.js';
import { parseTasks } from '../data/multitask.js';
import { initParams } from '../model/init.js';
import { allocParams } from '../model/params.js';
import { withAttention } from '../model/attention-name.js';
import { allocStackParams, stackParamCount } from '../model/stack.js';
import { initStackParams } from '../model/stack-init.js';
import type { AttentionName, TrainConfig } from './config.js';
import { taskFamily } from './task-families.js';

export interface ModelFamily {
  name: AttentionName;
  summary: string;
  /** Fresh weights for c drawn from rng; `wasm` = the WebAssembly kernel's factory (absent: TypeScript). */
  create(c: TrainConfig, rng: Rng, wasm?: () => WasmKernel): TrainModel;
  /** Values in theta of a model of c. */
  paramCount(c: TrainConfig): number;
  /** The model of c holding `theta` (already checked to have paramCount values; not copied). */
  fromTheta(c: TrainConfig, theta: Float64Array, wasm?: () => WasmKernel): TrainModel;
}

export const MODEL_FAMILIES: Readonly<Record<AttentionName, ModelFamily>> = {
  softmax: {
    name: 'softmax',
    summary: "the seed's multi-head softmax attention: one layer (the kernel regressor), a strictly-causal stack with --layers > 1, N outputs with --tasks",
    create(c, rng, wasm) {
      if (taskFamily(c).name === 'multitask') {
        const tasks = parseTasks(c.tasks);
        return multitaskModel(initParams(c.d + tasks.length - 1, c.heads, c.init, rng, tasks.length), c.d, tasks, wasm);
      }
      if (c.layers > 1) return stackModel(initStackParams(c.d, c.heads, c.layers, c.weightTying, c.init, rng), wasm);
      return singleLayerModel(initParams(c.d, c.heads, c.init, rng), wasm);
    },
    paramCount: (c) => (c.layers > 1 ? stackParamCount(c.d, c.heads, c.layers, c.weightTying) : allocParams(taskFamily(c).tokenWidth(c) - 1, c.heads, c.nOut).theta.length),
    fromTheta(c, theta, wasm) {
      if (c.layers > 1) return stackModel(allocStackParams(c.d, c.heads, c.layers, c.weightTying, theta), wasm);
      if (c.task === 'multitask') {
        const tasks = parseTasks(c.tasks);
        return multitaskModel(allocParams(c.d + tasks.length - 1, c.heads, tasks.length, theta), c.d, tasks, wasm);
      }
      return singleLayerModel(allocParams(c.d, c.heads, c.nOut, theta), wasm);
    },
  },
  linear: linearFamily('linear', 'one-layer linear attention, a_i = s_i / L (Zhang-Frei-Bartlett): one-step preconditioned GD at its optimum'),
  'linear-sum': linearFamily('linear-sum', 'one-layer linear attention, a_i = s_i (von Oswald et al.): the sum grows with L'),
};

/** A linear attention family: the seed's one-layer weights and circuits, a_i = c s_i (engine/ts/linear-attention.ts); config.ts allows it one layer and one task only. */
function linearFamily(name: 'linear' | 'linear-sum', summary: string): ModelFamily {
  return {
    name,
    summary,
    create(c, rng, wasm) {
      return singleLayerModel(withAttention(initParams(c.d, c.heads, c.init, rng), name), wasm);
    },
    paramCount: (c) => allocParams(c.d, c.heads, 1).theta.length,
    fromTheta(c, theta, wasm) {
      return singleLayerModel(withAttention(allocParams(c.d, c.heads, 1, theta), name), wasm);
    },
  };
}

export function modelFamily(c: TrainConfig): ModelFamily {
  const f = MODEL_FAMILIES[c.attention];
  if (!f) throw new Error(`unknown model family '${String(c.attention)}' (known: ${Object.keys(MODEL_FAMILIES).join(', ')})`);
  taskFamily(c); // the task named is consistent
  return f;
}
