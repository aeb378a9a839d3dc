import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allocParams, STATE_DICT_KEYS } from '../src/model/params.js';
import { loadModel, modelTensors, parseModelTensors, readModelFile, saveModel } from '../src/io/model-file.js';
import { FileFormatError, readSafetensors, tensorF32, tensorF64, writeSafetensors, type Tensor } from '../src/io/safetensors.js';
import { tempDir } from './cli.helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = tempDir('io-model');

const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
const fixture = (name: string) => JSON.parse(readFileSync(join(here, 'fixtures', name), 'utf8'));

/** Weights of a fixture under the seed's state_dict keys, in the given dtype. */
function fixtureStateDict(fx: { E: number; H: number; weights: Record<string, unknown> }, make = tensorF64): Record<string, Tensor> {
  const { E, H, weights: w } = fx;
  return {
    [STATE_DICT_KEYS.q]: make([E * H, E], flat(w.q_proj)),
    [STATE_DICT_KEYS.k]: make([E * H, E], flat(w.k_proj)),
    [STATE_DICT_KEYS.v]: make([E * H, E], flat(w.v_proj)),
    [STATE_DICT_KEYS.o]: make([1, E * H], flat(w.o_proj)),
  };
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('model files', () => {
  const fx = fixture('single_layer_H3_fwd_bwd.json'); // d=5, E=6, H=3

  it('loads the seed state_dict (F64), infers d, E, H, and ignores other keys', () => {
    const path = join(dir, 'h3.safetensors');
    writeSafetensors(path, { ...fixtureStateDict(fx), 'final_linear.weight': tensorF64([1, 6]), 'some.buffer': tensorF64([3], [1, 2, 3]) });
    const p = loadModel(path);
    expect([p.d, p.E, p.H, p.nOut]).toEqual([5, 6, 3, 1]);
    expect(p.theta.length).toBe(3 * 18 * 6 + 18);
    expect(Array.from(p.q)).toEqual(flat(fx.weights.q_proj));
    expect(Array.from(p.k)).toEqual(flat(fx.weights.k_proj));
    expect(Array.from(p.v)).toEqual(flat(fx.weights.v_proj));
    expect(Array.from(p.o)).toEqual(flat(fx.weights.o_proj));
  });

  it('loads F32 weights as their exact float64 values', () => {
    const path = join(dir, 'h3-f32.safetensors');
    writeSafetensors(path, fixtureStateDict(fx, tensorF32));
    const p = loadModel(path);
    expect(Array.from(p.v)).toEqual(flat(fx.weights.v_proj).map(Math.fround));
    expect(p.v[0]).not.toBe(flat(fx.weights.v_proj)[0]); // 6-decimal values are not float32-exact
  });

  it('saveModel F64 round-trips bit-exactly; F32 rounds to float32; writes final_linear zeros and metadata', () => {
    const p = allocParams(3, 2);
    for (let i = 0; i < p.theta.length; i++) p.theta[i] = Math.sin(i + 1) / 3;
    const f64Path = join(dir, 'rt64.safetensors');
    saveModel(f64Path, p, 'F64', { step: '100' });
    expect(loadModel(f64Path).theta).toEqual(p.theta);
    const { tensors, metadata } = readSafetensors(f64Path);
    expect(metadata).toEqual({ icl_lab: 'model', d: '3', heads: '2', n_layers: '1', step: '100' });
    expect(Object.keys(tensors).sort()).toEqual([
      'attention_layer.k_proj.weight', 'attention_layer.o_proj.weight', 'attention_layer.q_proj.weight',
      'attention_layer.v_proj.weight', 'final_linear.weight',
    ]);
    expect(tensors['final_linear.weight']).toEqual({ dtype: 'F64', shape: [1, 4], data: new Float64Array(4) });
    expect(tensors[STATE_DICT_KEYS.o]!.shape).toEqual([1, 8]);
    expect(tensors[STATE_DICT_KEYS.q]!.shape).toEqual([8, 4]);

    const f32Path = join(dir, 'rt32.safetensors');
    saveModel(f32Path, p); // default F32
    expect(readSafetensors(f32Path).tensors[STATE_DICT_KEYS.k]!.dtype).toBe('F32');
    expect(Array.from(loadModel(f32Path).theta)).toEqual(Array.from(p.theta, Math.fround));
    expect(readModelFile(f32Path).kind).toBe('single-layer');
  });

  it('modelTensors copies (never aliases theta)', () => {
    const p = allocParams(2, 1);
    const t = modelTensors(p, 'F64');
    p.theta.fill(7);
    expect(Array.from(t[STATE_DICT_KEYS.q]!.data as Float64Array).every((x) => x === 0)).toBe(true);
  });

  it('missing keys: lists expected and found keys with shapes', () => {
    const sd = fixtureStateDict(fx);
    delete sd[STATE_DICT_KEYS.k];
    const e = errorOf(() => parseModelTensors(sd, 'm.safetensors'));
    expect(e).toBeInstanceOf(FileFormatError);
    expect(e.message).toMatch(/^m\.safetensors: not an icl-lab \/ seed model: missing attention_layer\.k_proj\.weight; expected attention_layer\.q_proj\.weight, attention_layer\.k_proj\.weight/);
    expect(e.message).toContain('found attention_layer.q_proj.weight [18, 6], attention_layer.v_proj.weight [18, 6], attention_layer.o_proj.weight [1, 18]');
  });

  it('inconsistent shapes: one line per weight, expected vs found', () => {
    const sd = fixtureStateDict(fx);
    sd[STATE_DICT_KEYS.v] = tensorF64([12, 6]);
    sd[STATE_DICT_KEYS.o] = tensorF64([1, 12]);
    const e = errorOf(() => parseModelTensors(sd, 'm.safetensors'));
    expect(e.message).toContain('inconsistent weight shapes for E=6 (d=5), H=3 (inferred from attention_layer.q_proj.weight)');
    expect(e.message).toContain('attention_layer.v_proj.weight: expected [18, 6], found [12, 6]');
    expect(e.message).toContain('attention_layer.o_proj.weight: expected [1, 18], found [1, 12]');
    expect(e.message).toContain('attention_layer.k_proj.weight: expected [18, 6], found [18, 6]');
  });

  it('rejects q_proj not of the form [E*H, E], non-2-D weights and integer dtypes', () => {
    const sd = fixtureStateDict(fx);
    expect(errorOf(() => parseModelTensors({ ...sd, [STATE_DICT_KEYS.q]: tensorF64([10, 6]) }, 'm')).message)
      .toMatch(/attention_layer\.q_proj\.weight has shape \[10, 6\]; expected \[E\*H, E\]/);
    expect(errorOf(() => parseModelTensors({ ...sd, [STATE_DICT_KEYS.k]: tensorF64([18, 6, 1]) }, 'm')).message)
      .toMatch(/attention_layer\.k_proj\.weight has shape \[18, 6, 1\]; expected a 2-D weight/);
    expect(errorOf(() => parseModelTensors({ ...sd, [STATE_DICT_KEYS.o]: { dtype: 'I32', shape: [1, 18], data: new Int32Array(18) } }, 'm')).message)
      .toMatch(/attention_layer\.o_proj\.weight has dtype I32; expected a floating dtype/);
  });

  it('an incomplete multi-layer stack is a file-format error naming the missing key; loadModel (one layer only) refuses a stack', () => {
    const path = join(dir, 'stack.safetensors');
    const t = tensorF64([12, 6]);
    writeSafetensors(path, {
      'attention_layers.0.q_proj.weight': t, 'attention_layers.0.k_proj.weight': t,
      'attention_layers.1.q_proj.weight': t, 'final_linear.weight': tensorF64([1, 6]),
    });
    expect(() => loadModel(path)).toThrow(`${path}: not a valid causal-stack model: missing attention_layers.0.v_proj.weight`);
    const full: Record<string, ReturnType<typeof tensorF64>> = { 'final_linear.weight': tensorF64([1, 6]) };
    for (const l of [0, 1]) for (const w of ['q', 'k', 'v']) full[`attention_layers.${l}.${w}_proj.weight`] = t;
    full['attention_layers.0.o_proj.weight'] = tensorF64([6, 12]);
    full['attention_layers.1.o_proj.weight'] = tensorF64([6, 12]);
    writeSafetensors(path, full);
    expect(() => loadModel(path)).toThrow(`${path}: is a 2-layer causal stack`);
  });

  it('a missing or corrupt file names the file', () => {
    expect(() => loadModel(join(dir, 'absent.safetensors'))).toThrow(/absent\.safetensors: no such file/);
  });
});
