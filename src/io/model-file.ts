/**
 * Model files: the seed's PyTorch state_dict in safetensors, so a model trained here loads into
 * the seed's `MultiHeadAttentionStack` with `load_state_dict`, and one trained there loads here.
 *
 * One layer (n_layers = 1):
 *   attention_layer.q_proj.weight   [E*H, E]     head h owns rows h*E .. (h+1)*E
 *   attention_layer.k_proj.weight   [E*H, E]
 *   attention_layer.v_proj.weight   [E*H, E]
 *   attention_layer.o_proj.weight   [nOut, E*H]  (nOut = 1 in the seed)
 *   final_linear.weight             [nOut, E]    exists in the seed's model but is unused for one
 *                                                layer; written as zeros, ignored when read
 *   metadata attention = "linear" | "linear-sum"   linear attention (model/attention-name.ts) on the
 *                                                same weights; absent = softmax, the seed's
 * Multi-layer causal stacks (n_layers > 1, model/stack.ts), the seed's `MultiHeadAttentionStack` keys:
 *   attention_layers.{l}.q_proj.weight  [E*H, E]     l = 0 .. n_layers-1
 *   attention_layers.{l}.k_proj.weight  [E*H, E]
 *   attention_layers.{l}.v_proj.weight  [E*H, E]
 *   attention_layers.{l}.o_proj.weight  [E, E*H]     (a layer maps E -> E)
 *   final_linear.weight                 [1, E]       reads the last layer's output at the query token
 *   metadata: n_layers, weight_tying ("true"/"false"), model = "causal_stack", n_head, d_model, d, heads
 * With weight tying the shared weights are written ONCE, under layer 0 (safetensors cannot alias
 * tensors), and metadata weight_tying = "true", n_layers = N say how to rebuild the stack. Files in
 * the seed's own form (every layer written, tied ones identical) load too.
 */
import { allocParams, STATE_DICT_KEYS, WEIGHT_NAMES, type AttentionParams, type WeightName, FINAL_LINEAR_KEY } from '../model/params.js';
import { ATTENTION_NAMES, withAttention, type AttentionName } from '../model/attention-name.js';
import { stackMetadata, stackParamsFromStateDict, stackStateDict, type StackParams } from '../model/stack.js';
import { f64, FileFormatError, readSafetensors, tensorF32, tensorF64, writeSafetensors, type Tensor } from './safetensors.js';

const STACK_PREFIX = 'attention_layers.';

/** What a model file holds: the seed's single-layer model, or a multi-layer causal stack. */
export type ModelFile =
  | { kind: 'single-layer'; params: AttentionParams; metadata: Record<string, string> }
  | { kind: 'stack'; params: StackParams; metadata: Record<string, string> };

const FLOAT_DTYPES = new Set(['F32', 'F64', 'F16', 'BF16']);

/** The most layers a model file may claim (train's --layers maximum): a tied stack stores one layer whatever n_layers says. */
export const MAX_MODEL_LAYERS = 64;

/** Refuse NaN and +-Infinity in weights (they would give NaN outputs and losses without a word). */
export function checkFinite(name: string, data: ArrayLike<number>, source: string, what = 'weights'): void {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (!Number.isFinite(x)) {
      throw new FileFormatError(`${name} holds ${Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity'} at flat index ${i}; ${what} must be finite numbers`, source);
    }
  }
}

