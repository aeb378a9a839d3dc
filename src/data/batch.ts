/**
 * A batch of in-context regression prompts in the seed's layout (`LinearReg.__generatedata__`):
 *
 *   z  : [B, L, E]  token i = [x_i (d values), y_i]
 *   zq : [B, E]     query token [x_q, 0]            (the seed's z_q is [B, 1, E])
 *   yq : [B]        target y_q                      (the seed's y_q is [B, 1, 1])
 */
export interface Batch {
  readonly B: number;
  readonly L: number;
  readonly d: number;
  readonly E: number;
  readonly z: Float64Array;
  readonly zq: Float64Array;
  readonly yq: Float64Array;
  /** The prompts' true beta [B, d] where the sampler kept it (evaluation batches: the support oracle reads it). */
  readonly beta?: Float64Array;
}

export function allocBatch(B: number, L: number, d: number): Batch {
  const E = d + 1;
  return { B, L, d, E, z: new Float64Array(B * L * E), zq: new Float64Array(B * E), yq: new Float64Array(B) };
}

/** Wrap existing arrays as a batch, checking their lengths. */
export function batchFromArrays(B: number, L: number, d: number, z: Float64Array, zq: Float64Array, yq: Float64Array): Batch {
  const E = d + 1;
  if (z.length !== B * L * E) throw new RangeError(`z has ${z.length} values, expected B*L*E = ${B}*${L}*${E}`);
  if (zq.length !== B * E) throw new RangeError(`z_q has ${zq.length} values, expected B*E = ${B}*${E}`);
  if (yq.length !== B) throw new RangeError(`y_q has ${yq.length} values, expected B = ${B}`);
  return { B, L, d, E, z, zq, yq };
}
