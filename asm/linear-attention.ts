// WebAssembly (AssemblyScript, f64x2 SIMD) build of the one-layer LINEAR attention kernel of
// src/engine/ts/linear-attention.ts: same algebra, float64 results to ~1e-15 relative (the TypeScript
// kernel is the oracle; test/linear.wasm.test.ts). Exported through asm/attention.ts; driven by
// src/engine/wasm/linear-attention.ts, which owns the memory layout.
//
// a_hi = c s_hi (c = 1/L or 1), so out = c sum_h g_h^T M u_h with the context moment
// M = sum_i z_i z_i^T [E, E], shared by the heads: a prompt costs one pass of E(E+1)/2 products per
// token, then O(E^2) per head. Vectors and matrix rows are stored with an even stride Ep = E rounded
// up (pad entries 0), so every per-head product runs on f64x2 pairs of coordinates; M is symmetric,
// so its row e read as a pair (M[e, r], M[e, r+1]) is the column pair (M[r, e], M[r+1, e]).
//   A [H, E, Ep]  A_h = Wq_h^T Wk_h / sqrt(E)     U [H, Ep]  u_h = Wv_h^T o_h
//   G, MU [H, Ep]    g_h = A_h^T z_q, M u_h;  MG [Ep]  M g_h
//   DA [H, E, Ep], DU [H, Ep]   gradient accumulators
// The circuits come from asm/circuits.ts (pair-interleaved layout AI, UI) and go back through it (DAI, DUI).

import { pairCircuits, pairCircuitsBack } from './circuits';

/** bytes of scratch for H heads of width E */
export function linScratchBytes(H: i32, E: i32): i32 {
  const Ep = (E + 1) & ~1, P = (H + 1) >> 1;
  return 8 * (2 * H * E * Ep + 4 * H * Ep + E * Ep + Ep) + 16 * (2 * P * E * E + 2 * P * E) + 64;
}

let pA: usize = 0, pU: usize = 0, pM: usize = 0, pG: usize = 0, pMU: usize = 0, pMG: usize = 0, pDA: usize = 0, pDU: usize = 0;
let pAI: usize = 0, pUI: usize = 0, pDAI: usize = 0, pDUI: usize = 0;

function layout(scr: usize, H: i32, E: i32): void {
  const Ep = <usize>((E + 1) & ~1), P = <usize>((H + 1) >> 1), hE = <usize>H * <usize>E;
  pA = (scr + 15) & ~(<usize>15);
  pDA = pA + ((hE * Ep) << 3);
  pU = pDA + ((hE * Ep) << 3);
  pDU = pU + ((<usize>H * Ep) << 3);
  pM = pDU + ((<usize>H * Ep) << 3);
  pG = pM + ((<usize>E * Ep) << 3);
  pMU = pG + ((<usize>H * Ep) << 3);
  pMG = pMU + ((<usize>H * Ep) << 3);
  pAI = pMG + (Ep << 3);
  pDAI = pAI + ((P * <usize>(E * E)) << 4);
  pUI = pDAI + ((P * <usize>(E * E)) << 4);
  pDUI = pUI + ((P * <usize>E) << 4);
}

/** A_h, u_h in the padded per-head layout, from the pair-interleaved circuits */
function circuits(theta: usize, H: i32, E: i32): void {
  const Ep = (E + 1) & ~1, P = (H + 1) >> 1, EE = E * E;
  pairCircuits(theta, E, H, 1, P, pAI, pUI);
  memory.fill(pA, 0, <usize>(H * E * Ep) << 3);
  memory.fill(pU, 0, <usize>(H * Ep) << 3);
  for (let h = 0; h < H; h++) {
    const lane = <usize>(h & 1) << 3, pb = <usize>(h >> 1);
    for (let a = 0; a < E; a++) {
      for (let c = 0; c < E; c++) store<f64>(pA + (<usize>((h * E + a) * Ep + c) << 3), load<f64>(pAI + ((pb * <usize>EE + <usize>(a * E + c)) << 4) + lane));
      store<f64>(pU + (<usize>(h * Ep + a) << 3), load<f64>(pUI + ((pb * <usize>E + <usize>a) << 4) + lane));
    }
  }
}

