/**
 * Plain reference implementation of the seed's `MultiHeadAttention.forward`, loop by loop on the
 * unfused graph, with a straightforward chain-rule backward. Slow on purpose: it is the oracle the
 * fast kernel (attention.ts) is tested against.
 *
 *   q   = W_Q z_q          [H*E]       k_i = W_K z_i   [L, H*E]      v_i = W_V z_i   [L, H*E]
 *   s_hi = q_h . k_hi / sqrt(E)        a_h = softmax_i(s_h)          c_h = sum_i a_hi v_hi   [E]
 *   out = W_O concat_h(c_h)            loss = mean_b (out_b - y_q,b)^2
 *
 * n_out = N > 1 (the multi-task model, src/multitask/): out [B, N], y_q [B, N], loss = mean over B and N.
 */
import type { AttentionParams } from '../../model/params.js';
import type { Batch } from '../../data/batch.js';

function checkShapes(p: AttentionParams, batch: Batch): void {
  if (p.E !== batch.E) throw new RangeError(`model token width E=${p.E} (d=${p.d}) does not match the batch's E=${batch.E} (d=${batch.d})`);
  if (batch.yq.length !== batch.B * p.nOut) throw new RangeError(`model has n_out = ${p.nOut} outputs, the batch has ${batch.yq.length / batch.B} targets per prompt`);
}

interface Cache {
  q: Float64Array; // [B, H*E]
  k: Float64Array; // [B, L, H*E]
  v: Float64Array; // [B, L, H*E]
  a: Float64Array; // [B, H, L]
  c: Float64Array; // [B, H*E]
  out: Float64Array; // [B, N]
}

function forwardCached(p: AttentionParams, batch: Batch): Cache {
  checkShapes(p, batch);
  const { B, L, E } = batch;
  const H = p.H, HE = H * E;
  const scale = 1 / Math.sqrt(E);
  const q = new Float64Array(B * HE), k = new Float64Array(B * L * HE), v = new Float64Array(B * L * HE);
  const N = p.nOut;
  const a = new Float64Array(B * H * L), c = new Float64Array(B * HE), out = new Float64Array(B * N);
  for (let b = 0; b < B; b++) {
    // projections: x @ W^T
    for (let f = 0; f < HE; f++) {
      let s = 0;
      for (let e = 0; e < E; e++) s += batch.zq[b * E + e]! * p.q[f * E + e]!;
      q[b * HE + f] = s;
    }
    for (let i = 0; i < L; i++) {
      for (let f = 0; f < HE; f++) {
        let sk = 0, sv = 0;
        for (let e = 0; e < E; e++) {
          const ze = batch.z[(b * L + i) * E + e]!;
          sk += ze * p.k[f * E + e]!;
          sv += ze * p.v[f * E + e]!;
        }
        k[(b * L + i) * HE + f] = sk;
        v[(b * L + i) * HE + f] = sv;
      }
    }
    for (let h = 0; h < H; h++) {
      // scores and softmax
      const ab = (b * H + h) * L;
      let mx = -Infinity;
      for (let i = 0; i < L; i++) {
        let s = 0;
        for (let e = 0; e < E; e++) s += q[b * HE + h * E + e]! * k[(b * L + i) * HE + h * E + e]!;
        a[ab + i] = s * scale;
        if (a[ab + i]! > mx) mx = a[ab + i]!;
      }
      let sum = 0;
      for (let i = 0; i < L; i++) {
        a[ab + i] = Math.exp(a[ab + i]! - mx);
        sum += a[ab + i]!;
      }
      for (let i = 0; i < L; i++) a[ab + i] = a[ab + i]! / sum;
      // weighted values
      for (let e = 0; e < E; e++) {
        let s = 0;
        for (let i = 0; i < L; i++) s += a[ab + i]! * v[(b * L + i) * HE + h * E + e]!;
        c[b * HE + h * E + e] = s;
      }
    }
    // o_proj: out[n] = sum_f W_O[n, f] c_f
    for (let n = 0; n < N; n++) {
      let o = 0;
      for (let f = 0; f < HE; f++) o += p.o[n * HE + f]! * c[b * HE + f]!;
      out[b * N + n] = o;
    }
  }
  return { q, k, v, a, c, out };
}

