/**
 * The seed's single-layer multi-head attention with n_out = N outputs (the authors' multi-task model),
 * forward and analytic backward in float64, on the TypeScript engine.
 *
 * Parameters are model/params.ts `AttentionParams` with nOut = N and token width E (its `d` is E - 1):
 * q, k, v (E H, E), o (N, E H), PyTorch `nn.Linear` layout, head h owning rows / columns h E .. h E + E.
 * Per head (as engine/ts/attention.ts, with the value now N-dimensional):
 *
 *   A_h = Wq_h^T Wk_h / sqrt(E)         [E, E]     s_hi = z_q^T A_h z_i,   a_h = softmax_i(s_h)
 *   U_h = Wv_h^T O_h^T                  [E, N]     O_h = o[:, hE:hE+E] [N, E];  v_hi = U_h^T z_i  [N]
 *   out = sum_h sum_i a_hi v_hi         [N]
 *
 * Backward for one prompt, dout = dLoss/dout [N] = 2 (out - y_q) / (B N)  (MSE mean over B and N):
 *   zbar_h = sum_i a_hi z_i;   dU_h += zbar_h dout^T
 *   c_hi = dout . v_hi;   ds_hi = a_hi (c_hi - sum_j a_hj c_hj);   dA_h += z_q (sum_i ds_hi z_i)^T
 * and back to the weights:
 *   dWq_h = Wk_h dA_h^T / sqrt(E),  dWk_h = Wq_h dA_h / sqrt(E),  dWv_h = O_h^T dU_h^T,  dO_h = dU_h^T Wv_h^T.
 * The softmax subtracts the per-head maximum score.
 */
import type { AttentionParams } from '../../model/params.js';
import type { Batch } from '../../data/batch.js';

/** Outputs per prompt of a batch: yq.length / B. */
function outputsOf(batch: Batch): number {
  return batch.yq.length / batch.B;
}

function check(p: AttentionParams, batch: Batch): number {
  const N = outputsOf(batch);
  if (p.E !== batch.E) throw new RangeError(`model token width E=${p.E} does not match the batch's E=${batch.E}`);
  if (p.nOut !== N) throw new RangeError(`model has n_out = ${p.nOut} outputs, the batch has ${N} targets per prompt`);
  if (batch.z.length !== batch.B * batch.L * batch.E || batch.zq.length !== batch.B * batch.E) throw new RangeError(`batch arrays do not match B=${batch.B}, L=${batch.L}, E=${batch.E}`);
  return N;
}

interface Scratch {
  A: Float64Array; // [H, E, E]
  U: Float64Array; // [H, E, N]
  g: Float64Array; // [E]  A_h^T z_q
  aw: Float64Array; // [H, L] attention of the current prompt
  V: Float64Array; // [H, L, N] values of the current prompt
  zbar: Float64Array; // [E]
  zc: Float64Array; // [E]  sum_i a_i c_i z_i
  dA: Float64Array; // [H, E, E]
  dU: Float64Array; // [H, E, N]
  o: Float64Array; // [N]
  dout: Float64Array; // [N]
}

let scratch: Scratch | undefined;
function getScratch(H: number, E: number, N: number, L: number): Scratch {
  const s = scratch;
  if (s && s.A.length === H * E * E && s.U.length === H * E * N && s.aw.length >= H * L && s.V.length >= H * L * N) return s;
  scratch = {
    A: new Float64Array(H * E * E), U: new Float64Array(H * E * N), g: new Float64Array(E), aw: new Float64Array(H * L), V: new Float64Array(H * L * N),
    zbar: new Float64Array(E), zc: new Float64Array(E), dA: new Float64Array(H * E * E), dU: new Float64Array(H * E * N), o: new Float64Array(N), dout: new Float64Array(N),
  };
  return scratch;
}

/** A_h and U_h of every head into the scratch. */
function circuits(p: AttentionParams, sc: Scratch): void {
  const { E, H, nOut: N } = p;
  const k = 1 / Math.sqrt(E);
  for (let h = 0; h < H; h++) {
    const wb = h * E * E;
    for (let a = 0; a < E; a++) {
      for (let b = 0; b < E; b++) {
        let acc = 0;
        for (let j = 0; j < E; j++) acc += p.q[wb + j * E + a]! * p.k[wb + j * E + b]!;
        sc.A[wb + a * E + b] = acc * k;
      }
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let j = 0; j < E; j++) acc += p.v[wb + j * E + a]! * p.o[n * E * H + h * E + j]!;
        sc.U[(h * E + a) * N + n] = acc;
      }
    }
  }
}

/**
 * Forward (and, with `grad`, backward) over the batch. `out` [B, N] receives the outputs, `attn`
 * [B, H, L] the attention weights. Returns the MSE over B and N.
 */
