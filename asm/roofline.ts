// Micro-benchmarks of what one training step is made of (src/bench/roofline.ts): random bits
// turned into uniforms, f64x2 multiply-adds, vector exponentials, memory traffic. Each is the
// best this core does per operation in wasm; a step's floor is its counts divided by these rates.
import { expNeg2 } from './exp';

// @ts-ignore: decorator
@inline function rotl4(x: v128, k: i32): v128 {
  return v128.or(i32x4.shl(x, k), i32x4.shr_u(x, 32 - k));
}

/** n uniforms (52 bits each, two per step of four xoshiro128** lanes) stored at out: the random bits a normal needs at least */
export function rfUniforms(st: usize, out: usize, n: i32): void {
  let s0 = v128.load(st), s1 = v128.load(st, 16), s2 = v128.load(st, 32), s3 = v128.load(st, 48);
  const one = f64x2.splat(1.0), oneBits = i64x2.splat(0x3ff0000000000000);
  for (let j = 0; j < n; j += 2) {
    const m = i32x4.add(i32x4.shl(s1, 2), s1);
    const rr = rotl4(m, 7);
    const r = i32x4.add(i32x4.shl(rr, 3), rr);
    const t = i32x4.shl(s1, 9);
    s2 = v128.xor(s2, s0); s3 = v128.xor(s3, s1); s1 = v128.xor(s1, s2); s0 = v128.xor(s0, s3); s2 = v128.xor(s2, t); s3 = rotl4(s3, 11);
    v128.store(out + (<usize>j << 3), f64x2.sub(v128.or(i64x2.shr_u(r, 12), oneBits), one));
  }
  v128.store(st, s0); v128.store(st, s1, 16); v128.store(st, s2, 32); v128.store(st, s3, 48);
}

/** 16 n multiply-adds: n iterations of 8 independent f64x2 chains (peak throughput without FMA) */
export function rfMac(n: i32, x: f64): f64 {
  const m = f64x2.splat(0.999999), c = f64x2.splat(x);
  let a0 = c, a1 = c, a2 = c, a3 = c, a4 = c, a5 = c, a6 = c, a7 = c;
  for (let i = 0; i < n; i++) {
    a0 = f64x2.add(f64x2.mul(a0, m), c); a1 = f64x2.add(f64x2.mul(a1, m), c);
    a2 = f64x2.add(f64x2.mul(a2, m), c); a3 = f64x2.add(f64x2.mul(a3, m), c);
    a4 = f64x2.add(f64x2.mul(a4, m), c); a5 = f64x2.add(f64x2.mul(a5, m), c);
    a6 = f64x2.add(f64x2.mul(a6, m), c); a7 = f64x2.add(f64x2.mul(a7, m), c);
  }
  const s = f64x2.add(f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3)), f64x2.add(f64x2.add(a4, a5), f64x2.add(a6, a7)));
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** buf[i] = exp(buf[i] - 1) for n (even) values <= 1, in place (the softmax's vector exp) */
export function rfExp(buf: usize, n: i32): void {
  const one = f64x2.splat(1.0);
  for (let i = 0; i < n; i += 2) {
    const p = buf + (<usize>i << 3);
    v128.store(p, expNeg2(f64x2.sub(v128.load(p), one)));
  }
}

/** copy n bytes (the batch's bytes: written by the sampler, read by the step) */
export function rfCopy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n);
}
