/**
 * Node side of the WebAssembly engine: reads dist/wasm/attention.wasm (built by `npm run build`
 * from asm/attention.ts) and compiles it once. `wasmAvailable()` is false when the file is missing
 * or the runtime lacks WebAssembly SIMD; callers then use the TypeScript kernel.
 * The file is read on first use; nothing happens on import (run/model.ts asks for a kernel explicitly).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { compileAttentionWasm, createWasmKernel, type WasmKernel, type WasmModule } from '../engine/wasm/attention.js';
import type { ModelForward } from '../engine/model.js';
import { attentionForward } from '../engine/single-layer-kernel.js';

/** Where the compiled kernel is looked for: next to the compiled JS (dist/io -> dist/wasm), or dist/ from src/ (tests). */
export const WASM_CANDIDATES = [new URL('../wasm/attention.wasm', import.meta.url), new URL('../../dist/wasm/attention.wasm', import.meta.url)].map((u) => fileURLToPath(u));

let cached: WasmModule | null | undefined;
let why = '';

/** The compiled module, or null (and `wasmUnavailableReason()` says why). */
export function attentionWasmModule(): WasmModule | null {
  if (cached !== undefined) return cached;
  cached = null;
  const path = WASM_CANDIDATES.find((p) => existsSync(p));
  if (!path) {
    why = `${WASM_CANDIDATES[0]} not found (run npm run build)`;
    return null;
  }
  try {
    cached = compileAttentionWasm(readFileSync(path));
  } catch (e) {
    why = `${path}: ${(e as Error).message}`;
  }
  return cached;
}

export function wasmAvailable(): boolean {
  return attentionWasmModule() !== null;
}

export function wasmUnavailableReason(): string {
  attentionWasmModule();
  return why;
}

/** A fresh wasm kernel (own instance and memory); throws when the engine is unavailable. */
export function loadWasmKernel(): WasmKernel {
  const m = attentionWasmModule();
  if (!m) throw new Error(`the wasm engine is unavailable: ${why}`);
  return createWasmKernel(m);
}


/** The shared-memory build (dist/wasm/attention-shared.wasm, same code, imported shared memory), or null. */
export const SHARED_WASM_CANDIDATES = WASM_CANDIDATES.map((p) => p.replace(/attention\.wasm$/, 'attention-shared.wasm'));
let cachedShared: WasmModule | null | undefined;
export function attentionSharedWasmModule(): WasmModule | null {
  if (cachedShared !== undefined) return cachedShared;
  cachedShared = null;
  const path = SHARED_WASM_CANDIDATES.find((p) => existsSync(p));
  if (path && attentionWasmModule()) {
    try {
      cachedShared = compileAttentionWasm(readFileSync(path));
    } catch {
      cachedShared = null; // no threads in this runtime: the plain build serves
    }
  }
  return cachedShared;
}

/**
 * The kernels Node provides to run/model.ts: the WebAssembly one when it loads, on the shared-memory
 * build when that loads too (so `train --threads 2` can sample straight into the kernel's memory).
 */
export function nodeKernels(): { wasm: () => WasmKernel } {
  return {
    wasm: () => {
      if (!wasmAvailable()) throw new UsageError(`--engine wasm: the WebAssembly kernel is not available here (${wasmUnavailableReason()}; build it with npm run build, or use --engine ts)`);
      return createWasmKernel(attentionSharedWasmModule() ?? attentionWasmModule()!);
    },
  };
}

/**
 * The forward that evaluation runs models with: the wasm kernel's when it loads (the TypeScript
 * forward's doubles bit for bit, test/core.wasm.test.ts; several times faster), else the TypeScript one;
 * each model runs with its own attention (AttentionParams.attention: softmax or linear).
 */
export function nodeForward(): ModelForward {
  const m = attentionWasmModule();
  if (!m) return attentionForward();
  return attentionForward(createWasmKernel(m));
}
