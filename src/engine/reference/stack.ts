/**
 * Loop-by-loop oracle for the corrected causal attention stack (`stack.ts`), written after the
 * PyTorch class `CausalMultiHeadAttentionFixed` line by line: explicit q, k, v projections, scores,
 * masked single softmax, o_proj, and a backward pass through exactly those tensors (no M/U
 * algebra). Slow and allocating on purpose: it is only a test oracle.
 */
import type { Batch } from '../../data/batch.js';
import { allocStackParams, type StackParams } from '../../model/stack.js';

export interface StackReferenceResult {
  /** [B] model output at the query position. */
  output: Float64Array;
  /** mean squared error against batch.yq. */
  loss: number;
  /** hidden[l]: [B, T, E] output of layer l. */
  hidden: Float64Array[];
  /** attn[l]: [B, H, T, T] attention weights of layer l (zero for j >= i). */
  attn: Float64Array[];
}

interface LayerCache {
  x: Float64Array; // [B, T, E]     layer input
  q: Float64Array; // [B, T, E*H]
  k: Float64Array; // [B, T, E*H]
  v: Float64Array; // [B, T, E*H]
  a: Float64Array; // [B, H, T, T]
  c: Float64Array; // [B, T, E*H]   concatenated head outputs
  y: Float64Array; // [B, T, E]     layer output
}

/** y[n, r] = sum_c x[n, c] W[r, c]  (nn.Linear without bias): x [N, C], W [R, C] -> [N, R]. */
function linear(x: Float64Array, W: Float64Array, N: number, C: number, R: number): Float64Array {
  const y = new Float64Array(N * R);
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < R; r++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += x[n * C + c]! * W[r * C + c]!;
      y[n * R + r] = s;
    }
  }
  return y;
}

function forwardCaches(p: StackParams, batch: Batch): { caches: LayerCache[]; output: Float64Array } {
  const { E, H, nLayers } = p;
  const { B, L } = batch;
  const T = L + 1;
  const EH = E * H;
  const sc = 1 / Math.sqrt(E);
  let x: Float64Array = new Float64Array(B * T * E); // [B, T, E]  concat(z, z_q)
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) for (let c = 0; c < E; c++) x[(b * T + i) * E + c] = batch.z[(b * L + i) * E + c]!;
    for (let c = 0; c < E; c++) x[(b * T + L) * E + c] = batch.zq[b * E + c]!;
  }
  const caches: LayerCache[] = [];
  for (let l = 0; l < nLayers; l++) {
    const w = p.layers[l]!;
    const q = linear(x, w.q, B * T, E, EH); // [B, T, E*H]
    const k = linear(x, w.k, B * T, E, EH); // [B, T, E*H]
    const v = linear(x, w.v, B * T, E, EH); // [B, T, E*H]
    const a = new Float64Array(B * H * T * T); // [B, H, T, T]
    const cat = new Float64Array(B * T * EH); // [B, T, E*H]
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          if (i === 0) continue; // nothing strictly earlier: zero attention row, zero output
          const s = new Float64Array(i);
          let mx = -Infinity;
          for (let j = 0; j < i; j++) {
            let dot = 0;
            for (let e = 0; e < E; e++) dot += q[(b * T + i) * EH + h * E + e]! * k[(b * T + j) * EH + h * E + e]!;
            s[j] = dot * sc;
            mx = Math.max(mx, s[j]!);
          }
          let den = 0;
          for (let j = 0; j < i; j++) den += Math.exp(s[j]! - mx);
          for (let j = 0; j < i; j++) a[((b * H + h) * T + i) * T + j] = Math.exp(s[j]! - mx) / den;
          for (let e = 0; e < E; e++) {
            let acc = 0;
            for (let j = 0; j < i; j++) acc += a[((b * H + h) * T + i) * T + j]! * v[(b * T + j) * EH + h * E + e]!;
            cat[(b * T + i) * EH + h * E + e] = acc;
          }
        }
      }
    }
    const y = linear(cat, w.o, B * T, EH, E); // [B, T, E]
    caches.push({ x, q, k, v, a, c: cat, y });
    x = y;
  }
  const output = new Float64Array(B); // [B]
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let c = 0; c < E; c++) s += x[(b * T + T - 1) * E + c]! * p.finalLinear[c]!;
    output[b] = s;
  }
  return { caches, output };
}

/** Forward pass with every intermediate the fixtures record. */
export function stackForwardReference(p: StackParams, batch: Batch): StackReferenceResult {
  const { caches, output } = forwardCaches(p, batch);
  let loss = 0;
  for (let b = 0; b < batch.B; b++) loss += (output[b]! - batch.yq[b]!) ** 2;
  return { output, loss: loss / batch.B, hidden: caches.map((c) => c.y), attn: caches.map((c) => c.a) };
}

