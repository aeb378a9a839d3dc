// exp(x) for x <= 0 with the operations of src/math/exp.ts expNeg (Tang's method, 32-entry table),
// shared by the attention kernel (softmax) and the ziggurat (wedge test). T32 = 2^(j/32), j = 0..31,
// is a data segment holding the same doubles as math/exp.ts (`2 ** (j / 32)` in JavaScript, written
// here by their bits; test/core.wasm.test.ts checks the results against expNeg bit for bit).

export const INV_LN2_32: f64 = 46.16624130844683; // 32 / ln 2
export const LN2_32_HI: f64 = 0.02166084937925916;
export const LN2_32_LO: f64 = 1.3239129268154012e-11;
export const ROUND: f64 = 6755399441055744.0; // 1.5 * 2^52
export const C6: f64 = 1.0 / 6.0;
export const C24: f64 = 1.0 / 24.0;
export const C120: f64 = 1.0 / 120.0;
export const C720: f64 = 1.0 / 720.0;

export const T32: usize = memory.data<f64>([
  reinterpret<f64>(<i64>0x3ff0000000000000), reinterpret<f64>(<i64>0x3ff059b0d3158574), reinterpret<f64>(<i64>0x3ff0b5586cf9890f), reinterpret<f64>(<i64>0x3ff11301d0125b51),
  reinterpret<f64>(<i64>0x3ff172b83c7d517b), reinterpret<f64>(<i64>0x3ff1d4873168b9aa), reinterpret<f64>(<i64>0x3ff2387a6e756238), reinterpret<f64>(<i64>0x3ff29e9df51fdee1),
  reinterpret<f64>(<i64>0x3ff306fe0a31b715), reinterpret<f64>(<i64>0x3ff371a7373aa9cb), reinterpret<f64>(<i64>0x3ff3dea64c123422), reinterpret<f64>(<i64>0x3ff44e086061892d),
  reinterpret<f64>(<i64>0x3ff4bfdad5362a27), reinterpret<f64>(<i64>0x3ff5342b569d4f82), reinterpret<f64>(<i64>0x3ff5ab07dd485429), reinterpret<f64>(<i64>0x3ff6247eb03a5584),
  reinterpret<f64>(<i64>0x3ff6a09e667f3bcd), reinterpret<f64>(<i64>0x3ff71f75e8ec5f74), reinterpret<f64>(<i64>0x3ff7a11473eb0187), reinterpret<f64>(<i64>0x3ff82589994cce13),
  reinterpret<f64>(<i64>0x3ff8ace5422aa0dc), reinterpret<f64>(<i64>0x3ff93737b0cdc5e5), reinterpret<f64>(<i64>0x3ff9c49182a3f090), reinterpret<f64>(<i64>0x3ffa5503b23e255c),
  reinterpret<f64>(<i64>0x3ffae89f995ad3ae), reinterpret<f64>(<i64>0x3ffb7f76f2fb5e47), reinterpret<f64>(<i64>0x3ffc199bdd85529c), reinterpret<f64>(<i64>0x3ffcb720dcef9069),
  reinterpret<f64>(<i64>0x3ffd5818dcfba487), reinterpret<f64>(<i64>0x3ffdfc97337b9b5f), reinterpret<f64>(<i64>0x3ffea4afa2a490da), reinterpret<f64>(<i64>0x3fff50765b6e4540),
], 16);

/** expNeg(x), scalar: bit-identical to math/exp.ts for x in [-708, 0]; below, Math.exp (AssemblyScript's) or 0. */
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

