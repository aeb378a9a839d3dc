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
 * The kernel is engine/ts/stack.ts; engine/reference/stack.ts is the loop-by-loop oracle; circuits
 * are read out by model/circuits.ts.
 *
 * Params layout (flat Float64Array theta, PyTorch nn.Linear layout, no bias):
 *   per layer block [q | k | v | o]:  q, k, v (E*H, E), head h owns rows h*E..(h+1)*E;
 *                                     o (E, E*H), head h owns columns h*E..(h+1)*E
 *   then final_linear (1, E).   With weight tying there is ONE layer block.
 */

import { FINAL_LINEAR_KEY } from './params.js';

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
