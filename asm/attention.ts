// WebAssembly (AssemblyScript, f64x2 SIMD) build of the fused single-layer attention kernel of
// src/engine/ts/attention.ts: same algebra, same float64 results to ~1e-15 relative (the TypeScript
// kernel is the oracle; test/core.wasm.test.ts). Compiled by `npm run build:wasm` to
// dist/wasm/attention.wasm; driven by src/engine/wasm/attention.ts, which owns the memory layout.
//
// SIMD layout: heads are processed in pairs, lane l of a v128 = head 2p + l (an odd H gets a zero
// padding head whose lane is ignored). Per pair p, every per-head quantity is a v128:
//   A [P, E, E]  A_h = Wq_h^T Wk_h / sqrt(E)     U [P, E]   u_h = Wv_h^T o_h
//   G [P, E]     g_h = A_h^T z_q                 S, V [P, L] scores -> e_hi, values -> e_hi v_hi
//   ZB, W [P, E] sum_i e_hi z_i, sum_i e_hi v_hi z_i          SUM, YB [P]
//   DA [P, E, E], DU [P, E]  gradient accumulators
// Per prompt and pair: pass 1 scores + values and the max, pass 2 softmax numerators (vector exp,
// bit-identical to math/exp.ts expNeg for x >= -708), pass 3 the sums over tokens (grad only).
// All pointers are byte offsets into this module's memory; the caller grows memory.

import { expInRange, expNeg2, expNeg2InRange, expNegScalar } from './exp';
import { weightedTokenSums } from './token-sums';
import { pairCircuits, pairCircuitsBack } from './circuits';

export function heapBase(): usize {
  return __heap_base;
}

/** bytes of scratch for H heads, width E, L tokens (16-byte aligned pieces) */
export function scratchBytes(H: i32, E: i32, L: i32): i32 {
  const P = (H + 1) >> 1;
  return 16 * P * (2 * E * E + 5 * E + 2 * L + 2) + 8 * (E + 2) * (L + 2) + 64;
}

// scratch pointers, set by layout()
let pA: usize = 0, pU: usize = 0, pG: usize = 0, pDA: usize = 0, pDU: usize = 0;
let pS: usize = 0, pV: usize = 0, pZB: usize = 0, pW: usize = 0, pSUM: usize = 0, pYB: usize = 0;
let pZT: usize = 0, pS1: usize = 0, pV1: usize = 0; // lone head: z transposed [E, Lp], e_i [Lp], e_i v_i [Lp] (Lp = L rounded up to even)

function layout(scr: usize, P: i32, E: i32, L: i32): void {
  const EE = <usize>(E * E), pe = <usize>(P * E) << 4, pl = <usize>(P * L) << 4;
  pA = scr;
  pDA = pA + ((<usize>P * EE) << 4);
  pU = pDA + ((<usize>P * EE) << 4);
  pG = pU + pe;
  pDU = pG + pe;
  pZB = pDU + pe;
  pW = pZB + pe;
  pS = pW + pe;
  pV = pS + pl;
  pSUM = pV + pl;
  pYB = pSUM + (<usize>P << 4);
  const Lp = <usize>((L + 1) & ~1);
  pZT = pYB + (<usize>P << 4);
  pS1 = pZT + ((<usize>E * Lp) << 3);
  pV1 = pS1 + (Lp << 3);
}

/**
 * The last head when H is odd (and H = 1): no partner head, so its lanes are token pairs (i, i+1),
 * reading z transposed. Scores, max, exp and the sums over tokens are the same operations in the same
 * order as the TS kernel (forward bit-identical); with grad, pass 3 sums token pairs per lane.
 * Writes lane 0 of pair p's SUM, YB (and ZB, W with grad); lane 1 = neutral. Returns yb/sum.
 */
