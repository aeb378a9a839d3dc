/**
 * The browser's loader of the WebAssembly engine (src/io/wasm.ts is Node's: it reads the file with
 * node:fs). Fetches dist/wasm/attention.wasm (bundled as an asset) and compiles it; `browserKernels()`
 * hands run/loop.ts createState the kernel factory (as io/wasm.ts nodeKernels() does in Node).
 */
import wasmUrl from '../../../dist/wasm/attention.wasm?url';
import { compileAttentionWasm, createWasmKernel, type WasmModule } from '../../../src/engine/wasm/attention.js';
import type { EngineKernels } from '../../../src/run/model.js';

let compiled: WasmModule | null = null;

/** The kernels the browser provides: the WebAssembly one once `loadBrowserWasm()` succeeded. */
export function browserKernels(): EngineKernels {
  const m = compiled;
  return m ? { wasm: () => createWasmKernel(m) } : {};
}

export async function loadBrowserWasm(): Promise<string | null> {
  try {
    const res = await fetch(wasmUrl);
    if (!res.ok) return `attention.wasm: HTTP ${res.status}`;
    compiled = compileAttentionWasm(new Uint8Array(await res.arrayBuffer()));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
