/**
 * The causal stack's fast forward / backward in TypeScript (model/stack.ts has the math and the
 * layout). Per head M = QK^h and U = (OV^h)ᵀ come from model/circuits.ts, the one circuit read-out.
 */
import type { Batch } from '../../data/batch.js';
import { expNeg } from '../../math/exp.js';
import { ovCircuit, qkCircuit, stackLayer } from '../../model/circuits.js';
import { allocStackParams, type StackParams } from '../../model/stack.js';

// ---------------------------------------------------------------------------------------------
// Fast forward / backward
// ---------------------------------------------------------------------------------------------

interface Workspace {
  readonly E: number;
  readonly H: number;
  readonly nLayers: number;
  readonly nBlocks: number;
  readonly T: number;
  // Token-minor layout ([E, T]) everywhere, so that the inner loops run over tokens, contiguously.
  readonly X: Float64Array; //  [nLayers+1, E, T]  hidden states of one batch element (layer 0 = input)
  readonly Qt: Float64Array; // [nLayers, H, E, T]  M^T x_i  (query side of the scores)
  readonly A: Float64Array; //  [nLayers, H, T, T]  attention weights (row i, key j < i)
  readonly R: Float64Array; //  [nLayers, H, E, T]  r_i = sum_j a_ij x_j
  readonly G: Float64Array; //  [E, T]  d loss / d (layer output)
  readonly Gin: Float64Array; // [E, T] d loss / d (layer input)
  readonly dR: Float64Array; // [E, T]  U^T G
  readonly QA: Float64Array; // [E, T]  sum_j dS_ij x_j
  readonly dA: Float64Array; // [T]
  /** [2] scalars passed between the element kernels (model output, d loss / d output), unboxed */
  readonly s: Float64Array;
  readonly M: Float64Array; //  [nBlocks, H, E, E]
  readonly U: Float64Array; //  [nBlocks, H, E, E]
  readonly dM: Float64Array; // [nBlocks, H, E, E]
  readonly dU: Float64Array; // [nBlocks, H, E, E]
  readonly ov: Float64Array; // [E, E] one OV^h while preparing
}

let cached: Workspace | null = null;

function workspace(E: number, H: number, nLayers: number, nBlocks: number, T: number): Workspace {
  const c = cached;
  if (c && c.E === E && c.H === H && c.nLayers === nLayers && c.nBlocks === nBlocks && c.T === T) return c;
  const blk = nBlocks * H * E * E;
  cached = {
    E, H, nLayers, nBlocks, T,
    X: new Float64Array((nLayers + 1) * T * E),
    Qt: new Float64Array(nLayers * H * T * E),
    A: new Float64Array(nLayers * H * T * T),
    R: new Float64Array(nLayers * H * T * E),
    G: new Float64Array(T * E),
    Gin: new Float64Array(T * E),
    dR: new Float64Array(T * E),
    QA: new Float64Array(T * E),
    dA: new Float64Array(T),
    s: new Float64Array(2),
    M: new Float64Array(blk),
    U: new Float64Array(blk),
    dM: new Float64Array(blk),
    dU: new Float64Array(blk),
    ov: new Float64Array(E * E),
  };
  return cached;
}

function checkShapes(p: StackParams, batch: Batch): void {
  if (batch.E !== p.E) throw new RangeError(`batch token width E=${batch.E} does not match the model's E=${p.E}`);
  if (batch.L < 1) throw new RangeError(`context length L must be >= 1, got ${batch.L}`);
}

/** M_h = QK^h and U_h = (OV^h)ᵀ (= W_O^h W_V^h) for every block and head, from model/circuits.ts. */
function prepare(p: StackParams, ws: Workspace): void {
  const { E, H, nBlocks } = p;
  for (let bl = 0; bl < nBlocks; bl++) {
    const layer = stackLayer(p, bl);
    for (let h = 0; h < H; h++) {
      const base = (bl * H + h) * E * E;
      qkCircuit(layer, h, ws.M.subarray(base, base + E * E) as Float64Array<ArrayBuffer>); // [E, E]
      const ov = ovCircuit(layer, h, ws.ov as Float64Array<ArrayBuffer>); // [E, E]
      for (let a = 0; a < E; a++) for (let b = 0; b < E; b++) ws.U[base + a * E + b] = ov[b * E + a]!;
    }
  }
}

/**
 * Forward of one batch element through all layers; fills X, Qt, A, R. The last layer is computed
 * only at the query row unless `allRows`. Writes the model output f . x^n_{T-1} into ws.s[0].
 */
