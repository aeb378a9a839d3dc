/**
 * The browser's loader of the WebAssembly engine (src/io/wasm.ts is Node's: it reads the file with
 * node:fs). Fetches dist/wasm/attention.wasm (bundled as an asset), compiles it and registers it with
 * core/attention-wasm.ts, so train/model.ts can build wasm kernels. Returns why it failed, or null.
 */
import wasmUrl from '../../../dist/wasm/attention.wasm?url';
import { compileAttentionWasm, registerAttentionWasm } from '../../../src/core/attention-wasm.js';

export async function loadBrowserWasm(): Promise<string | null> {
  try {
    const res = await fetch(wasmUrl);
    if (!res.ok) return `attention.wasm: HTTP ${res.status}`;
    const module = compileAttentionWasm(new Uint8Array(await res.arrayBuffer()));
    registerAttentionWasm(() => module);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
