/**
 * The 128-layer ziggurat's tables (Doornik's ZIGNOR layout) and its two rare paths (the wedge test
 * and Marsaglia's exponential tail), shared by data/rng.ts `Rng` and the wasm engine's sampler
 * (engine/wasm/sampler.ts, which passes the tables to asm/ziggurat.ts): one definition, one stream.
 */
import { expNeg } from '../math/exp.js';
import { xoshiroDouble, xoshiroNext } from './xoshiro.js';

export const ZIG_C = 128; // layers
export const ZIG_R = 3.442619855899; // start of the tail: x_1
export const ZIG_V = 9.91256303526217e-3; // area of each layer
export const TWO_M32 = 2 ** -32;

/** x_i, decreasing: x_0 = V / f(R) (pseudo-width of the base layer), x_1 = R, ..., x_C = 0. */
export const ZX = new Float64Array(ZIG_C + 1);
/** Accept threshold on the raw 32-bit uniform: u32 < ZK[i]  <=>  u * x_i < x_{i+1}. */
export const ZK = new Float64Array(ZIG_C);
/** Scale from the raw 32-bit uniform to the abscissa of layer i: x = u32 * ZW[i]. */
export const ZW = new Float64Array(ZIG_C);
/** f(x_i) = exp(-x_i^2 / 2) for the wedge test. */
export const ZF = new Float64Array(ZIG_C + 1);
/** Signed scale indexed by the whole layer byte (bit 7 = sign): a random sign without a branch. */
export const ZWS = new Float64Array(2 * ZIG_C);
{
  let f = Math.exp(-0.5 * ZIG_R * ZIG_R);
  ZX[0] = ZIG_V / f;
  ZX[1] = ZIG_R;
  for (let i = 2; i < ZIG_C; i++) {
    ZX[i] = Math.sqrt(-2 * Math.log(ZIG_V / ZX[i - 1] + f));
    f = Math.exp(-0.5 * ZX[i] * ZX[i]);
  }
  ZX[ZIG_C] = 0;
  for (let i = 0; i < ZIG_C; i++) {
    ZK[i] = (ZX[i + 1] / ZX[i]) * 2 ** 32;
    ZW[i] = ZX[i] * TWO_M32;
    ZWS[i] = ZW[i];
    ZWS[i + ZIG_C] = -ZW[i];
  }
  for (let i = 0; i <= ZIG_C; i++) ZF[i] = Math.exp(-0.5 * ZX[i]! * ZX[i]!);
}


/** |x| from the base layer with uniform u32 >= ZK[0]: the tail x > R (Marsaglia 1964); draws from s. */
export function zigguratTail(s: Int32Array, u: number): number {
  const x = u * ZW[0]!;
  if (x < ZIG_R) return x; // only by rounding at the boundary
  let t: number, y: number;
  do {
    t = -Math.log(1 - xoshiroDouble(s)) / ZIG_R;
    y = -Math.log(1 - xoshiroDouble(s));
  } while (y + y < t * t);
  return ZIG_R + t;
}

/** The wedge test of layer i (1..127) for the candidate x; draws one uniform from s. */
export function wedgeAccepts(s: Int32Array, i: number, x: number): boolean {
  return ZF[i]! + xoshiroNext(s) * TWO_M32 * (ZF[i + 1]! - ZF[i]!) < expNeg(-0.5 * x * x);
}