/** The `attention_layers.*` + `final_linear.weight` form (either the seed's or the tied-once form). */
function parseStackTensors(tensors: Record<string, Tensor>, source: string, metadata: Record<string, string>): ModelFile {
  const floats: Record<string, { shape: number[]; data: Float64Array }> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (!k.startsWith(STACK_PREFIX) && k !== FINAL_LINEAR_KEY) continue;
    if (!FLOAT_DTYPES.has(t.dtype)) throw new FileFormatError(`${k} has dtype ${t.dtype}; expected a floating dtype (F32 or F64)`, source);
    floats[k] = { shape: t.shape, data: f64(t) };
    checkFinite(k, floats[k]!.data, source);
  }
  const tying = metadata['weight_tying'];
  if (tying !== undefined && tying !== 'true' && tying !== 'false') {
    throw new FileFormatError(`metadata weight_tying must be "true" or "false", got ${JSON.stringify(tying)}`, source);
  }
  // checked before anything is allocated: a tied stack holds one layer's weights whatever n_layers claims
  const nLayers = metadata['n_layers'];
  if (nLayers !== undefined && !(/^\d+$/.test(nLayers) && Number(nLayers) >= 1 && Number(nLayers) <= MAX_MODEL_LAYERS)) {
    throw new FileFormatError(`metadata n_layers=${JSON.stringify(nLayers)} is not an integer in 1..${MAX_MODEL_LAYERS} (icl-lab builds stacks of at most ${MAX_MODEL_LAYERS} layers)`, source);
  }
  try {
    return { kind: 'stack', params: stackParamsFromStateDict(floats, metadata), metadata };
  } catch (err) {
    throw new FileFormatError(`not a valid causal-stack model: ${err instanceof Error ? err.message : String(err)}`, source);
  }
}

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * Interpret a state_dict (tensor name -> tensor) as a model. `source` names the file in errors.
 * Infers E (so d = E - 1), H and nOut from the shapes and checks that all four weights agree.
 * Keys other than the four weights (e.g. final_linear.weight) are ignored.
 */
export function parseModelTensors(tensors: Record<string, Tensor>, source: string, metadata: Record<string, string> = {}): ModelFile {
  const names = Object.keys(tensors);
  const expected = WEIGHT_NAMES.map((w) => STATE_DICT_KEYS[w]);
  const missing = expected.filter((k) => !(k in tensors));
  if (missing.length > 0) {
    if (names.some((k) => k.startsWith(STACK_PREFIX))) return parseStackTensors(tensors, source, metadata);
    const found = names.length === 0 ? '(no tensors)' : names.map((k) => `${k} ${fmt(tensors[k]!.shape)}`).join(', ');
    const what = missing.length === expected.length ? `expected tensors ${expected.join(', ')}` : `missing ${missing.join(', ')}; expected ${expected.join(', ')}`;
    throw new FileFormatError(`not an icl-lab / seed model: ${what}; found ${found}`, source);
  }

  for (const w of WEIGHT_NAMES) {
    const t = tensors[STATE_DICT_KEYS[w]]!;
    if (t.dtype !== 'F32' && t.dtype !== 'F64' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
      throw new FileFormatError(`${STATE_DICT_KEYS[w]} has dtype ${t.dtype}; expected a floating dtype (F32 or F64)`, source);
    }
    if (t.shape.length !== 2) throw new FileFormatError(`${STATE_DICT_KEYS[w]} has shape ${fmt(t.shape)}; expected a 2-D weight`, source);
  }

  const qShape = tensors[STATE_DICT_KEYS.q]!.shape;
  const [rows, E] = qShape as [number, number];
  if (E < 2 || rows < E || rows % E !== 0) {
    throw new FileFormatError(`${STATE_DICT_KEYS.q} has shape ${fmt(qShape)}; expected [E*H, E] with E = d+1 >= 2 and H >= 1`, source);
  }
  const H = rows / E;
  const oShape = tensors[STATE_DICT_KEYS.o]!.shape;
  const nOut = oShape[0]!;
  if (nOut < 1) throw new FileFormatError(`${STATE_DICT_KEYS.o} has shape ${fmt(oShape)}; expected [n_out >= 1, E*H]`, source);

  const want: Record<WeightName, [number, number]> = { q: [E * H, E], k: [E * H, E], v: [E * H, E], o: [nOut, E * H] };
  const wrong = WEIGHT_NAMES.filter((w) => {
    const s = tensors[STATE_DICT_KEYS[w]]!.shape;
    return s[0] !== want[w][0] || s[1] !== want[w][1];
  });
  if (wrong.length > 0) {
    const lines = WEIGHT_NAMES.map((w) => `${STATE_DICT_KEYS[w]}: expected ${fmt(want[w])}, found ${fmt(tensors[STATE_DICT_KEYS[w]]!.shape)}`);
    throw new FileFormatError(`inconsistent weight shapes for E=${E} (d=${E - 1}), H=${H} (inferred from ${STATE_DICT_KEYS.q}):\n  ${lines.join('\n  ')}`, source);
  }

  const p = allocParams(E - 1, H, nOut);
  for (const w of WEIGHT_NAMES) {
    p[w].set(f64(tensors[STATE_DICT_KEYS[w]]!));
    checkFinite(STATE_DICT_KEYS[w], p[w], source);
  }
  return { kind: 'single-layer', params: withAttention(p, fileAttention(metadata, nOut, source)), metadata };
}

