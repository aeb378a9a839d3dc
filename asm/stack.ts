// WebAssembly build of the strictly-causal attention stack of src/engine/ts/stack.ts (forward and the
// analytic backward, weight tying): the same algebra and the same token-minor workspace, ported
// loop for loop; the loops over keys j run two keys per f64x2 (the scores and dA_ij lane-wise in
// the TypeScript order; the sums over j in two partial sums, so results agree with the TypeScript
// kernel to ~1e-15 relative, not bit for bit). Driven by src/engine/wasm/attention.ts (the kernel's stack methods), which owns the
// memory layout. theta layout: per block [q | k | v | o] (nn.Linear), then final_linear (1, E).
import { expNeg2 } from './exp';

// @ts-ignore: decorator
@inline function ld(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline function st(p: usize, i: i32, v: f64): void {
  store<f64>(p + (<usize>i << 3), v);
}
// @ts-ignore: decorator
@inline function add(p: usize, i: i32, v: f64): void {
  const a = p + (<usize>i << 3);
  store<f64>(a, load<f64>(a) + v);
}
// @ts-ignore: decorator
@inline function ld2(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline function st2(p: usize, i: i32, v: v128): void {
  v128.store(p + (<usize>i << 3), v);
}
// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** dst[i] = u * src[i] (init) or dst[i] += u * src[i] for i in [i0, T) (pairs from an even index; lane-wise the scalar operations) */
// @ts-ignore: decorator
@inline
function axpy(dst: usize, src: usize, u: f64, i0: i32, T: i32, init: bool): void {
  let i = i0;
  if (i & 1) {
    if (i < T) st(dst, i, init ? u * ld(src, i) : ld(dst, i) + u * ld(src, i));
    i++;
  }
  const uv = f64x2.splat(u);
  for (; i + 1 < T; i += 2) st2(dst, i, init ? f64x2.mul(uv, ld2(src, i)) : f64x2.add(ld2(dst, i), f64x2.mul(uv, ld2(src, i))));
  if (i < T) st(dst, i, init ? u * ld(src, i) : ld(dst, i) + u * ld(src, i));
}

/** sum_i a[i] b[i] for i in [i0, T) (two partial sums) */
// @ts-ignore: decorator
@inline
function dot(a: usize, b: usize, i0: i32, T: i32): f64 {
  let i = i0;
  let s: f64 = 0;
  if (i & 1) {
    if (i < T) s = ld(a, i) * ld(b, i);
    i++;
  }
  let s2 = f64x2.splat(0);
  for (; i + 1 < T; i += 2) s2 = f64x2.add(s2, f64x2.mul(ld2(a, i), ld2(b, i)));
  s += hsum(s2);
  if (i < T) s += ld(a, i) * ld(b, i);
  return s;
}

// workspace (token-minor [E, T] everywhere), set by layout()
let wX: usize = 0, wQt: usize = 0, wA: usize = 0, wR: usize = 0, wG: usize = 0, wGin: usize = 0;
let wdR: usize = 0, wQA: usize = 0, wdA: usize = 0, wM: usize = 0, wU: usize = 0, wdM: usize = 0, wdU: usize = 0;

function a16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

/** bytes of workspace for these dimensions (Tp = T rounded up to even, so rows start 16-byte aligned) */
export function stackScratchBytes(E: i32, H: i32, nLayers: i32, nBlocks: i32, T: i32): i32 {
  const Tp = (T + 1) & ~1;
  const TE = Tp * E, blk = nBlocks * H * E * E;
  return 8 * ((nLayers + 1) * TE + 2 * nLayers * H * TE + nLayers * H * Tp * Tp + 4 * TE + Tp + 4 * blk) + 16 * 16;
}

function layout(ws: usize, E: i32, H: i32, nLayers: i32, nBlocks: i32, Tp: i32): void {
  const TE = <usize>(Tp * E) << 3, blk = <usize>(nBlocks * H * E * E) << 3;
  wX = a16(ws);
  wQt = a16(wX + <usize>(nLayers + 1) * TE);
  wA = a16(wQt + <usize>(nLayers * H) * TE);
  wR = a16(wA + (<usize>(nLayers * H * Tp * Tp) << 3));
  wG = a16(wR + <usize>(nLayers * H) * TE);
  wGin = a16(wG + TE);
  wdR = a16(wGin + TE);
  wQA = a16(wdR + TE);
  wdA = a16(wQA + TE);
  wM = a16(wdA + (<usize>Tp << 3));
  wU = a16(wM + blk);
  wdM = a16(wU + blk);
  wdU = a16(wdM + blk);
}

/** M_h = W_Q^T W_K / sqrt(E), U_h = W_O^h W_V^h (as stack.ts prepare) */
function prepare(theta: usize, E: i32, H: i32, nBlocks: i32): void {
  const EH = E * H, w = E * H * E;
  const sc = 1.0 / Math.sqrt(<f64>E);
  for (let bl = 0; bl < nBlocks; bl++) {
    const q = theta + (<usize>(bl * 4 * w) << 3), k = q + (<usize>w << 3), v = k + (<usize>w << 3), o = v + (<usize>w << 3);
    for (let h = 0; h < H; h++) {
      const base = (bl * H + h) * E * E;
      for (let a = 0; a < E; a++) {
        for (let b = 0; b < E; b++) {
          let sm: f64 = 0, su: f64 = 0;
          for (let e = 0; e < E; e++) {
            sm += ld(q, (h * E + e) * E + a) * ld(k, (h * E + e) * E + b);
            su += ld(o, a * EH + h * E + e) * ld(v, (h * E + e) * E + b);
          }
          st(wM, base + a * E + b, sm * sc);
          st(wU, base + a * E + b, su);
        }
      }
    }
  }
}

/** sum_c q[c] * X[xo + c*T + j] for j in [0, i) into dst[j] (two keys per lane pair, TS order per lane) */
// @ts-ignore: decorator
@inline
function rowDot(dst: usize, src: usize, srcStride: i32, at: i32, xo: i32, E: i32, T: i32, i: i32): void {
  if (E == 6) {
    // the seed's d = 5: the six coefficients in registers
    const q0 = f64x2.splat(ld(src, at)), q1 = f64x2.splat(ld(src, srcStride + at)), q2 = f64x2.splat(ld(src, 2 * srcStride + at));
    const q3 = f64x2.splat(ld(src, 3 * srcStride + at)), q4 = f64x2.splat(ld(src, 4 * srcStride + at)), q5 = f64x2.splat(ld(src, 5 * srcStride + at));
    const x0 = wX + (<usize>xo << 3), rs = <usize>T << 3;
    let j = 0;
    for (; j + 1 < i; j += 2) {
      const p = x0 + (<usize>j << 3);
      let s = f64x2.mul(q0, v128.load(p));
      s = f64x2.add(s, f64x2.mul(q1, v128.load(p + rs)));
      s = f64x2.add(s, f64x2.mul(q2, v128.load(p + 2 * rs)));
      s = f64x2.add(s, f64x2.mul(q3, v128.load(p + 3 * rs)));
      s = f64x2.add(s, f64x2.mul(q4, v128.load(p + 4 * rs)));
      s = f64x2.add(s, f64x2.mul(q5, v128.load(p + 5 * rs)));
      st2(dst, j, s);
    }
    if (j < i) {
      let s = ld(src, at) * ld(wX, xo + j);
      for (let c = 1; c < 6; c++) s += ld(src, c * srcStride + at) * ld(wX, xo + c * T + j);
      st(dst, j, s);
    }
    return;
  }
  // the coefficients src[c * srcStride + at], c = 0..E-1; the sum starts from c = 0 (the TS kernel's
  // E >= 6 path sums q0 x0 + q1 x1 + ... left to right; smaller E starts from 0: the same values)
  let j = 0;
  for (; j + 1 < i; j += 2) {
    let s = f64x2.mul(f64x2.splat(ld(src, at)), ld2(wX, xo + j));
    for (let c = 1; c < E; c++) s = f64x2.add(s, f64x2.mul(f64x2.splat(ld(src, c * srcStride + at)), ld2(wX, xo + c * T + j)));
    st2(dst, j, s);
  }
  if (j < i) {
    let s = ld(src, at) * ld(wX, xo + j);
    for (let c = 1; c < E; c++) s += ld(src, c * srcStride + at) * ld(wX, xo + c * T + j);
    st(dst, j, s);
  }
}

/** forward of element b through all layers (stack.ts forwardElement, allRows = false); returns the output */
function forwardElement(theta: usize, z: usize, zq: usize, b: i32, E: i32, H: i32, nLayers: i32, tying: bool, L: i32, Tp: i32): f64 {
  const T = L + 1;
  const TE = Tp * E;
  for (let c = 0; c < E; c++) {
    for (let i = 0; i < L; i++) st(wX, c * Tp + i, ld(z, (b * L + i) * E + c));
    st(wX, c * Tp + L, ld(zq, b * E + c));
  }
  for (let l = 0; l < nLayers; l++) {
    const bl = tying ? 0 : l;
    const xo = l * TE, yo = (l + 1) * TE;
    const i0 = l == nLayers - 1 ? T - 1 : 1;
    memory.fill(wX + (<usize>yo << 3), 0, <usize>TE << 3);
    for (let h = 0; h < H; h++) {
      const mo = (bl * H + h) * E * E;
      const lh = l * H + h;
      const qo = lh * TE;
      const ao = lh * Tp * Tp;
      for (let c = 0; c < E; c++) {
        const qc = wQt + (<usize>(qo + c * Tp) << 3);
        axpy(qc, wX + (<usize>xo << 3), ld(wM, mo + c), i0, T, true);
        for (let a = 1; a < E; a++) axpy(qc, wX + (<usize>(xo + a * Tp) << 3), ld(wM, mo + a * E + c), i0, T, false);
      }
      for (let i = i0; i < T; i++) {
        const ar = wA + (<usize>(ao + i * Tp) << 3);
        rowDot(ar, wQt, Tp, qo + i, xo, E, Tp, i);
        // softmax over j < i: max, exp (expNeg2: expNeg per lane), sum, scale; pairs of keys
        const ip = i & ~1;
        let mx2 = f64x2.splat(-Infinity);
        for (let j = 0; j < ip; j += 2) mx2 = f64x2.pmax(mx2, ld2(ar, j));
        let mx = f64x2.extract_lane(mx2, 0);
        const m1 = f64x2.extract_lane(mx2, 1);
        if (m1 > mx) mx = m1;
        if (ip < i && ld(ar, ip) > mx) mx = ld(ar, ip);
        const mxv = f64x2.splat(mx);
        let den2 = f64x2.splat(0);
        for (let j = 0; j < ip; j += 2) {
          const e = expNeg2(f64x2.sub(ld2(ar, j), mxv));
          st2(ar, j, e);
          den2 = f64x2.add(den2, e);
        }
        if (ip < i) {
          const e = f64x2.extract_lane(expNeg2(f64x2.splat(ld(ar, ip) - mx)), 0);
          st(ar, ip, e);
          den2 = f64x2.add(den2, f64x2.replace_lane(f64x2.splat(0), 0, e));
        }
        const inv = f64x2.splat(1.0 / hsum(den2));
        for (let j = 0; j < ip; j += 2) st2(ar, j, f64x2.mul(ld2(ar, j), inv));
        if (ip < i) st(ar, ip, ld(ar, ip) * f64x2.extract_lane(inv, 0));
        // r_i = sum_j a_ij x_j, coordinates in blocks of 3 (one pass over the weights per block)
        let c = 0;
        const rs = <usize>Tp << 3;
        for (; c + 2 < E; c += 3) {
          const x0 = wX + (<usize>(xo + c * Tp) << 3);
          let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0);
          let j = 0;
          for (; j + 1 < i; j += 2) {
            const a = ld2(ar, j);
            const p = x0 + (<usize>j << 3);
            s0 = f64x2.add(s0, f64x2.mul(a, v128.load(p)));
            s1 = f64x2.add(s1, f64x2.mul(a, v128.load(p + rs)));
            s2 = f64x2.add(s2, f64x2.mul(a, v128.load(p + 2 * rs)));
          }
          let t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2);
          if (j < i) {
            const a = ld(ar, j);
            t0 += a * ld(x0, j);
            t1 += a * ld(x0, Tp + j);
            t2 += a * ld(x0, 2 * Tp + j);
          }
          st(wR, qo + c * Tp + i, t0);
          st(wR, qo + (c + 1) * Tp + i, t1);
          st(wR, qo + (c + 2) * Tp + i, t2);
        }
        for (; c < E; c++) {
          const xc = xo + c * Tp;
          let s2 = f64x2.splat(0);
          let j = 0;
          for (; j + 1 < i; j += 2) s2 = f64x2.add(s2, f64x2.mul(ld2(ar, j), ld2(wX, xc + j)));
          let s = hsum(s2);
          if (j < i) s += ld(ar, j) * ld(wX, xc + j);
          st(wR, qo + c * Tp + i, s);
        }
      }
      for (let c = 0; c < E; c++) {
        const yc = wX + (<usize>(yo + c * Tp) << 3);
        for (let e = 0; e < E; e++) axpy(yc, wR + (<usize>(qo + e * Tp) << 3), ld(wU, mo + c * E + e), i0, T, false);
      }
    }
  }
  const f = theta + (<usize>((tying ? 1 : nLayers) * 4 * E * H * E) << 3);
  const last = nLayers * TE + T - 1;
  let out: f64 = 0;
  for (let c = 0; c < E; c++) out += ld(f, c) * ld(wX, last + c * Tp);
  return out;
}

