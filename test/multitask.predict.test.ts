/**
 * `icl-lab predict` on the multi-task fixture (PyTorch float64, n_out = 2, E = 8, H = 3): outputs, loss,
 * attention weights to 1e-10 and every gradient to 1e-9, through the library and the CLI binary.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STATE_DICT_KEYS } from '../src/model/params.js';
import { runPredict } from '../src/analysis/predict.js';
import { UsageError } from '../src/errors.js';
import { f64, readSafetensors, tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { tempDir } from './cli.helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'bin', 'icl-lab');
const dir = tempDir('mt-predict');
const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
const fx = JSON.parse(readFileSync(join(here, 'fixtures', 'multitask_H3_fwd_bwd.json'), 'utf8'));
const { E, H, B, L, n_out: N } = fx;
const model = join(dir, 'mt.model.safetensors');
const prompts = join(dir, 'mt.prompts.safetensors');
writeSafetensors(model, {
  [STATE_DICT_KEYS.q]: tensorF64([E * H, E], flat(fx.weights.q_proj)),
  [STATE_DICT_KEYS.k]: tensorF64([E * H, E], flat(fx.weights.k_proj)),
  [STATE_DICT_KEYS.v]: tensorF64([E * H, E], flat(fx.weights.v_proj)),
  [STATE_DICT_KEYS.o]: tensorF64([N, E * H], flat(fx.weights.o_proj)),
  'final_linear.weight': tensorF64([N, E]),
});
writeSafetensors(prompts, { z: tensorF64([B, L, E], flat(fx.inputs.z)), z_q: tensorF64([B, 1, E], flat(fx.inputs.z_q)), y_q: tensorF64([B, 1, N], flat(fx.inputs.y_q)) });
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };

function check(out: string) {
  const t = readSafetensors(out).tensors;
  expect(t.output!.shape).toEqual([B, 1, N]);
  expect(maxAbs(f64(t.output!), flat(fx.expected.output))).toBeLessThan(1e-10);
  expect(Math.abs(f64(t.loss!)[0]! - fx.expected.loss)).toBeLessThan(1e-10);
  expect(maxAbs(f64(t.attn_weights!), flat(fx.expected.attn_weights))).toBeLessThan(1e-10);
  for (const [w, key] of Object.entries(STATE_DICT_KEYS)) {
    const g = t[`grad.${key}`]!;
    expect(g.shape).toEqual(w === 'o' ? [N, E * H] : [E * H, E]);
    expect(maxAbs(f64(g), flat(fx.expected.grads[`${w}_proj`])), key).toBeLessThan(1e-9);
  }
}

describe('predict: multi-task model (n_out = 2) against PyTorch', () => {
  it('library: runPredict --grad --attn', () => {
    const out = join(dir, 'lib.out.safetensors');
    const s = runPredict({ model, prompts, out, grad: true, attn: true });
    expect(s.loss).toBeCloseTo(fx.expected.loss, 10);
    check(out);
  });

  it('CLI: icl-lab predict --grad --attn', () => {
    const out = join(dir, 'cli.out.safetensors');
    const r = spawnSync(process.execPath, [cli, 'predict', '--model', model, '--prompts', prompts, '--out', out, '--grad', '--attn'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/loss \(MSE\) = 23\.822233/);
    check(out);
  });

  it('prompts with one target per prompt are refused for a two-output model, in one line', () => {
    const p1 = join(dir, 'one.prompts.safetensors');
    writeSafetensors(p1, { z: tensorF64([B, L, E], flat(fx.inputs.z)), z_q: tensorF64([B, 1, E], flat(fx.inputs.z_q)), y_q: tensorF64([B, 1, 1], new Float64Array(B)) });
    expect(() => runPredict({ model, prompts: p1, out: join(dir, 'x.safetensors') })).toThrow(UsageError);
    expect(() => runPredict({ model, prompts: p1, out: join(dir, 'x.safetensors') })).toThrow(/has n_out=2 outputs but prompts .* have 1 targets per prompt/);
  });
});
