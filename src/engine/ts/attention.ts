/**
 * Fast fused forward + analytic backward of the seed's single-layer multi-head attention (n_out = 1),
 * float64, allocation-free after the first call with a given shape.
 *
 * Algebra (exact, not an approximation; docs/readme/core.md). In PyTorch row layout head h owns the (E x E) row blocks
 * Wq_h, Wk_h, Wv_h of q_proj/k_proj/v_proj and the E columns o_h of o_proj. Then
 *
 *   A_h = Wq_h^T Wk_h / sqrt(E)   [E, E]       s_hi = z_q^T A_h z_i = g_h . z_i,  g_h = A_h^T z_q
 *   u_h = Wv_h^T o_h              [E]          v_hi = u_h . z_i
 *   out = sum_h sum_i a_hi v_hi,   a_h = softmax_i(s_h)
 *
 * Backward for one prompt (dout = d loss / d out = 2 (out - y_q) / B):
 *   zbar_h = sum_i a_hi z_i,  ybar_h = sum_i a_hi v_hi,  w_h = sum_i a_hi v_hi z_i
 *   du_h  += dout * zbar_h                                  (d/dv_hi = dout a_hi)
 *   ds_hi  = dout * a_hi (v_hi - ybar_h)                    (softmax backward)
 *   dA_h  += z_q (sum_i ds_hi z_i)^T = dout * z_q (w_h - ybar_h zbar_h)^T
 * and back to the weights (chain rule through the products above):
 *   dWq_h = Wk_h dA_h^T / sqrt(E),   dWk_h = Wq_h dA_h / sqrt(E),
 *   dWv_h = o_h du_h^T,              do_h  = Wv_h du_h.
 *
 * The softmax is stabilised by subtracting the per-head maximum score.
 */
import type { AttentionParams } from '../../model/params.js';
import type { Batch } from '../../data/batch.js';
import { expNeg } from '../../math/exp.js';
import { specialisedKernel } from './attention-kernel.js';
import { backToWeights, checkShapes, circuits, refuseLinear } from './head-circuits.js';

// ---- scratch, grown on demand (no allocation in the training loop) -------------------------------
let sA = new Float64Array(0); // [H, E, E]   A_h
let sU = new Float64Array(0); // [H, E]      u_h
let sG = new Float64Array(0); // [H, E]      g_h for the current prompt
let sS = new Float64Array(0); // [H, L]      scores, then exp(s - max)
let sV = new Float64Array(0); // [H, L]      values v_hi
let sZb = new Float64Array(0); // [H, E]     sum_i e_hi z_i
let sW = new Float64Array(0); // [H, E]      sum_i e_hi v_hi z_i
let sYb = new Float64Array(0); // [H]        sum_i e_hi v_hi
let sSum = new Float64Array(0); // [H]       sum_i e_hi
let sDA = new Float64Array(0); // [H, E, E]  dA_h
let sDU = new Float64Array(0); // [H, E]     du_h

function ensureScratch(H: number, E: number, L: number): void {
  if (sA.length < H * E * E) {
    sA = new Float64Array(H * E * E);
    sDA = new Float64Array(H * E * E);
  }
  if (sU.length < H * E) {
    sU = new Float64Array(H * E);
    sG = new Float64Array(H * E);
    sZb = new Float64Array(H * E);
    sW = new Float64Array(H * E);
    sDU = new Float64Array(H * E);
  }
  if (sYb.length < H) {
    sYb = new Float64Array(H);
    sSum = new Float64Array(H);
  }
  if (sS.length < H * L) {
    sS = new Float64Array(H * L);
    sV = new Float64Array(H * L);
  }
}

/**
 * One prompt: scores, softmax numerators and the sums above for every head.
 * Leaves e_hi = exp(s_hi - max_h) in sS, v_hi in sV, and sZb, sW (if withGrad), sYb, sSum.
 * Returns the model output for the prompt.
 */
function prompt(z: Float64Array, zq: Float64Array, b: number, L: number, E: number, H: number, withGrad: boolean): number {
  const zo = b * L * E, qo = b * E;
  const A = sA, U = sU, G = sG, S = sS, V = sV, ZB = sZb, W = sW, SUM = sSum, YB = sYb;
  // g_h = A_h^T z_q
  for (let h = 0; h < H; h++) {
    const ab = h * E * E;
    for (let c = 0; c < E; c++) {
      let s = 0;
      for (let a = 0; a < E; a++) s += zq[qo + a]! * A[ab + a * E + c]!;
      G[h * E + c] = s;
    }
  }
  let out = 0;
  for (let h = 0; h < H; h++) {
    const ho = h * E, lo = h * L;
    // pass 1: scores and values
    let mx = -Infinity;
    for (let i = 0; i < L; i++) {
      const t = zo + i * E;
      let s = 0, v = 0;
      for (let e = 0; e < E; e++) {
        const ze = z[t + e]!;
        s += G[ho + e]! * ze;
        v += U[ho + e]! * ze;
      }
      S[lo + i] = s;
      V[lo + i] = v;
      if (s > mx) mx = s;
    }
    // pass 2: softmax numerators and weighted sums
    let sum = 0, yb = 0;
    for (let e = 0; e < E; e++) {
      ZB[ho + e] = 0;
      W[ho + e] = 0;
    }
    for (let i = 0; i < L; i++) {
      const ex = expNeg(S[lo + i]! - mx);
      S[lo + i] = ex;
      const ev = ex * V[lo + i]!;
      sum += ex;
      yb += ev;
      if (withGrad) {
        const t = zo + i * E;
        for (let e = 0; e < E; e++) {
          const ze = z[t + e]!;
          ZB[ho + e] += ex * ze;
          W[ho + e] += ev * ze;
        }
      }
    }
    SUM[h] = sum;
    YB[h] = yb / sum;
    out += yb / sum;
  }
  return out;
}

