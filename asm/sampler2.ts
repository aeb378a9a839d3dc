// Stream version 2: the normal sampler of src/data/normal2.ts (the TypeScript oracle), bit for bit,
// with four xoshiro128** lanes in one i32x4 and the ziggurat's fast path on two candidates at a
// time in f64x2. See normal2.ts for the definition of the stream; in short:
//
//   one generator step = one xoshiro128** step of each of the 4 lanes -> words w0 w1 w2 w3
//   candidate p (p = 0, 1) = the 64-bit word R_p = w_{2p} + 2^32 w_{2p+1} (the v128 read as i64x2):
//     byte = R & 511 (layer i = byte & 255, bit 8 = sign; 256 layers), U = (R >>> 12) * 2^-52 in [0, 1)
//     U < KR[i]        -> value U * XS[byte]                     (the fast path, 98.5 %)
//     i > 0            -> wedge: V from the next step's candidate 0; value if
//                         F[i] + V (F[i+1] - F[i]) < expNeg(-x^2/2), else no value
//     i = 0            -> x = U X[0]; x < R ? value : Marsaglia's tail, one step per try
//   Candidate 0 is fully handled (extra steps included) before candidate 1 of the same step.
//
// A batch fills the segments z, zq, beta in order as one stream (a candidate left over when a
// segment ends goes to the next segment; the one left over at the end of the batch is dropped),
// then assembles y as src/data/normal2.ts does (assembleBatch2), with the same operations in the same order.
//
// st layout (bytes): 0..63 the 16 state words SoA (word w of lane k at 16 w + 4 k), 64: pending
// flag (i32), 72: pending candidate's U (f64), 80: pending byte (i32).
import { expNegScalar } from './exp';

// @ts-ignore: decorator
@external("env", "log")
declare function jsLog(x: f64): f64; // Math.log of the host: the oracle's log, so tail draws agree bit for bit

const ZIG_R: f64 = 3.6541528853610088;
const ONE_BITS: i64 = 0x3ff0000000000000;

// tables (written by the host, the same doubles as normal2.ts): XS[512] signed widths, KR[512]
// accept thresholds on U (KR[256] twice: indexed by the 9-bit byte like XS), F[257] exp(-x_i^2/2), X0 = X[0]
let XS: usize = 0, KR: usize = 0, FT: usize = 0;
let X0: f64 = 0;

export function setSampler2Tables(xs: usize, kr: usize, f: usize, x0: f64): void {
  XS = xs;
  KR = kr;
  FT = f;
  X0 = x0;
}

// @ts-ignore: decorator
@inline
function rotl4(x: v128, k: i32): v128 {
  return v128.or(i32x4.shl(x, k), i32x4.shr_u(x, 32 - k));
}

/** one step of the four lanes held in memory at st; returns the 4 output words */
function stepMem(st: usize): v128 {
  let s0 = v128.load(st), s1 = v128.load(st, 16), s2 = v128.load(st, 32), s3 = v128.load(st, 48);
  const r = i32x4.mul(rotl4(i32x4.mul(s1, i32x4.splat(5)), 7), i32x4.splat(9));
  const t = i32x4.shl(s1, 9);
  s2 = v128.xor(s2, s0);
  s3 = v128.xor(s3, s1);
  s1 = v128.xor(s1, s2);
  s0 = v128.xor(s0, s3);
  s2 = v128.xor(s2, t);
  s3 = rotl4(s3, 11);
  v128.store(st, s0);
  v128.store(st, s1, 16);
  v128.store(st, s2, 32);
  v128.store(st, s3, 48);
  return r;
}

// @ts-ignore: decorator
@inline
function uniforms(r: v128): v128 {
  return f64x2.sub(v128.or(i64x2.shr_u(r, 12), i64x2.splat(ONE_BITS)), f64x2.splat(1.0));
}

/** the slow part of a candidate (byte, U) that failed U < KR[i]: a value, or NaN for none */
function slow(st: usize, byte: i32, u: f64): f64 {
  const i = byte & 255;
  if (i != 0) {
    const x = u * load<f64>(XS + (<usize>byte << 3));
    const v = f64x2.extract_lane(uniforms(stepMem(st)), 0);
    const fi = load<f64>(FT + (<usize>i << 3)), fi1 = load<f64>(FT + (<usize>(i + 1) << 3));
    return fi + v * (fi1 - fi) < expNegScalar(-0.5 * x * x) ? x : NaN;
  }
  let x = u * X0;
  if (x >= ZIG_R) {
    let t: f64, y: f64;
    do {
      const v = uniforms(stepMem(st));
      t = -jsLog(1.0 - f64x2.extract_lane(v, 0)) / ZIG_R;
      y = -jsLog(1.0 - f64x2.extract_lane(v, 1));
    } while (y + y < t * t);
    x = ZIG_R + t;
  }
  return byte & 256 ? -x : x;
}