function loneHead(zo: usize, qo: usize, p: i32, E: i32, L: i32, withGrad: bool): f64 {
  const Lp = (L + 1) & ~1, L2 = L & ~1;
  const Ab = pA + ((<usize>(p * E * E)) << 4);
  const Gb = pG + (<usize>(p * E) << 4), Ub = pU + (<usize>(p * E) << 4);
  // z transposed: zT[e][i] (the odd tail token is handled by scalar code below)
  for (let i = 0; i < L; i++) {
    const t = zo + (<usize>(i * E) << 3);
    for (let e = 0; e < E; e++) store<f64>(pZT + (<usize>(e * Lp + i) << 3), load<f64>(t + (<usize>e << 3)));
  }
  // g = A^T z_q (lane 0 of the pair's A), same order as the TS kernel
  for (let c = 0; c < E; c++) {
    let g: f64 = 0;
    for (let a = 0; a < E; a++) g += load<f64>(qo + (<usize>a << 3)) * load<f64>(Ab + (<usize>(a * E + c) << 4));
    store<f64>(Gb + (<usize>c << 4), g);
  }
  // pass 1: scores and values for token pairs
  let mx2 = f64x2.splat(-Infinity);
  const L4 = L & ~3;
  for (let i = 0; i < L4; i += 4) {
    // four tokens at a time (two vectors): four independent accumulator chains
    let s0 = f64x2.splat(0), v0 = f64x2.splat(0), s1 = f64x2.splat(0), v1 = f64x2.splat(0);
    for (let e = 0; e < E; e++) {
      const zt = pZT + (<usize>(e * Lp + i) << 3);
      const za = v128.load(zt), zc = v128.load(zt + 16);
      const g = v128.load64_splat(Gb + (<usize>e << 4)), u = v128.load64_splat(Ub + (<usize>e << 4));
      s0 = f64x2.add(s0, f64x2.mul(g, za));
      v0 = f64x2.add(v0, f64x2.mul(u, za));
      s1 = f64x2.add(s1, f64x2.mul(g, zc));
      v1 = f64x2.add(v1, f64x2.mul(u, zc));
    }
    v128.store(pS1 + (<usize>i << 3), s0);
    v128.store(pV1 + (<usize>i << 3), v0);
    v128.store(pS1 + (<usize>(i + 2) << 3), s1);
    v128.store(pV1 + (<usize>(i + 2) << 3), v1);
    mx2 = f64x2.pmax(f64x2.pmax(mx2, s0), s1);
  }
  for (let i = L4; i < L2; i += 2) {
    let sv = f64x2.splat(0), vv = f64x2.splat(0);
    for (let e = 0; e < E; e++) {
      const zz = v128.load(pZT + (<usize>(e * Lp + i) << 3));
      sv = f64x2.add(sv, f64x2.mul(v128.load64_splat(Gb + (<usize>e << 4)), zz));
      vv = f64x2.add(vv, f64x2.mul(v128.load64_splat(Ub + (<usize>e << 4)), zz));
    }
    v128.store(pS1 + (<usize>i << 3), sv);
    v128.store(pV1 + (<usize>i << 3), vv);
    mx2 = f64x2.pmax(mx2, sv);
  }
  let mx = -Infinity;
  // the max in token order (identical to a sequential running max for non-NaN scores)
  const m0 = f64x2.extract_lane(mx2, 0), m1 = f64x2.extract_lane(mx2, 1);
  if (m0 > mx) mx = m0;
  if (m1 > mx) mx = m1;
  if (L2 < L) {
    const t = zo + (<usize>(L2 * E) << 3);
    let sc: f64 = 0, vc: f64 = 0;
    for (let e = 0; e < E; e++) {
      const ze = load<f64>(t + (<usize>e << 3));
      sc += load<f64>(Gb + (<usize>e << 4)) * ze;
      vc += load<f64>(Ub + (<usize>e << 4)) * ze;
    }
    store<f64>(pS1 + (<usize>L2 << 3), sc);
    store<f64>(pV1 + (<usize>L2 << 3), vc);
    if (sc > mx) mx = sc;
  }
  // pass 2: e_i = exp(s_i - max) two tokens at a time; the sums in token order
  const mxv = f64x2.splat(mx);
  let sum: f64 = 0, yb: f64 = 0;
  for (let i = 0; i < L2; i += 2) {
    const ex = expNeg2(f64x2.sub(v128.load(pS1 + (<usize>i << 3)), mxv));
    const ev = f64x2.mul(ex, v128.load(pV1 + (<usize>i << 3)));
    v128.store(pS1 + (<usize>i << 3), ex);
    v128.store(pV1 + (<usize>i << 3), ev);
    sum += f64x2.extract_lane(ex, 0);
    yb += f64x2.extract_lane(ev, 0);
    sum += f64x2.extract_lane(ex, 1);
    yb += f64x2.extract_lane(ev, 1);
  }
  if (L2 < L) {
    const ex = expNegScalar(load<f64>(pS1 + (<usize>L2 << 3)) - mx);
    const ev = ex * load<f64>(pV1 + (<usize>L2 << 3));
    store<f64>(pS1 + (<usize>L2 << 3), ex);
    store<f64>(pV1 + (<usize>L2 << 3), ev);
    sum += ex;
    yb += ev;
  }
  const r = yb / sum;
  v128.store(pSUM + (<usize>p << 4), f64x2.replace_lane(f64x2.splat(sum), 1, 1.0));
  v128.store(pYB + (<usize>p << 4), f64x2.replace_lane(f64x2.splat(r), 1, 0.0));
  if (withGrad) {
    // pass 3: zbar_e = sum_i e_i z_ie, w_e = sum_i e_i v_i z_ie (token pairs per lane, then lanes + tail)
    for (let e = 0; e < E; e++) {
      let zb = f64x2.splat(0), ww = f64x2.splat(0), zb2 = f64x2.splat(0), ww2 = f64x2.splat(0);
      const zt = pZT + (<usize>(e * Lp) << 3);
      let i = 0;
      for (; i < L4; i += 4) {
        const za = v128.load(zt + (<usize>i << 3)), zc = v128.load(zt + (<usize>(i + 2) << 3));
        zb = f64x2.add(zb, f64x2.mul(v128.load(pS1 + (<usize>i << 3)), za));
        ww = f64x2.add(ww, f64x2.mul(v128.load(pV1 + (<usize>i << 3)), za));
        zb2 = f64x2.add(zb2, f64x2.mul(v128.load(pS1 + (<usize>(i + 2) << 3)), zc));
        ww2 = f64x2.add(ww2, f64x2.mul(v128.load(pV1 + (<usize>(i + 2) << 3)), zc));
      }
      for (; i < L2; i += 2) {
        const zz = v128.load(zt + (<usize>i << 3));
        zb = f64x2.add(zb, f64x2.mul(v128.load(pS1 + (<usize>i << 3)), zz));
        ww = f64x2.add(ww, f64x2.mul(v128.load(pV1 + (<usize>i << 3)), zz));
      }
      zb = f64x2.add(zb, zb2);
      ww = f64x2.add(ww, ww2);
      let zbs = f64x2.extract_lane(zb, 0) + f64x2.extract_lane(zb, 1);
      let ws = f64x2.extract_lane(ww, 0) + f64x2.extract_lane(ww, 1);
      if (L2 < L) {
        const ze = load<f64>(zt + (<usize>L2 << 3));
        zbs += load<f64>(pS1 + (<usize>L2 << 3)) * ze;
        ws += load<f64>(pV1 + (<usize>L2 << 3)) * ze;
      }
      v128.store(pZB + (<usize>(p * E + e) << 4), f64x2.replace_lane(f64x2.splat(zbs), 1, 0.0));
      v128.store(pW + (<usize>(p * E + e) << 4), f64x2.replace_lane(f64x2.splat(ws), 1, 0.0));
    }
  }
  return r;
}

