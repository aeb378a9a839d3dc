import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STATE_DICT_KEYS } from '../src/model/params.js';
import { runPredict } from '../src/analysis/predict.js';
import { UsageError } from '../src/errors.js';
import { relErr } from './fixtures.helpers.js';
import { readSafetensors, tensorF32, tensorF64, writeSafetensors, type Tensor } from '../src/io/safetensors.js';
import { tempDir } from './cli.helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dir = tempDir('io-predict');

const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const fixture = (name: string): any => JSON.parse(readFileSync(join(here, 'fixtures', name), 'utf8'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function writeFixtureFiles(fx: any, tag: string, opts: { flatQuery?: boolean; noTarget?: boolean } = {}): { model: string; prompts: string } {
  const { E, H, B, L, weights: w, inputs: inp } = fx;
  const model = join(dir, `${tag}.model.safetensors`);
  const prompts = join(dir, `${tag}.prompts.safetensors`);
  writeSafetensors(model, {
    [STATE_DICT_KEYS.q]: tensorF64([E * H, E], flat(w.q_proj)),
    [STATE_DICT_KEYS.k]: tensorF64([E * H, E], flat(w.k_proj)),
    [STATE_DICT_KEYS.v]: tensorF64([E * H, E], flat(w.v_proj)),
    [STATE_DICT_KEYS.o]: tensorF64([1, E * H], flat(w.o_proj)),
    'final_linear.weight': tensorF64([1, E]),
  });
  const p: Record<string, Tensor> = {
    z: tensorF64([B, L, E], flat(inp.z)),
    z_q: tensorF64(opts.flatQuery ? [B, E] : [B, 1, E], flat(inp.z_q)),
  };
  if (!opts.noTarget) p.y_q = tensorF64(opts.flatQuery ? [B] : [B, 1, 1], flat(inp.y_q));
  writeSafetensors(prompts, p);
  return { model, prompts };
}

const FIXTURES = ['single_layer_H1_fwd_bwd.json', 'single_layer_H2_fwd_bwd.json', 'single_layer_H3_fwd_bwd.json', 'single_layer_H2_d3_L7_fwd_bwd.json'];

describe('predict against the PyTorch fixtures', () => {
  for (const name of FIXTURES) {
    it(name, () => {
      const fx = fixture(name);
      const { model, prompts } = writeFixtureFiles(fx, name);
      const out = join(dir, `${name}.result.safetensors`);
      const s = runPredict({ model, prompts, out, grad: true, attn: true });
      expect(s).toMatchObject({ B: fx.B, L: fx.L, d: fx.d, E: fx.E, H: fx.H, out });
      const r = readSafetensors(out).tensors;
      const { E, H, B, L } = fx;
      expect(Object.keys(r).sort()).toEqual(['attn_weights', 'grad.attention_layer.k_proj.weight', 'grad.attention_layer.o_proj.weight',
        'grad.attention_layer.q_proj.weight', 'grad.attention_layer.v_proj.weight', 'loss', 'output']);
      for (const t of Object.values(r)) expect(t.dtype).toBe('F64');
      expect(r.output!.shape).toEqual([B, 1, 1]);
      expect(r.loss!.shape).toEqual([1]);
      expect(r.attn_weights!.shape).toEqual([B, H, 1, L]);
      expect(relErr(r.output!.data as Float64Array, flat(fx.expected.output))).toBeLessThanOrEqual(1e-10);
      expect(relErr(r.loss!.data as Float64Array, [fx.expected.loss])).toBeLessThanOrEqual(1e-10);
      expect(s.loss).toBe((r.loss!.data as Float64Array)[0]);
      expect(relErr(r.attn_weights!.data as Float64Array, flat(fx.expected.attn_weights))).toBeLessThanOrEqual(1e-10);
      for (const w of ['q', 'k', 'v', 'o'] as const) {
        const g = r[`grad.${STATE_DICT_KEYS[w]}`]!;
        expect(g.shape).toEqual(w === 'o' ? [1, E * H] : [E * H, E]);
        expect(relErr(g.data as Float64Array, flat(fx.expected.grads[`${w}_proj`])), w).toBeLessThanOrEqual(1e-9);
      }
    });
  }

  it('accepts z_q [B, E] and y_q [B]; without --grad writes output and loss only', () => {
    const fx = fixture('single_layer_H2_fwd_bwd.json');
    const { model, prompts } = writeFixtureFiles(fx, 'flat', { flatQuery: true });
    const out = join(dir, 'flat.result.safetensors');
    const s = runPredict({ model, prompts, out });
    const r = readSafetensors(out).tensors;
    expect(Object.keys(r).sort()).toEqual(['loss', 'output']);
    expect(relErr(r.output!.data as Float64Array, flat(fx.expected.output))).toBeLessThanOrEqual(1e-10);
    expect(Math.abs(s.loss! - fx.expected.loss) / fx.expected.loss).toBeLessThanOrEqual(1e-10);
  });

  it('a run directory as --model stands for its model.safetensors', () => {
    const fx = fixture('single_layer_H2_fwd_bwd.json');
    const { model, prompts } = writeFixtureFiles(fx, 'rundir');
    const run = join(dir, 'a-run');
    mkdirSync(run);
    copyFileSync(model, join(run, 'model.safetensors'));
    const s = runPredict({ model: run, prompts, out: join(dir, 'rundir.result.safetensors') });
    expect(Math.abs(s.loss! - fx.expected.loss) / fx.expected.loss).toBeLessThanOrEqual(1e-10);
  });

  it('without y_q: output only, loss null', () => {
    const fx = fixture('single_layer_H1_fwd_bwd.json');
    const { model, prompts } = writeFixtureFiles(fx, 'notarget', { noTarget: true });
    const out = join(dir, 'notarget.result.safetensors');
    const s = runPredict({ model, prompts, out });
    expect(s.loss).toBeNull();
    const r = readSafetensors(out);
    expect(Object.keys(r.tensors)).toEqual(['output']);
    expect(r.metadata).toMatchObject({ icl_lab: 'predict', model, prompts });
    expect(relErr(r.tensors.output!.data as Float64Array, flat(fx.expected.output))).toBeLessThanOrEqual(1e-10);
  });

  it('F32 model and prompts (PyTorch default dtype) give float32-level agreement', () => {
    const fx = fixture('single_layer_H2_fwd_bwd.json');
    const { E, H, B, L, weights: w, inputs: inp } = fx;
    const model = join(dir, 'f32.model.safetensors');
    const prompts = join(dir, 'f32.prompts.safetensors');
    writeSafetensors(model, {
      [STATE_DICT_KEYS.q]: tensorF32([E * H, E], flat(w.q_proj)), [STATE_DICT_KEYS.k]: tensorF32([E * H, E], flat(w.k_proj)),
      [STATE_DICT_KEYS.v]: tensorF32([E * H, E], flat(w.v_proj)), [STATE_DICT_KEYS.o]: tensorF32([1, E * H], flat(w.o_proj)),
    });
    writeSafetensors(prompts, { z: tensorF32([B, L, E], flat(inp.z)), z_q: tensorF32([B, 1, E], flat(inp.z_q)), y_q: tensorF32([B, 1, 1], flat(inp.y_q)) });
    const s = runPredict({ model, prompts, out: join(dir, 'f32.result.safetensors'), grad: true });
    const err = Math.abs(s.loss! - fx.expected.loss) / fx.expected.loss;
    expect(err).toBeLessThan(1e-5);
    expect(err).toBeGreaterThan(0); // inputs really were rounded to float32
  });

  it('bad inputs throw UsageError naming the problem', () => {
    const fx = fixture('single_layer_H2_fwd_bwd.json');
    const small = fixture('single_layer_H2_d3_L7_fwd_bwd.json');
    const a = writeFixtureFiles(fx, 'bad-a');
    const b = writeFixtureFiles(small, 'bad-b', { noTarget: true });
    const out = join(dir, 'bad.result.safetensors');
    const usage = (f: () => unknown, re: RegExp) => {
      let e: unknown;
      try { f(); } catch (x) { e = x; }
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toMatch(re);
    };
    usage(() => runPredict({ model: a.model, prompts: b.prompts, out }),
      /expects tokens of width E=6 \(d=5; attention_layer\.q_proj\.weight \[12, 6\]\) but prompts .*bad-b\.prompts\.safetensors have E=4 \(z \[4, 7, 4\]\)/);
    usage(() => runPredict({ model: b.model, prompts: b.prompts, out, grad: true }), /--grad needs the targets y_q/);
    usage(() => runPredict({ model: a.prompts, prompts: a.prompts, out }), /bad-a\.prompts\.safetensors: not an icl-lab \/ seed model: expected tensors attention_layer\.q_proj\.weight, .*; found y_q \[4, 1, 1\], z \[4, 40, 6\], z_q \[4, 1, 6\]$/);
    usage(() => runPredict({ model: a.model, prompts: a.model, out }), /prompts need tensors z \[B, L, E\] and z_q/);
    usage(() => runPredict({ model: join(dir, 'nope.safetensors'), prompts: a.prompts, out }), /nope\.safetensors: no such file/);
    usage(() => runPredict({ model: a.model, prompts: a.prompts, out: join(dir, 'no-dir', 'r.safetensors') }), /--out: directory .*no-dir does not exist/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('icl-lab predict (compiled CLI)', () => {
  const cli = join(root, 'bin', 'icl-lab');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'predict', ...args], { encoding: 'utf8', cwd: dir });
  const fx = fixture('single_layer_H3_fwd_bwd.json');
  const f = writeFixtureFiles(fx, 'cli');

  it('writes the result and prints a summary (text and --json)', () => {
    const text = run('--model', f.model, '--prompts', f.prompts, '--out', 'r.safetensors', '--grad');
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^predict: B=4 prompts, L=40, d=5, H=3; loss \(MSE\) = \d\.\d{9}/);
    expect(text.stdout).toContain('wrote r.safetensors: output [4, 1, 1], loss [1], grad.attention_layer.q_proj.weight [18, 6], grad.attention_layer.k_proj.weight [18, 6]');
    const r = readSafetensors(join(dir, 'r.safetensors')).tensors;
    expect(relErr(r['grad.attention_layer.o_proj.weight']!.data as Float64Array, flat(fx.expected.grads.o_proj))).toBeLessThanOrEqual(1e-9);

    const js = run('--model', f.model, '--prompts', f.prompts, '--out', 'r2.safetensors', '--json');
    expect(js.status).toBe(0);
    const s = JSON.parse(js.stdout);
    expect(s).toMatchObject({ B: 4, L: 40, d: 5, E: 6, H: 3, out: 'r2.safetensors', tensors: { loss: [1], output: [4, 1, 1] } });
    expect(Math.abs(s.loss - fx.expected.loss) / fx.expected.loss).toBeLessThanOrEqual(1e-10);
  });

  it('bad input: exit code 2, a one-line message naming the problem, no stack trace', () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'missing.safetensors', '--prompts', f.prompts, '--out', 'x.safetensors'], /^icl-lab: missing\.safetensors: no such file\n$/],
      [['--model', f.prompts, '--prompts', f.prompts, '--out', 'x.safetensors'], /expected tensors attention_layer\.q_proj\.weight, .*found y_q \[4, 1, 1\], z \[4, 40, 6\], z_q \[4, 1, 6\]/],
      [['--model', f.model, '--prompts', f.prompts], /give --out FILE.safetensors to write the result, or --json to print it/],
    ];
    for (const [args, re] of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(join(dir, 'x.safetensors'))).toBe(false);
  });
});