// The vector constants of expNeg2 as data (two lanes each): read from memory in the loops, as a
// v128.const there is rebuilt at every use (3 instructions each in V8's code).
const K_LIM: usize = 0, K_INV: usize = 16, K_ROUND: usize = 32, K_HI: usize = 48, K_LO: usize = 64;
const K_720: usize = 80, K_120: usize = 96, K_24: usize = 112, K_6: usize = 128, K_HALF: usize = 144, K_ONE: usize = 160;
const K_NBIAS: usize = 176, K_MASK: usize = 192;
const EXPK: usize = memory.data<f64>([
  -708.0, -708.0, INV_LN2_32, INV_LN2_32, ROUND, ROUND, LN2_32_HI, LN2_32_HI, LN2_32_LO, LN2_32_LO,
  C720, C720, C120, C120, C24, C24, C6, C6, 0.5, 0.5, 1.0, 1.0,
  // K_NBIAS: the bits of ROUND - 32736 (i64); K_MASK: 31 (i64), as doubles with those bits
  reinterpret<f64>(0x4338000000000000 - 32736), reinterpret<f64>(0x4338000000000000 - 32736), reinterpret<f64>(<i64>31), reinterpret<f64>(<i64>31),
], 16);

// @ts-ignore: decorator
@inline
function kk(o: usize): v128 {
  return v128.load(EXPK + o);
}

/**
 * exp(x) per lane for x <= 0: expNeg's operations (math/exp.ts, Tang's method with a 32-entry table),
 * two lanes at a time, so the results are bit-identical to it. The integer n = round(x * 32/ln2) is
 * read from the low mantissa bits of x * 32/ln2 + 1.5*2^52 (no float-to-int conversion), offset by
 * 32736 = 1023 * 32 so that it is non-negative for x >= -708: then (n + 32736) >>> 5 = (n >> 5) + 1023
 * is 2^(n >> 5)'s exponent field (a logical shift: i64x2 has no native arithmetic one) and
 * (n + 32736) & 31 = n & 31 picks the table entry 2^((n & 31)/32), loaded per lane.
 * Lanes below -708 (or NaN) take expNeg's scalar path.
 */
// @ts-ignore: decorator
@inline
export function expNeg2(x: v128): v128 {
  if (!i64x2.all_true(f64x2.ge(x, kk(K_LIM)))) {
    return f64x2.replace_lane(f64x2.splat(expNegScalar(f64x2.extract_lane(x, 0))), 1, expNegScalar(f64x2.extract_lane(x, 1)));
  }
  return expNeg2InRange(x);
}

/** `true` when every lane of x is in [-708, 0] or NaN-free enough for expNeg2InRange: x >= -708 in both lanes. */
// @ts-ignore: decorator
@inline
export function expInRange(x: v128): bool {
  return i64x2.all_true(f64x2.ge(x, kk(K_LIM)));
}

/** expNeg2 without its range check: only for lanes known to be >= -708 (a softmax whose min - max is). */
// @ts-ignore: decorator
@inline
export function expNeg2InRange(x: v128): v128 {
  const R = kk(K_ROUND);
  const nb = f64x2.add(f64x2.mul(x, kk(K_INV)), R); // ROUND + n
  const n = f64x2.sub(nb, R);
  const r = f64x2.sub(f64x2.sub(x, f64x2.mul(n, kk(K_HI))), f64x2.mul(n, kk(K_LO)));
  let p = f64x2.add(kk(K_120), f64x2.mul(r, kk(K_720)));
  p = f64x2.add(kk(K_24), f64x2.mul(r, p));
  p = f64x2.add(kk(K_6), f64x2.mul(r, p));
  p = f64x2.add(kk(K_HALF), f64x2.mul(r, p));
  const one = kk(K_ONE);
  p = f64x2.add(one, f64x2.mul(r, p));
  p = f64x2.add(one, f64x2.mul(r, p));
  const ni = i64x2.sub(nb, kk(K_NBIAS)); // n + 32736 as an integer (bits(ROUND + n) - bits(ROUND - 32736))
  const p2 = i64x2.shl(i64x2.shr_u(ni, 5), 52); // 2^(n >> 5) = 2^-k
  const j = v128.and(ni, kk(K_MASK)); // n & 31
  let t = v128.load64_splat(T32 + (<usize>i64x2.extract_lane(j, 0) << 3));
  t = v128.load64_lane(T32 + (<usize>i64x2.extract_lane(j, 1) << 3), t, 1);
  return f64x2.mul(f64x2.mul(p2, t), p);
}
