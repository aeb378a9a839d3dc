/**
 * exp(x) for x <= 0, accurate to ~1 ulp and several times faster than V8's Math.exp (which is an
 * out-of-line call). Used for the softmax numerators exp(s - max s), whose arguments are <= 0.
 *
 * Method (Tang 1989): n = round(x * 32 / ln 2), x = n ln2/32 + r with |r| <= ln2/64,
 * exp(x) = 2^(n >> 5) * 2^((n & 31)/32) * exp(r), exp(r) by its degree-6 Taylor polynomial
 * (truncation error < r^7/5040 < 3e-18). ln2/32 is split into a 32-bit head and a tail so the
 * reduction n * ln2/32 is exact for every n that can occur (|n| < 2^16).
 */
const INV_LN2_32 = 46.16624130844683; // 32 / ln 2
const LN2_32_HI = 0.02166084937925916; // head of ln2/32 (low 22 mantissa bits zero: n * HI is exact)
const LN2_32_LO = 1.3239129268154012e-11; // ln2/32 - LN2_32_HI
const ROUND = 6755399441055744; // 1.5 * 2^52: adding and subtracting it rounds to an integer

/** 2^(j/32), j = 0..31 */
const T32 = new Float64Array(32);
/** 2^-k, k = 0..1074 (subnormals included) */
const P2 = new Float64Array(1075);
for (let j = 0; j < 32; j++) T32[j] = 2 ** (j / 32);
for (let k = 0; k < 1075; k++) P2[k] = 2 ** -k;

/** exp(x) for x <= 0 (x > 0 or NaN falls back to Math.exp). */
export function expNeg(x: number): number {
  if (!(x <= 0) || x < -708) return x < -745.2 ? 0 : Math.exp(x);
  const n = x * INV_LN2_32 + ROUND - ROUND; // round(x * 32/ln2), in [-32690, 0]
  const r = x - n * LN2_32_HI - n * LN2_32_LO;
  const ni = -n | 0; // >= 0
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720))))));
  const k = (ni + 31) >> 5; // ceil(ni / 32)
  const j = (k << 5) - ni; // in 0..31, n = -32k + j
  return P2[k]! * T32[j]! * p;
}
