// exp(x) for x <= 0 with the operations of src/core/exp.ts expNeg (Tang's method, 32-entry table),
// shared by the attention kernel (softmax) and the ziggurat (wedge test). T32 = 2^(j/32), j = 0..31,
// is written into memory by the caller (the same doubles as core/exp.ts) and registered by setT32.

export const INV_LN2_32: f64 = 46.16624130844683; // 32 / ln 2
export const LN2_32_HI: f64 = 0.02166084937925916;
export const LN2_32_LO: f64 = 1.3239129268154012e-11;
export const ROUND: f64 = 6755399441055744.0; // 1.5 * 2^52
export const C6: f64 = 1.0 / 6.0;
export const C24: f64 = 1.0 / 24.0;
export const C120: f64 = 1.0 / 120.0;
export const C720: f64 = 1.0 / 720.0;

export let T32: usize = 0;

export function setT32(ptr: usize): void {
  T32 = ptr;
}

/** expNeg(x), scalar: bit-identical to core/exp.ts for x in [-708, 0]; below, Math.exp (AssemblyScript's) or 0. */
export function expNegScalar(x: f64): f64 {
  if (!(x <= 0) || x < -708) return x < -745.2 ? 0 : Math.exp(x);
  const n = x * INV_LN2_32 + ROUND - ROUND;
  const r = x - n * LN2_32_HI - n * LN2_32_LO;
  const ni = <i32>-n;
  const p = 1 + r * (1 + r * (0.5 + r * (C6 + r * (C24 + r * (C120 + r * C720)))));
  const k = (ni + 31) >> 5;
  const j = (k << 5) - ni;
  return reinterpret<f64>(<i64>(1023 - k) << 52) * load<f64>(T32 + (<usize>j << 3)) * p;
}

/**
 * exp(x) per lane for x <= 0: expNeg's operations (core/exp.ts, Tang's method with a 32-entry table),
 * two lanes at a time, so the results are bit-identical to it. The integer n = round(x * 32/ln2) is
 * read from the low mantissa bits of x * 32/ln2 + 1.5*2^52 (no float-to-int conversion); 2^(n >> 5)
 * is built in the exponent bits; only the table entries 2^((n & 31)/32) are loaded per lane.
 * Lanes below -708 (or NaN) take expNeg's scalar path.
 */
// @ts-ignore: decorator
@inline
export function expNeg2(x: v128): v128 {
  if (v128.any_true(v128.not(f64x2.ge(x, f64x2.splat(-708.0))))) {
    return f64x2.replace_lane(f64x2.splat(expNegScalar(f64x2.extract_lane(x, 0))), 1, expNegScalar(f64x2.extract_lane(x, 1)));
  }
  const R = f64x2.splat(ROUND);
  const nb = f64x2.add(f64x2.mul(x, f64x2.splat(INV_LN2_32)), R); // ROUND + n
  const n = f64x2.sub(nb, R);
  const r = f64x2.sub(f64x2.sub(x, f64x2.mul(n, f64x2.splat(LN2_32_HI))), f64x2.mul(n, f64x2.splat(LN2_32_LO)));
  let p = f64x2.add(f64x2.splat(C120), f64x2.mul(r, f64x2.splat(C720)));
  p = f64x2.add(f64x2.splat(C24), f64x2.mul(r, p));
  p = f64x2.add(f64x2.splat(C6), f64x2.mul(r, p));
  p = f64x2.add(f64x2.splat(0.5), f64x2.mul(r, p));
  p = f64x2.add(f64x2.splat(1.0), f64x2.mul(r, p));
  p = f64x2.add(f64x2.splat(1.0), f64x2.mul(r, p));
  const ni = i64x2.sub(nb, R); // n as an integer (bits(ROUND + n) - bits(ROUND))
  const p2 = i64x2.shl(i64x2.add(i64x2.shr_s(ni, 5), i64x2.splat(1023)), 52); // 2^(n >> 5) = 2^-k
  const j = v128.and(ni, i64x2.splat(31)); // n & 31
  let t = v128.load64_splat(T32 + (<usize>i64x2.extract_lane(j, 0) << 3));
  t = v128.load64_lane(T32 + (<usize>i64x2.extract_lane(j, 1) << 3), t, 1);
  return f64x2.mul(f64x2.mul(p2, t), p);
}