function forwardElement(p: StackParams, batch: Batch, b: number, ws: Workspace, allRows: boolean): void {
  const { E, H, nLayers, weightTying } = p;
  const L = batch.L;
  const T = L + 1;
  const TE = T * E;
  const { X, Qt, A, R, M, U } = ws;
  const z = batch.z;
  const zq = batch.zq;
  for (let c = 0; c < E; c++) { //  x^0 = concat(z, z_q)   [E, T]
    for (let i = 0; i < L; i++) X[c * T + i] = z[(b * L + i) * E + c]!;
    X[c * T + L] = zq[b * E + c]!;
  }
  for (let l = 0; l < nLayers; l++) {
    const bl = weightTying ? 0 : l;
    const xo = l * TE; //             layer input  x^l   [E, T]
    const yo = (l + 1) * TE; //       layer output x^l+1 [E, T]
    const i0 = l === nLayers - 1 && !allRows ? T - 1 : 1; // rows computed: i0 .. T-1 (row 0 is zero)
    X.fill(0, yo, yo + TE);
    for (let h = 0; h < H; h++) {
      const mo = (bl * H + h) * E * E;
      const lh = l * H + h;
      const qo = lh * TE; // Qt, R of this layer and head  [E, T]
      const ao = lh * T * T;
      // Qt[c, i] = sum_a M[a, c] x_i[a]
      for (let c = 0; c < E; c++) {
        const qc = qo + c * T;
        const m0 = M[mo + c]!;
        for (let i = i0; i < T; i++) Qt[qc + i] = m0 * X[xo + i]!;
        for (let a = 1; a < E; a++) {
          const m = M[mo + a * E + c]!;
          const xa = xo + a * T;
          for (let i = i0; i < T; i++) Qt[qc + i]! += m * X[xa + i]!;
        }
      }
      for (let i = i0; i < T; i++) {
        const ar = ao + i * T;
        // scores s_ij = Qt_i . x_j (j < i), contiguous over j, coordinates in blocks of 3
        let c = 0;
        if (E >= 6) { // d >= 5 (the seed's d = 5 in one pass)
          const q0 = Qt[qo + i]!, q1 = Qt[qo + T + i]!, q2 = Qt[qo + 2 * T + i]!;
          const q3 = Qt[qo + 3 * T + i]!, q4 = Qt[qo + 4 * T + i]!, q5 = Qt[qo + 5 * T + i]!;
          const x0 = xo, x1 = x0 + T, x2 = x1 + T, x3 = x2 + T, x4 = x3 + T, x5 = x4 + T;
          for (let j = 0; j < i; j++) {
            A[ar + j] = q0 * X[x0 + j]! + q1 * X[x1 + j]! + q2 * X[x2 + j]! + q3 * X[x3 + j]! + q4 * X[x4 + j]! + q5 * X[x5 + j]!;
          }
          c = 6;
        } else {
          for (let j = 0; j < i; j++) A[ar + j] = 0;
        }
        for (; c + 2 < E; c += 3) {
          const q0 = Qt[qo + c * T + i]!, q1 = Qt[qo + (c + 1) * T + i]!, q2 = Qt[qo + (c + 2) * T + i]!;
          const x0 = xo + c * T, x1 = x0 + T, x2 = x1 + T;
          for (let j = 0; j < i; j++) A[ar + j]! += q0 * X[x0 + j]! + q1 * X[x1 + j]! + q2 * X[x2 + j]!;
        }
        for (; c < E; c++) {
          const qc = Qt[qo + c * T + i]!;
          const xc = xo + c * T;
          for (let j = 0; j < i; j++) A[ar + j]! += qc * X[xc + j]!;
        }
        // one softmax over j < i
        let mx = -Infinity;
        for (let j = 0; j < i; j++) if (A[ar + j]! > mx) mx = A[ar + j]!;
        let den = 0;
        for (let j = 0; j < i; j++) {
          const e = expNeg(A[ar + j]! - mx);
          A[ar + j] = e;
          den += e;
        }
        const inv = 1 / den;
        for (let j = 0; j < i; j++) A[ar + j]! *= inv;
        // r_i = sum_j a_ij x_j, coordinates in blocks of 3
        c = 0;
        for (; c + 2 < E; c += 3) {
          const x0 = xo + c * T, x1 = x0 + T, x2 = x1 + T;
          let s0 = 0, s1 = 0, s2 = 0;
          for (let j = 0; j < i; j++) {
            const a = A[ar + j]!;
            s0 += a * X[x0 + j]!;
            s1 += a * X[x1 + j]!;
            s2 += a * X[x2 + j]!;
          }
          R[qo + c * T + i] = s0;
          R[qo + (c + 1) * T + i] = s1;
          R[qo + (c + 2) * T + i] = s2;
        }
        for (; c < E; c++) {
          const xc = xo + c * T;
          let s = 0;
          for (let j = 0; j < i; j++) s += A[ar + j]! * X[xc + j]!;
          R[qo + c * T + i] = s;
        }
      }
      // x^l+1[c, i] += sum_e U[c, e] r_i[e]
      for (let c = 0; c < E; c++) {
        const yc = yo + c * T;
        for (let e = 0; e < E; e++) {
          const u = U[mo + c * E + e]!;
          const re = qo + e * T;
          for (let i = i0; i < T; i++) X[yc + i]! += u * R[re + i]!;
        }
      }
    }
  }
  const f = p.finalLinear;
  const last = nLayers * TE + T - 1;
  let out = 0;
  for (let c = 0; c < E; c++) out += f[c]! * X[last + c * T]!;
  ws.s[0] = out;
}

