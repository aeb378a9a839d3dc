// WebAssembly (AssemblyScript, f64x2 SIMD) build of the multi-task attention kernel of
// src/engine/ts/multitask.ts: one layer, H heads, n_out = N outputs per prompt (the authors'
// icl_linear_multitask model). Same algebra and the same loss (MSE over B and N), float64 results equal
// to the TypeScript kernel to ~1e-15 relative (not bit for bit: summation orders differ; the TypeScript
// kernel is the oracle, test/multitask.wasm.test.ts). Exported through asm/attention.ts, so both
// dist/wasm/attention.wasm and attention-shared.wasm carry it; driven by src/engine/wasm/multitask.ts.
//
// theta layout (as engine/ts/multitask.ts): q, k, v [H E, E] then o [N, E H] (nn.Linear layouts).
// SIMD layout: heads in pairs, lane l of a v128 = head 2p + l; an odd H gets a zero padding head
// (A = 0, U = 0) whose lane is computed and ignored. Per pair p, every per-head quantity is a v128:
//   A  [P, E, E]  A_h = Wq_h^T Wk_h / sqrt(E)        U  [P, E, N]  U_h = Wv_h^T O_h^T  (O_h = o[:, hE:hE+E])
//   G  [P, E]     g_h = A_h^T z_q                    S  [P, L]     scores -> e_hi = exp(s_hi - max_h)
//   V  [P, L, N]  values v_hin = (U_h^T z_i)_n      SUM [P]       sum_i e_hi
//   YB [P, N]     r_hn = sum_i e_hi v_hin / sum      C  [L]        e_hi c_hi (one pair at a time)
//   ZB, ZC [E]    sum_i e_hi z_i, sum_i e_hi c_hi z_i
//   DA [P, E, E], DU [P, E, N]  gradient accumulators
// Per prompt: every pair's scores, values and softmax sums (passes 1, 2), the N outputs and
// dout = 2 (out - y_q) / (B N); then per pair (grad only) c_hi = dout . v_hi and the sums over tokens.
// All pointers are byte offsets into the module's memory; the caller grows memory (mtScratchBytes).

import { expNeg2 } from './exp';
import { weightedTokenSums } from './token-sums';
import { pairCircuits, pairCircuitsBack } from './circuits';

/** bytes of scratch for H heads, width E, N outputs, L tokens */
export function mtScratchBytes(H: i32, E: i32, N: i32, L: i32): i32 {
  const P = (H + 1) >> 1;
  return 16 * P * (2 * E * E + 2 * E * N + E + L + L * N + 1 + N) + 16 * (L + 2 * E) + 8 * 2 * N + 64;
}

let mA: usize = 0, mDA: usize = 0, mU: usize = 0, mDU: usize = 0, mG: usize = 0;
let mS: usize = 0, mV: usize = 0, mSUM: usize = 0, mYB: usize = 0;
let mC: usize = 0, mZB: usize = 0, mZC: usize = 0, mO: usize = 0, mDO: usize = 0;

function mtLayout(scr: usize, P: i32, E: i32, N: i32, L: i32): void {
  const p = <usize>P, e = <usize>E, n = <usize>N, l = <usize>L;
  mA = scr;
  mDA = mA + ((p * e * e) << 4);
  mU = mDA + ((p * e * e) << 4);
  mDU = mU + ((p * e * n) << 4);
  mG = mDU + ((p * e * n) << 4);
  mS = mG + ((p * e) << 4);
  mV = mS + ((p * l) << 4);
  mSUM = mV + ((p * l * n) << 4);
  mYB = mSUM + (p << 4);
  mC = mYB + ((p * n) << 4);
  mZB = mC + (l << 4);
  mZC = mZB + (e << 4);
  mO = mZC + (e << 4);
  mDO = mO + (n << 3);
}