/** value of candidate (byte, U) or NaN (no value) */
// @ts-ignore: decorator
@inline
function candidate(st: usize, byte: i32, u: f64): f64 {
  if (u < load<f64>(KR + (<usize>(byte & 255) << 3))) return u * load<f64>(XS + (<usize>byte << 3));
  return slow(st, byte, u);
}

/**
 * out[j..end) from the stream (f64 at out + 8j); a pending candidate (left over by the previous
 * segment) comes first; a candidate left over here becomes pending. Returns nothing: always fills.
 */
export function fill2(st: usize, out: usize, j: i32, end: i32): void {
  if (j >= end) return;
  if (load<i32>(st, 64) != 0) {
    store<i32>(st, 0, 64);
    const x = candidate(st, load<i32>(st, 80), load<f64>(st, 72));
    if (x == x) {
      store<f64>(out + (<usize>j << 3), x);
      j++;
    }
  }
  while (j < end) {
    // the fast loops: state in registers, every candidate accepted
    let s0 = v128.load(st), s1 = v128.load(st, 16), s2 = v128.load(st, 32), s3 = v128.load(st, 48);
    let r: v128 = i32x4.splat(0), u: v128 = f64x2.splat(0), b0 = 0, b1 = 0;
    let pending = false;
    const one = f64x2.splat(1.0), oneBits = i64x2.splat(ONE_BITS);
    const krT = KR, xsT = XS; // the tables' addresses in locals (a global is reloaded at every use)
    // two steps (four candidates) per iteration while four slots are left
    while (j + 4 <= end) {
      let rr = rotl4(i32x4.add(i32x4.shl(s1, 2), s1), 7);
      const rA = i32x4.add(i32x4.shl(rr, 3), rr);
      let t = i32x4.shl(s1, 9);
      s2 = v128.xor(s2, s0);
      s3 = v128.xor(s3, s1);
      s1 = v128.xor(s1, s2);
      s0 = v128.xor(s0, s3);
      s2 = v128.xor(s2, t);
      s3 = rotl4(s3, 11);
      const a0 = s0, a1 = s1, a2 = s2, a3 = s3; // the state after step A
      rr = rotl4(i32x4.add(i32x4.shl(s1, 2), s1), 7);
      const rB = i32x4.add(i32x4.shl(rr, 3), rr);
      t = i32x4.shl(s1, 9);
      s2 = v128.xor(s2, s0);
      s3 = v128.xor(s3, s1);
      s1 = v128.xor(s1, s2);
      s0 = v128.xor(s0, s3);
      s2 = v128.xor(s2, t);
      s3 = rotl4(s3, 11);
      const pA0 = <usize>(i32x4.extract_lane(rA, 0) & 511) << 3, pA1 = <usize>(i32x4.extract_lane(rA, 2) & 511) << 3;
      const pB0 = <usize>(i32x4.extract_lane(rB, 0) & 511) << 3, pB1 = <usize>(i32x4.extract_lane(rB, 2) & 511) << 3;
      const uA = f64x2.sub(v128.or(i64x2.shr_u(rA, 12), oneBits), one);
      const uB = f64x2.sub(v128.or(i64x2.shr_u(rB, 12), oneBits), one);
      const krA = v128.load64_lane(krT + pA1, v128.load64_splat(krT + pA0), 1);
      const krB = v128.load64_lane(krT + pB1, v128.load64_splat(krT + pB0), 1);
      const okA = f64x2.lt(uA, krA), okB = f64x2.lt(uB, krB);
      if (!i64x2.all_true(v128.and(okA, okB))) {
        if (i64x2.all_true(okA)) {
          v128.store(out + (<usize>j << 3), f64x2.mul(uA, v128.load64_lane(xsT + pA1, v128.load64_splat(xsT + pA0), 1)));
          j += 2;
          r = rB; // step B goes to the scalar code, the state after it is in s0..s3
          u = uB;
        } else {
          r = rA; // step A goes to the scalar code, with the state after it
          u = uA;
          s0 = a0;
          s1 = a1;
          s2 = a2;
          s3 = a3;
        }
        pending = true;
        break;
      }
      v128.store(out + (<usize>j << 3), f64x2.mul(uA, v128.load64_lane(xsT + pA1, v128.load64_splat(xsT + pA0), 1)));
      v128.store(out + (<usize>(j + 2) << 3), f64x2.mul(uB, v128.load64_lane(xsT + pB1, v128.load64_splat(xsT + pB0), 1)));
      j += 4;
    }
    // one step (two candidates) per iteration while two slots are left
    while (!pending && j + 2 <= end) {
      const m = i32x4.add(i32x4.shl(s1, 2), s1); // s1 * 5
      const rr = rotl4(m, 7);
      r = i32x4.add(i32x4.shl(rr, 3), rr); // * 9
      const t = i32x4.shl(s1, 9);
      s2 = v128.xor(s2, s0);
      s3 = v128.xor(s3, s1);
      s1 = v128.xor(s1, s2);
      s0 = v128.xor(s0, s3);
      s2 = v128.xor(s2, t);
      s3 = rotl4(s3, 11);
      b0 = i32x4.extract_lane(r, 0) & 511;
      b1 = i32x4.extract_lane(r, 2) & 511;
      u = f64x2.sub(v128.or(i64x2.shr_u(r, 12), oneBits), one);
      let kr = v128.load64_splat(krT + (<usize>(b0 & 255) << 3));
      kr = v128.load64_lane(krT + (<usize>(b1 & 255) << 3), kr, 1);
      let xs = v128.load64_splat(xsT + (<usize>b0 << 3));
      xs = v128.load64_lane(xsT + (<usize>b1 << 3), xs, 1);
      if (!i64x2.all_true(f64x2.lt(u, kr))) {
        pending = true; // this step's candidates go to the scalar code below
        break;
      }
      v128.store(out + (<usize>j << 3), f64x2.mul(u, xs));
      j += 2;
    }
    if (!pending) {
      // j + 2 > end: one slot left (or none); draw one step for it
      v128.store(st, s0);
      v128.store(st, s1, 16);
      v128.store(st, s2, 32);
      v128.store(st, s3, 48);
      if (j >= end) break;
      r = stepMem(st);
      b0 = i32x4.extract_lane(r, 0) & 511;
      b1 = i32x4.extract_lane(r, 2) & 511;
      u = uniforms(r);
    } else {
      v128.store(st, s0);
      v128.store(st, s1, 16);
      v128.store(st, s2, 32);
      v128.store(st, s3, 48);
      b0 = i32x4.extract_lane(r, 0) & 511;
      b1 = i32x4.extract_lane(r, 2) & 511;
    }
    // the step in r, (b0, u0), (b1, u1), state in memory: candidate 0, then candidate 1
    const x0 = candidate(st, b0, f64x2.extract_lane(u, 0));
    if (x0 == x0) {
      store<f64>(out + (<usize>j << 3), x0);
      j++;
    }
    const u1 = f64x2.extract_lane(u, 1);
    if (j >= end) {
      store<i32>(st, 1, 64); // candidate 1 is left over for the next segment
      store<f64>(st, u1, 72);
      store<i32>(st, b1, 80);
      break;
    }
    const x1 = candidate(st, b1, u1);
    if (x1 == x1) {
      store<f64>(out + (<usize>j << 3), x1);
      j++;
    }
  }
}

