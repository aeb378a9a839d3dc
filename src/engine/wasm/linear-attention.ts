/**
 * One-layer linear attention (engine/ts/linear-attention.ts) on the WebAssembly engine:
 * asm/linear-attention.ts (f64x2 SIMD over coordinate pairs, the context moment M = sum_i z_i z_i^T
 * per prompt), inside an attention kernel's instance and memory (engine/wasm/attention.ts, whose module
 * exports it). Same signatures and results as the TypeScript kernel to ~1e-15 relative, not bit for bit
 * (summation orders differ), so a run is bit-reproducible within one engine only. No node:* imports.
 */
import type { Batch } from '../../data/batch.js';
import type { AttentionParams } from '../../model/params.js';
import { checkShapes } from '../ts/head-circuits.js';
import { linearScale, type LinearNorm } from '../ts/linear-attention.js';
import type { WasmKernel } from './attention.js';
import { callLayout, inMemoryOrCopy } from './call-layout.js';

/** asm/linear-attention.ts's exports (through asm/attention.ts). */
interface LinearExports {
  linScratchBytes(H: number, E: number): number;
  linForward(B: number, L: number, E: number, H: number, c: number, z: number, zq: number, theta: number, out: number, attn: number, scr: number): void;
  linLossAndGrad(B: number, L: number, E: number, H: number, c: number, z: number, zq: number, yq: number, theta: number, grad: number, out: number, scr: number): number;
}

/** The single-layer kernel's two calls (the softmax kernel's signatures) for one normalisation, as engine/ts/linear-attention.ts with `norm` fixed. */
export type LinearWasm = Pick<WasmKernel, 'forward' | 'lossAndGrad'>;

function exportsOf(kernel: WasmKernel): LinearExports {
  const x = kernel.exports as Partial<LinearExports>;
  if (typeof x.linForward !== 'function' || typeof x.linLossAndGrad !== 'function' || typeof x.linScratchBytes !== 'function')
    throw new Error('attention.wasm has no linear attention kernel (linForward): rebuild it with `npm run build:wasm`');
  return x as LinearExports;
}

/** The linear attention kernel (normalisation `norm`) inside `kernel`'s instance. */
export function linearWasm(kernel: WasmKernel, norm: LinearNorm): LinearWasm {
  const x = exportsOf(kernel);
  const mem = kernel.memory;
  const f64 = (ptr: number, n: number) => new Float64Array(mem.buffer, ptr, n);

  /** one call's arrays in the kernel's call region (the batch in place when it lives in wasm memory) */
  function place(p: AttentionParams, batch: Batch, withAttn: boolean) {
    const { B, L, E } = batch;
    const H = p.H;
    if (L < 1) throw new RangeError(`context length L must be >= 1, got ${L}`);
    const n = p.theta.length;
    const { blocks, scr } = callLayout(kernel, [n, n, B, withAttn ? B * H * L : 0, B * L * E, B * E, B], x.linScratchBytes(H, E)); // may grow memory: read the batch's arrays after it
    const [theta, grad, out, attn, z, zq, yq] = blocks as [number, number, number, number, number, number, number];
    const ptr = (a: Float64Array, fallback: number) => inMemoryOrCopy(kernel, a, fallback);
    f64(theta, n).set(p.theta);
    return { B, L, E, H, n, c: linearScale(norm, L), theta, grad, out, attn: withAttn ? attn : 0, z: ptr(batch.z, z), zq: ptr(batch.zq, zq), yq: ptr(batch.yq, yq), scr };
  }

  return {
    forward(p, batch, out, attn) {
      checkShapes(p, batch, out);
      if (attn && attn.length < batch.B * p.H * batch.L) throw new RangeError(`attn has ${attn.length} values, expected B*H*L = ${batch.B}*${p.H}*${batch.L}`);
      const c = place(p, batch, attn !== undefined);
      x.linForward(c.B, c.L, c.E, c.H, c.c, c.z, c.zq, c.theta, c.out, c.attn, c.scr);
      out.set(f64(c.out, c.B));
      if (attn) attn.set(f64(c.attn, c.B * c.H * c.L));
    },
    lossAndGrad(p, batch, grad, out) {
      checkShapes(p, batch, out);
      if (grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length} (theta length)`);
      const c = place(p, batch, false);
      const loss = x.linLossAndGrad(c.B, c.L, c.E, c.H, c.c, c.z, c.zq, c.yq, c.theta, c.grad, out ? c.out : 0, c.scr);
      grad.set(f64(c.grad, c.n));
      if (out) out.set(f64(c.out, c.B));
      return loss;
    },
  };
}
