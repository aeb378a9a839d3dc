/**
 * One kernel call's arrays in a wasm kernel's call region (engine/wasm/attention.ts `callRegion`):
 * consecutive 16-byte aligned blocks of float64 counts, then the kernel's scratch; and the batch read
 * in place when it already lives in the kernel's memory (a batch from `allocBatch`), else copied to
 * its block. Used by the kernels that run inside an attention kernel's instance (multitask.ts,
 * linear-attention.ts). No node:* imports.
 */
import type { WasmKernel } from './attention.js';

const align = (n: number) => Math.ceil(n / 16) * 16;

/** Byte offsets of blocks of `counts[i]` doubles, then of `scrBytes` scratch bytes (may grow memory: read views after it). */
export function callLayout(kernel: WasmKernel, counts: readonly number[], scrBytes: number): { blocks: number[]; scr: number } {
  const sizes = counts.map((k) => align(k * 8));
  let o = kernel.callRegion(sizes.reduce((a, b) => a + b, 0) + scrBytes);
  const blocks = sizes.map((s) => {
    const r = o;
    o += s;
    return r;
  });
  return { blocks, scr: o };
}

/** The offset of `a` in the kernel's memory, copying it to `fallback` when it lives elsewhere. */
export function inMemoryOrCopy(kernel: WasmKernel, a: Float64Array, fallback: number): number {
  if (a.buffer === kernel.memory.buffer) return a.byteOffset;
  new Float64Array(kernel.memory.buffer, fallback, a.length).set(a);
  return fallback;
}
