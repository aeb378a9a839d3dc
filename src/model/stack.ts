/**
 * Multi-layer strictly-causal multi-head attention stack (the seed's `MultiHeadAttentionStack`
 * with `n_layers > 1`), corrected as the seed intends (SEED_NOTES #1, #2):
 *
 *   x^0 = concat(z, z_q)                          [T, E]   T = L + 1, query token last
 *   layer l (no residual, no MLP, no norm), head h:
 *     s_ij   = (W_Q^h x_i) . (W_K^h x_j) / sqrt(E)     only j < i (mask on the LOGITS, -inf)
 *     a_ij   = softmax_j(s_ij)                          ONE softmax; row 0 has no key -> all zeros
 *     x^l+1_i = o_proj . concat_h( sum_j a_ij W_V^h x_j )
 *   output = final_linear . x^n_i   at i = T-1 (the query position)      (n_out = 1)
 *   loss   = mean_b (output_b - y_q,b)^2
 *
 * Weight tying (`weightTying`): one set of layer weights is used by every layer; its gradient
 * is the sum over layers.
 *
 * Fast kernel algebra (exact): per head M = W_Q^T W_K / sqrt(E) and U = W_O^h W_V^h (both E x E),
 * so s_ij = x_i^T M x_j and x^l+1_i = sum_h U_h r_h,i with r_h,i = sum_j a_ij x_j. The backward
 * accumulates dM, dU and maps them back once per step:
 *   dW_Q = W_K dM^T / sqrt(E),  dW_K = W_Q dM / sqrt(E),  dW_O^h = dU W_V^T,  dW_V = W_O^h^T dU.
 * Every batch element runs forward through all layers and back again in a small preallocated,
 * token-minor ([E, T]) workspace, so inner loops run over tokens; the last layer is evaluated only
 * at the query row, and layer 0 skips the gradient w.r.t. its input. No allocation per step.
 * `stack-reference.ts` is the loop-by-loop oracle.
 *
 * Params layout (flat Float64Array theta, PyTorch nn.Linear layout, no bias):
 *   per layer block [q | k | v | o]:  q, k, v (E*H, E), head h owns rows h*E..(h+1)*E;
 *                                     o (E, E*H), head h owns columns h*E..(h+1)*E
 *   then final_linear (1, E).   With weight tying there is ONE layer block.
 */
import type { Batch } from '../data/batch.js';
import { expNeg } from '../math/exp.js';

/** Views of one layer block of theta (row-major, nn.Linear layout). */
export interface StackLayerWeights {
  readonly q: Float64Array; // [E*H, E]
  readonly k: Float64Array; // [E*H, E]
  readonly v: Float64Array; // [E*H, E]
  readonly o: Float64Array; // [E, E*H]
}

export interface StackParams {
  readonly d: number;
  readonly E: number;
  readonly H: number;
  /** Number of attention layers applied (>= 1). */
  readonly nLayers: number;
  readonly weightTying: boolean;
  /** Number of weight blocks stored in theta: 1 with tying, else nLayers. */
  readonly nBlocks: number;
  readonly theta: Float64Array;
  /** Weights used by layer l (length nLayers; with tying every entry is the same object). */
  readonly layers: readonly StackLayerWeights[];
  readonly finalLinear: Float64Array; // [1, E]
}

/** Scalars in one layer block: 3 (E*H, E) projections and o (E, E*H). */
export function stackBlockSize(d: number, H: number): number {
  const E = d + 1;
  return 4 * E * H * E;
}

/** Number of scalars in theta. */
export function stackParamCount(d: number, H: number, nLayers: number, weightTying: boolean): number {
  return (weightTying ? 1 : nLayers) * stackBlockSize(d, H) + (d + 1);
}

