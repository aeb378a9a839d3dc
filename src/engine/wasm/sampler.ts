/**
 * `fillNormal` with the ziggurat in WebAssembly (asm/ziggurat.ts), bit for bit the stream of
 * data/rng.ts `Rng.fillNormal`: the same xoshiro128** words, the same tables (data/ziggurat.ts), the wedge test with expNeg's operations in wasm, and for tail draws
 * (layer 0, about 1 in 4,000; they need Math.log) the same TypeScript code as rng.ts. Used by engine/wasm/attention.ts
 * (`kernel.sampleBatch`), which runs data/task.ts `sampleBatch` with this in place of the Rng.
 * Tested against Rng.fillNormal over millions of draws (test/core.wasm.sampler.test.ts).
 */
import { wedgeAccepts, ZF, ZK, ZWS, zigguratTail } from '../../data/ziggurat.js';

export { ZF, ZK, ZWS };

/** What the sampler needs from the wasm instance. */
export interface ZigguratHost {
  /** asm/ziggurat.ts zigguratRun */
  run(st: number, out: number, j: number, end: number, zk: number, zws: number, zf: number): number;
  /** the state words i32[8] at byte offset `st` (a fresh view: memory may have grown) */
  state(): Int32Array;
  /** byte offset of a Float64Array if it lives in wasm memory, else -1 */
  offsetOf(a: Float64Array): number;
  /** a wasm scratch region of n doubles: byte offset (the caller has grown the memory beforehand) */
  scratch(n: number): number;
  /** the whole memory as doubles (a fresh view after growth) */
  heap(): Float64Array;
  st: number;
  zk: number;
  zws: number;
  zf: number;
}

/** out[start..end) = standard normals from the state at host.st (the stream of Rng.fillNormal). */
export function fillNormalWasm(host: ZigguratHost, out: Float64Array, start = 0, end = out.length): void {
  let base = host.offsetOf(out);
  const inPlace = base >= 0;
  if (!inPlace) base = host.scratch(end);
  let j = start;
  while (j < end) {
    j = host.run(host.st, base, j, end, host.zk, host.zws, host.zf);
    if (j < end) {
      // a tail draw (wasm finishes wedge draws itself): layer byte s[6], uniform s[7]; the same code as Rng.fillNormal
      const s = host.state();
      const byte = s[6]!, u = s[7]! >>> 0, i = byte & 127;
      if (i === 0) {
        const x = zigguratTail(s, u);
        host.heap()[base / 8 + j++] = byte & 128 ? -x : x;
      } else {
        const x = u * ZWS[byte]!;
        if (wedgeAccepts(s, i, x)) host.heap()[base / 8 + j++] = x;
      }
    }
  }
  if (!inPlace) out.set(host.heap().subarray(base / 8 + start, base / 8 + end), start);
}
