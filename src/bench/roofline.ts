/**
 * A roofline for one training step of the single-layer model at a task (the seed's: d = 5, L = 40,
 * B = 128): what the step must do, counted, and what this core does per second of each in wasm
 * (asm/roofline.ts micro-benchmarks, best of several runs), giving a floor in microseconds.
 *
 *   normals      B L E + B E + B d (z, z_q, beta; stream version 2 draws exactly these)
 *                rate: 52-bit uniforms from four xoshiro128** lanes (the random bits alone, no ziggurat)
 *   multiply-adds per prompt and head: g = A^T z_q (E^2), scores and values (2 L E), the sums of
 *                the backward (2 L E), dA and du (E^2 + 2E); per step and head the circuits and their
 *                map back (4 E^3); the sampler's y = beta.x (B L d + B d)
 *                rate: eight independent f64x2 multiply-add chains (no FMA in wasm SIMD)
 *   exponentials B H L (one per score)        rate: the kernel's vector exp (expNeg2)
 *   bytes        the batch written once and read once per head pair (2 ceil(H/2) + 1) x 8 (B L E + B E + B)
 *                rate: memory.copy of a batch-sized buffer (read + write)
 *
 * Linear attention (stepCounts(task, H, 'linear' | 'linear-sum'), asm/linear-attention.ts): the same
 * normals; multiply-adds per prompt the context moment M (L E (E + 1) / 2) and per head g, M u, M g and
 * dA (4 E^2) and du (E), the circuits and the sampler as above; no exponentials; the batch written
 * and read once.
 *
 * floor = sum over the four of count / rate: the same core's execution ports serve all of them,
 * so they overlap little; it is the time this algorithm cannot beat on one core, not a hard
 * physical bound (a different algorithm, e.g. fewer normals, would lower it).
 */
import { attentionWasmModule } from '../io/wasm.js';
import type { TaskSpec } from '../data/task.js';
import type { AttentionName } from '../model/attention-name.js';

export interface StepCounts {
  normals: number;
  multiplyAdds: number;
  exps: number;
  bytes: number;
}

export function stepCounts(task: TaskSpec, H: number, attention: AttentionName = 'softmax'): StepCounts {
  const { d, L, batchSize: B } = task;
  const E = d + 1;
  if (attention !== 'softmax') {
    return {
      normals: B * L * E + B * E + B * d,
      multiplyAdds: B * ((L * E * (E + 1)) / 2 + H * (4 * E * E + E)) + 4 * H * E * E * E + B * L * d + B * d,
      exps: 0,
      bytes: 2 * 8 * (B * L * E + B * E + B),
    };
  }
  const perPromptHead = E * E + 4 * L * E + E * E + 2 * E;
  return {
    normals: B * L * E + B * E + B * d,
    multiplyAdds: B * H * perPromptHead + 4 * H * E * E * E + B * L * d + B * d,
    exps: B * H * L,
    bytes: (2 * Math.ceil(H / 2) + 1) * 8 * (B * L * E + B * E + B),
  };
}

/** Operations per microsecond of each kind on this core (wasm). */
export interface CoreRates {
  normalsPerUs: number;
  multiplyAddsPerUs: number;
  expsPerUs: number;
  bytesPerUs: number;
}

interface RoofExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  rfUniforms(st: number, out: number, n: number): void;
  rfMac(n: number, x: number): number;
  rfExp(buf: number, n: number): void;
  rfCopy(dst: number, src: number, n: number): void;
}

/** Best time per call (µs) of `f` over `reps` timed batches of `inner` calls, after a warm-up. */
function best(f: () => void, inner: number, reps = 7): number {
  for (let i = 0; i < inner * 2; i++) f();
  let b = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    for (let i = 0; i < inner; i++) f();
    b = Math.min(b, ((performance.now() - t) * 1000) / inner);
  }
  return b;
}

/** Measure the four rates (about 0.3 s). Throws when the wasm module is unavailable. */
export function measureRates(batchBytes = 8 * (128 * 40 * 6 + 128 * 6 + 128)): CoreRates {
  const m = attentionWasmModule();
  if (!m) throw new Error('the roofline needs the wasm module (npm run build)');
  const api = (globalThis as unknown as { WebAssembly: { Instance: new (m: unknown, i: object) => { exports: object } } }).WebAssembly;
  const x = new api.Instance(m, { env: { abort: () => { throw new Error('abort'); }, log: Math.log } }).exports as unknown as RoofExports;
  const base = Math.ceil(x.heapBase() / 16) * 16;
  const n = 32768; // values per uniforms / exp call
  const st = base, buf = st + 64, src = buf + 8 * n, dst = src + Math.ceil(batchBytes / 16) * 16;
  const need = dst + batchBytes + 64;
  const have = x.memory.buffer.byteLength;
  if (need > have) x.memory.grow(Math.ceil((need - have) / 65536));
  new Int32Array(x.memory.buffer, st, 16).set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16].map((v) => v * 0x9e3779b1));
  const u = best(() => x.rfUniforms(st, buf, n), 20);
  const macIters = 100_000;
  const mac = best(() => void x.rfMac(macIters, 0.5), 3);
  const vals = new Float64Array(x.memory.buffer, buf, n);
  const e = best(() => {
    vals.fill(-0.75); // arguments in the softmax's range
    x.rfExp(buf, n);
  }, 20);
  const fillOnly = best(() => vals.fill(-0.75), 20);
  const c = best(() => x.rfCopy(dst, src, batchBytes), 50);
  return {
    normalsPerUs: n / u,
    multiplyAddsPerUs: (16 * macIters) / mac,
    expsPerUs: n / Math.max(e - fillOnly, 1e-3),
    bytesPerUs: (2 * batchBytes) / c, // read + write
  };
}

export interface Floor {
  counts: StepCounts;
  /** µs per part and in total */
  normalsUs: number;
  multiplyAddsUs: number;
  expsUs: number;
  bytesUs: number;
  floorUs: number;
}

export function stepFloor(counts: StepCounts, r: CoreRates): Floor {
  const normalsUs = counts.normals / r.normalsPerUs;
  const multiplyAddsUs = counts.multiplyAdds / r.multiplyAddsPerUs;
  const expsUs = counts.exps / r.expsPerUs;
  const bytesUs = counts.bytes / r.bytesPerUs;
  return { counts, normalsUs, multiplyAddsUs, expsUs, bytesUs, floorUs: normalsUs + multiplyAddsUs + expsUs + bytesUs };
}
