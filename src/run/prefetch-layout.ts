/**
 * The shared memory of `train --threads 2` (prefetch.ts, prefetch-worker.ts): a control block of
 * Int32 counters, then `slots` slots, each [kind, B] (Int32), the stream state after the batch
 * (Float64 x stateLength), z, zq, yq (Float64, room for the larger of the training and validation batch).
 */
import type { TaskSpec } from '../data/task.js';
import type { StreamVersion } from '../data/stream.js';

/** Control words (Int32 indices): batches produced, batches consumed, stop request, worker error. */
export const CTL = { produced: 0, consumed: 1, stop: 2, error: 3, length: 4 } as const;

export interface PrefetchJob {
  sab: SharedArrayBuffer;
  slots: number;
  version: StreamVersion;
  state: number[];
  task: TaskSpec;
  valTask: TaskSpec;
  valEvery: number;
  /** the step whose training batch comes first */
  startStep: number;
}

const align = (n: number) => Math.ceil(n / 16) * 16;

export function slotLayout(j: Pick<PrefetchJob, 'task' | 'valTask' | 'state' | 'slots'>) {
  const sizes = (t: TaskSpec) => ({ z: t.batchSize * t.L * (t.d + 1), zq: t.batchSize * (t.d + 1), yq: t.batchSize });
  const a = sizes(j.task), b = sizes(j.valTask);
  const nz = Math.max(a.z, b.z), nzq = Math.max(a.zq, b.zq), nyq = Math.max(a.yq, b.yq);
  const head = align(8 + 8 * j.state.length);
  const slotBytes = head + align(8 * nz) + align(8 * nzq) + align(8 * nyq);
  const base = align(4 * CTL.length);
  const offset = (k: number) => base + k * slotBytes;
  return {
    bytes: base + j.slots * slotBytes,
    offset,
    z: (k: number) => offset(k) + head,
    zq: (k: number) => offset(k) + head + align(8 * nz),
    yq: (k: number) => offset(k) + head + align(8 * nz) + align(8 * nzq),
  };
}