/** backward of one element given g = d loss / d output (stack.ts backwardElement) */
function backwardElement(theta: usize, gradF: usize, g: f64, E: i32, H: i32, nLayers: i32, tying: bool, L: i32, Tp: i32): void {
  const T = L + 1;
  const TE = Tp * E;
  let G = wG, Gin = wGin;
  const f = theta + (<usize>((tying ? 1 : nLayers) * 4 * E * H * E) << 3);
  const last = nLayers * TE + T - 1;
  for (let c = 0; c < E; c++) add(gradF, c, g * ld(wX, last + c * Tp));
  memory.fill(G, 0, <usize>TE << 3);
  for (let c = 0; c < E; c++) st(G, c * Tp + T - 1, g * ld(f, c));
  for (let l = nLayers - 1; l >= 0; l--) {
    const bl = tying ? 0 : l;
    const xo = l * TE;
    const i0 = l == nLayers - 1 ? T - 1 : 1;
    const needIn = l > 0;
    if (needIn) memory.fill(Gin, 0, <usize>TE << 3);
    for (let h = 0; h < H; h++) {
      const mo = (bl * H + h) * E * E;
      const lh = l * H + h;
      const qo = lh * TE;
      const ao = lh * Tp * Tp;
      for (let c = 0; c < E; c++) {
        const gc = G + (<usize>(c * Tp) << 3);
        for (let e = 0; e < E; e++) add(wdU, mo + c * E + e, dot(gc, wR + (<usize>(qo + e * Tp) << 3), i0, T));
      }
      for (let e = 0; e < E; e++) {
        const de = wdR + (<usize>(e * Tp) << 3);
        axpy(de, G, ld(wU, mo + e), i0, T, true);
        for (let c = 1; c < E; c++) axpy(de, G + (<usize>(c * Tp) << 3), ld(wU, mo + c * E + e), i0, T, false);
      }
      for (let i = i0; i < T; i++) {
        const ar = wA + (<usize>(ao + i * Tp) << 3);
        // dA_ij = dR_i . x_j
        rowDot(wdA, wdR, Tp, i, xo, E, Tp, i);
        // dS_ij = a_ij (dA_ij - sum_k a_ik dA_ik)
        const sad = dot(ar, wdA, 0, i);
        const sv = f64x2.splat(sad);
        let j = 0;
        for (; j + 1 < i; j += 2) st2(wdA, j, f64x2.mul(ld2(ar, j), f64x2.sub(ld2(wdA, j), sv)));
        if (j < i) st(wdA, j, ld(ar, j) * (ld(wdA, j) - sad));
        // QA_i = sum_j dS_ij x_j ; Gin_j += a_ij dR_i + dS_ij Qt_i (coordinates in blocks of 3 first)
        let c0 = 0;
        if (needIn) {
          const rs = <usize>Tp << 3;
          for (; c0 + 2 < E; c0 += 3) {
            const x0 = wX + (<usize>(xo + c0 * Tp) << 3), g0 = Gin + (<usize>(c0 * Tp) << 3);
            const r0 = ld(wdR, c0 * Tp + i), r1 = ld(wdR, (c0 + 1) * Tp + i), r2 = ld(wdR, (c0 + 2) * Tp + i);
            const t0 = ld(wQt, qo + c0 * Tp + i), t1 = ld(wQt, qo + (c0 + 1) * Tp + i), t2 = ld(wQt, qo + (c0 + 2) * Tp + i);
            const rv0 = f64x2.splat(r0), rv1 = f64x2.splat(r1), rv2 = f64x2.splat(r2);
            const tv0 = f64x2.splat(t0), tv1 = f64x2.splat(t1), tv2 = f64x2.splat(t2);
            let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0);
            let j = 0;
            for (; j + 1 < i; j += 2) {
              const a = ld2(ar, j), ds = ld2(wdA, j);
              const off = <usize>j << 3;
              const p = x0 + off, g = g0 + off;
              s0 = f64x2.add(s0, f64x2.mul(ds, v128.load(p)));
              s1 = f64x2.add(s1, f64x2.mul(ds, v128.load(p + rs)));
              s2 = f64x2.add(s2, f64x2.mul(ds, v128.load(p + 2 * rs)));
              v128.store(g, f64x2.add(v128.load(g), f64x2.add(f64x2.mul(a, rv0), f64x2.mul(ds, tv0))));
              v128.store(g + rs, f64x2.add(v128.load(g + rs), f64x2.add(f64x2.mul(a, rv1), f64x2.mul(ds, tv1))));
              v128.store(g + 2 * rs, f64x2.add(v128.load(g + 2 * rs), f64x2.add(f64x2.mul(a, rv2), f64x2.mul(ds, tv2))));
            }
            let q0 = hsum(s0), q1 = hsum(s1), q2 = hsum(s2);
            if (j < i) {
              const a = ld(ar, j), ds = ld(wdA, j);
              q0 += ds * ld(x0, j);
              q1 += ds * ld(x0, Tp + j);
              q2 += ds * ld(x0, 2 * Tp + j);
              add(g0, j, a * r0 + ds * t0);
              add(g0, Tp + j, a * r1 + ds * t1);
              add(g0, 2 * Tp + j, a * r2 + ds * t2);
            }
            st(wQA, c0 * Tp + i, q0);
            st(wQA, (c0 + 1) * Tp + i, q1);
            st(wQA, (c0 + 2) * Tp + i, q2);
          }
        }
        for (let c = c0; c < E; c++) {
          const xc = xo + c * Tp;
          let s2 = f64x2.splat(0);
          let j = 0;
          if (needIn) {
            const r = ld(wdR, c * Tp + i), qt = ld(wQt, qo + c * Tp + i);
            const rv = f64x2.splat(r), qv = f64x2.splat(qt);
            const gc = Gin + (<usize>(c * Tp) << 3);
            for (; j + 1 < i; j += 2) {
              const ds = ld2(wdA, j);
              s2 = f64x2.add(s2, f64x2.mul(ds, ld2(wX, xc + j)));
              st2(gc, j, f64x2.add(ld2(gc, j), f64x2.add(f64x2.mul(ld2(ar, j), rv), f64x2.mul(ds, qv))));
            }
            if (j < i) add(gc, j, ld(ar, j) * r + ld(wdA, j) * qt);
          } else {
            for (; j + 1 < i; j += 2) s2 = f64x2.add(s2, f64x2.mul(ld2(wdA, j), ld2(wX, xc + j)));
          }
          let s = hsum(s2);
          if (j < i) s += ld(wdA, j) * ld(wX, xc + j);
          st(wQA, c * Tp + i, s);
        }
      }
      for (let a = 0; a < E; a++) {
        const xa = wX + (<usize>(xo + a * Tp) << 3);
        for (let c = 0; c < E; c++) {
          const qc = wQA + (<usize>(c * Tp) << 3);
          add(wdM, mo + a * E + c, dot(xa, qc, i0, T));
          if (needIn) axpy(Gin + (<usize>(a * Tp) << 3), qc, ld(wM, mo + a * E + c), i0, T, false);
        }
      }
    }
    const t = G;
    G = Gin;
    Gin = t;
  }
}

