/**
 * The multi-task model as the training loop sees it (run/model.ts `TrainModel`): the n_out = N
 * attention on the TypeScript engine (ts/multitask.ts) or, when `wasm` is given, on the WebAssembly
 * engine (wasm/multitask.ts: the kernel in wasm, batches in wasm memory drawn with the wasm ziggurat,
 * the same batches bit for bit); batches from data/multitask.ts.
 *
 * Logged per head: w^h = mean of the x-block diagonal of QK^h (the first d entries) and
 * mu^h = sum_k OV^h[d + k, k] (the y_k -> output k entries), and per task k (taskDynamics)
 * w^h_k = mean of QK^h's diagonal on task k's block and mu^h_k = OV^h[d + k, k]; snapshots hold
 * QK^h [E, E] and OV^h [E, N] whole (runs of earlier builds: its last column OV^h[:, N - 1] only).
 */
import type { Batch } from '../data/batch.js';
import { ovCircuit, qkCircuit } from '../model/circuits.js';
import { FINAL_LINEAR_KEY, STATE_DICT_KEYS, WEIGHT_NAMES, weightShape, type AttentionParams } from '../model/params.js';
import type { Rng } from '../data/rng.js';
import type { TaskSpec } from '../data/task.js';
import type { TrainModel } from './model.js';
import { forwardMulti, lossAndGradMulti } from './ts/multitask.js';
import { allocMultiTaskBatch, formatTasks, sampleMultiTask, type MultiTaskBatch, type TaskBlock } from '../data/multitask.js';
import type { WasmKernel } from './wasm/attention.js';
import { allocMultiTaskBatchWasm, multitaskWasm, sampleMultiTaskWasm, type MultitaskWasm } from './wasm/multitask.js';

/**
 * `wasm`: a factory of the WebAssembly kernel (made on first use: checkpoint code builds models only
 * for their state dict); absent = the TypeScript kernel.
 */
export function multitaskModel(p: AttentionParams, dx: number, tasks: readonly TaskBlock[], wasm?: () => WasmKernel): TrainModel {
  const { E, H } = p;
  const N = tasks.length;
  let kernel: WasmKernel | null = null;
  let mt: MultitaskWasm | null = null;
  const k = (): WasmKernel => (kernel ??= wasm!());
  const m = (): MultitaskWasm => (mt ??= multitaskWasm(k()));
  const spec = (t: TaskSpec) => ({ d: dx, L: t.L, batchSize: t.batchSize, noiseStd: t.noiseStd, tasks });
  const alloc = wasm ? (B: number, L: number) => allocMultiTaskBatchWasm(k(), B, L, dx, tasks) : (B: number, L: number) => allocMultiTaskBatch(B, L, dx, tasks);
  const sample = wasm
    ? (t: TaskSpec, rng: Rng, out: Batch) => sampleMultiTaskWasm(k(), spec(t), rng, out as MultiTaskBatch)
    : (t: TaskSpec, rng: Rng, out: Batch) => sampleMultiTask(spec(t), rng, out as MultiTaskBatch);
  return {
    layers: 1,
    heads: H,
    E,
    theta: p.theta,
    outputs: N,
    lossAndGrad: wasm ? (batch, grad) => m().lossAndGrad(p, batch, grad) : (batch, grad) => lossAndGradMulti(p, batch, grad),
    forward: wasm ? (batch, out) => void m().forward(p, batch, out) : (batch, out) => void forwardMulti(p, batch, out),
    allocBatch: (B, L) => alloc(B, L),
    sampleBatch: sample,
    allocValBatch: (B, L) => allocMultiTaskBatch(B, L, dx, tasks), // ordinary arrays: validation batches are made per call (held-out chunks), not pinned in wasm memory
    valSampler: { sampleBatch: sample },
    dynamics(w, mu) {
      for (let h = 0; h < H; h++) {
        const qk = qkCircuit(p, h);
        let s = 0;
        for (let c = 0; c < dx; c++) s += qk[c * E + c]!;
        w[h] = s / dx;
        const ov = ovCircuit(p, h);
        let m = 0;
        for (let k = 0; k < N; k++) m += ov[(dx + k) * N + k]!;
        mu[h] = m;
      }
    },
    taskDynamics(w, mu) {
      for (let h = 0; h < H; h++) {
        const qk = qkCircuit(p, h);
        const ov = ovCircuit(p, h); // [E, N]
        for (let k = 0; k < N; k++) {
          const [s, e] = tasks[k]!;
          let sum = 0;
          for (let c = s; c < e; c++) sum += qk[c * E + c]!;
          w[h * N + k] = sum / (e - s);
          mu[h * N + k] = ov[(dx + k) * N + k]!;
        }
      }
    },
    snapshot(qk, ov) {
      const K = ov.length / (H * E); // columns kept: N (the whole OV^h) or 1 (its last, as earlier builds)
      if (K !== N && K !== 1) throw new RangeError(`multi-task snapshot: room for ${ov.length} OV values, expected H*E*N = ${H * E * N} or H*E = ${H * E}`);
      for (let h = 0; h < H; h++) {
        qkCircuit(p, h, qk.subarray(h * E * E, (h + 1) * E * E) as Float64Array<ArrayBuffer>);
        const m = ovCircuit(p, h); // [E, N]
        for (let a = 0; a < E; a++) for (let j = 0; j < K; j++) ov[(h * E + a) * K + j] = m[a * N + N - K + j]!;
      }
    },
    stateDict: () => [
      ...WEIGHT_NAMES.map((w) => ({ key: STATE_DICT_KEYS[w], shape: weightShape(w, E - 1, H, N), data: Float64Array.from(p[w]) })),
      { key: FINAL_LINEAR_KEY, shape: [N, E], data: new Float64Array(N * E) },
    ],
    metadata: () => ({ d: String(dx), heads: String(H), n_layers: '1', tasks: formatTasks(tasks), n_out: String(N) }),
  };
}