/** dA_h, du_h (padded layout) -> d theta through asm/circuits.ts */
function back(theta: usize, grad: usize, H: i32, E: i32): void {
  const Ep = (E + 1) & ~1, P = (H + 1) >> 1, EE = E * E;
  memory.fill(pDAI, 0, <usize>(P * EE) << 4);
  memory.fill(pDUI, 0, <usize>(P * E) << 4);
  for (let h = 0; h < H; h++) {
    const lane = <usize>(h & 1) << 3, pb = <usize>(h >> 1);
    for (let a = 0; a < E; a++) {
      for (let c = 0; c < E; c++) store<f64>(pDAI + ((pb * <usize>EE + <usize>(a * E + c)) << 4) + lane, load<f64>(pDA + (<usize>((h * E + a) * Ep + c) << 3)));
      store<f64>(pDUI + ((pb * <usize>E + <usize>a) << 4) + lane, load<f64>(pDU + (<usize>(h * Ep + a) << 3)));
    }
  }
  pairCircuitsBack(theta, grad, E, H, 1, pDAI, pDUI);
}

/** M = sum_i z_i z_i^T of the prompt at zo (L tokens of E doubles), rows of stride Ep (pad column 0) */
function moments(zo: usize, E: i32, L: i32): void {
  const Ep = (E + 1) & ~1, Eh = E >> 1, stride = <usize>E << 3;
  for (let r = 0; r < E; r++) {
    const row = pM + (<usize>(r * Ep) << 3), zr = zo + (<usize>r << 3);
    let j = r >> 1;
    // three column pairs per pass over the tokens: independent chains
    for (; j + 2 < Eh; j += 3) {
      let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0);
      let t = zr, u = zo + (<usize>(2 * j) << 3);
      for (let i = 0; i < L; i++) {
        const x = v128.load64_splat(t);
        a0 = f64x2.add(a0, f64x2.mul(x, v128.load(u)));
        a1 = f64x2.add(a1, f64x2.mul(x, v128.load(u + 16)));
        a2 = f64x2.add(a2, f64x2.mul(x, v128.load(u + 32)));
        t += stride;
        u += stride;
      }
      v128.store(row + (<usize>(2 * j) << 3), a0);
      v128.store(row + (<usize>(2 * j + 2) << 3), a1);
      v128.store(row + (<usize>(2 * j + 4) << 3), a2);
    }
    for (; j < Eh; j++) {
      let a0 = f64x2.splat(0);
      let t = zr, u = zo + (<usize>(2 * j) << 3);
      for (let i = 0; i < L; i++) {
        a0 = f64x2.add(a0, f64x2.mul(v128.load64_splat(t), v128.load(u)));
        t += stride;
        u += stride;
      }
      v128.store(row + (<usize>(2 * j) << 3), a0);
    }
    if (E & 1) {
      // the last (odd) column: scalar, so no load reads past a token
      let s: f64 = 0;
      let t = zr, u = zo + (<usize>(E - 1) << 3);
      for (let i = 0; i < L; i++) {
        s += load<f64>(t) * load<f64>(u);
        t += stride;
        u += stride;
      }
      store<f64>(row + (<usize>(E - 1) << 3), s);
      store<f64>(row + (<usize>E << 3), 0);
    }
  }
  // lower triangle from the upper one (the same products)
  for (let r = 1; r < E; r++) for (let s = 0; s < r; s++) store<f64>(pM + (<usize>(r * Ep + s) << 3), load<f64>(pM + (<usize>(s * Ep + r) << 3)));
}

/** out[0..Ep) = sum_e x[e] * M[e, :] (= M x, M symmetric), x of length E */
// @ts-ignore: decorator
@inline
function mTimes(x: usize, out: usize, E: i32, Ep: i32): void {
  for (let j = 0; j < Ep; j += 2) {
    let acc = f64x2.splat(0);
    for (let e = 0; e < E; e++) acc = f64x2.add(acc, f64x2.mul(v128.load64_splat(x + (<usize>e << 3)), v128.load(pM + (<usize>(e * Ep + j) << 3))));
    v128.store(out + (<usize>j << 3), acc);
  }
}

