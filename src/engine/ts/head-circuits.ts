/**
 * The per-head circuits of a one-layer attention and the chain rule back from them to the weights,
 * shared by every kernel whose scores are s_hi = z_q^T A_h z_i and values v_hi = u_h . z_i
 * (softmax: engine/ts/attention.ts; linear: engine/ts/linear-attention.ts):
 *
 *   A_h = Wq_h^T Wk_h / sqrt(E),  u_h = Wv_h^T o_h,
 *   dWq_h = Wk_h dA_h^T / sqrt(E),   dWk_h = Wq_h dA_h / sqrt(E),
 *   dWv_h = o_h du_h^T,              do_h  = Wv_h du_h.
 */
import type { AttentionParams } from '../../model/params.js';
import type { Batch } from '../../data/batch.js';

/** Throws a RangeError unless the batch, the model (n_out = 1) and `out` fit together. */
export function checkShapes(p: AttentionParams, batch: Batch, out: Float64Array | undefined): void {
  if (batch.z.length !== batch.B * batch.L * batch.E || batch.zq.length !== batch.B * batch.E || batch.yq.length !== batch.B)
    throw new RangeError(`batch arrays do not match B=${batch.B}, L=${batch.L}, E=${batch.E}`);
  if (p.E !== batch.E) throw new RangeError(`model token width E=${p.E} (d=${p.d}) does not match the batch's E=${batch.E} (d=${batch.d})`);
  if (p.nOut !== 1) throw new RangeError(`the regression model has n_out = 1, got ${p.nOut}`);
  if (out && out.length < batch.B) throw new RangeError(`out has ${out.length} values, expected B = ${batch.B}`);
}

/** The softmax kernels refuse weights marked for another attention (engine/single-layer-kernel.ts picks the kernel). */
export function refuseLinear(p: AttentionParams): void {
  if (p.attention !== undefined && p.attention !== 'softmax') throw new RangeError(`these weights are a '${p.attention}' attention model; the softmax kernel does not run them (engine/single-layer-kernel.ts singleLayerKernel)`);
}

/** A_h = Wq_h^T Wk_h / sqrt(E) into A [H, E, E] and u_h = Wv_h^T o_h into U [H, E] for every head. */
export function circuits(p: AttentionParams, A: Float64Array, U: Float64Array): void {
  const { E, H } = p;
  const q = p.q, k = p.k, v = p.v, o = p.o;
  const scale = 1 / Math.sqrt(E);
  for (let h = 0; h < H; h++) {
    const wb = h * E * E; // row block of head h in q/k/v
    for (let a = 0; a < E; a++) {
      for (let c = 0; c < E; c++) {
        let s = 0;
        for (let r = 0; r < E; r++) s += q[wb + r * E + a]! * k[wb + r * E + c]!;
        A[wb + a * E + c] = s * scale;
      }
    }
    for (let c = 0; c < E; c++) {
      let s = 0;
      for (let r = 0; r < E; r++) s += v[wb + r * E + c]! * o[h * E + r]!;
      U[h * E + c] = s;
    }
  }
}

/** dA_h, du_h (DA [H, E, E], DU [H, E]) -> gradients of W_Q, W_K, W_V, W_O, written into grad (theta layout). */
export function backToWeights(p: AttentionParams, DA: Float64Array, DU: Float64Array, grad: Float64Array): void {
  const { E, H } = p;
  const EE = E * E;
  const scale = 1 / Math.sqrt(E);
  const w = H * EE;
  const q = p.q, k = p.k, v = p.v, ov = p.o;
  for (let h = 0; h < H; h++) {
    const wb = h * EE;
    for (let r = 0; r < E; r++) {
      for (let a = 0; a < E; a++) {
        // dWq[r,a] = sum_c Wk[r,c] dA[a,c] / s ;  dWk[r,a] = sum_c Wq[r,c] dA[c,a] / s
        let sq = 0, sk = 0;
        for (let c = 0; c < E; c++) {
          sq += k[wb + r * E + c]! * DA[wb + a * E + c]!;
          sk += q[wb + r * E + c]! * DA[wb + c * E + a]!;
        }
        grad[wb + r * E + a] = sq * scale;
        grad[w + wb + r * E + a] = sk * scale;
        // dWv[r,a] = o_h[r] du_h[a]
        grad[2 * w + wb + r * E + a] = ov[h * E + r]! * DU[h * E + a]!;
      }
      // do_h[r] = sum_c Wv[r,c] du_h[c]
      let so = 0;
      for (let c = 0; c < E; c++) so += v[wb + r * E + c]! * DU[h * E + c]!;
      grad[3 * w + h * E + r] = so;
    }
  }
}