/**
 * MSE loss and its gradient (theta-length, overwritten) by plain backpropagation through the
 * explicit q, k, v, softmax and o_proj tensors. With weight tying, per-layer gradients are summed
 * into the one block.
 */
export function stackLossAndGradReference(p: StackParams, batch: Batch, grad: Float64Array): StackReferenceResult {
  const { E, H, nLayers } = p;
  const { B, L } = batch;
  const T = L + 1;
  const EH = E * H;
  const sc = 1 / Math.sqrt(E);
  const { caches, output } = forwardCaches(p, batch);
  const g = allocStackParams(p.d, H, nLayers, p.weightTying, grad);
  grad.fill(0);
  let loss = 0;
  // d loss / d x^n : only the query row, (2/B)(out - y) * final_linear
  let gy = new Float64Array(B * T * E); // [B, T, E]
  const xn = caches[nLayers - 1]!.y;
  for (let b = 0; b < B; b++) {
    const r = output[b]! - batch.yq[b]!;
    loss += r * r;
    const gout = (2 * r) / B;
    for (let c = 0; c < E; c++) {
      g.finalLinear[c]! += gout * xn[(b * T + T - 1) * E + c]!;
      gy[(b * T + T - 1) * E + c] = gout * p.finalLinear[c]!;
    }
  }
  for (let l = nLayers - 1; l >= 0; l--) {
    const w = p.layers[l]!;
    const gw = g.layers[l]!;
    const { x, q, k, v, a, c: cat } = caches[l]!;
    // y = cat o^T :  d o[r, m] += sum_n gy[n, r] cat[n, m] ;  d cat[n, m] = sum_r gy[n, r] o[r, m]
    const gcat = new Float64Array(B * T * EH);
    for (let n = 0; n < B * T; n++) {
      for (let r = 0; r < E; r++) {
        const gv = gy[n * E + r]!;
        for (let m = 0; m < EH; m++) {
          gw.o[r * EH + m]! += gv * cat[n * EH + m]!;
          gcat[n * EH + m]! += gv * w.o[r * EH + m]!;
        }
      }
    }
    const gq = new Float64Array(B * T * EH);
    const gk = new Float64Array(B * T * EH);
    const gv = new Float64Array(B * T * EH);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 1; i < T; i++) {
          const arow = ((b * H + h) * T + i) * T;
          // cat_i = sum_j a_ij v_j :  dA_ij = gcat_i . v_j ;  gv_j += a_ij gcat_i
          const dA = new Float64Array(i);
          for (let j = 0; j < i; j++) {
            let s = 0;
            for (let e = 0; e < E; e++) {
              s += gcat[(b * T + i) * EH + h * E + e]! * v[(b * T + j) * EH + h * E + e]!;
              gv[(b * T + j) * EH + h * E + e]! += a[arow + j]! * gcat[(b * T + i) * EH + h * E + e]!;
            }
            dA[j] = s;
          }
          // softmax backward: dS_ij = a_ij (dA_ij - sum_k a_ik dA_ik)
          let dot = 0;
          for (let j = 0; j < i; j++) dot += a[arow + j]! * dA[j]!;
          for (let j = 0; j < i; j++) {
            const dS = a[arow + j]! * (dA[j]! - dot) * sc;
            // S_ij = q_i . k_j / sqrt(E)
            for (let e = 0; e < E; e++) {
              gq[(b * T + i) * EH + h * E + e]! += dS * k[(b * T + j) * EH + h * E + e]!;
              gk[(b * T + j) * EH + h * E + e]! += dS * q[(b * T + i) * EH + h * E + e]!;
            }
          }
        }
      }
    }
    // q = x Wq^T etc. :  dWq[m, c] += sum_n gq[n, m] x[n, c] ;  dx[n, c] = sum_m gq[n, m] Wq[m, c] + ...
    const gx = new Float64Array(B * T * E);
    for (let n = 0; n < B * T; n++) {
      for (let m = 0; m < EH; m++) {
        for (let c = 0; c < E; c++) {
          const xv = x[n * E + c]!;
          gw.q[m * E + c]! += gq[n * EH + m]! * xv;
          gw.k[m * E + c]! += gk[n * EH + m]! * xv;
          gw.v[m * E + c]! += gv[n * EH + m]! * xv;
          gx[n * E + c]! += gq[n * EH + m]! * w.q[m * E + c]! + gk[n * EH + m]! * w.k[m * E + c]! + gv[n * EH + m]! * w.v[m * E + c]!;
        }
      }
    }
    gy = gx;
  }
  return { output, loss: loss / B, hidden: caches.map((c) => c.y), attn: caches.map((c) => c.a) };
}