/** g_h = A_h^T z_q into G[h], M u_h into MU[h]; returns g_h . M u_h */
function head(qo: usize, h: i32, E: i32, Ep: i32): f64 {
  const Ah = pA + (<usize>(h * E * Ep) << 3), Gh = pG + (<usize>(h * Ep) << 3), MUh = pMU + (<usize>(h * Ep) << 3);
  for (let j = 0; j < Ep; j += 2) {
    let acc = f64x2.splat(0);
    for (let a = 0; a < E; a++) acc = f64x2.add(acc, f64x2.mul(v128.load64_splat(qo + (<usize>a << 3)), v128.load(Ah + (<usize>(a * Ep + j) << 3))));
    v128.store(Gh + (<usize>j << 3), acc);
  }
  mTimes(pU + (<usize>(h * Ep) << 3), MUh, E, Ep);
  let acc = f64x2.splat(0);
  for (let j = 0; j < Ep; j += 2) acc = f64x2.add(acc, f64x2.mul(v128.load(Gh + (<usize>j << 3)), v128.load(MUh + (<usize>j << 3))));
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/** outputs [B] and, if attn != 0, the weights a [B, H, L] */
export function linForward(B: i32, L: i32, E: i32, H: i32, c: f64, z: usize, zq: usize, theta: usize, out: usize, attn: usize, scr: usize): void {
  const Ep = (E + 1) & ~1;
  layout(scr, H, E);
  circuits(theta, H, E);
  for (let b = 0; b < B; b++) {
    const zo = z + (<usize>(b * L * E) << 3), qo = zq + (<usize>(b * E) << 3);
    moments(zo, E, L);
    let o: f64 = 0;
    for (let h = 0; h < H; h++) {
      o += c * head(qo, h, E, Ep);
      if (attn != 0) {
        const ao = attn + (<usize>((b * H + h) * L) << 3);
        for (let i = 0; i < L; i++) {
          let s: f64 = 0;
          const t = zo + (<usize>(i * E) << 3);
          for (let e = 0; e < E; e++) s += load<f64>(pG + (<usize>(h * Ep + e) << 3)) * load<f64>(t + (<usize>e << 3));
          store<f64>(ao + (<usize>i << 3), c * s);
        }
      }
    }
    store<f64>(out + (<usize>b << 3), o);
  }
}

/** MSE loss; grad (theta layout [q|k|v|o]) overwritten; out [B] written if out != 0 */
export function linLossAndGrad(B: i32, L: i32, E: i32, H: i32, c: f64, z: usize, zq: usize, yq: usize, theta: usize, grad: usize, out: usize, scr: usize): f64 {
  const Ep = (E + 1) & ~1;
  layout(scr, H, E);
  circuits(theta, H, E);
  memory.fill(pDA, 0, <usize>(H * E * Ep) << 3);
  memory.fill(pDU, 0, <usize>(H * Ep) << 3);
  let sse: f64 = 0;
  for (let b = 0; b < B; b++) {
    const zo = z + (<usize>(b * L * E) << 3), qo = zq + (<usize>(b * E) << 3);
    moments(zo, E, L);
    let o: f64 = 0;
    for (let h = 0; h < H; h++) o += c * head(qo, h, E, Ep);
    if (out != 0) store<f64>(out + (<usize>b << 3), o);
    const res = o - load<f64>(yq + (<usize>b << 3));
    sse += res * res;
    const k = (c * 2 * res) / <f64>B;
    const kk = f64x2.splat(k);
    for (let h = 0; h < H; h++) {
      const MUh = pMU + (<usize>(h * Ep) << 3);
      mTimes(pG + (<usize>(h * Ep) << 3), pMG, E, Ep);
      const DUh = pDU + (<usize>(h * Ep) << 3), DAh = pDA + (<usize>(h * E * Ep) << 3);
      for (let j = 0; j < Ep; j += 2) {
        const du = DUh + (<usize>j << 3);
        v128.store(du, f64x2.add(v128.load(du), f64x2.mul(kk, v128.load(pMG + (<usize>j << 3)))));
      }
      for (let a = 0; a < E; a++) {
        const ka = f64x2.splat(k * load<f64>(qo + (<usize>a << 3)));
        const row = DAh + (<usize>(a * Ep) << 3);
        for (let j = 0; j < Ep; j += 2) {
          const da = row + (<usize>j << 3);
          v128.store(da, f64x2.add(v128.load(da), f64x2.mul(ka, v128.load(MUh + (<usize>j << 3)))));
        }
      }
    }
  }
  back(theta, grad, H, E);
  return sse / <f64>B;
}
