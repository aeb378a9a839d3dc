// The linear attention model families (--attention linear | linear-sum): config, training on both
// engines, the model file's metadata and the readers (predict) that run the model with its attention.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFlags, resolveConfig, configToJson } from '../src/run/config.js';
import { createState, runSteps } from '../src/run/loop.js';
import { nodeKernels } from '../src/io/wasm.js';
import { readModelFile, saveModel } from '../src/io/model-file.js';
import { readSafetensors, tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { runPredict } from '../src/analysis/predict.js';
import { attentionForward } from '../src/engine/single-layer-kernel.js';
import { linearForward } from '../src/engine/ts/linear-attention.js';
import { forward as softmaxForward } from '../src/engine/ts/attention.js';
import { withAttention } from '../src/model/attention-name.js';
import { UsageError } from '../src/errors.js';
import { batchFromFixture, flat, loadFixture, paramsFromFixture, relErr } from './fixtures.helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'icl-linear-family-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cfg = (flags: Record<string, string>) => resolveConfig(parseFlags({ steps: '60', batchSize: '32', heads: '2', valSamples: '64', ...flags }));

describe('config', () => {
  it('takes --attention linear | linear-sum; softmax stays implicit in the JSON form', () => {
    expect(cfg({ attention: 'linear' }).attention).toBe('linear');
    expect(configToJson(cfg({ attention: 'linear-sum' })).attention).toBe('linear-sum');
    expect('attention' in configToJson(cfg({}))).toBe(false);
  });
  it('refuses a stack and --tasks with one line', () => {
    expect(() => cfg({ attention: 'linear', layers: '2' })).toThrow(UsageError);
    expect(() => cfg({ attention: 'linear', layers: '2' })).toThrow(/--attention linear is the one-layer model; it needs --layers 1, got 2/);
    expect(() => cfg({ attention: 'linear-sum', tasks: '0:2,2:4' })).toThrow(/does not go with --tasks/);
    expect(() => cfg({ attention: 'cosine' })).toThrow(/--attention must be one of softmax, linear, linear-sum/);
  });
});

describe.each(['linear', 'linear-sum'] as const)('training --attention %s', (attention) => {
  it('the TypeScript and wasm engines take the same steps (to 1e-10) and the loss falls', () => {
    const ts = createState(cfg({ attention, engine: 'ts', lr: '0.003' }));
    const wasm = createState(cfg({ attention, engine: 'wasm', lr: '0.003' }), nodeKernels());
    runSteps(ts, 60);
    runSteps(wasm, 60);
    expect(relErr(wasm.model.theta, ts.model.theta)).toBeLessThan(1e-10);
    const m = ts.model.metadata();
    expect(m.attention).toBe(attention);
    // the model's forward is linear attention, not softmax
    const p = withAttention(readModelFileOf(ts.model), attention);
    const batch = batchFromFixture(loadFixture('linear_attention_H2_fwd_bwd.json').inputs, 4, 40, 5);
    const a = new Float64Array(4), b = new Float64Array(4);
    ts.model.forward(batch, a);
    linearForward(p, batch, attention, b);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});

function readModelFileOf(m: { stateDict(): { key: string; shape: number[]; data: Float64Array }[]; metadata(): Record<string, string> }) {
  const path = join(dir, `m${Math.random().toString(36).slice(2)}.safetensors`);
  writeSafetensors(path, Object.fromEntries(m.stateDict().map((e) => [e.key, tensorF64(e.shape, e.data)])), m.metadata());
  return readModelFile(path).params as ReturnType<typeof paramsFromFixture>;
}

describe('model files and readers', () => {
  const fx = loadFixture('linear_attention_H2_fwd_bwd.json');
  const p = paramsFromFixture(fx.weights, fx.d, fx.H);
  it('a linear model file says attention in its metadata; a softmax one does not; both read back', () => {
    saveModel(join(dir, 'soft.safetensors'), p, 'F64');
    saveModel(join(dir, 'lin.safetensors'), withAttention(p, 'linear'), 'F64');
    expect(readSafetensors(join(dir, 'soft.safetensors')).metadata).toEqual({ icl_lab: 'model', d: '5', heads: '2', n_layers: '1' });
    expect(readSafetensors(join(dir, 'lin.safetensors')).metadata.attention).toBe('linear');
    expect(readModelFile(join(dir, 'lin.safetensors')).params).toMatchObject({ attention: 'linear' });
    expect((readModelFile(join(dir, 'soft.safetensors')).params as { attention?: string }).attention).toBeUndefined();
    // the tensors are byte-identical: only the header differs
    const a = readFileSync(join(dir, 'soft.safetensors')), b = readFileSync(join(dir, 'lin.safetensors'));
    expect(b.subarray(b.length - 4 * 40).equals(a.subarray(a.length - 4 * 40))).toBe(true);
  });
  it('a file with an unknown attention is refused naming the value', () => {
    const t = readSafetensors(join(dir, 'soft.safetensors')).tensors;
    writeSafetensors(join(dir, 'bad.safetensors'), t, { attention: 'cosine' });
    expect(() => readModelFile(join(dir, 'bad.safetensors'))).toThrow(/metadata attention="cosine" is not one of softmax, linear, linear-sum/);
  });
  it.each(['linear', 'linear-sum'] as const)('predict runs a %s model file with its attention (the PyTorch fixture, <= 1e-10 / 1e-9)', (attention) => {
    const model = join(dir, `${attention}.safetensors`);
    saveModel(model, withAttention(p, attention), 'F64');
    const prompts = join(dir, 'prompts.safetensors');
    writeSafetensors(prompts, { z: tensorF64([4, 40, 6], flat(fx.inputs.z)), z_q: tensorF64([4, 1, 6], flat(fx.inputs.z_q)), y_q: tensorF64([4, 1, 1], flat(fx.inputs.y_q)) });
    const out = join(dir, `${attention}.out.safetensors`);
    runPredict({ model, prompts, out, grad: true, attn: true });
    const r = readSafetensors(out).tensors;
    const ex = fx.expected[attention];
    expect(relErr(r.output!.data as Float64Array, flat(ex.output))).toBeLessThan(1e-10);
    expect(relErr(r.attn_weights!.data as Float64Array, flat(ex.attn_weights))).toBeLessThan(1e-10);
    expect(Math.abs((r.loss!.data as Float64Array)[0]! - ex.loss) / ex.loss).toBeLessThan(1e-10);
    expect(relErr(r['grad.attention_layer.q_proj.weight']!.data as Float64Array, flat(ex.grads.q_proj))).toBeLessThan(1e-9);
  });
  it('the evaluation forward dispatches on the attention; the softmax kernels refuse linear weights', () => {
    const batch = batchFromFixture(fx.inputs, 4, 40, 5);
    const f = attentionForward(nodeKernels().wasm());
    const out = new Float64Array(4);
    f(withAttention(p, 'linear-sum'), batch, out);
    expect(relErr(out, flat(fx.expected['linear-sum'].output))).toBeLessThan(1e-10);
    f(p, batch, out);
    const soft = new Float64Array(4);
    softmaxForward(p, batch, soft);
    expect(Array.from(out)).toEqual(Array.from(soft));
    expect(() => softmaxForward(withAttention(p, 'linear'), batch, soft)).toThrow(/'linear' attention model; the softmax kernel does not run them/);
  });
});
