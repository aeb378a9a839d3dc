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
