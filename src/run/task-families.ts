/**
 * Task families: the prompts a run trains on, named by its config's `task`. Each entry says how wide
 * a token is, how many outputs a prompt has and which stream of random numbers a new run draws; the
 * sampler itself lives in data/ (data/task.ts, data/multitask.ts), the model that reads its tokens in
 * engine/. Adding a family: its sampler in data/, an entry here, its name in config.ts TASK_NAMES, and
 * its checks in config.ts checkCombination.
 */
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
}

export const TASK_FAMILIES: Readonly<Record<TaskName, TaskFamily>> = {
  gaussian: {
    name: 'gaussian',
    summary: "linear regression y = beta^T x + noise, x ~ N(0, Sigma) (the seed's task; seed or paper convention)",
    outputs: () => 1,
    tokenWidth: (c) => c.d + 1,
    streamVersion: () => CURRENT_STREAM_VERSION,
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
  if ((c.task === 'multitask') !== (c.tasks !== '')) throw new Error(`config names task '${c.task}' with tasks '${c.tasks}': set both (makeTrainConfig derives task from tasks)`);
  return f;
}
