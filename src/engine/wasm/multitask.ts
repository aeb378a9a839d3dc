/**
 * The multi-task model's kernel (n_out = N) on the WebAssembly engine: asm/multitask.ts (f64x2 SIMD,
 * heads in pairs), inside an attention kernel's instance and memory (engine/wasm/attention.ts, whose
 * module exports it). Same signatures and results as engine/ts/multitask.ts (`forwardMulti`,
 * `lossAndGradMulti`: MSE over B and N) to ~1e-15 relative, not bit for bit (summation orders differ),
 * so a run is bit-reproducible within one engine only.
 *
 * A batch from `allocMultiTaskBatchWasm` lives in wasm memory (no copy per call) and
 * `sampleMultiTaskWasm` draws data/multitask.ts `sampleMultiTask`'s batch with the wasm ziggurat: the
 * same batch and the same Rng state afterwards, bit for bit. No node:* imports.
 */
import type { Batch } from '../../data/batch.js';
import type { AttentionParams } from '../../model/params.js';
import type { Rng } from '../../data/rng.js';
import { sampleMultiTask, type MultiTaskBatch, type MultiTaskSpec, type TaskBlock } from '../../data/multitask.js';
import type { WasmKernel } from './attention.js';
import { callLayout, inMemoryOrCopy } from './call-layout.js';

/** asm/multitask.ts's exports (through asm/attention.ts). */
interface MultitaskExports {
  mtScratchBytes(H: number, E: number, N: number, L: number): number;
  mtForward(B: number, L: number, E: number, H: number, N: number, z: number, zq: number, theta: number, out: number, attn: number, scr: number): void;
  mtLossAndGrad(B: number, L: number, E: number, H: number, N: number, z: number, zq: number, yq: number, theta: number, grad: number, out: number, scr: number): number;
}

export interface MultitaskWasm {
  /** Outputs [B, N] (and attention weights [B, H, L]); returns the MSE, as engine/ts/multitask.ts forwardMulti. */
  forward(p: AttentionParams, batch: Batch, out: Float64Array, attn?: Float64Array): number;
  /** MSE over B and N; overwrites `grad` (theta layout [q | k | v | o]); `out` [B, N] if given. As lossAndGradMulti. */
  lossAndGrad(p: AttentionParams, batch: Batch, grad: Float64Array, out?: Float64Array): number;
}

function exportsOf(kernel: WasmKernel): MultitaskExports {
  const x = kernel.exports as Partial<MultitaskExports>;
  if (typeof x.mtForward !== 'function' || typeof x.mtLossAndGrad !== 'function' || typeof x.mtScratchBytes !== 'function')
    throw new Error('attention.wasm has no multi-task kernel (mtForward): rebuild it with `npm run build:wasm`');
  return x as MultitaskExports;
}

/** The multi-task kernel inside `kernel`'s instance. */
export function multitaskWasm(kernel: WasmKernel): MultitaskWasm {
  const x = exportsOf(kernel);
  const mem = kernel.memory;
  const f64 = (ptr: number, n: number) => new Float64Array(mem.buffer, ptr, n);

  /** one call's arrays in the kernel's call region (the batch in place when it lives in wasm memory) */
  function place(p: AttentionParams, batch: Batch, withAttn: boolean) {
    const { B, L, E } = batch;
    const { H, nOut: N } = p;
    if (p.E !== E) throw new RangeError(`model token width E=${p.E} does not match the batch's E=${E}`);
    if (batch.yq.length !== B * N) throw new RangeError(`model has n_out = ${N} outputs, the batch has ${batch.yq.length / B} targets per prompt`);
    if (batch.z.length !== B * L * E || batch.zq.length !== B * E) throw new RangeError(`batch arrays do not match B=${B}, L=${L}, E=${E}`);
    if (L < 1) throw new RangeError(`context length L must be >= 1, got ${L}`);
    const n = p.theta.length;
    const { blocks, scr } = callLayout(kernel, [n, n, B * N, withAttn ? B * H * L : 0, B * L * E, B * E, B * N], x.mtScratchBytes(H, E, N, L)); // may grow memory: read the batch's arrays after it
    const [theta, grad, out, attn, z, zq, yq] = blocks as [number, number, number, number, number, number, number];
    const ptr = (a: Float64Array, fallback: number) => inMemoryOrCopy(kernel, a, fallback);
    f64(theta, n).set(p.theta);
    return { B, L, E, H, N, n, theta, grad, out, attn: withAttn ? attn : 0, z: ptr(batch.z, z), zq: ptr(batch.zq, zq), yq: ptr(batch.yq, yq), scr };
  }

  /** the MSE of outputs [B, N] against the batch's targets (forward's return, as forwardMulti) */
  const mse = (o: Float64Array, yq: Float64Array, count: number) => {
    let s = 0;
    for (let i = 0; i < count; i++) {
      const e = o[i]! - yq[i]!;
      s += e * e;
    }
    return s / count;
  };

  return {
    forward(p, batch, out, attn) {
      const c = place(p, batch, attn !== undefined);
      if (out.length < c.B * c.N) throw new RangeError(`out has ${out.length} values, expected B*N = ${c.B}*${c.N}`);
      if (attn && attn.length < c.B * c.H * c.L) throw new RangeError(`attn has ${attn.length} values, expected B*H*L = ${c.B}*${c.H}*${c.L}`);
      x.mtForward(c.B, c.L, c.E, c.H, c.N, c.z, c.zq, c.theta, c.out, c.attn, c.scr);
      const o = f64(c.out, c.B * c.N);
      out.set(o);
      if (attn) attn.set(f64(c.attn, c.B * c.H * c.L));
      return mse(o, f64(c.yq, c.B * c.N), c.B * c.N);
    },
    lossAndGrad(p, batch, grad, out) {
      if (grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length}`);
      const c = place(p, batch, false);
      if (out && out.length < c.B * c.N) throw new RangeError(`out has ${out.length} values, expected B*N = ${c.B}*${c.N}`);
      const loss = x.mtLossAndGrad(c.B, c.L, c.E, c.H, c.N, c.z, c.zq, c.yq, c.theta, c.grad, out ? c.out : 0, c.scr);
      grad.set(f64(c.grad, c.n));
      if (out) out.set(f64(c.out, c.B * c.N));
      return loss;
    },
  };
}

/** data/multitask.ts allocMultiTaskBatch with z, zq, yq in `kernel`'s memory (views renewed when it grows). */
export function allocMultiTaskBatchWasm(kernel: WasmKernel, B: number, L: number, d: number, tasks: readonly TaskBlock[]): MultiTaskBatch {
  const N = tasks.length;
  const b = kernel.allocBatch(B, L, d + N - 1, N);
  return Object.assign(b, { dx: d, N, tasks });
}

/** data/multitask.ts sampleMultiTask with the wasm ziggurat: the same batch and `rng` state, bit for bit. */
export function sampleMultiTaskWasm(kernel: WasmKernel, spec: MultiTaskSpec, rng: Rng, out?: MultiTaskBatch): MultiTaskBatch {
  const most = spec.batchSize * (spec.L + 1) * Math.max(spec.d, 1);
  return kernel.withFastNormals(rng, most, (fast) => sampleMultiTask(spec, fast, out));
}