/** Passes 1 and 2 for one prompt and pair p: S = e_i, V = v_i, SUM, YB = r (normalised). */
function mtPair(zo: usize, qo: usize, p: i32, E: i32, N: i32, L: i32): void {
  const Ab = mA + ((<usize>(p * E * E)) << 4);
  const Ub = mU + ((<usize>(p * E * N)) << 4);
  const Gb = mG + (<usize>(p * E) << 4);
  const Sb = mS + (<usize>(p * L) << 4), Vb = mV + (<usize>(p * L * N) << 4);
  // g_h = A_h^T z_q
  for (let c = 0; c < E; c++) {
    let g = f64x2.splat(0);
    for (let a = 0; a < E; a++) g = f64x2.add(g, f64x2.mul(v128.load64_splat(qo + (<usize>a << 3)), v128.load(Ab + (<usize>(a * E + c) << 4))));
    v128.store(Gb + (<usize>c << 4), g);
  }
  // pass 1: s_i = g . z_i, v_in = sum_e U[e, n] z_ie, running max
  let mx = f64x2.splat(-Infinity);
  const stride = <usize>E << 3;
  let t = zo;
  for (let i = 0; i < L; i++) {
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let e = 0;
    for (; e + 1 < E; e += 2) {
      s0 = f64x2.add(s0, f64x2.mul(v128.load(Gb + (<usize>e << 4)), v128.load64_splat(t + (<usize>e << 3))));
      s1 = f64x2.add(s1, f64x2.mul(v128.load(Gb + (<usize>(e + 1) << 4)), v128.load64_splat(t + (<usize>(e + 1) << 3))));
    }
    if (e < E) s0 = f64x2.add(s0, f64x2.mul(v128.load(Gb + (<usize>e << 4)), v128.load64_splat(t + (<usize>e << 3))));
    const s = f64x2.add(s0, s1);
    v128.store(Sb + (<usize>i << 4), s);
    mx = f64x2.pmax(mx, s);
    const vo = Vb + (<usize>(i * N) << 4);
    let n = 0;
    for (; n + 1 < N; n += 2) {
      // two outputs at a time: two independent accumulator chains
      let v0 = f64x2.splat(0), v1 = f64x2.splat(0);
      for (let c = 0; c < E; c++) {
        const zc = v128.load64_splat(t + (<usize>c << 3));
        const ub = Ub + (<usize>(c * N + n) << 4);
        v0 = f64x2.add(v0, f64x2.mul(v128.load(ub), zc));
        v1 = f64x2.add(v1, f64x2.mul(v128.load(ub + 16), zc));
      }
      v128.store(vo + (<usize>n << 4), v0);
      v128.store(vo + (<usize>(n + 1) << 4), v1);
    }
    if (n < N) {
      let v0 = f64x2.splat(0);
      for (let c = 0; c < E; c++) v0 = f64x2.add(v0, f64x2.mul(v128.load(Ub + (<usize>(c * N + n) << 4)), v128.load64_splat(t + (<usize>c << 3))));
      v128.store(vo + (<usize>n << 4), v0);
    }
    t += stride;
  }
  // pass 2: e_i = exp(s_i - max), sum_i e_i, sum_i e_i v_in
  const YBb = mYB + (<usize>(p * N) << 4);
  for (let n = 0; n < N; n++) v128.store(YBb + (<usize>n << 4), f64x2.splat(0));
  let sum = f64x2.splat(0);
  for (let i = 0; i < L; i++) {
    const ex = expNeg2(f64x2.sub(v128.load(Sb + (<usize>i << 4)), mx));
    v128.store(Sb + (<usize>i << 4), ex);
    sum = f64x2.add(sum, ex);
    const vo = Vb + (<usize>(i * N) << 4);
    for (let n = 0; n < N; n++) {
      const yb = YBb + (<usize>n << 4);
      v128.store(yb, f64x2.add(v128.load(yb), f64x2.mul(ex, v128.load(vo + (<usize>n << 4)))));
    }
  }
  v128.store(mSUM + (<usize>p << 4), sum);
  for (let n = 0; n < N; n++) {
    const yb = YBb + (<usize>n << 4);
    v128.store(yb, f64x2.div(v128.load(yb), sum));
  }
}

/** The outputs of prompt b into mO [N]: every pair's passes 1, 2, then the sum over heads. */
function mtPrompt(zo: usize, qo: usize, E: i32, H: i32, N: i32, L: i32, P: i32): void {
  for (let n = 0; n < N; n++) store<f64>(mO + (<usize>n << 3), 0);
  for (let p = 0; p < P; p++) {
    mtPair(zo, qo, p, E, N, L);
    const YBb = mYB + (<usize>(p * N) << 4);
    const two = 2 * p + 1 < H;
    for (let n = 0; n < N; n++) {
      const r = v128.load(YBb + (<usize>n << 4));
      let o = load<f64>(mO + (<usize>n << 3)) + f64x2.extract_lane(r, 0);
      if (two) o += f64x2.extract_lane(r, 1);
      store<f64>(mO + (<usize>n << 3), o);
    }
  }
}

/** outputs [B, N] and, if attn != 0, softmax weights [B, H, L] */
export function mtForward(B: i32, L: i32, E: i32, H: i32, N: i32, z: usize, zq: usize, theta: usize, out: usize, attn: usize, scr: usize): void {
  const P = (H + 1) >> 1;
  mtLayout(scr, P, E, N, L);
  pairCircuits(theta, E, H, N, P, mA, mU);
  for (let b = 0; b < B; b++) {
    const zo = z + (<usize>(b * L * E) << 3), qo = zq + (<usize>(b * E) << 3);
    if (attn == 0) mtPrompt(zo, qo, E, H, N, L, P);
    else {
      // per pair, so the pair's e_i are still in S when they are written out
      for (let n = 0; n < N; n++) store<f64>(mO + (<usize>n << 3), 0);
      for (let p = 0; p < P; p++) {
        mtPair(zo, qo, p, E, N, L);
        const YBb = mYB + (<usize>(p * N) << 4);
        for (let l = 0; l < 2; l++) {
          const h = 2 * p + l;
          if (h >= H) break;
          for (let n = 0; n < N; n++) store<f64>(mO + (<usize>n << 3), load<f64>(mO + (<usize>n << 3)) + load<f64>(YBb + (<usize>n << 4) + (<usize>l << 3)));
          const inv = 1.0 / load<f64>(mSUM + (<usize>p << 4) + (<usize>l << 3));
          const Sb = mS + (<usize>(p * L) << 4) + (<usize>l << 3);
          const ao = attn + (<usize>((b * H + h) * L) << 3);
          for (let i = 0; i < L; i++) store<f64>(ao + (<usize>i << 3), load<f64>(Sb + (<usize>i << 4)) * inv);
        }
      }
    }
    for (let n = 0; n < N; n++) store<f64>(out + (<usize>(b * N + n) << 3), load<f64>(mO + (<usize>n << 3)));
  }
}