/**
 * Pass 2 of a softmax per lane: e_i = exp(s_i - max) into S, e_i v_i into V, in token order; returns
 * sum_i e_i and stores sum_i e_i v_i at ybAt. `inRange` (a constant at each call): every s_i - max is
 * known to be >= -708, so exp's range check is skipped (the same doubles).
 */
// @ts-ignore: decorator
@inline
function softmaxPass(Sb: usize, Vb: usize, L: i32, mx: v128, ybAt: usize, inRange: bool): v128 {
  let sum = f64x2.splat(0), yb = f64x2.splat(0);
  for (let i = 0; i < L; i++) {
    const x = f64x2.sub(v128.load(Sb + (<usize>i << 4)), mx);
    const ex = inRange ? expNeg2InRange(x) : expNeg2(x);
    const ev = f64x2.mul(ex, v128.load(Vb + (<usize>i << 4)));
    sum = f64x2.add(sum, ex);
    yb = f64x2.add(yb, ev);
    v128.store(Sb + (<usize>i << 4), ex);
    v128.store(Vb + (<usize>i << 4), ev);
  }
  v128.store(ybAt, yb);
  return sum;
}

/** Passes 1 and 2 for prompt b, pair p: leaves e_hi in S, e_hi v_hi in V; returns yb/sum per lane (also in SUM, YB). */
// @ts-ignore: decorator
@inline
function pairSoftmax(zo: usize, qo: usize, p: i32, E: i32, L: i32): v128 {
  const Ab = pA + ((<usize>(p * E * E)) << 4);
  const Gb = pG + (<usize>(p * E) << 4), Ub = pU + (<usize>(p * E) << 4);
  const Sb = pS + (<usize>(p * L) << 4), Vb = pV + (<usize>(p * L) << 4);
  // g_h = A_h^T z_q
  for (let c = 0; c < E; c++) {
    let g = f64x2.splat(0);
    for (let a = 0; a < E; a++) g = f64x2.add(g, f64x2.mul(v128.load64_splat(qo + (<usize>a << 3)), v128.load(Ab + (<usize>(a * E + c) << 4))));
    v128.store(Gb + (<usize>c << 4), g);
  }
  // pass 1: s_i = g . z_i, v_i = u . z_i, running max (and min: pass 2 skips exp's range check when max - min <= 708)
  let mx = f64x2.splat(-Infinity), mn = f64x2.splat(Infinity);
  let t = zo;
  const stride = <usize>E << 3;
  let i = 0;
  for (; i + 1 < L; i += 2) {
    // two tokens at a time: four independent accumulator chains
    let s0 = f64x2.splat(0), v0 = f64x2.splat(0), s1 = f64x2.splat(0), v1 = f64x2.splat(0);
    for (let e = 0; e < E; e++) {
      const g = v128.load(Gb + (<usize>e << 4)), u = v128.load(Ub + (<usize>e << 4));
      const z0 = v128.load64_splat(t + (<usize>e << 3)), z1 = v128.load64_splat(t + stride + (<usize>e << 3));
      s0 = f64x2.add(s0, f64x2.mul(g, z0));
      v0 = f64x2.add(v0, f64x2.mul(u, z0));
      s1 = f64x2.add(s1, f64x2.mul(g, z1));
      v1 = f64x2.add(v1, f64x2.mul(u, z1));
    }
    v128.store(Sb + (<usize>i << 4), s0);
    v128.store(Vb + (<usize>i << 4), v0);
    v128.store(Sb + (<usize>(i + 1) << 4), s1);
    v128.store(Vb + (<usize>(i + 1) << 4), v1);
    mx = f64x2.pmax(f64x2.pmax(mx, s0), s1);
    mn = f64x2.pmin(f64x2.pmin(mn, s0), s1);
    t += stride << 1;
  }
  if (i < L) {
    let s = f64x2.splat(0), vv = f64x2.splat(0);
    for (let e = 0; e < E; e++) {
      const ze = v128.load64_splat(t + (<usize>e << 3));
      s = f64x2.add(s, f64x2.mul(v128.load(Gb + (<usize>e << 4)), ze));
      vv = f64x2.add(vv, f64x2.mul(v128.load(Ub + (<usize>e << 4)), ze));
    }
    v128.store(Sb + (<usize>i << 4), s);
    v128.store(Vb + (<usize>i << 4), vv);
    mx = f64x2.pmax(mx, s);
    mn = f64x2.pmin(mn, s);
  }
  // pass 2: e_i = exp(s_i - max), sums
  const ybAt = pYB + (<usize>p << 4);
  const sum = expInRange(f64x2.sub(mn, mx)) ? softmaxPass(Sb, Vb, L, mx, ybAt, true) : softmaxPass(Sb, Vb, L, mx, ybAt, false);
  v128.store(pSUM + (<usize>p << 4), sum);
  const r = f64x2.div(v128.load(ybAt), sum);
  v128.store(ybAt, r);
  return r;
}

