/**
 * Forward + analytic backward of one-layer multi-head LINEAR attention (n_out = 1), float64: the
 * model of the "transformers do gradient descent" papers, on the seed's weights and layout.
 *
 * Scores as for softmax (engine/ts/head-circuits.ts): s_hi = z_q^T A_h z_i = g_h . z_i with
 * g_h = A_h^T z_q, values v_hi = u_h . z_i; the weights are the scores themselves, scaled:
 *
 *   a_hi = c s_hi,   c = 1/L ('linear', normalised: Zhang-Frei-Bartlett) or 1 ('linear-sum': von Oswald et al.)
 *   out  = sum_h sum_i a_hi v_hi = c sum_h g_h^T M u_h,   M = sum_i z_i z_i^T   [E, E]
 *
 * so a prompt costs one E x E context moment M (shared by the heads) and O(H E^2) per head.
 * Backward (dout = 2 (out - y_q) / B):
 *   du_h += dout c M g_h,     dA_h += dout c z_q (M u_h)^T,
 * then the chain rule of head-circuits.ts back to W_Q, W_K, W_V, W_O.
 */
import type { AttentionParams } from '../../model/params.js';
import type { Batch } from '../../data/batch.js';
import { backToWeights, checkShapes, circuits } from './head-circuits.js';
import { LINEAR_NORMS, type LinearNorm } from '../../model/attention-name.js';

export { LINEAR_NORMS, type LinearNorm };

/** The factor c of a_hi = c s_hi: 1/L for 'linear', 1 for 'linear-sum'. */
export function linearScale(norm: LinearNorm, L: number): number {
  if (norm === 'linear') return 1 / L;
  if (norm === 'linear-sum') return 1;
  throw new RangeError(`unknown linear attention '${String(norm)}' (known: ${LINEAR_NORMS.join(', ')})`);
}

// ---- scratch, grown on demand ---------------------------------------------------------------------
let sA = new Float64Array(0); // [H, E, E]
let sU = new Float64Array(0); // [H, E]
let sM = new Float64Array(0); // [E, E]   context moment of the current prompt
let sG = new Float64Array(0); // [H, E]   g_h of the current prompt
let sMu = new Float64Array(0); // [H, E]  M u_h of the current prompt
let sDA = new Float64Array(0); // [H, E, E]
let sDU = new Float64Array(0); // [H, E]

function ensureScratch(H: number, E: number): void {
  if (sA.length < H * E * E) {
    sA = new Float64Array(H * E * E);
    sDA = new Float64Array(H * E * E);
  }
  if (sU.length < H * E) {
    sU = new Float64Array(H * E);
    sDU = new Float64Array(H * E);
    sG = new Float64Array(H * E);
    sMu = new Float64Array(H * E);
  }
  if (sM.length < E * E) sM = new Float64Array(E * E);
}

/** Outputs [B] (and the attention weights a [B, H, L] if `attn` is given). */
export function linearForward(p: AttentionParams, batch: Batch, norm: LinearNorm, out: Float64Array, attn?: Float64Array): void {
  run(p, batch, norm, null, out, attn ?? null);
}

/** MSE loss over the batch; overwrites `grad` (theta layout) with d loss / d theta and, if given, `out` [B]. */
export function linearLossAndGrad(p: AttentionParams, batch: Batch, norm: LinearNorm, grad: Float64Array, out?: Float64Array): number {
  return run(p, batch, norm, grad, out ?? null, null);
}

function run(p: AttentionParams, batch: Batch, norm: LinearNorm, grad: Float64Array | null, out: Float64Array | null, attn: Float64Array | null): number {
  checkShapes(p, batch, out ?? undefined);
  const { B, L, E } = batch;
  const H = p.H;
  const c = linearScale(norm, L);
  if (grad && grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length} (theta length)`);
  if (!grad && !out) throw new RangeError('forward needs an output buffer out [B]');
  if (attn && attn.length < B * H * L) throw new RangeError(`attn has ${attn.length} values, expected B*H*L = ${B}*${H}*${L}`);
  ensureScratch(H, E);
  circuits(p, sA, sU);
  const EE = E * E;
  if (grad) {
    sDA.fill(0, 0, H * EE);
    sDU.fill(0, 0, H * E);
  }
  const z = batch.z, zq = batch.zq, yq = batch.yq;
  const A = sA, U = sU, M = sM, G = sG, MU = sMu, DA = sDA, DU = sDU;
  let sse = 0;
  for (let b = 0; b < B; b++) {
    const zo = b * L * E, qo = b * E;
    // M = sum_i z_i z_i^T (upper triangle, then mirrored)
    M.fill(0, 0, EE);
    for (let i = 0; i < L; i++) {
      const t = zo + i * E;
      for (let r = 0; r < E; r++) {
        const zr = z[t + r]!;
        for (let s = r; s < E; s++) M[r * E + s] += zr * z[t + s]!;
      }
    }
    for (let r = 1; r < E; r++) for (let s = 0; s < r; s++) M[r * E + s] = M[s * E + r]!;
    let o = 0;
    for (let h = 0; h < H; h++) {
      const ab = h * EE, ho = h * E;
      for (let e = 0; e < E; e++) {
        let s = 0;
        for (let a = 0; a < E; a++) s += zq[qo + a]! * A[ab + a * E + e]!;
        G[ho + e] = s;
      }
      let gmu = 0;
      for (let r = 0; r < E; r++) {
        let s = 0;
        for (let e = 0; e < E; e++) s += M[r * E + e]! * U[ho + e]!;
        MU[ho + r] = s;
        gmu += G[ho + r]! * s;
      }
      o += c * gmu;
      if (attn) {
        for (let i = 0; i < L; i++) {
          const t = zo + i * E;
          let s = 0;
          for (let e = 0; e < E; e++) s += G[ho + e]! * z[t + e]!;
          attn[(b * H + h) * L + i] = c * s;
        }
      }
    }
    if (out) out[b] = o;
    if (!grad) continue;
    const r = o - yq[b]!;
    sse += r * r;
    const k = (c * 2 * r) / B;
    for (let h = 0; h < H; h++) {
      const ab = h * EE, ho = h * E;
      for (let rr = 0; rr < E; rr++) {
        let mg = 0;
        for (let e = 0; e < E; e++) mg += M[rr * E + e]! * G[ho + e]!;
        DU[ho + rr] += k * mg;
        const km = k * MU[ho + rr]!;
        for (let a = 0; a < E; a++) DA[ab + a * E + rr] += zq[qo + a]! * km;
      }
    }
  }
  if (!grad) return 0;
  backToWeights(p, DA, DU, grad);
  return sse / B;
}