/** MSE over B and N; grad (theta layout [q|k|v|o]) overwritten; out [B, N] written if out != 0. */
export function mtLossAndGrad(B: i32, L: i32, E: i32, H: i32, N: i32, z: usize, zq: usize, yq: usize, theta: usize, grad: usize, out: usize, scr: usize): f64 {
  const P = (H + 1) >> 1;
  const EE = E * E, EN = E * N;
  mtLayout(scr, P, E, N, L);
  pairCircuits(theta, E, H, N, P, mA, mU);
  memory.fill(mDA, 0, (<usize>(P * EE)) << 4);
  memory.fill(mDU, 0, (<usize>(P * EN)) << 4);
  const scale = 2.0 / (<f64>B * <f64>N);
  let sse: f64 = 0;
  for (let b = 0; b < B; b++) {
    const zo = z + (<usize>(b * L * E) << 3), qo = zq + (<usize>(b * E) << 3);
    mtPrompt(zo, qo, E, H, N, L, P);
    for (let n = 0; n < N; n++) {
      const o = load<f64>(mO + (<usize>n << 3));
      if (out != 0) store<f64>(out + (<usize>(b * N + n) << 3), o);
      const res = o - load<f64>(yq + (<usize>(b * N + n) << 3));
      sse += res * res;
      store<f64>(mDO + (<usize>n << 3), scale * res);
    }
    for (let p = 0; p < P; p++) {
      const Sb = mS + (<usize>(p * L) << 4), Vb = mV + (<usize>(p * L * N) << 4);
      const YBb = mYB + (<usize>(p * N) << 4);
      // cbar = dout . r (= sum_i a_i c_i);  C_i = e_i c_i, c_i = dout . v_i
      let cbar = f64x2.splat(0);
      for (let n = 0; n < N; n++) cbar = f64x2.add(cbar, f64x2.mul(v128.load64_splat(mDO + (<usize>n << 3)), v128.load(YBb + (<usize>n << 4))));
      for (let i = 0; i < L; i++) {
        const vo = Vb + (<usize>(i * N) << 4);
        let c = f64x2.splat(0);
        for (let n = 0; n < N; n++) c = f64x2.add(c, f64x2.mul(v128.load64_splat(mDO + (<usize>n << 3)), v128.load(vo + (<usize>n << 4))));
        v128.store(mC + (<usize>i << 4), f64x2.mul(v128.load(Sb + (<usize>i << 4)), c));
      }
      // ZB = sum_i e_i z_i, ZC = sum_i e_i c_i z_i
      weightedTokenSums(zo, zo, false, E, L, Sb, mC, mZB, mZC);
      // dA_h += z_q (zc/sum - cbar zbar)^T,  dU_h += zbar dout^T  (zbar = zb/sum)
      const inv = f64x2.div(f64x2.splat(1.0), v128.load(mSUM + (<usize>p << 4)));
      const DAb = mDA + ((<usize>(p * EE)) << 4), DUb = mDU + ((<usize>(p * EN)) << 4);
      for (let c = 0; c < E; c++) {
        const zbar = f64x2.mul(v128.load(mZB + (<usize>c << 4)), inv);
        const rc = f64x2.sub(f64x2.mul(v128.load(mZC + (<usize>c << 4)), inv), f64x2.mul(cbar, zbar));
        for (let a = 0; a < E; a++) {
          const da = DAb + (<usize>(a * E + c) << 4);
          v128.store(da, f64x2.add(v128.load(da), f64x2.mul(v128.load64_splat(qo + (<usize>a << 3)), rc)));
        }
        for (let n = 0; n < N; n++) {
          const du = DUb + (<usize>(c * N + n) << 4);
          v128.store(du, f64x2.add(v128.load(du), f64x2.mul(zbar, v128.load64_splat(mDO + (<usize>n << 3)))));
        }
      }
    }
  }
  pairCircuitsBack(theta, grad, E, H, N, mDA, mDU);
  return sse / (<f64>B * <f64>N);
}

