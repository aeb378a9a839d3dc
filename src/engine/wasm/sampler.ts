/**
 * `fillNormal` with the ziggurat in WebAssembly (asm/ziggurat.ts), bit for bit the stream of
 * data/rng.ts `Rng.fillNormal`: the same xoshiro128** words, the same tables (computed here by the
 * same operations as rng.ts), the wedge test with expNeg's operations in wasm, and for tail draws
 * (layer 0, about 1 in 4,000; they need Math.log) the same TypeScript code as rng.ts. Used by engine/wasm/attention.ts
 * (`kernel.sampleBatch`), which runs data/task.ts `sampleBatch` with this in place of the Rng.
 * Tested against Rng.fillNormal over millions of draws (test/core.wasm.sampler.test.ts).
 */
import { expNeg } from '../../math/exp.js';
import { xoshiroDouble as nextDouble, xoshiroNext as nextUint32 } from '../../data/rng.js';

// ---- the ziggurat tables, exactly as data/rng.ts builds them --------------------------------------
const ZIG_C = 128;
const ZIG_R = 3.442619855899;
const ZIG_V = 9.91256303526217e-3;
const TWO_M32 = 2 ** -32;
export const ZK = new Float64Array(ZIG_C);
export const ZWS = new Float64Array(2 * ZIG_C);
const ZX = new Float64Array(ZIG_C + 1);
const ZW = new Float64Array(ZIG_C);
export const ZF = new Float64Array(ZIG_C + 1);
{
  let f = Math.exp(-0.5 * ZIG_R * ZIG_R);
  ZX[0] = ZIG_V / f;
  ZX[1] = ZIG_R;
  for (let i = 2; i < ZIG_C; i++) {
    ZX[i] = Math.sqrt(-2 * Math.log(ZIG_V / ZX[i - 1]! + f));
    f = Math.exp(-0.5 * ZX[i]! * ZX[i]!);
  }
  ZX[ZIG_C] = 0;
  for (let i = 0; i < ZIG_C; i++) {
    ZK[i] = (ZX[i + 1]! / ZX[i]!) * 2 ** 32;
    ZW[i] = ZX[i]! * TWO_M32;
    ZWS[i] = ZW[i]!;
    ZWS[i + ZIG_C] = -ZW[i]!;
  }
  for (let i = 0; i <= ZIG_C; i++) ZF[i] = Math.exp(-0.5 * ZX[i]! * ZX[i]!);
}

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

/** |x| from the base layer with uniform u32 >= ZK[0] (as Rng.tail). */
function tail(s: Int32Array, u: number): number {
  const x = u * ZW[0]!;
  if (x < ZIG_R) return x;
  let t: number, y: number;
  do {
    t = -Math.log(1 - nextDouble(s)) / ZIG_R;
    y = -Math.log(1 - nextDouble(s));
  } while (y + y < t * t);
  return ZIG_R + t;
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
        const x = tail(s, u);
        host.heap()[base / 8 + j++] = byte & 128 ? -x : x;
      } else {
        const x = u * ZWS[byte]!;
        if (ZF[i]! + nextUint32(s) * TWO_M32 * (ZF[i + 1]! - ZF[i]!) < expNeg(-0.5 * x * x)) host.heap()[base / 8 + j++] = x;
      }
    }
  }
  if (!inPlace) out.set(host.heap().subarray(base / 8 + start, base / 8 + end), start);
}