/** Zero parameters (or views onto an existing theta / gradient vector of the right length). */
export function allocStackParams(d: number, H: number, nLayers: number, weightTying: boolean, theta?: Float64Array): StackParams {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`d must be a positive integer, got ${d}`);
  if (!Number.isInteger(H) || H < 1) throw new RangeError(`heads must be a positive integer, got ${H}`);
  if (!Number.isInteger(nLayers) || nLayers < 1) throw new RangeError(`layers must be a positive integer, got ${nLayers}`);
  const E = d + 1;
  const n = stackParamCount(d, H, nLayers, weightTying);
  const t = theta ?? new Float64Array(n);
  if (t.length !== n) {
    throw new RangeError(`theta has ${t.length} values, expected ${n} for d=${d}, H=${H}, layers=${nLayers}, weight_tying=${weightTying}`);
  }
  const nBlocks = weightTying ? 1 : nLayers;
  const w = E * H * E;
  const blocks: StackLayerWeights[] = [];
  for (let l = 0; l < nBlocks; l++) {
    const s = l * 4 * w;
    blocks.push({ q: t.subarray(s, s + w), k: t.subarray(s + w, s + 2 * w), v: t.subarray(s + 2 * w, s + 3 * w), o: t.subarray(s + 3 * w, s + 4 * w) });
  }
  const layers = Array.from({ length: nLayers }, (_, l) => blocks[weightTying ? 0 : l]!);
  return { d, E, H, nLayers, weightTying, nBlocks, theta: t, layers, finalLinear: t.subarray(nBlocks * 4 * w, nBlocks * 4 * w + E) };
}

/** A deep copy. */
export function cloneStackParams(p: StackParams): StackParams {
  return allocStackParams(p.d, p.H, p.nLayers, p.weightTying, Float64Array.from(p.theta));
}

// ---------------------------------------------------------------------------------------------
// State dict (the seed's keys)
// ---------------------------------------------------------------------------------------------