function run(p: AttentionParams, batch: Batch, grad: Float64Array | null, out: Float64Array | null, attn: Float64Array | null): number {
  const N = check(p, batch);
  const { B, L, E, z, zq, yq } = batch;
  const H = p.H;
  const sc = getScratch(H, E, N, L);
  circuits(p, sc);
  const { A, U, g, aw, V, zbar, zc, dA, dU, o, dout } = sc;
  if (grad) {
    if (grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length}`);
    dA.fill(0);
    dU.fill(0);
  }
  if (out && out.length < B * N) throw new RangeError(`out has ${out.length} values, expected B*N = ${B}*${N}`);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const z0 = b * L * E;
    const q0 = b * E;
    o.fill(0);
    for (let h = 0; h < H; h++) {
      const Ah = h * E * E;
      const Uh = h * E * N;
      const a0 = h * L;
      for (let c = 0; c < E; c++) {
        let acc = 0;
        for (let a = 0; a < E; a++) acc += zq[q0 + a]! * A[Ah + a * E + c]!;
        g[c] = acc; // g = A_h^T z_q
      }
      let max = -Infinity;
      for (let i = 0, t = z0; i < L; i++, t += E) {
        let acc = 0;
        for (let c = 0; c < E; c++) acc += g[c]! * z[t + c]!;
        aw[a0 + i] = acc;
        if (acc > max) max = acc;
      }
      let sum = 0;
      for (let i = 0; i < L; i++) {
        const e = Math.exp(aw[a0 + i]! - max);
        aw[a0 + i] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let i = 0, t = z0; i < L; i++, t += E) {
        const ai = aw[a0 + i]! * inv;
        aw[a0 + i] = ai;
        const v0 = (a0 + i) * N;
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let c = 0; c < E; c++) acc += U[Uh + c * N + n]! * z[t + c]!;
          V[v0 + n] = acc;
          o[n] += ai * acc;
        }
      }
      if (attn) attn.set(aw.subarray(a0, a0 + L), (b * H + h) * L);
    }
    for (let n = 0; n < N; n++) {
      const e = o[n]! - yq[b * N + n]!;
      loss += e * e;
      dout[n] = (2 * e) / (B * N);
      if (out) out[b * N + n] = o[n]!;
    }
    if (!grad) continue;
    for (let h = 0; h < H; h++) {
      // c_i = dout . v_i;  ds_i = a_i (c_i - cbar);  sum_i ds_i z_i = sum_i a_i c_i z_i - cbar zbar
      const a0 = h * L;
      zbar.fill(0);
      zc.fill(0);
      let cbar = 0;
      for (let i = 0, t = z0; i < L; i++, t += E) {
        const ai = aw[a0 + i]!;
        const v0 = (a0 + i) * N;
        let ci = 0;
        for (let n = 0; n < N; n++) ci += dout[n]! * V[v0 + n]!;
        const aci = ai * ci;
        cbar += aci;
        for (let c = 0; c < E; c++) {
          const zv = z[t + c]!;
          zbar[c] += ai * zv;
          zc[c] += aci * zv;
        }
      }
      const Ah = h * E * E;
      const Uh = h * E * N;
      for (let a = 0; a < E; a++) {
        const za = zq[q0 + a]!;
        if (za !== 0) for (let c = 0; c < E; c++) dA[Ah + a * E + c] += za * (zc[c]! - cbar * zbar[c]!);
        for (let n = 0; n < N; n++) dU[Uh + a * N + n] += zbar[a]! * dout[n]!;
      }
    }
  }
  if (grad) {
    const w3 = E * H * E;
    const k = 1 / Math.sqrt(E);
    const gq = grad.subarray(0, w3), gk = grad.subarray(w3, 2 * w3), gv = grad.subarray(2 * w3, 3 * w3), go = grad.subarray(3 * w3);
    for (let h = 0; h < H; h++) {
      const wb = h * E * E;
      for (let j = 0; j < E; j++) {
        for (let a = 0; a < E; a++) {
          let sq = 0, sk = 0;
          for (let c = 0; c < E; c++) {
            sq += p.k[wb + j * E + c]! * dA[wb + a * E + c]!; // (Wk dA^T)[j, a]
            sk += p.q[wb + j * E + c]! * dA[wb + c * E + a]!; // (Wq dA)[j, a]
          }
          gq[wb + j * E + a] = sq * k;
          gk[wb + j * E + a] = sk * k;
          let sv = 0;
          for (let n = 0; n < N; n++) sv += p.o[n * E * H + h * E + j]! * dU[(h * E + a) * N + n]!; // (O^T dU^T)[j, a]
          gv[wb + j * E + a] = sv;
        }
        for (let n = 0; n < N; n++) {
          let so = 0;
          for (let e = 0; e < E; e++) so += dU[(h * E + e) * N + n]! * p.v[wb + j * E + e]!; // (dU^T Wv^T)[n, j]
          go[n * E * H + h * E + j] = so;
        }
      }
    }
  }
  return loss / (B * N);
}

/** Outputs [B, N] (and attention weights [B, H, L]); returns the MSE against the batch's targets. */
export function forwardMulti(p: AttentionParams, batch: Batch, out: Float64Array, attn?: Float64Array): number {
  return run(p, batch, null, out, attn ?? null);
}

/** MSE over B and N; overwrites `grad` (theta layout [q | k | v | o]) with its gradient. */
export function lossAndGradMulti(p: AttentionParams, batch: Batch, grad: Float64Array, out?: Float64Array): number {
  return run(p, batch, grad, out ?? null, null);
}
