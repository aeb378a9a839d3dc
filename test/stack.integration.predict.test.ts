// `icl-lab predict` on 2-layer causal-stack model files: the fixture's output, loss and every
// gradient (incl. final_linear) through the compiled CLI; tied weights in both file forms.
// Needs `npx tsc -p tsconfig.json` first (runs bin/icl-lab).
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allocStackParams, stackKey, STACK_WEIGHT_NAMES, type StackParams } from '../src/model/stack.js';
import { readModelFile, saveStackModel } from '../src/io/model-file.js';
import { f64, readSafetensors, tensorF64, writeSafetensors, type Tensor } from '../src/io/safetensors.js';
import { flatten, loadStackFixture, relErr } from './stack.helpers.js';
import { tempDir } from './cli.helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(here, '..', 'bin', 'icl-lab');
const tmp = tempDir('stack-predict');

const fx = loadStackFixture();
const { d, H, L, T, B, n_layers: nLayers } = fx as { d: number; H: number; L: number; T: number; B: number; n_layers: number };
const PROJ = { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj' } as const;

function fixtureParams(tying = false): StackParams {
  const p = allocStackParams(d, H, nLayers, tying);
  for (let l = 0; l < p.nBlocks; l++) for (const n of STACK_WEIGHT_NAMES) p.layers[l]![n].set(flatten(fx.weights.layers[l][PROJ[n]]));
  p.finalLinear.set(flatten(fx.weights.final_linear));
  return p;
}

function writePrompts(path: string): void {
  writeSafetensors(path, {
    z: tensorF64([B, L, d + 1], flatten(fx.inputs.z)),
    z_q: tensorF64([B, 1, d + 1], flatten(fx.inputs.z_q)),
    y_q: tensorF64([B, 1, 1], flatten(fx.inputs.y_q)),
  });
}

function predict(model: string, prompts: string, out: string, extra: string[] = []): { summary: Record<string, unknown>; tensors: Record<string, Tensor> } {
  const r = spawnSync(process.execPath, [bin, 'predict', '--model', model, '--prompts', prompts, '--out', out, '--json', ...extra], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`predict exited ${r.status}: ${r.stderr}`);
  return { summary: JSON.parse(r.stdout), tensors: readSafetensors(out).tensors };
}

describe('predict: 2-layer causal stack model file (fixtures/causal_stack_2layer.json)', () => {
  const prompts = join(tmp, 'prompts.safetensors');
  writePrompts(prompts);

  it('--grad --attn: output and loss <= 1e-10, every gradient incl. final_linear <= 1e-9, attention weights, F64 file', () => {
    const model = join(tmp, 'stack2.safetensors');
    saveStackModel(model, fixtureParams(), 'F64');
    const { summary, tensors } = predict(model, prompts, join(tmp, 'out.safetensors'), ['--grad', '--attn']);
    expect(summary).toMatchObject({ B, L, d, H, layers: 2 });
    expect(relErr(f64(tensors.output!), flatten(fx.corrected.output))).toBeLessThanOrEqual(1e-10);
    expect(tensors.output!.shape).toEqual([B, 1, 1]);
    expect(Math.abs(f64(tensors.loss!)[0]! - fx.corrected.loss) / fx.corrected.loss).toBeLessThanOrEqual(1e-10);
    const keys = Object.keys(tensors).filter((k) => k.startsWith('grad.')).sort();
    expect(keys).toEqual([
      'grad.attention_layers.0.k_proj.weight', 'grad.attention_layers.0.o_proj.weight', 'grad.attention_layers.0.q_proj.weight', 'grad.attention_layers.0.v_proj.weight',
      'grad.attention_layers.1.k_proj.weight', 'grad.attention_layers.1.o_proj.weight', 'grad.attention_layers.1.q_proj.weight', 'grad.attention_layers.1.v_proj.weight',
      'grad.final_linear.weight',
    ]);
    for (let l = 0; l < nLayers; l++) {
      for (const n of STACK_WEIGHT_NAMES) {
        const g = tensors[`grad.${stackKey(l, n)}`]!;
        expect(g.shape).toEqual(n === 'o' ? [d + 1, (d + 1) * H] : [(d + 1) * H, d + 1]);
        expect(relErr(f64(g), flatten(fx.corrected.grads[l][PROJ[n]])), `${l}.${n}`).toBeLessThanOrEqual(1e-9);
      }
    }
    expect(tensors['grad.final_linear.weight']!.shape).toEqual([1, d + 1]);
    expect(relErr(f64(tensors['grad.final_linear.weight']!), flatten(fx.corrected.grad_final_linear))).toBeLessThanOrEqual(1e-9);
    expect(tensors.attn_weights!.shape).toEqual([nLayers, B, H, T, T]);
    expect(relErr(f64(tensors.attn_weights!), flatten(fx.corrected.attn_weights))).toBeLessThanOrEqual(1e-10);
  });

  it('the seed\'s own form (F32, every layer written, no metadata) loads as the same stack', () => {
    const model = join(tmp, 'seedform.safetensors');
    const p = fixtureParams();
    const t: Record<string, Tensor> = {};
    for (let l = 0; l < nLayers; l++) for (const n of STACK_WEIGHT_NAMES) t[stackKey(l, n)] = { dtype: 'F32', shape: n === 'o' ? [6, 12] : [12, 6], data: Float32Array.from(p.layers[l]![n]) };
    t['final_linear.weight'] = { dtype: 'F32', shape: [1, 6], data: Float32Array.from(p.finalLinear) };
    writeSafetensors(model, t);
    const m = readModelFile(model);
    expect(m.kind).toBe('stack');
    expect(m.kind === 'stack' && [m.params.nLayers, m.params.weightTying, m.params.H, m.params.d]).toEqual([2, false, 2, 5]);
    const { tensors } = predict(model, prompts, join(tmp, 'out32.safetensors'));
    expect(relErr(f64(tensors.output!), flatten(fx.corrected.output))).toBeLessThan(1e-5); // float32 weights
  });

  it('tied weights: written once with metadata; the seed\'s repeated form gives the same numbers; gradient = sum of the untied layers\' gradients', () => {
    const tied = fixtureParams(true); // layer 0's weights for both layers
    const once = join(tmp, 'tied.safetensors');
    saveStackModel(once, tied, 'F64');
    const file = readSafetensors(once);
    expect(Object.keys(file.tensors).sort()).toEqual([
      'attention_layers.0.k_proj.weight', 'attention_layers.0.o_proj.weight', 'attention_layers.0.q_proj.weight', 'attention_layers.0.v_proj.weight', 'final_linear.weight',
    ]);
    expect(file.metadata).toMatchObject({ weight_tying: 'true', n_layers: '2', model: 'causal_stack' });
    // the seed's state_dict of a tied model: the same tensor under every layer index
    const repeated = join(tmp, 'tied-repeated.safetensors');
    const t: Record<string, Tensor> = { ...file.tensors };
    for (const n of STACK_WEIGHT_NAMES) t[stackKey(1, n)] = file.tensors[stackKey(0, n)]!;
    writeSafetensors(repeated, t, { weight_tying: 'true' });
    // the same weights as an untied stack whose two layers happen to be equal
    const untied = allocStackParams(d, H, 2, false);
    for (const l of [0, 1]) for (const n of STACK_WEIGHT_NAMES) untied.layers[l]![n].set(tied.layers[0]![n]);
    untied.finalLinear.set(tied.finalLinear);
    const untiedFile = join(tmp, 'untied-equal.safetensors');
    saveStackModel(untiedFile, untied, 'F64');

    const a = predict(once, prompts, join(tmp, 'o1.safetensors'), ['--grad']).tensors;
    const b = predict(repeated, prompts, join(tmp, 'o2.safetensors'), ['--grad']).tensors;
    const u = predict(untiedFile, prompts, join(tmp, 'o3.safetensors'), ['--grad']).tensors;
    expect(f64(b.output!)).toEqual(f64(a.output!));
    expect(relErr(f64(a.output!), f64(u.output!))).toBe(0);
    expect(Object.keys(a).filter((k) => k.includes('attention_layers.1'))).toEqual([]);
    for (const n of STACK_WEIGHT_NAMES) {
      const key = `grad.${stackKey(0, n)}`;
      expect(f64(b[key]!)).toEqual(f64(a[key]!));
      const sum = f64(u[key]!).map((x, i) => x + f64(u[`grad.${stackKey(1, n)}`]!)[i]!);
      expect(relErr(f64(a[key]!), sum), n).toBeLessThan(1e-12);
    }
    expect(relErr(f64(a['grad.final_linear.weight']!), f64(u['grad.final_linear.weight']!))).toBeLessThan(1e-12);
  });

  it('a tied file whose layers differ, or weight_tying metadata that is not a boolean, is refused with exit code 2', () => {
    const bad = join(tmp, 'bad-tied.safetensors');
    const p = fixtureParams();
    const t: Record<string, Tensor> = {};
    for (let l = 0; l < 2; l++) for (const n of STACK_WEIGHT_NAMES) t[stackKey(l, n)] = tensorF64(n === 'o' ? [6, 12] : [12, 6], p.layers[l]![n]);
    t['final_linear.weight'] = tensorF64([1, 6], p.finalLinear);
    writeSafetensors(bad, t, { weight_tying: 'true' });
    const r = spawnSync(process.execPath, [bin, 'predict', '--model', bad, '--prompts', prompts, '--out', join(tmp, 'x.safetensors')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/weight_tying=true but attention_layers\.1\.q_proj\.weight differs from attention_layers\.0\.q_proj\.weight/);
    writeSafetensors(bad, t, { weight_tying: 'yes' });
    expect(() => readModelFile(bad)).toThrow(/metadata weight_tying must be "true" or "false", got "yes"/);
  });
});