/** outputs [B] and, if attn != 0, softmax weights [B, H, L] */
export function forward(B: i32, L: i32, E: i32, H: i32, z: usize, zq: usize, theta: usize, out: usize, attn: usize, scr: usize): void {
  const P = (H + 1) >> 1;
  layout(scr, P, E, L);
  pairCircuits(theta, E, H, 1, P, pA, pU);
  for (let b = 0; b < B; b++) {
    const zo = z + (<usize>(b * L * E) << 3), qo = zq + (<usize>(b * E) << 3);
    let o: f64 = 0;
    for (let p = 0; p < P; p++) {
      if (2 * p + 1 == H) {
        o += loneHead(zo, qo, p, E, L, false);
        if (attn != 0) {
          const inv = 1.0 / load<f64>(pSUM + (<usize>p << 4));
          const ao = attn + (<usize>((b * H + 2 * p) * L) << 3);
          for (let i = 0; i < L; i++) store<f64>(ao + (<usize>i << 3), load<f64>(pS1 + (<usize>i << 3)) * inv);
        }
        continue;
      }
      const r = pairSoftmax(zo, qo, p, E, L);
      o += f64x2.extract_lane(r, 0);
      o += f64x2.extract_lane(r, 1);
      if (attn != 0) {
        const Sb = pS + (<usize>(p * L) << 4);
        for (let l = 0; l < 2; l++) {
          const h = 2 * p + l;
          if (h >= H) break;
          const inv = 1.0 / load<f64>(pSUM + (<usize>p << 4) + (<usize>l << 3));
          const ao = attn + (<usize>((b * H + h) * L) << 3);
          for (let i = 0; i < L; i++) store<f64>(ao + (<usize>i << 3), load<f64>(Sb + (<usize>i << 4) + (<usize>l << 3)) * inv);
        }
      }
    }
    store<f64>(out + (<usize>b << 3), o);
  }
}