/** output [B, N] (and softmax weights [B, H, L] if `attn` is given). */
export function forward(p: AttentionParams, batch: Batch, out: Float64Array, attn?: Float64Array): void {
  const r = forwardCached(p, batch);
  out.set(r.out);
  if (attn) attn.set(r.a);
}

/** MSE loss; writes d loss / d theta into `grad` (theta layout [q|k|v|o]) and the outputs into `out`. */
export function lossAndGrad(p: AttentionParams, batch: Batch, grad: Float64Array, out?: Float64Array): number {
  const { B, L, E } = batch;
  const H = p.H, HE = H * E, N = p.nOut;
  const scale = 1 / Math.sqrt(E);
  if (grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length}`);
  const { q, k, v, a, c, out: o } = forwardCached(p, batch);
  if (out) out.set(o);
  grad.fill(0);
  const w = HE * E;
  const gq = grad.subarray(0, w), gk = grad.subarray(w, 2 * w), gv = grad.subarray(2 * w, 3 * w), go = grad.subarray(3 * w);
  let loss = 0;
  const dc = new Float64Array(HE), dq = new Float64Array(HE), dk = new Float64Array(L * HE), dv = new Float64Array(L * HE);
  const da = new Float64Array(L), ds = new Float64Array(L);
  for (let b = 0; b < B; b++) {
    // o_proj: out_n = sum_f W_O[n, f] c_f;  dW_O[n, f] += dout_n c_f;  dc_f = sum_n dout_n W_O[n, f]
    dc.fill(0);
    for (let n = 0; n < N; n++) {
      const r = o[b * N + n]! - batch.yq[b * N + n]!;
      loss += r * r;
      const dout = (2 * r) / (B * N);
      for (let f = 0; f < HE; f++) {
        go[n * HE + f] = go[n * HE + f]! + dout * c[b * HE + f]!;
        dc[f] = dc[f]! + dout * p.o[n * HE + f]!;
      }
    }
    dq.fill(0);
    dk.fill(0);
    dv.fill(0);
    for (let h = 0; h < H; h++) {
      const ab = (b * H + h) * L;
      // c_h = sum_i a_i v_i
      for (let i = 0; i < L; i++) {
        let s = 0;
        for (let e = 0; e < E; e++) {
          s += dc[h * E + e]! * v[(b * L + i) * HE + h * E + e]!;
          dv[i * HE + h * E + e] = a[ab + i]! * dc[h * E + e]!;
        }
        da[i] = s;
      }
      // softmax: ds_i = a_i (da_i - sum_j a_j da_j)
      let dot = 0;
      for (let i = 0; i < L; i++) dot += a[ab + i]! * da[i]!;
      for (let i = 0; i < L; i++) ds[i] = a[ab + i]! * (da[i]! - dot);
      // s_i = scale * q_h . k_i
      for (let i = 0; i < L; i++) {
        for (let e = 0; e < E; e++) {
          dq[h * E + e] = dq[h * E + e]! + ds[i]! * scale * k[(b * L + i) * HE + h * E + e]!;
          dk[i * HE + h * E + e] = ds[i]! * scale * q[b * HE + h * E + e]!;
        }
      }
    }
    // projections: q_f = sum_e W_Q[f,e] zq_e  ->  dW_Q[f,e] += dq_f zq_e ; likewise k, v per token
    for (let f = 0; f < HE; f++) {
      for (let e = 0; e < E; e++) {
        gq[f * E + e] = gq[f * E + e]! + dq[f]! * batch.zq[b * E + e]!;
        for (let i = 0; i < L; i++) {
          const ze = batch.z[(b * L + i) * E + e]!;
          gk[f * E + e] = gk[f * E + e]! + dk[i * HE + f]! * ze;
          gv[f * E + e] = gv[f * E + e]! + dv[i * HE + f]! * ze;
        }
      }
    }
  }
  return loss / (B * N);
}
