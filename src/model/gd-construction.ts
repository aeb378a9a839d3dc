/**
 * The GD construction (von Oswald et al. 2023): one-layer, one-head LINEAR attention weights whose
 * output is exactly one step of gradient descent from zero on the context,
 *
 *   QK^1 = W_Q W_K^T / sqrt(E): x-block w I_d, everything else 0;   OV^1 = W_V W_O: y-entry mu, else 0
 *   'linear' (a_i = s_i / L):  out = (w mu / L) sum_i y_i <x_i, x_q>  = one-step GD with eta = w mu
 *
 * (under 'linear-sum' the same weights give L times that). In PyTorch layout: q_proj = k_proj =
 * sqrt(w sqrt(E)) on the x diagonal (k_proj negated for w < 0), v_proj[d, d] = 1, o_proj[0, d] = mu
 * (the fixture's `gd_construction`, test/fixtures/linear_attention_H1_fwd_bwd.json).
 */
import { allocParams, type AttentionParams } from './params.js';
import { withAttention, type LinearNorm } from './attention-name.js';

/** The construction for step `eta` at query scale `w` (mu = eta / w), marked as `attention`. */
export function gdConstruction(d: number, eta: number, w = 1, attention: LinearNorm = 'linear'): AttentionParams {
  if (!Number.isFinite(eta) || !Number.isFinite(w) || w === 0) throw new RangeError(`the GD construction needs a finite eta and w != 0, got eta=${eta}, w=${w}`);
  const p = allocParams(d, 1);
  const E = d + 1;
  const s = Math.sqrt(Math.abs(w) * Math.sqrt(E));
  for (let a = 0; a < d; a++) {
    p.q[a * E + a] = s;
    p.k[a * E + a] = w > 0 ? s : -s;
  }
  p.v[d * E + d] = 1;
  p.o[d] = eta / w;
  return withAttention(p, attention);
}
