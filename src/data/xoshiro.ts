/**
 * xoshiro128** (Blackman & Vigna) on a state view s[0..3] of 32-bit words: shared by data/rng.ts
 * `Rng` and the wasm engine's sampler (engine/wasm/sampler.ts, state in wasm memory), so both draw
 * one stream.
 */

/**
 * One xoshiro128** step on a state view (s[0..3]): the next 32 random bits as an unsigned integer
 * in [0, 2^32).
 */
export function xoshiroNext(s: Int32Array): number {
  const s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
  const m = Math.imul(s1, 5);
  const r = Math.imul((m << 7) | (m >>> 25), 9);
  const t = s1 << 9;
  const n2 = s2 ^ s0, n3 = s3 ^ s1;
  s[1] = s1 ^ n2;
  s[0] = s0 ^ n3;
  s[2] = n2 ^ t;
  s[3] = (n3 << 11) | (n3 >>> 21);
  return r >>> 0;
}

/** Uniform double in [0, 1) with 53 random bits from two xoshiro128** outputs. */
export function xoshiroDouble(s: Int32Array): number {
  const a = xoshiroNext(s) >>> 5; // 27 bits
  const b = xoshiroNext(s) >>> 6; // 26 bits
  return (a * 67108864 + b) * 1.1102230246251565e-16; // / 2^53
}