// @ts-ignore: decorator
@inline
function gather(p0: usize, p1: usize): v128 {
  return v128.load64_lane(p1, v128.load64_splat(p0), 1);
}

/**
 * lossAndGrad for H = 1: two prompts per f64x2 (lane l = prompt b + l; an odd B's last prompt fills
 * both lanes and lane 1 contributes nothing). Each lane runs the pair kernel's operations for its own
 * prompt, so outputs and loss are those of the TS kernel bit for bit; dA, du are summed per lane
 * (even and odd prompts) and the two lanes added at the end (the gradient to ~1e-16 relative).
 * No transpose of z (the lone-head path's cost): coordinates are gathered from the two prompts.
 */
function lossAndGradOne(B: i32, L: i32, E: i32, z: usize, zq: usize, yq: usize, out: usize): f64 {
  const EE = E * E;
  const stride = <usize>E << 3, LE8 = <usize>(L * E) << 3;
  const L2 = L & ~1;
  let sse: f64 = 0;
  for (let b = 0; b < B; b += 2) {
    const two = b + 1 < B;
    const t0 = z + (<usize>(b * L * E) << 3), t1 = two ? t0 + LE8 : t0;
    const q0 = zq + (<usize>(b * E) << 3), q1 = two ? q0 + stride : q0;
    // g = A^T z_q per lane (A: lane 0 of pair 0)
    for (let c = 0; c < E; c++) {
      let g = f64x2.splat(0);
      for (let a = 0; a < E; a++) g = f64x2.add(g, f64x2.mul(gather(q0 + (<usize>a << 3), q1 + (<usize>a << 3)), v128.load64_splat(pA + (<usize>(a * E + c) << 4))));
      v128.store(pG + (<usize>c << 4), g);
    }
    // pass 1: s_i = g . z_i, v_i = u . z_i per lane, running max and min; two tokens at a time
    let mx = f64x2.splat(-Infinity), mn = f64x2.splat(Infinity);
    let a0 = t0, a1 = t1;
    let i = 0;
    for (; i < L2; i += 2) {
      let s0 = f64x2.splat(0), v0 = f64x2.splat(0), s1 = f64x2.splat(0), v1 = f64x2.splat(0);
      for (let e = 0; e < E; e++) {
        const o = <usize>e << 3;
        const g = v128.load(pG + (<usize>e << 4)), u = v128.load64_splat(pU + (<usize>e << 4));
        const za = gather(a0 + o, a1 + o), zc = gather(a0 + stride + o, a1 + stride + o);
        s0 = f64x2.add(s0, f64x2.mul(g, za));
        v0 = f64x2.add(v0, f64x2.mul(u, za));
        s1 = f64x2.add(s1, f64x2.mul(g, zc));
        v1 = f64x2.add(v1, f64x2.mul(u, zc));
      }
      v128.store(pS + (<usize>i << 4), s0);
      v128.store(pV + (<usize>i << 4), v0);
      v128.store(pS + (<usize>(i + 1) << 4), s1);
      v128.store(pV + (<usize>(i + 1) << 4), v1);
      mx = f64x2.pmax(f64x2.pmax(mx, s0), s1);
      mn = f64x2.pmin(f64x2.pmin(mn, s0), s1);
      a0 += stride << 1;
      a1 += stride << 1;
    }
    if (i < L) {
      let sv = f64x2.splat(0), vv = f64x2.splat(0);
      for (let e = 0; e < E; e++) {
        const o = <usize>e << 3;
        const ze = gather(a0 + o, a1 + o);
        sv = f64x2.add(sv, f64x2.mul(v128.load(pG + (<usize>e << 4)), ze));
        vv = f64x2.add(vv, f64x2.mul(v128.load64_splat(pU + (<usize>e << 4)), ze));
      }
      v128.store(pS + (<usize>i << 4), sv);
      v128.store(pV + (<usize>i << 4), vv);
      mx = f64x2.pmax(mx, sv);
      mn = f64x2.pmin(mn, sv);
    }
    // pass 2: e_i = exp(s_i - max), the sums in token order per lane (sum_i e_i v_i at pYB)
    const sum = expInRange(f64x2.sub(mn, mx)) ? softmaxPass(pS, pV, L, mx, pYB, true) : softmaxPass(pS, pV, L, mx, pYB, false);
    const r = f64x2.div(v128.load(pYB), sum);
    let o0: f64 = 0, o1: f64 = 0;
    o0 += f64x2.extract_lane(r, 0);
    o1 += f64x2.extract_lane(r, 1);
    if (out != 0) {
      store<f64>(out + (<usize>b << 3), o0);
      if (two) store<f64>(out + (<usize>(b + 1) << 3), o1);
    }
    const res0 = o0 - load<f64>(yq + (<usize>b << 3));
    sse += res0 * res0;
    let dout1: f64 = 0;
    if (two) {
      const res1 = o1 - load<f64>(yq + (<usize>(b + 1) << 3));
      sse += res1 * res1;
      dout1 = (2 * res1) / <f64>B;
    }
    const inv = f64x2.div(f64x2.replace_lane(f64x2.splat((2 * res0) / <f64>B), 1, dout1), sum);
    // pass 3 with the gradient: zbar_c = sum_i e_i z_ic, w_c = sum_i e_i v_i z_ic per lane (each lane its prompt's tokens)
    weightedTokenSums(t0, t1, true, E, L, pS, pV, pZB, pW);
    for (let c = 0; c < E; c++) {
      const zb = v128.load(pZB + (<usize>c << 4));
      const du = pDU + (<usize>c << 4);
      v128.store(du, f64x2.add(v128.load(du), f64x2.mul(inv, zb)));
      const rc = f64x2.mul(inv, f64x2.sub(v128.load(pW + (<usize>c << 4)), f64x2.mul(r, zb)));
      for (let a = 0; a < E; a++) {
        const da = pDA + (<usize>(a * E + c) << 4);
        v128.store(da, f64x2.add(v128.load(da), f64x2.mul(gather(q0 + (<usize>a << 3), q1 + (<usize>a << 3)), rc)));
      }
    }
  }
  // the lanes (even and odd prompts) added into lane 0, which pairCircuitsBack reads for head 0
  for (let k = 0; k < EE + E; k++) {
    const pk = (k < EE ? pDA + (<usize>k << 4) : pDU + (<usize>(k - EE) << 4));
    const v = v128.load(pk);
    v128.store(pk, f64x2.replace_lane(f64x2.splat(f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1)), 1, 0.0));
  }
  return sse / <f64>B;
}

