/**
 * worker_threads entry of `train --threads 2` (prefetch.ts): draws the run's batches in the loop's
 * order (step s: its training batch, then its validation batch when s % val_every == 0) into a
 * ring of SharedArrayBuffer slots, each with the stream state after it, while the main thread
 * computes. The batches do not depend on the weights, so they are the ones the main thread would
 * draw itself, bit for bit. Uses the wasm sampler when it loads (the same doubles as TypeScript).
 */
import { workerData } from 'node:worker_threads';
import { allocBatch, type Batch } from '../data/batch.js';
import type { TaskSpec } from '../data/task.js';
import { loadWasmKernel, wasmAvailable } from '../io/wasm.js';
import { restoreStream, type FastSampler } from '../data/stream.js';
import { CTL, slotLayout, type PrefetchJob } from './prefetch-layout.js';

const job = workerData as PrefetchJob;
const ctl = new Int32Array(job.sab, 0, CTL.length);
const stream = restoreStream(job.version, job.state);
const kernel = wasmAvailable() ? loadWasmKernel() : null;
const fast: FastSampler | undefined = kernel ? { sampleBatch: (t, r, o) => kernel.sampleBatch(t, r, o), sampleBatch2: (t, s, o) => kernel.sampleBatch2(t, s, o) } : undefined;
const lay = slotLayout(job);
// wasm: sample into the kernel's memory, then one copy into the slot; TypeScript: straight into the slot
const scratch = (t: TaskSpec): Batch => (kernel ? kernel.allocBatch(t.batchSize, t.L, t.d) : allocBatch(t.batchSize, t.L, t.d));
const trainBatch = scratch(job.task), valBatch = scratch(job.valTask);

function slotViews(k: number, spec: TaskSpec): { z: Float64Array; zq: Float64Array; yq: Float64Array; state: Float64Array; head: Int32Array } {
  const o = lay.offset(k);
  const { batchSize: B, L, d } = spec;
  const E = d + 1;
  return {
    head: new Int32Array(job.sab, o, 2),
    state: new Float64Array(job.sab, o + 8, job.state.length),
    z: new Float64Array(job.sab, lay.z(k), B * L * E),
    zq: new Float64Array(job.sab, lay.zq(k), B * E),
    yq: new Float64Array(job.sab, lay.yq(k), B),
  };
}

function produce(n: number, val: boolean): void {
  const spec = val ? job.valTask : job.task;
  const k = n % job.slots;
  const v = slotViews(k, spec);
  const b = val ? valBatch : trainBatch;
  if (kernel) {
    stream.sample(spec, b, fast);
    v.z.set(b.z);
    v.zq.set(b.zq);
    v.yq.set(b.yq);
  } else {
    stream.sample(spec, { ...b, z: v.z, zq: v.zq, yq: v.yq });
  }
  v.head[0] = val ? 1 : 0;
  v.head[1] = spec.batchSize;
  v.state.set(stream.getState());
}

try {
  let n = 0;
  for (let step = job.startStep; ; step++) {
    for (const val of step % job.valEvery === 0 ? [false, true] : [false]) {
      // wait for a free slot
      for (;;) {
        if (Atomics.load(ctl, CTL.stop) !== 0) process.exit(0);
        const consumed = Atomics.load(ctl, CTL.consumed);
        if (n - consumed < job.slots) break;
        Atomics.wait(ctl, CTL.consumed, consumed, 50);
      }
      produce(n, val);
      n++;
      Atomics.store(ctl, CTL.produced, n);
      Atomics.notify(ctl, CTL.produced);
    }
  }
} catch (err) {
  Atomics.store(ctl, CTL.error, 1);
  Atomics.notify(ctl, CTL.produced);
  throw err;
}