/**
 * Backward of one batch element given d loss / d output g = ws.s[1]: accumulates dM, dU (per
 * block) and d final_linear (into gradF).
 */
function backwardElement(p: StackParams, L: number, ws: Workspace, gradF: Float64Array): void {
  const { E, H, nLayers, weightTying } = p;
  const T = L + 1;
  const TE = T * E;
  const { X, Qt, A, R, M, U, dM, dU, dR, QA, dA } = ws;
  const g = ws.s[1]!;
  let G = ws.G;
  let Gin = ws.Gin;
  const f = p.finalLinear;
  const last = nLayers * TE + T - 1;
  for (let c = 0; c < E; c++) gradF[c]! += g * X[last + c * T]!;
  G.fill(0);
  for (let c = 0; c < E; c++) G[c * T + T - 1] = g * f[c]!;
  for (let l = nLayers - 1; l >= 0; l--) {
    const bl = weightTying ? 0 : l;
    const xo = l * TE;
    const i0 = l === nLayers - 1 ? T - 1 : 1;
    const needIn = l > 0; // no gradient w.r.t. the data
    if (needIn) Gin.fill(0);
    for (let h = 0; h < H; h++) {
      const mo = (bl * H + h) * E * E;
      const lh = l * H + h;
      const qo = lh * TE;
      const ao = lh * T * T;
      // dU[c, e] += sum_i G[c, i] r_i[e] ;  dR[e, i] = sum_c U[c, e] G[c, i]
      for (let c = 0; c < E; c++) {
        const gc = c * T;
        for (let e = 0; e < E; e++) {
          const re = qo + e * T;
          let s = 0;
          for (let i = i0; i < T; i++) s += G[gc + i]! * R[re + i]!;
          dU[mo + c * E + e]! += s;
        }
      }
      for (let e = 0; e < E; e++) {
        const de = e * T;
        const u0 = U[mo + e]!;
        for (let i = i0; i < T; i++) dR[de + i] = u0 * G[i]!;
        for (let c = 1; c < E; c++) {
          const u = U[mo + c * E + e]!;
          const gc = c * T;
          for (let i = i0; i < T; i++) dR[de + i]! += u * G[gc + i]!;
        }
      }
      for (let i = i0; i < T; i++) {
        const ar = ao + i * T;
        // dA_ij = dR_i . x_j  (contiguous over j, coordinates in blocks of 3)
        let c = 0;
        if (E >= 6) {
          const r0 = dR[i]!, r1 = dR[T + i]!, r2 = dR[2 * T + i]!, r3 = dR[3 * T + i]!, r4 = dR[4 * T + i]!, r5 = dR[5 * T + i]!;
          const x0 = xo, x1 = x0 + T, x2 = x1 + T, x3 = x2 + T, x4 = x3 + T, x5 = x4 + T;
          for (let j = 0; j < i; j++) {
            dA[j] = r0 * X[x0 + j]! + r1 * X[x1 + j]! + r2 * X[x2 + j]! + r3 * X[x3 + j]! + r4 * X[x4 + j]! + r5 * X[x5 + j]!;
          }
          c = 6;
        } else {
          for (let j = 0; j < i; j++) dA[j] = 0;
        }
        for (; c + 2 < E; c += 3) {
          const r0 = dR[c * T + i]!, r1 = dR[(c + 1) * T + i]!, r2 = dR[(c + 2) * T + i]!;
          const x0 = xo + c * T, x1 = x0 + T, x2 = x1 + T;
          for (let j = 0; j < i; j++) dA[j]! += r0 * X[x0 + j]! + r1 * X[x1 + j]! + r2 * X[x2 + j]!;
        }
        for (; c < E; c++) {
          const rc = dR[c * T + i]!;
          const xc = xo + c * T;
          for (let j = 0; j < i; j++) dA[j]! += rc * X[xc + j]!;
        }
        // dS_ij = a_ij (dA_ij - sum_k a_ik dA_ik), kept in dA
        let sad = 0;
        for (let j = 0; j < i; j++) sad += A[ar + j]! * dA[j]!;
        for (let j = 0; j < i; j++) dA[j] = A[ar + j]! * (dA[j]! - sad);
        // QA_i = sum_j dS_ij x_j (query side) ; dX_j += a_ij dR_i (value) + dS_ij Qt_i (key)
        c = 0;
        for (; c + 2 < E; c += 3) {
          const x0 = xo + c * T, x1 = x0 + T, x2 = x1 + T;
          let s0 = 0, s1 = 0, s2 = 0;
          if (needIn) {
            const r0 = dR[c * T + i]!, r1 = dR[(c + 1) * T + i]!, r2 = dR[(c + 2) * T + i]!;
            const t0 = Qt[qo + c * T + i]!, t1 = Qt[qo + (c + 1) * T + i]!, t2 = Qt[qo + (c + 2) * T + i]!;
            const g0 = c * T, g1 = g0 + T, g2 = g1 + T;
            for (let j = 0; j < i; j++) {
              const a = A[ar + j]!;
              const ds = dA[j]!;
              s0 += ds * X[x0 + j]!;
              s1 += ds * X[x1 + j]!;
              s2 += ds * X[x2 + j]!;
              Gin[g0 + j]! += a * r0 + ds * t0;
              Gin[g1 + j]! += a * r1 + ds * t1;
              Gin[g2 + j]! += a * r2 + ds * t2;
            }
          } else {
            for (let j = 0; j < i; j++) {
              const ds = dA[j]!;
              s0 += ds * X[x0 + j]!;
              s1 += ds * X[x1 + j]!;
              s2 += ds * X[x2 + j]!;
            }
          }
          QA[c * T + i] = s0;
          QA[(c + 1) * T + i] = s1;
          QA[(c + 2) * T + i] = s2;
        }
        for (; c < E; c++) {
          const xc = xo + c * T;
          let s = 0;
          for (let j = 0; j < i; j++) s += dA[j]! * X[xc + j]!;
          QA[c * T + i] = s;
          if (needIn) {
            const r = dR[c * T + i]!;
            const qt = Qt[qo + c * T + i]!;
            const gc = c * T;
            for (let j = 0; j < i; j++) Gin[gc + j]! += A[ar + j]! * r + dA[j]! * qt;
          }
        }
      }
      // dM[a, c] += sum_i x_i[a] QA[c, i] ;  dX[a, i] += sum_c M[a, c] QA[c, i]
      for (let a = 0; a < E; a++) {
        const xa = xo + a * T;
        for (let c = 0; c < E; c++) {
          const qc = c * T;
          let s = 0;
          for (let i = i0; i < T; i++) s += X[xa + i]! * QA[qc + i]!;
          dM[mo + a * E + c]! += s;
          if (needIn) {
            const m = M[mo + a * E + c]!;
            const ga = a * T;
            for (let i = i0; i < T; i++) Gin[ga + i]! += m * QA[qc + i]!;
          }
        }
      }
    }
    const t = G;
    G = Gin;
    Gin = t;
  }
}

