/**
 * Node side of the WebAssembly engine: reads dist/wasm/attention.wasm (built by `npm run build`
 * from asm/attention.ts) and compiles it once. `wasmAvailable()` is false when the file is missing
 * or the runtime lacks WebAssembly SIMD; callers then use the TypeScript kernel.
 *
 * Importing this module registers the loader with core/attention-wasm.ts (`registeredAttentionWasm()`),
 * so pure code (train/model.ts, train/config.ts) can use the engine; the file is read on first use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileAttentionWasm, createWasmKernel, registerAttentionWasm, registerAttentionWasmShared, type WasmKernel, type WasmModule } from '../core/attention-wasm.js';

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

registerAttentionWasm(attentionWasmModule);
registerAttentionWasmShared(attentionSharedWasmModule);