export const STACK_WEIGHT_NAMES = ['q', 'k', 'v', 'o'] as const;
const PROJ = { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj' } as const;
export const FINAL_LINEAR_KEY = 'final_linear.weight';

/** `attention_layers.{l}.q_proj.weight` etc. */
export function stackKey(layer: number, name: (typeof STACK_WEIGHT_NAMES)[number]): string {
  return `attention_layers.${layer}.${PROJ[name]}.weight`;
}

export interface StateDictEntry {
  readonly key: string;
  readonly shape: [number, number];
  /** A view into theta (writing to it changes the model). */
  readonly data: Float64Array;
}

/**
 * The seed's `state_dict()` as (key, shape, view) entries, in theta order per layer, then
 * `final_linear.weight`. With weight tying the seed repeats the same tensor under every layer
 * index, and so does this list (`unique = false`, default). With `unique = true` every tensor is
 * listed once: tied weights only as `attention_layers.0.*` -- the form to write to a file
 * (together with `stackMetadata(p)`), since safetensors refuses aliased tensors.
 */
export function stackStateDict(p: StackParams, unique = false): StateDictEntry[] {
  const { E, H } = p;
  const out: StateDictEntry[] = [];
  const n = unique ? p.nBlocks : p.nLayers;
  for (let l = 0; l < n; l++) {
    const w = p.layers[l]!;
    for (const name of STACK_WEIGHT_NAMES) {
      const shape: [number, number] = name === 'o' ? [E, E * H] : [E * H, E];
      out.push({ key: stackKey(l, name), shape, data: w[name] });
    }
  }
  out.push({ key: FINAL_LINEAR_KEY, shape: [1, E], data: p.finalLinear });
  return out;
}

/** String metadata that makes a unique (deduplicated) state dict loadable: n_layers, weight_tying, ... */
export function stackMetadata(p: StackParams): Record<string, string> {
  return {
    model: 'causal_stack',
    n_layers: String(p.nLayers),
    n_head: String(p.H),
    d_model: String(p.E),
    weight_tying: String(p.weightTying),
  };
}

/** Anything with a shape and numeric data (an io/safetensors Tensor fits). */
export interface ShapedArray {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

/**
 * Parameters from a state dict in either form:
 *  - the seed's form: `attention_layers.{l}.*` for every l (tied models repeat the same values);
 *  - the unique form: with `weight_tying=true` in metadata, only `attention_layers.0.*` plus
 *    metadata `n_layers`.
 * Tying is taken from `opts.weightTying`, else metadata `weight_tying`, else false. When tying is
 * on and several layer blocks are present they must be identical (else an error names the key).
 * The number of layers is metadata `n_layers` (if present) or the number of layer indices found.
 * E and H come from the shapes; unrelated keys are ignored.
 */
export function stackParamsFromStateDict(
  tensors: Record<string, ShapedArray>,
  metadata: Record<string, string> = {},
  opts: { weightTying?: boolean } = {},
): StackParams {
  const fl = tensors[FINAL_LINEAR_KEY];
  if (!fl) throw new Error(`missing ${FINAL_LINEAR_KEY} (keys: ${Object.keys(tensors).join(', ')})`);
  const q0 = tensors[stackKey(0, 'q')];
  if (!q0) throw new Error(`missing ${stackKey(0, 'q')} (keys: ${Object.keys(tensors).join(', ')})`);
  const E = fl.shape[fl.shape.length - 1]!;
  if (fl.shape.length !== 2 || fl.shape[0] !== 1) throw new Error(`${FINAL_LINEAR_KEY} must have shape [1, E], got [${fl.shape.join(', ')}]`);
  if (q0.shape.length !== 2 || q0.shape[1] !== E || q0.shape[0]! % E !== 0) {
    throw new Error(`${stackKey(0, 'q')} must have shape [E*H, E] with E=${E}, got [${q0.shape.join(', ')}]`);
  }
  const H = q0.shape[0]! / E;
  let found = 0;
  while (tensors[stackKey(found, 'q')]) found++;
  const nLayers = metadata['n_layers'] !== undefined ? Number(metadata['n_layers']) : found;
  if (!Number.isInteger(nLayers) || nLayers < 1) throw new Error(`bad n_layers in metadata: ${metadata['n_layers']}`);
  const weightTying = opts.weightTying ?? metadata['weight_tying'] === 'true';
  const need = weightTying ? 1 : nLayers;
  if (found < need) throw new Error(`state dict has ${found} layer(s), need ${need} (n_layers=${nLayers}, weight_tying=${weightTying})`);
  if (found > nLayers) throw new Error(`state dict has ${found} layers (attention_layers.0..${found - 1}) but n_layers=${nLayers}`);
  const p = allocStackParams(E - 1, H, nLayers, weightTying);
  const copy = (key: string, dst: Float64Array, shape: [number, number]): void => {
    const t = tensors[key];
    if (!t) throw new Error(`missing ${key}`);
    if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
      throw new Error(`${key} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    for (let i = 0; i < dst.length; i++) dst[i] = t.data[i]!;
  };
  for (const e of stackStateDict(p, true)) copy(e.key, e.data, e.shape);
  if (weightTying) {
    for (let l = 1; l < Math.min(found, nLayers); l++) {
      for (const name of STACK_WEIGHT_NAMES) {
        const t = tensors[stackKey(l, name)]!;
        const ref = p.layers[0]![name];
        for (let i = 0; i < ref.length; i++) {
          if (t.data[i] !== ref[i]) throw new Error(`weight_tying=true but ${stackKey(l, name)} differs from ${stackKey(0, name)}`);
        }
      }
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Circuits (per layer, per head)
// ---------------------------------------------------------------------------------------------

/**
 * Circuits of head h of layer l, in the seed's statistics convention (`calculate_statistics`):
 *   W_Q = q_proj.weight[hE:(h+1)E, :]^T (E_in x E), same for W_K, W_V; W_O = o_proj.weight[:, hE:(h+1)E]^T.
 *   qk  = W_Q W_K^T / sqrt(E)          (E x E, row = query-token coordinate, col = key-token coordinate)
 *   w   = mean of the first d diagonal entries of qk
 *   ov  = W_V W_O                       (E x E, row = input coordinate of the attended token,
 *                                         col = coordinate written into the layer's output token)
 *   mu  = ov[E-1, E-1]                  (the y -> y channel) -- the SAME meaning for every layer
 *   ovOut, muOut (last layer only): the end-to-end value read by the model's output,
 *         ovOut = ov . final_linear^T (E), muOut = ovOut[E-1]  (the seed's last-layer mu;
 *         for a 1-layer stack it is the mu of the equivalent single-layer model).
 * The seed's `OV_dyn_stack` multiplies every layer by final_linear and its statistics do so only
 * for the last layer (SEED_NOTES #6); here mu is always the y -> y entry and muOut is separate.
 */
export interface StackHeadCircuit {
  readonly layer: number;
  readonly head: number;
  readonly qk: Float64Array; // [E, E]
  readonly ov: Float64Array; // [E, E]
  readonly w: number;
  readonly mu: number;
  readonly ovOut?: Float64Array; // [E]   last layer only
  readonly muOut?: number; //              last layer only
}

/** Circuits of every head of every layer: result[l][h]. */
export function stackCircuits(p: StackParams): StackHeadCircuit[][] {
  const { d, E, H, nLayers } = p;
  const sc = 1 / Math.sqrt(E);
  const res: StackHeadCircuit[][] = [];
  for (let l = 0; l < nLayers; l++) {
    const { q, k, v, o } = p.layers[l]!;
    const row: StackHeadCircuit[] = [];
    for (let h = 0; h < H; h++) {
      const qk = new Float64Array(E * E); // [E, E]
      const ov = new Float64Array(E * E); // [E, E]
      for (let a = 0; a < E; a++) {
        for (let b = 0; b < E; b++) {
          let sqk = 0;
          let sov = 0;
          for (let e = 0; e < E; e++) {
            sqk += q[(h * E + e) * E + a]! * k[(h * E + e) * E + b]!;
            sov += v[(h * E + e) * E + a]! * o[b * E * H + h * E + e]!;
          }
          qk[a * E + b] = sqk * sc;
          ov[a * E + b] = sov;
        }
      }
      let w = 0;
      for (let a = 0; a < d; a++) w += qk[a * E + a]!;
      w /= d;
      const mu = ov[E * E - 1]!;
      if (l === nLayers - 1) {
        const ovOut = new Float64Array(E); // [E]
        for (let a = 0; a < E; a++) {
          let s = 0;
          for (let c = 0; c < E; c++) s += ov[a * E + c]! * p.finalLinear[c]!;
          ovOut[a] = s;
        }
        row.push({ layer: l, head: h, qk, ov, w, mu, ovOut, muOut: ovOut[E - 1]! });
      } else {
        row.push({ layer: l, head: h, qk, ov, w, mu });
      }
    }
    res.push(row);
  }
  return res;
}

/**
 * The run directory's per-step dynamics for a stack: w^h into `w` [nLayers*H] and mu^h into `mu`
 * [nLayers*H], layer-major. Allocates nothing. `convention`:
 *   'y-to-y' (default)   mu = OV^h[-1,-1] for every layer (`stackCircuits`' mu);
 *   'seed-statistics'    the same, except the LAST layer's mu goes through final_linear
 *                        (`stackCircuits`' muOut), as the seed's `calculate_statistics` does.
 * (The seed's `OV_dyn_stack` multiplies every layer by final_linear; SEED_NOTES #6.)
 */
export function stackDynamics(p: StackParams, w: Float64Array, mu: Float64Array, convention: 'y-to-y' | 'seed-statistics' = 'y-to-y'): void {
  const { d, E, H, nLayers } = p;
  const EH = E * H;
  const sc = 1 / Math.sqrt(E);
  const f = p.finalLinear;
  for (let l = 0; l < nLayers; l++) {
    const { q, k, v, o } = p.layers[l]!;
    const throughFinal = convention === 'seed-statistics' && l === nLayers - 1;
    for (let h = 0; h < H; h++) {
      let sw = 0;
      for (let a = 0; a < d; a++) {
        for (let e = 0; e < E; e++) sw += q[(h * E + e) * E + a]! * k[(h * E + e) * E + a]!;
      }
      let sm = 0;
      for (let e = 0; e < E; e++) {
        // (W_O^h f^T)[e] or W_O^h[e, -1]
        let oe = 0;
        if (throughFinal) for (let c = 0; c < E; c++) oe += o[c * EH + h * E + e]! * f[c]!;
        else oe = o[(E - 1) * EH + h * E + e]!;
        sm += v[(h * E + e) * E + E - 1]! * oe;
      }
      w[l * H + h] = (sw * sc) / d;
      mu[l * H + h] = sm;
    }
  }
}

/**
 * The run directory's snapshot tensors for a stack, allocation-free: `qk` [nLayers, H, E, E]
 * (scaled QK^h, seed statistics convention, not transposed) and `ov` [nLayers, H, E] (OV^h[:, -1],
 * the column written into the y coordinate; its last entry is mu^h).
 */
export function stackSnapshot(p: StackParams, qk: Float64Array, ov: Float64Array): void {
  const { E, H, nLayers } = p;
  if (qk.length !== nLayers * H * E * E || ov.length !== nLayers * H * E) {
    throw new RangeError(`snapshot buffers have ${qk.length} / ${ov.length} values, expected [layers,H,E,E] = ${nLayers * H * E * E} / [layers,H,E] = ${nLayers * H * E}`);
  }
  const sc = 1 / Math.sqrt(E);
  const EH = E * H;
  for (let l = 0; l < nLayers; l++) {
    const { q, k, v, o } = p.layers[l]!;
    for (let h = 0; h < H; h++) {
      const base = (l * H + h) * E;
      for (let a = 0; a < E; a++) {
        for (let b = 0; b < E; b++) {
          let s = 0;
          for (let e = 0; e < E; e++) s += q[(h * E + e) * E + a]! * k[(h * E + e) * E + b]!;
          qk[(base + a) * E + b] = s * sc;
        }
        let s = 0;
        for (let e = 0; e < E; e++) s += v[(h * E + e) * E + a]! * o[(E - 1) * EH + h * E + e]!;
        ov[base + a] = s;
      }
    }
  }
}

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
  };
  return cached;
}

function checkShapes(p: StackParams, batch: Batch): void {
  if (batch.E !== p.E) throw new RangeError(`batch token width E=${batch.E} does not match the model's E=${p.E}`);
  if (batch.L < 1) throw new RangeError(`context length L must be >= 1, got ${batch.L}`);
}

/** M_h = W_Q^T W_K / sqrt(E) and U_h = W_O^h W_V^h for every block and head. */
function prepare(p: StackParams, ws: Workspace): void {
  const { E, H, nBlocks } = p;
  const EH = E * H;
  const sc = 1 / Math.sqrt(E);
  for (let bl = 0; bl < nBlocks; bl++) {
    const { q, k, v, o } = p.layers[bl]!;
    for (let h = 0; h < H; h++) {
      const base = (bl * H + h) * E * E;
      for (let a = 0; a < E; a++) {
        for (let b = 0; b < E; b++) {
          let sm = 0;
          let su = 0;
          for (let e = 0; e < E; e++) {
            sm += q[(h * E + e) * E + a]! * k[(h * E + e) * E + b]!; // M[a,b] = sum_e Wq[e,a] Wk[e,b]
            su += o[a * EH + h * E + e]! * v[(h * E + e) * E + b]!; //   U[c=a,b] = sum_e Wo[c,e] Wv[e,b]
          }
          ws.M[base + a * E + b] = sm * sc;
          ws.U[base + a * E + b] = su;
        }
      }
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