/** Map accumulated dM, dU back to dW_Q, dW_K, dW_V, dW_O in `gp` (overwrites the layer blocks). */
function mapBack(p: StackParams, gp: StackParams, ws: Workspace): void {
  const { E, H, nBlocks } = p;
  const EH = E * H;
  const sc = 1 / Math.sqrt(E);
  for (let bl = 0; bl < nBlocks; bl++) {
    const { q, k, v, o } = p.layers[bl]!;
    const gw = gp.layers[bl]!;
    for (let h = 0; h < H; h++) {
      const mo = (bl * H + h) * E * E;
      for (let e = 0; e < E; e++) {
        const r = (h * E + e) * E;
        for (let a = 0; a < E; a++) {
          let sq = 0; // dWq[e,a] = sum_b Wk[e,b] dM[a,b] / sqrt(E)
          let sk = 0; // dWk[e,a] = sum_b Wq[e,b] dM[b,a] / sqrt(E)
          let sv = 0; // dWv[e,a] = sum_c Wo[c,e] dU[c,a]
          let so = 0; // dWo[c=e,a'] (stored at o[e, hE+a]) = sum_b dU[e,b] Wv[a,b]
          for (let b = 0; b < E; b++) {
            sq += k[r + b]! * ws.dM[mo + a * E + b]!;
            sk += q[r + b]! * ws.dM[mo + b * E + a]!;
            sv += o[b * EH + h * E + e]! * ws.dU[mo + b * E + a]!;
            so += ws.dU[mo + e * E + b]! * v[(h * E + a) * E + b]!;
          }
          gw.q[r + a] = sq * sc;
          gw.k[r + a] = sk * sc;
          gw.v[r + a] = sv;
          gw.o[e * EH + h * E + a] = so;
        }
      }
    }
  }
}

