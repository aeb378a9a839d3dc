/**
 * `train --threads 2`: the batches of a run are drawn on a second thread (prefetch-worker.ts)
 * while the main thread computes the step, `slots` batches ahead. The stream does not depend on the
 * weights, so a prefetched run is bit-identical to a one-thread run: the main thread receives the
 * very batches, in the loop's order, and the stream state after each (what a checkpoint records).
 *
 * `startPrefetch` returns a BatchStream for the loop (run/loop.ts runSteps is unchanged); `close()`
 * stops the worker and gives back an ordinary stream at the state of the last batch consumed.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import type { Batch } from '../data/batch.js';
import type { TaskSpec } from '../data/task.js';
import type { WasmKernel } from '../engine/wasm/attention.js';
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
  /** the model's wasm kernel: when its memory is shared, the worker samples straight into it (no copy) */
  kernel?: WasmKernel;
}

/** How long the main thread spins for a batch before it sleeps. */
const SPIN_MS = 0.5;

export function startPrefetch(from: BatchStream, o: PrefetchOptions): Prefetch {
  const script = workerScript();
  if (!script) throw new UsageError('--threads 2: the compiled worker (dist/run/prefetch-worker.js) is missing; run npm run build, or use --threads 1');
  const slots = o.slots ?? 3;
  let state = from.getState();
  const version = from.version;
  const base = { slots, version, state, task: o.task, valTask: o.valTask, valEvery: o.valEvery, startStep: o.startStep };
  // zero-copy: batches pinned in the kernel's shared memory, and a region there for the worker's own kernel
  const k = o.kernel?.shared ? o.kernel : null;
  const pinned = k ? Array.from({ length: slots }, () => ({ train: k.allocBatch(o.task.batchSize, o.task.L, o.task.d), val: k.allocBatch(o.valTask.batchSize, o.valTask.L, o.valTask.d) })) : [];
  let wasm: PrefetchJob['wasm'];
  if (k) {
    const maxB = Math.max(o.task.batchSize, o.valTask.batchSize), { L, d } = o.task;
    const bytes = 65536 + 8 * maxB * ((L + 1) * (d + 1) + d + 2);
    const start = k.reserve(bytes);
    const offs = (b: Batch): [number, number, number] => [b.z.byteOffset, b.zq.byteOffset, b.yq.byteOffset];
    wasm = { module: k.module, memory: k.memory, base: start, limit: start + bytes, batches: pinned.map((p) => ({ train: offs(p.train), val: offs(p.val) })) };
  }
  const lay = slotLayout(base, !k);
  const sab = new SharedArrayBuffer(lay.bytes);
  const ctl = new Int32Array(sab, 0, CTL.length);
  const job: PrefetchJob = { ...base, sab, ...(wasm ? { wasm } : {}) };
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
    // wait for batch number `consumed`: spin up to SPIN_MS (a batch takes ~0.1 ms: waking from
    // Atomics.wait costs tens of µs, a step's worth when the sampling thread is the bound), then sleep
    let spins = 0;
    let since = 0;
    for (;;) {
      const produced = Atomics.load(ctl, CTL.produced);
      if (produced > consumed) break;
      if (Atomics.load(ctl, CTL.error) !== 0 || workerError) fail(workerError ? (workerError as Error).message : '');
      if ((++spins & 1023) === 0) {
        const now = performance.now();
        if (since === 0) since = now;
        else if (now - since > SPIN_MS) Atomics.wait(ctl, CTL.produced, produced, 20);
      }
    }
    const j = consumed % slots;
    const B = head[j]![1]!;
    if (B !== spec.batchSize) throw new Error(`prefetch: batch ${consumed} has B=${B}, the loop asked for B=${spec.batchSize} (the loop left the schedule)`);
    state = Array.from(stateView[j]!);
    if (k) {
      // zero-copy: hand back the pinned batch the worker wrote; it stays in use (its slot is not
      // refilled) until the next call releases it
      const b = head[j]![0] === 1 ? pinned[j]!.val : pinned[j]!.train;
      Atomics.store(ctl, CTL.consumed, consumed);
      Atomics.notify(ctl, CTL.consumed);
      consumed++;
      return b;
    }
    const { L, d } = spec;
    const E = d + 1;
    out.z.set(new Float64Array(sab, lay.z(j), B * L * E));
    out.zq.set(new Float64Array(sab, lay.zq(j), B * E));
    out.yq.set(new Float64Array(sab, lay.yq(j), B));
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
