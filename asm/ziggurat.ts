// The ziggurat of src/data/rng.ts (`zigguratRun` + the wedge test of `fillNormal`, data/ziggurat.ts `wedgeAccepts`), bit for bit:
// xoshiro128** on four 32-bit words, one layer byte (7 bits layer, 1 bit sign) from cached bits, one
// 32-bit uniform u, accepted when u < ZK[i] and written as u * ZWS[byte]; otherwise the wedge test
// with one more uniform and expNeg (asm/exp.ts, the same operations as src/math/exp.ts). Only a tail
// draw (layer 0, about 1 in 4,000 draws; it needs Math.log) stops the loop, as in rng.ts, and is
// finished by the TypeScript caller (src/engine/wasm/sampler.ts).
//
// st: i32[8] = s0..s3, cached bits, bytes left, (out) the tail draw's layer byte and uniform.
// zk: f64[128], zws: f64[256], zf: f64[129] (the TS tables, copied in). Writes out[j..end) (f64 at out + 8j).
import { expNegScalar } from './exp';

const TWO_M32: f64 = 2.3283064365386963e-10; // 2^-32

export function zigguratRun(st: usize, out: usize, j: i32, end: i32, zk: usize, zws: usize, zf: usize): i32 {
  let s0 = load<i32>(st), s1 = load<i32>(st, 4), s2 = load<i32>(st, 8), s3 = load<i32>(st, 12);
  let bits = load<i32>(st, 16), left = load<i32>(st, 20);
  while (j < end) {
    if (left == 0) {
      const m = s1 * 5;
      const r = rotl<i32>(m, 7) * 9;
      const t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl<i32>(s3, 11);
      bits = r;
      left = 4;
    }
    const byte = bits & 255;
    bits = <i32>(<u32>bits >> 8);
    left--;
    const i = byte & 127;
    const m = s1 * 5;
    const r = rotl<i32>(m, 7) * 9;
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl<i32>(s3, 11);
    const u = <f64><u32>r;
    if (u < load<f64>(zk + (<usize>i << 3))) {
      store<f64>(out + (<usize>j << 3), u * load<f64>(zws + (<usize>byte << 3)));
      j++;
      continue;
    }
    if (i != 0) {
      // wedge: accept x when f(x_i) + U (f(x_{i+1}) - f(x_i)) < exp(-x^2/2), with one more uniform
      const x = u * load<f64>(zws + (<usize>byte << 3));
      const m2 = s1 * 5;
      const r2 = rotl<i32>(m2, 7) * 9;
      const t2 = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t2; s3 = rotl<i32>(s3, 11);
      const fi = load<f64>(zf + (<usize>i << 3)), fi1 = load<f64>(zf + (<usize>(i + 1) << 3));
      if (fi + <f64><u32>r2 * TWO_M32 * (fi1 - fi) < expNegScalar(-0.5 * x * x)) {
        store<f64>(out + (<usize>j << 3), x);
        j++;
      }
      continue;
    }
    store<i32>(st, byte, 24); // tail draw: finished by the caller
    store<i32>(st, r, 28);
    break;
  }
  store<i32>(st, s0);
  store<i32>(st, s1, 4);
  store<i32>(st, s2, 8);
  store<i32>(st, s3, 12);
  store<i32>(st, bits, 16);
  store<i32>(st, left, 20);
  return j;
}