/** MSE loss; grad (theta layout [q|k|v|o]) overwritten; out [B] written if out != 0. */
export function lossAndGrad(B: i32, L: i32, E: i32, H: i32, z: usize, zq: usize, yq: usize, theta: usize, grad: usize, out: usize, scr: usize): f64 {
  const P = (H + 1) >> 1;
  const EE = E * E;
  layout(scr, P, E, L);
  pairCircuits(theta, E, H, 1, P, pA, pU);
  memory.fill(pDA, 0, (<usize>(P * EE)) << 4);
  memory.fill(pDU, 0, (<usize>(P * E)) << 4);
  if (H == 1) {
    const loss = lossAndGradOne(B, L, E, z, zq, yq, out);
    pairCircuitsBack(theta, grad, E, H, 1, pDA, pDU);
    return loss;
  }
  let sse: f64 = 0;
  for (let b = 0; b < B; b++) {
    const zo = z + (<usize>(b * L * E) << 3), qo = zq + (<usize>(b * E) << 3);
    let o: f64 = 0;
    for (let p = 0; p < P; p++) {
      if (2 * p + 1 == H) {
        o += loneHead(zo, qo, p, E, L, true);
        continue;
      }
      const r = pairSoftmax(zo, qo, p, E, L);
      o += f64x2.extract_lane(r, 0);
      o += f64x2.extract_lane(r, 1);
      // pass 3: zbar = sum_i e_i z_i, w = sum_i e_i v_i z_i (token loop inside: accumulators in registers)
      const Sb = pS + (<usize>(p * L) << 4), Vb = pV + (<usize>(p * L) << 4);
      const ZBb = pZB + (<usize>(p * E) << 4), Wb = pW + (<usize>(p * E) << 4);
      weightedTokenSums(zo, zo, false, E, L, Sb, Vb, ZBb, Wb);
    }
    if (out != 0) store<f64>(out + (<usize>b << 3), o);
    const res = o - load<f64>(yq + (<usize>b << 3));
    sse += res * res;
    const dout = (2 * res) / <f64>B;
    for (let p = 0; p < P; p++) {
      const inv = f64x2.div(f64x2.splat(dout), v128.load(pSUM + (<usize>p << 4)));
      const yb = v128.load(pYB + (<usize>p << 4));
      const DAb = pDA + ((<usize>(p * EE)) << 4);
      for (let c = 0; c < E; c++) {
        const zb = v128.load(pZB + (<usize>(p * E + c) << 4));
        const du = pDU + (<usize>(p * E + c) << 4);
        v128.store(du, f64x2.add(v128.load(du), f64x2.mul(inv, zb)));
        const rc = f64x2.mul(inv, f64x2.sub(v128.load(pW + (<usize>(p * E + c) << 4)), f64x2.mul(yb, zb)));
        for (let a = 0; a < E; a++) {
          const da = DAb + (<usize>(a * E + c) << 4);
          v128.store(da, f64x2.add(v128.load(da), f64x2.mul(v128.load64_splat(qo + (<usize>a << 3)), rc)));
        }
      }
    }
  }
  pairCircuitsBack(theta, grad, E, H, 1, pDA, pDU);
  return sse / <f64>B;
}

// the sampler's fast path lives in the same module (one instance, one memory)
export { zigguratRun } from './ziggurat';
// stream version 2 (asm/sampler2.ts): four xoshiro lanes in i32x4, the ziggurat's fast path in f64x2
export { fill2, sampleBatch2, setSampler2Tables } from './sampler2';
// the strictly-causal stack (asm/stack.ts)
export { stackForward, stackLossAndGrad, stackScratchBytes } from './stack';
// micro-benchmarks for bench's roofline (asm/roofline.ts)
export { rfCopy, rfExp, rfMac, rfUniforms } from './roofline';
export { mtForward, mtLossAndGrad, mtScratchBytes } from './multitask'; // the multi-task kernel, n_out = N (asm/multitask.ts)
export { linForward, linLossAndGrad, linScratchBytes } from './linear-attention'; // one-layer linear attention (asm/linear-attention.ts)