/**
 * One batch of stream version 2 (task.ts semantics): normals into z [B*L*E], zq [B*E], beta [B*d]
 * as one stream, then beta *= betaScale (if != 1), AR(1) with rho (if != 0), y_i = beta.x_i +
 * sigmaCtx eps_i, y_q = beta.x_q + sigmaQ eps_q, zq's y slot = 0. Same operations as task.ts
 * assembleBatch (its d <= 16 kernel: the sum starts from the first product).
 */
export function sampleBatch2(st: usize, z: usize, zq: usize, yq: usize, beta: usize, B: i32, L: i32, d: i32, sigmaCtx: f64, betaScale: f64, sigmaQ: f64, rho: f64, c: f64): void {
  const E = d + 1;
  store<i32>(st, 0, 64);
  fill2(st, z, 0, B * L * E);
  fill2(st, zq, 0, B * E);
  fill2(st, beta, 0, B * d);
  store<i32>(st, 0, 64); // a candidate left over at the end of a batch is dropped
  if (betaScale != 1.0) for (let j = 0; j < B * d; j++) store<f64>(beta + (<usize>j << 3), load<f64>(beta + (<usize>j << 3)) * betaScale);
  if (rho != 0.0) {
    for (let t = 0; t < B * L * E; t += E) {
      for (let j = 1; j < d; j++) {
        const a = z + (<usize>(t + j) << 3);
        store<f64>(a, rho * load<f64>(a - 8) + c * load<f64>(a));
      }
    }
    for (let q = 0; q < B * E; q += E) {
      for (let j = 1; j < d; j++) {
        const a = zq + (<usize>(q + j) << 3);
        store<f64>(a, rho * load<f64>(a - 8) + c * load<f64>(a));
      }
    }
  }
  const stride = <usize>E << 3;
  for (let b = 0; b < B; b++) {
    const bo = beta + (<usize>(b * d) << 3);
    let t = z + (<usize>(b * L * E) << 3);
    // two tokens per f64x2 (each lane the same operations as the scalar code)
    let i = 0;
    if (d == 5) {
      // the seed's d = 5: beta in registers, the five products unrolled (same order)
      const c0 = v128.load64_splat(bo), c1 = v128.load64_splat(bo + 8), c2 = v128.load64_splat(bo + 16);
      const c3 = v128.load64_splat(bo + 24), c4 = v128.load64_splat(bo + 32), sc = f64x2.splat(sigmaCtx);
      for (; i + 1 < L; i += 2) {
        const u = t + stride;
        let y = f64x2.mul(c0, v128.load64_lane(u, v128.load64_splat(t), 1));
        y = f64x2.add(y, f64x2.mul(c1, v128.load64_lane(u + 8, v128.load64_splat(t + 8), 1)));
        y = f64x2.add(y, f64x2.mul(c2, v128.load64_lane(u + 16, v128.load64_splat(t + 16), 1)));
        y = f64x2.add(y, f64x2.mul(c3, v128.load64_lane(u + 24, v128.load64_splat(t + 24), 1)));
        y = f64x2.add(y, f64x2.mul(c4, v128.load64_lane(u + 32, v128.load64_splat(t + 32), 1)));
        y = f64x2.add(y, f64x2.mul(sc, v128.load64_lane(u + 40, v128.load64_splat(t + 40), 1)));
        v128.store64_lane(t + 40, y, 0);
        v128.store64_lane(u + 40, y, 1);
        t += stride << 1;
      }
    }
    for (; i + 1 < L; i += 2) {
      let y = f64x2.mul(v128.load64_splat(bo), f64x2.replace_lane(f64x2.splat(load<f64>(t)), 1, load<f64>(t + stride)));
      for (let k = 1; k < d; k++) {
        const kk = <usize>k << 3;
        y = f64x2.add(y, f64x2.mul(v128.load64_splat(bo + kk), f64x2.replace_lane(f64x2.splat(load<f64>(t + kk)), 1, load<f64>(t + stride + kk))));
      }
      const dd = <usize>d << 3;
      const eps = f64x2.replace_lane(f64x2.splat(load<f64>(t + dd)), 1, load<f64>(t + stride + dd));
      y = f64x2.add(y, f64x2.mul(f64x2.splat(sigmaCtx), eps));
      store<f64>(t + dd, f64x2.extract_lane(y, 0));
      store<f64>(t + stride + dd, f64x2.extract_lane(y, 1));
      t += stride << 1;
    }
    if (i < L) {
      let y = load<f64>(bo) * load<f64>(t);
      for (let k = 1; k < d; k++) y += load<f64>(bo + (<usize>k << 3)) * load<f64>(t + (<usize>k << 3));
      store<f64>(t + (<usize>d << 3), y + sigmaCtx * load<f64>(t + (<usize>d << 3)));
    }
    const q = zq + (<usize>(b * E) << 3);
    let y: f64 = 0;
    for (let k = 0; k < d; k++) y += load<f64>(bo + (<usize>k << 3)) * load<f64>(q + (<usize>k << 3));
    store<f64>(yq + (<usize>b << 3), y + sigmaQ * load<f64>(q + (<usize>d << 3)));
    store<f64>(q + (<usize>d << 3), 0.0);
  }
}