/** output [B] (and softmax weights [B, H, L] if `attn` is given). */
export function forward(p: AttentionParams, batch: Batch, out: Float64Array, attn?: Float64Array): void {
  run(p, batch, null, out, attn ?? null, true);
}

/**
 * MSE loss over the batch; overwrites `grad` (theta layout [q|k|v|o]) with d loss / d theta and,
 * if given, `out` [B] with the model outputs.
 */
export function lossAndGrad(p: AttentionParams, batch: Batch, grad: Float64Array, out?: Float64Array): number {
  return run(p, batch, grad, out ?? null, null, true);
}

/** The same two functions on the generic (not unrolled) loops: for tests and benchmarks. */
export function forwardGeneric(p: AttentionParams, batch: Batch, out: Float64Array, attn?: Float64Array): void {
  run(p, batch, null, out, attn ?? null, false);
}
export function lossAndGradGeneric(p: AttentionParams, batch: Batch, grad: Float64Array, out?: Float64Array): number {
  return run(p, batch, grad, out ?? null, null, false);
}

function run(p: AttentionParams, batch: Batch, grad: Float64Array | null, out: Float64Array | null, attn: Float64Array | null, specialise: boolean): number {
  checkShapes(p, batch, out ?? undefined);
  refuseLinear(p);
  const { B, L, E } = batch;
  const H = p.H;
  if (grad && grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length} (theta length)`);
  if (!grad && !out) throw new RangeError('forward needs an output buffer out [B]');
  if (attn && attn.length < B * H * L) throw new RangeError(`attn has ${attn.length} values, expected B*H*L = ${B}*${H}*${L}`);
  ensureScratch(H, E, L);
  circuits(p, sA, sU);
  const EE = E * E;
  if (grad) {
    sDA.fill(0, 0, H * EE);
    sDU.fill(0, 0, H * E);
  }
  const kernel = specialise ? specialisedKernel(E, grad !== null) : null;
  let sse = 0;
  if (kernel) {
    sse = kernel(batch.z, batch.zq, batch.yq, B, L, H, sA, sU, sS, sV, sZb, sW, sYb, sSum, sDA, sDU, out, attn);
  } else if (grad) {
    sse = genericGrad(batch, H, out);
  } else {
    genericForward(batch, H, out!, attn);
  }
  if (!grad) return 0;
  backToWeights(p, sDA, sDU, grad);
  return sse / B;
}

function genericForward(batch: Batch, H: number, out: Float64Array, attn: Float64Array | null): void {
  const { B, L, E } = batch;
  const S = sS, SUM = sSum;
  for (let b = 0; b < B; b++) {
    out[b] = prompt(batch.z, batch.zq, b, L, E, H, false);
    if (attn) {
      for (let h = 0; h < H; h++) {
        const inv = 1 / SUM[h]!;
        for (let i = 0; i < L; i++) attn[(b * H + h) * L + i] = S[h * L + i]! * inv;
      }
    }
  }
}

/** Summed squared error; accumulates dA_h, du_h into sDA, sDU. */
function genericGrad(batch: Batch, H: number, out: Float64Array | null): number {
  const { B, L, E } = batch;
  const z = batch.z, zq = batch.zq, yq = batch.yq;
  const EE = E * E;
  const DA = sDA, DU = sDU, ZB = sZb, W = sW, YB = sYb, SUM = sSum;
  let sse = 0;
  for (let b = 0; b < B; b++) {
    const o = prompt(z, zq, b, L, E, H, true);
    if (out) out[b] = o;
    const r = o - yq[b]!;
    sse += r * r;
    const dout = (2 * r) / B;
    const qo = b * E;
    for (let h = 0; h < H; h++) {
      const ho = h * E, ab = h * EE;
      const inv = dout / SUM[h]!;
      const yb = YB[h]!;
      for (let c = 0; c < E; c++) {
        const zb = ZB[ho + c]!;
        DU[ho + c] += inv * zb;
        const rc = inv * (W[ho + c]! - yb * zb); // dout (w - ybar zbar), normalised
        for (let a = 0; a < E; a++) DA[ab + a * E + c] += zq[qo + a]! * rc;
      }
    }
  }
  return sse;
}
