/**
 * Task families: the prompts a run trains on, named by its config's `task`. Each entry says how wide
 * a token is, how many outputs a prompt has and which stream of random numbers a new run draws; the
 * sampler itself lives in data/ (data/task.ts, data/multitask.ts), the model that reads its tokens in
 * engine/. Adding a family: its sampler in data/, an entry here, its name in config.ts TASK_NAMES, and
 * its checks in config.ts checkCombination.
 */
import { makeTaskPool, type BetaPrior } from '../data/beta-prior.js';
import { parseTasks } from '../data/multitask.js';
import { CURRENT_STREAM_VERSION, type StreamVersion } from '../data/stream.js';
import type { TaskName, TrainConfig } from './config.js';

export interface TaskFamily {
  name: TaskName;
  /** One line for docs and errors. */
  summary: string;
  /** Outputs per prompt (the model's n_out). */
  outputs(c: TrainConfig): number;
  /** Token width E: x and the targets. */
  tokenWidth(c: TrainConfig): number;
  /** The stream version a new run of c draws (data/stream.ts). */
  streamVersion(c: TrainConfig): StreamVersion;
  /** Its prior of beta for the samplers (data/beta-prior.ts); absent = the Gaussian. */
  prior?(c: TrainConfig): BetaPrior;
}

/** The pool of a config (drawn once per size, dimension, convention and seed; the same array after). */
let lastPool: { key: string; pool: Float64Array } | undefined;
export function taskPoolOf(c: TrainConfig): Float64Array {
  const key = `${c.taskPool}:${c.d}:${c.preset}:${c.poolSeed}`;
  if (lastPool?.key !== key) lastPool = { key, pool: makeTaskPool(c.taskPool, c.d, c.preset, c.poolSeed) };
  return lastPool.pool;
}

const gaussianLike = {
  outputs: () => 1,
  tokenWidth: (c: TrainConfig) => c.d + 1,
  streamVersion: () => CURRENT_STREAM_VERSION,
};

export const TASK_FAMILIES: Readonly<Record<TaskName, TaskFamily>> = {
  gaussian: {
    name: 'gaussian',
    summary: "linear regression y = beta^T x + noise, x ~ N(0, Sigma) (the seed's task; seed or paper convention)",
    ...gaussianLike,
  },
  pool: {
    name: 'pool',
    summary: 'the gaussian task with beta uniform from a finite pool of M tasks drawn once from the prior (Raventós et al. 2023)',
    ...gaussianLike,
    prior: (c) => ({ pool: taskPoolOf(c) }),
  },
  sparse: {
    name: 'sparse',
    summary: 'the gaussian task with s-sparse beta, E||beta||^2 unchanged (Garg et al. 2022)',
    ...gaussianLike,
    prior: (c) => ({ sparsity: c.sparsity }),
  },
  multitask: {
    name: 'multitask',
    summary: "the authors' multi-task regression: one task per coordinate block of x, tokens [x, y_1..y_N]",
    outputs: (c) => parseTasks(c.tasks).length,
    tokenWidth: (c) => c.d + parseTasks(c.tasks).length,
    // its sampler (the authors' MultiTaskLinearReg order, data/multitask.ts) draws from the run's Rng
    streamVersion: () => 1,
  },
};

/** The family of c (a config put together by hand with `tasks` but not `task` is a bug, said at once). */
export function taskFamily(c: TrainConfig): TaskFamily {
  const f = TASK_FAMILIES[c.task];
  if (!f) throw new Error(`unknown task family '${String(c.task)}' (known: ${Object.keys(TASK_FAMILIES).join(', ')})`);
  const derived = c.tasks !== '' ? 'multitask' : c.taskPool > 0 ? 'pool' : c.sparsity > 0 ? 'sparse' : 'gaussian';
  if (derived !== c.task) throw new Error(`config names task '${c.task}' but its fields give '${derived}' (tasks '${c.tasks}', task_pool ${c.taskPool}, sparsity ${c.sparsity}): set both (makeTrainConfig derives task)`);
  return f;
}