/** Optional detail outputs of `stackForward`. */
export interface StackForwardDetail {
  /** [nLayers, B, T, E] output of every layer (hidden states). */
  hidden?: Float64Array;
  /** [nLayers, B, H, T, T] attention weights (row i = query token, zero for j >= i and for row 0). */
  attn?: Float64Array;
}

/** Model output for every prompt into out [B]. With `detail`, also hidden states / attention weights. */
export function stackForward(p: StackParams, batch: Batch, out: Float64Array, detail?: StackForwardDetail): void {
  checkShapes(p, batch);
  const { E, H, nLayers, nBlocks } = p;
  const { B, L } = batch;
  const T = L + 1;
  if (out.length < B) throw new RangeError(`out has ${out.length} values, need B=${B}`);
  const allRows = detail !== undefined && (detail.hidden !== undefined || detail.attn !== undefined);
  if (detail?.hidden && detail.hidden.length !== nLayers * B * T * E) {
    throw new RangeError(`hidden has ${detail.hidden.length} values, expected [layers, B, T, E] = ${nLayers * B * T * E}`);
  }
  if (detail?.attn && detail.attn.length !== nLayers * B * H * T * T) {
    throw new RangeError(`attn has ${detail.attn.length} values, expected [layers, B, H, T, T] = ${nLayers * B * H * T * T}`);
  }
  const ws = workspace(E, H, nLayers, nBlocks, T);
  prepare(p, ws);
  for (let b = 0; b < B; b++) {
    if (allRows) ws.A.fill(0);
    forwardElement(p, batch, b, ws, allRows);
    out[b] = ws.s[0]!;
    for (let l = 0; l < nLayers; l++) {
      if (detail?.hidden) {
        const xo = (l + 1) * T * E;
        const ho = (l * B + b) * T * E;
        for (let i = 0; i < T; i++) for (let c = 0; c < E; c++) detail.hidden[ho + i * E + c] = ws.X[xo + c * T + i]!;
      }
      if (detail?.attn) detail.attn.set(ws.A.subarray(l * H * T * T, (l + 1) * H * T * T), (l * B + b) * H * T * T);
    }
  }
}

/**
 * MSE loss over the batch; writes d loss / d theta into `grad` (theta-length, overwritten) and the
 * model outputs into `out` [B] if given. Allocation-free after the first call with a given shape.
 */
export function stackLossAndGrad(p: StackParams, batch: Batch, grad: Float64Array, out?: Float64Array): number {
  checkShapes(p, batch);
  const { E, H, nLayers, nBlocks, weightTying } = p;
  const { B, L } = batch;
  const T = L + 1;
  if (grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length}`);
  if (out && out.length < B) throw new RangeError(`out has ${out.length} values, need B=${B}`);
  const ws = workspace(E, H, nLayers, nBlocks, T);
  prepare(p, ws);
  ws.dM.fill(0);
  ws.dU.fill(0);
  const gp = gradView(grad, p, weightTying);
  const gradF = gp.finalLinear;
  gradF.fill(0);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    forwardElement(p, batch, b, ws, false);
    const y = ws.s[0]!;
    if (out) out[b] = y;
    const r = y - batch.yq[b]!;
    loss += r * r;
    ws.s[1] = (2 * r) / B;
    backwardElement(p, L, ws, gradF);
  }
  mapBack(p, gp, ws);
  return loss / B;
}

let gradViewCache: { grad: Float64Array; view: StackParams } | null = null;

function gradView(grad: Float64Array, p: StackParams, weightTying: boolean): StackParams {
  const c = gradViewCache;
  if (c && c.grad === grad && c.view.E === p.E && c.view.H === p.H && c.view.nLayers === p.nLayers && c.view.weightTying === weightTying) {
    return c.view;
  }
  const view = allocStackParams(p.d, p.H, p.nLayers, weightTying, grad);
  gradViewCache = { grad, view };
  return view;
}
