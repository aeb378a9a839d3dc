/**
 * `train --threads 2`: the batches of a run are drawn on a second thread (prefetch-worker.ts)
 * while the main thread computes the step, `slots` batches ahead. The stream does not depend on the
 * weights, so a prefetched run is bit-identical to a one-thread run: the main thread receives the
 * very batches, in the loop's order, and the stream state after each (what a checkpoint records).
 *
 * `startPrefetch` returns a BatchStream for the loop (train/loop.ts runSteps is unchanged); `close()`
 * stops the worker and gives back an ordinary stream at the state of the last batch consumed.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Batch } from '../data/batch.js';
import type { TaskSpec } from '../data/task.js';
import { CTL, slotLayout, type PrefetchJob } from './prefetch-layout.js';
import { restoreStream, type BatchStream } from '../data/stream.js';

/** The compiled worker next to this file, or (running from the .ts sources: tests) in dist/. */
function workerScript(): string | null {
  for (const u of [new URL('./prefetch-worker.js', import.meta.url), new URL('../../dist/run/prefetch-worker.js', import.meta.url)]) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Whether `--threads 2` can run here (the compiled worker exists). */
export function prefetchAvailable(): boolean {
  return workerScript() !== null;
}

/** Threads per run when not given: 2 when a core is free for every run in flight, else 1. */
export function defaultThreads(runsAtOnce: number): 1 | 2 {
  return availableParallelism() >= 2 * Math.max(1, runsAtOnce) && prefetchAvailable() ? 2 : 1;
}

export interface Prefetch {
  readonly stream: BatchStream;
  /** Stop the worker; an ordinary stream at the state after the last batch consumed. */
  close(): BatchStream;
}

export interface PrefetchOptions {
  task: TaskSpec;
  valTask: TaskSpec;
  valEvery: number;
  startStep: number;
  /** batches drawn ahead (default 3) */
  slots?: number;
}

export function startPrefetch(from: BatchStream, o: PrefetchOptions): Prefetch {
  const script = workerScript();
  if (!script) throw new Error('--threads 2: the compiled worker (dist/run/prefetch-worker.js) is missing; run npm run build');
  const slots = o.slots ?? 3;
  let state = from.getState();
  const version = from.version;
  const base = { slots, version, state, task: o.task, valTask: o.valTask, valEvery: o.valEvery, startStep: o.startStep };
  const lay = slotLayout(base);
  const sab = new SharedArrayBuffer(lay.bytes);
  const ctl = new Int32Array(sab, 0, CTL.length);
  const job: PrefetchJob = { ...base, sab };
  const worker = new Worker(script, { workerData: job });
  worker.unref();
  let workerError: Error | null = null;
  worker.on('error', (e: Error) => {
    workerError = e;
  });
  let consumed = 0;
  let closed = false;
  const head = Array.from({ length: slots }, (_, k) => new Int32Array(sab, lay.offset(k), 2));
  const stateView = Array.from({ length: slots }, (_, k) => new Float64Array(sab, lay.offset(k) + 8, state.length));

  const fail = (why: string): never => {
    throw new Error(`--threads 2: the sampling thread failed${why ? `: ${why}` : ''}`);
  };
  function sample(spec: TaskSpec, out: Batch): Batch {
    if (closed) throw new Error('prefetch stream used after close()');
    // wait for batch number `consumed`: spin briefly (the worker is usually ahead), then sleep
    let spins = 0;
    for (;;) {
      const produced = Atomics.load(ctl, CTL.produced);
      if (produced > consumed) break;
      if (Atomics.load(ctl, CTL.error) !== 0 || workerError) fail(workerError ? (workerError as Error).message : '');
      if (++spins > 2000) Atomics.wait(ctl, CTL.produced, produced, 20);
    }
    const k = consumed % slots;
    const B = head[k]![1]!;
    if (B !== spec.batchSize) throw new Error(`prefetch: batch ${consumed} has B=${B}, the loop asked for B=${spec.batchSize} (the loop left the schedule)`);
    const { L, d } = spec;
    const E = d + 1;
    out.z.set(new Float64Array(sab, lay.z(k), B * L * E));
    out.zq.set(new Float64Array(sab, lay.zq(k), B * E));
    out.yq.set(new Float64Array(sab, lay.yq(k), B));
    state = Array.from(stateView[k]!);
    consumed++;
    Atomics.store(ctl, CTL.consumed, consumed);
    Atomics.notify(ctl, CTL.consumed);
    return out;
  }

  const stream: BatchStream = {
    version,
    sample: (spec, out) => sample(spec, out),
    getState: () => [...state],
    clone: () => restoreStream(version, state),
  };
  return {
    stream,
    close() {
      if (!closed) {
        closed = true;
        Atomics.store(ctl, CTL.stop, 1);
        Atomics.notify(ctl, CTL.consumed);
        void worker.terminate();
      }
      return restoreStream(version, state);
    },
  };
}