/** dM, dU -> dW_Q, dW_K, dW_V, dW_O (stack.ts mapBack) */
function mapBack(theta: usize, grad: usize, E: i32, H: i32, nBlocks: i32): void {
  const EH = E * H, w = E * H * E;
  const sc = 1.0 / Math.sqrt(<f64>E);
  for (let bl = 0; bl < nBlocks; bl++) {
    const q = theta + (<usize>(bl * 4 * w) << 3), k = q + (<usize>w << 3), v = k + (<usize>w << 3), o = v + (<usize>w << 3);
    const gq = grad + (<usize>(bl * 4 * w) << 3), gk = gq + (<usize>w << 3), gv = gk + (<usize>w << 3), go = gv + (<usize>w << 3);
    for (let h = 0; h < H; h++) {
      const mo = (bl * H + h) * E * E;
      for (let e = 0; e < E; e++) {
        const r = (h * E + e) * E;
        for (let a = 0; a < E; a++) {
          let sq: f64 = 0, sk: f64 = 0, sv: f64 = 0, so: f64 = 0;
          for (let b = 0; b < E; b++) {
            sq += ld(k, r + b) * ld(wdM, mo + a * E + b);
            sk += ld(q, r + b) * ld(wdM, mo + b * E + a);
            sv += ld(o, b * EH + h * E + e) * ld(wdU, mo + b * E + a);
            so += ld(wdU, mo + e * E + b) * ld(v, (h * E + a) * E + b);
          }
          st(gq, r + a, sq * sc);
          st(gk, r + a, sk * sc);
          st(gv, r + a, sv);
          st(go, e * EH + h * E + a, so);
        }
      }
    }
  }
}

