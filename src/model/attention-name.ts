/**
 * The attention of a one-layer model: softmax (the seed's) or linear attention with one of two
 * normalisations, a_i = c s_i with c = 1/L ('linear', Zhang-Frei-Bartlett) or 1 ('linear-sum',
 * von Oswald et al.). The weights, state_dict keys and circuits are the same for all three; the
 * name travels with the weights (AttentionParams.attention; a model file's metadata `attention`,
 * absent = softmax), so every reader runs the kernel the model was trained with
 * (engine/single-layer-kernel.ts).
 */
export type LinearNorm = 'linear' | 'linear-sum';
export const LINEAR_NORMS: readonly LinearNorm[] = ['linear', 'linear-sum'];
export type AttentionName = 'softmax' | LinearNorm;
export const ATTENTION_NAMES: readonly AttentionName[] = ['softmax', ...LINEAR_NORMS];

export function isLinearAttention(a: AttentionName | undefined): a is LinearNorm {
  return a === 'linear' || a === 'linear-sum';
}

/** The attention of `p` (absent = softmax). */
export function attentionOf(p: { readonly attention?: AttentionName }): AttentionName {
  return p.attention ?? 'softmax';
}

/** `p` (the same weight arrays) marked with `attention`; softmax leaves it unmarked. */
export function withAttention<P extends { readonly attention?: AttentionName }>(p: P, attention: AttentionName): P {
  if (!ATTENTION_NAMES.includes(attention)) throw new RangeError(`unknown attention '${String(attention)}' (known: ${ATTENTION_NAMES.join(', ')})`);
  if (attention === 'softmax') {
    if (p.attention === undefined) return p;
    const rest = { ...p };
    delete (rest as { attention?: AttentionName }).attention;
    return rest;
  }
  return { ...p, attention };
}