/** The metadata's `attention` (absent = softmax); linear attention is the regression model (n_out = 1). */
function fileAttention(metadata: Record<string, string>, nOut: number, source: string): AttentionName {
  const a = metadata['attention'];
  if (a === undefined) return 'softmax';
  if (!(ATTENTION_NAMES as readonly string[]).includes(a)) throw new FileFormatError(`metadata attention=${JSON.stringify(a)} is not one of ${ATTENTION_NAMES.join(', ')}`, source);
  if (a !== 'softmax' && nOut !== 1) throw new FileFormatError(`metadata attention=${a} is the one-output regression model, but attention_layer.o_proj.weight has ${nOut} rows`, source);
  return a as AttentionName;
}

/** Read a model file (see the header comment for the layout). */
export function readModelFile(path: string): ModelFile {
  const { tensors, metadata } = readSafetensors(path);
  return parseModelTensors(tensors, path, metadata);
}

/** Load a one-layer model's weights as float64 AttentionParams (F32 or F64 on disk). A stack is refused (use readModelFile). */
export function loadModel(path: string): AttentionParams {
  const m = readModelFile(path);
  if (m.kind !== 'single-layer') {
    throw new FileFormatError(`is a ${m.params.nLayers}-layer causal stack (keys ${STACK_PREFIX}*); this needs a one-layer model with keys ${WEIGHT_NAMES.map((w) => STATE_DICT_KEYS[w]).join(', ')}`, path);
  }
  return m.params;
}

/** The state_dict of `p` under the seed's keys, including the unused (zero) `final_linear.weight`. */
export function modelTensors(p: AttentionParams, dtype: 'F32' | 'F64' = 'F32'): Record<string, Tensor> {
  const make = dtype === 'F32' ? tensorF32 : tensorF64;
  const out: Record<string, Tensor> = {};
  for (const w of WEIGHT_NAMES) {
    const [r, c] = w === 'o' ? [p.nOut, p.E * p.H] : [p.E * p.H, p.E];
    out[STATE_DICT_KEYS[w]] = make([r, c], Array.from(p[w])); // copy: never alias theta
  }
  out[FINAL_LINEAR_KEY] = make([p.nOut, p.E]);
  return out;
}

/**
 * Write `p` as a model file: F32 by default (what PyTorch trains in), F64 to keep every bit.
 * `metadata` (string values) is stored in the safetensors header next to format/d/heads.
 */
export function saveModel(path: string, p: AttentionParams, dtype: 'F32' | 'F64' = 'F32', metadata: Record<string, string> = {}): void {
  const meta = { icl_lab: 'model', d: String(p.d), heads: String(p.H), n_layers: '1', ...(p.attention && p.attention !== 'softmax' ? { attention: p.attention } : {}), ...metadata };
  writeSafetensors(path, modelTensors(p, dtype), meta);
}

/** A stack's state dict in the unique form (tied weights once, under layer 0), as tensors (copies). */
export function stackModelTensors(p: StackParams, dtype: 'F32' | 'F64' = 'F32'): Record<string, Tensor> {
  const make = dtype === 'F32' ? tensorF32 : tensorF64;
  const out: Record<string, Tensor> = {};
  for (const e of stackStateDict(p, true)) out[e.key] = make([...e.shape], Array.from(e.data)); // copy: never alias theta
  return out;
}

/** Write a causal stack as a model file (unique form + metadata n_layers, weight_tying). */
export function saveStackModel(path: string, p: StackParams, dtype: 'F32' | 'F64' = 'F32', metadata: Record<string, string> = {}): void {
  const meta = { icl_lab: 'model', d: String(p.d), heads: String(p.H), ...stackMetadata(p), ...metadata };
  writeSafetensors(path, stackModelTensors(p, dtype), meta);
}