/** outputs [B] (stack.ts stackForward without detail) */
export function stackForward(B: i32, L: i32, E: i32, H: i32, nLayers: i32, tying: bool, z: usize, zq: usize, theta: usize, out: usize, ws: usize): void {
  const nBlocks = tying ? 1 : nLayers;
  const Tp = (L + 2) & ~1;
  layout(ws, E, H, nLayers, nBlocks, Tp);
  prepare(theta, E, H, nBlocks);
  for (let b = 0; b < B; b++) st(out, b, forwardElement(theta, z, zq, b, E, H, nLayers, tying, L, Tp));
}

/** MSE loss; grad (theta length) overwritten; out [B] if out != 0 (stack.ts stackLossAndGrad) */
export function stackLossAndGrad(B: i32, L: i32, E: i32, H: i32, nLayers: i32, tying: bool, z: usize, zq: usize, yq: usize, theta: usize, grad: usize, out: usize, ws: usize): f64 {
  const nBlocks = tying ? 1 : nLayers;
  const Tp = (L + 2) & ~1;
  layout(ws, E, H, nLayers, nBlocks, Tp);
  prepare(theta, E, H, nBlocks);
  const blk = <usize>(nBlocks * H * E * E) << 3;
  memory.fill(wdM, 0, blk);
  memory.fill(wdU, 0, blk);
  const gradF = grad + (<usize>(nBlocks * 4 * E * H * E) << 3);
  memory.fill(gradF, 0, <usize>E << 3);
  let loss: f64 = 0;
  for (let b = 0; b < B; b++) {
    const y = forwardElement(theta, z, zq, b, E, H, nLayers, tying, L, Tp);
    if (out != 0) st(out, b, y);
    const r = y - ld(yq, b);
    loss += r * r;
    backwardElement(theta, gradF, (2 * r) / <f64>B, E, H, nLayers, tying, L, Tp);
  }
  mapBack(theta, grad, E, H, nBlocks);
  return loss / <f64>B;
}
