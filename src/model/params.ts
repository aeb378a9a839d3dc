/**
 * Parameters of the seed's single-layer multi-head attention (`MultiHeadAttention`, bias=False,
 * n_out=1), kept in PyTorch `nn.Linear` layout, all in one flat Float64Array so optimizers and
 * checkpoints see a single vector.
 *
 *   q, k, v : (E*H, E) row-major; head h owns rows h*E .. (h+1)*E   (E = d + 1)
 *   o       : (nOut, E*H) row-major; head h owns columns h*E .. (h+1)*E
 *   theta   = [q | k | v | o]
 */
import type { AttentionName } from './attention-name.js';

/**
 * One attention layer's weights in PyTorch `nn.Linear` layout: q, k, v (E*H, E) with head h on rows
 * h*E..(h+1)*E, o (nOut, E*H) with head h on columns h*E..(h+1)*E. A single-layer model's params
 * are one (nOut = 1); so is every layer of a causal stack (nOut = E: o_proj writes a whole token).
 */
export interface LayerWeights {
  readonly d: number;
  readonly E: number;
  readonly H: number;
  readonly nOut: number;
  readonly q: Float64Array; // [E*H, E]
  readonly k: Float64Array; // [E*H, E]
  readonly v: Float64Array; // [E*H, E]
  readonly o: Float64Array; // [nOut, E*H]
}

export interface AttentionParams extends LayerWeights {
  /** All weights, flat, in the order q, k, v, o. The views q, k, v, o alias it. */
  readonly theta: Float64Array;
  /** The attention these weights are run with (model/attention-name.ts); absent = softmax, the seed's. */
  readonly attention?: AttentionName;
}

/** The four weights by their short name, in theta order. */
export const WEIGHT_NAMES = ['q', 'k', 'v', 'o'] as const;
export type WeightName = (typeof WEIGHT_NAMES)[number];

/** The seed's state_dict key of each weight for a one-layer `MultiHeadAttentionStack`. */
export const STATE_DICT_KEYS: Record<WeightName, string> = {
  q: 'attention_layer.q_proj.weight',
  k: 'attention_layer.k_proj.weight',
  v: 'attention_layer.v_proj.weight',
  o: 'attention_layer.o_proj.weight',
};

/** The seed model's `final_linear.weight` (1, E): unused by one layer (written as zeros so `load_state_dict` works), read by a causal stack. */
export const FINAL_LINEAR_KEY = 'final_linear.weight';

/** Shape [rows, cols] of a weight in PyTorch layout. */
export function weightShape(name: WeightName, d: number, H: number, nOut = 1): [number, number] {
  const E = d + 1;
  return name === 'o' ? [nOut, E * H] : [E * H, E];
}

/** Number of scalars in theta. */
export function paramCount(d: number, H: number, nOut = 1): number {
  const E = d + 1;
  return 3 * E * H * E + nOut * E * H;
}

/** Zero parameters for a model with regression dimension d and H heads (or views onto `theta`). */
export function allocParams(d: number, H: number, nOut = 1, theta?: Float64Array): AttentionParams {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`d must be a positive integer, got ${d}`);
  if (!Number.isInteger(H) || H < 1) throw new RangeError(`heads must be a positive integer, got ${H}`);
  const E = d + 1;
  const n = paramCount(d, H, nOut);
  const t = theta ?? new Float64Array(n);
  if (t.length !== n) throw new RangeError(`theta has ${t.length} values, expected ${n} for d=${d}, H=${H}`);
  const w = E * H * E;
  return {
    d, E, H, nOut, theta: t,
    q: t.subarray(0, w),
    k: t.subarray(w, 2 * w),
    v: t.subarray(2 * w, 3 * w),
    o: t.subarray(3 * w, 3 * w + nOut * E * H),
  };
}

/** A deep copy. */
export function cloneParams(p: AttentionParams): AttentionParams {
  const c = allocParams(p.d, p.H, p.nOut, Float64Array.from(p.theta));
  return p.attention === undefined ? c : { ...c, attention: p.attention };
}
