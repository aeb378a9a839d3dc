/**
 * `icl-lab analyze` and `icl-lab evaluate` end to end through the compiled CLI (bin/icl-lab -> dist/;
 * run `npx tsc -p tsconfig.json` first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerCircuits } from '../src/model/circuits.js';
import { loadModel } from '../src/io/model-file.js';
import { tensorF32, writeSafetensors } from '../src/io/safetensors.js';
import { fixtureParams, flat, fx } from './estimators-fixture.helpers.js';
import { bin, root, tempDir } from './cli.helpers.js';

const tmp = tempDir('analysis-cli');

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The fixture's structured weights as the seed's PyTorch code would save them: float32, with final_linear and an unrelated key. */
const seedFile = join(tmp, 'seed_h2.safetensors');
const runDir = join(tmp, 'run-d3');

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'cli', 'commands', 'analyze.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` first');
  const w = fx.weight_sets.structured.weights;
  writeSafetensors(seedFile, {
    'attention_layer.q_proj.weight': tensorF32([12, 6], flat(w.q_proj)),
    'attention_layer.k_proj.weight': tensorF32([12, 6], flat(w.k_proj)),
    'attention_layer.v_proj.weight': tensorF32([12, 6], flat(w.v_proj)),
    'attention_layer.o_proj.weight': tensorF32([1, 12], flat(w.o_proj)),
    'final_linear.weight': tensorF32([1, 6], [0.1, -0.2, 0.3, 0.4, 0.5, 0.6]),
  });
  // A genuine (tiny) run directory: d = 3, L = 12, 300 steps.
  const r = cli(['train', '--out', runDir, '--heads', '2', '--d', '3', '--context-length', '12', '--batch-size', '32', '--steps', '300', '--dynamics-every', '100', '--qk-every', '100', '--val-every', '100', '--print-every', '1000', '--progress', 'none', '--noise-std', '0.05']);
  if (r.code !== 0) throw new Error(`train failed: ${r.stderr}`);
}, 120_000);

describe('icl-lab analyze', () => {
  it('reads a float32 seed-style file (extra keys ignored) in the seed conventions, prints its statistics lines', () => {
    const r = cli(['analyze', seedFile, '--samples', '500']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Layer 1, Head 1: w^h = -0.1399, variance of first 5 diagonal elements = 0.0000, sup-norm of rest of d x d block entries = 0.0107');
    expect(r.stdout).toContain('Head 2: mu^h = 3.0960, w^h = 0.1373');
    expect(r.stdout).toContain('Hypothesized value of w^h: 1/sqrt(d) = 0.4472');
    expect(r.stdout).toContain('Effective learning rate eta_TF = sum_h mu^h w^h = 0.8760');
    expect(r.stdout).toContain('L/(L+d) = 0.8889, L/(L+d+1) = 0.8696');
    expect(r.stdout).toMatch(/equivalent two-head model: w = \(\+0\.1373, -0\.1399\), mu = \(\+3\.0960, -3\.2232\)/);
  });

  it('--json: layers[l].heads[h] fields equal the fixture statistics to float32 precision; kernel gap is seeded', () => {
    const r = cli(['analyze', seedFile, '--json', '--samples', '800', '--seed', '3', '--context-length', '30']);
    expect(r.code).toBe(0);
    const a = JSON.parse(r.stdout);
    const ref = fx.weight_sets.structured.statistics.per_head;
    expect(a.layers).toHaveLength(1);
    a.layers[0].heads.forEach((h: { w: number; mu: number; var: number; sup_off_diag: number; sup_ov: number; qk: number[][]; ov: number[] }, i: number) => {
      expect(h.w).toBeCloseTo(ref[i]!.w_h, 6);
      expect(h.mu).toBeCloseTo(ref[i]!.mu_h, 5);
      expect(h.var).toBeCloseTo(ref[i]!.var_diag, 7);
      expect(h.sup_off_diag).toBeCloseTo(ref[i]!.sup_offdiag_dxd, 6);
      expect(h.sup_ov).toBeCloseTo(ref[i]!.sup_OV_x_to_out, 6);
      expect(h.qk).toHaveLength(6);
      flat(h.qk).forEach((v, j) => expect(v).toBeCloseTo(flat(ref[i]!.QK)[j]!, 6));
      h.ov.forEach((v, j) => expect(v).toBeCloseTo(ref[i]!.OV[j]!, 5));
    });
    const w = ref.map((h) => h.w_h), mu = ref.map((h) => h.mu_h);
    expect(a.effective_learning_rate).toBeCloseTo(w[0]! * mu[0]! + w[1]! * mu[1]!, 5);
    expect(a.kernel_gap_detail.L).toBe(30);
    expect(a.kernel_gap_detail.samples).toBe(800);
    expect(a.kernel_gap).toBeGreaterThan(0.02); // this weight set leaks x into the output (supOv 0.24): 4 % of its output variance
    expect(a.kernel_gap).toBeLessThan(0.5);
    expect(a.statistics).toHaveLength(10);
    const again = JSON.parse(cli(['analyze', seedFile, '--json', '--samples', '800', '--seed', '3', '--L', '30']).stdout);
    expect(again.kernel_gap).toBe(a.kernel_gap);
  });

  it('a run directory: task (L, noise) from run.json, statistics equal the core read-out of its model', () => {
    const r = cli(['analyze', runDir, '--json', '--samples', '300']);
    expect(r.code).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(a.name).toBe('run-d3');
    expect(a.d).toBe(3);
    expect(a.run.L).toBe(12);
    expect(a.run.noise_std).toBe(0.05);
    expect(a.kernel_gap_detail.L).toBe(12);
    const heads = layerCircuits(loadModel(join(runDir, 'model.safetensors')));
    heads.forEach((c, i) => {
      expect(a.layers[0].heads[i].w).toBe(c.w);
      expect(a.layers[0].heads[i].mu).toBe(c.mu);
    });
    expect(a.grouping.active.length + a.grouping.dummy.length).toBe(2);
  });

  it('bad input: missing target, non-model file -> exit 2 or 1 with a message, no stack trace', () => {
    const r = cli(['analyze', join(tmp, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such run directory or model file/);
    const r2 = cli(['analyze', seedFile, '--threshold', '-1']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--threshold/);
    const notModel = join(tmp, 'x.safetensors');
    writeSafetensors(notModel, { foo: tensorF32([2], [1, 2]) });
    const r3 = cli(['analyze', notModel]);
    expect(r3.code).not.toBe(0);
    expect(r3.stderr).toMatch(/attention_layer\.q_proj\.weight/);
    expect(r3.stderr).not.toMatch(/\n\s+at /);
  });

  it('issue 22 item 18: run.json names its run directory; a folder of runs lists them', () => {
    const r = cli(['analyze', join(runDir, 'run.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`icl-lab: ${join(runDir, 'run.json')} is JSON, not a model; give the run directory (${runDir}) or its model.safetensors`);
    const r2 = cli(['analyze', tmp]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`${tmp} is not a run directory but holds 1 run(s): ${runDir}; give one of them`);
    expect(r2.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('one meaning for "seed S, N prompts at L" (issue 22 item 7)', () => {
  it("analyze's kernel gap measures the prompts evaluate measures: the model's and the kernel's MSE and s.e. equal evaluate's", () => {
    const a = cli(['analyze', runDir, '--json', '--samples', '3000', '--seed', '7']);
    expect(a.code, a.stderr).toBe(0);
    const k = JSON.parse(a.stdout).kernel_gap_detail;
    expect(k).toMatchObject({ L: 12, samples: 3000, seed: 7 });
    const e = cli(['evaluate', runDir, '--context-length', '12', '--samples', '3000', '--seed', '7', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const m = JSON.parse(e.stdout).methods;
    const name = 'run-d3';
    const close = (x: number, y: number) => expect(Math.abs(x - y) / Math.abs(y)).toBeLessThan(1e-12); // the same prompts, summed in another order
    close(k.model_mse, m[name].mse[0]);
    close(k.model_stderr, m[name].stderr[0]);
    close(k.kernel_mse, m[`${name}/kernel`].mse[0]);
    close(k.kernel_stderr, m[`${name}/kernel`].stderr[0]);
    const text = cli(['analyze', runDir, '--samples', '3000', '--seed', '7']).stdout;
    expect(text).toContain('(3000 seed-preset prompts, noise_std 0.05, rho 0, seed 7: the prompts evaluate --seed 7 --samples 3000 measures at L = 12)');
    expect(text).toContain(`model MSE ${k.model_mse.toFixed(4)} ± ${k.model_stderr.toFixed(4)}`);
  });
});

describe('icl-lab evaluate', () => {
  it('no model: estimators only, --lengths list, --json shape, seeded and reproducible', () => {
    const args = ['evaluate', '--lengths', '10,40', '--samples', '400', '--seed', '5', '--json'];
    const r = cli(args);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.lengths).toEqual([10, 40]);
    expect(Object.keys(j.methods)).toEqual(['one-step-gd', 'tuned-gd', 'debiased-gd', 'ridge', 'ols']);
    for (const m of Object.values(j.methods) as { mse: number[]; stderr: number[] }[]) {
      expect(m.mse).toHaveLength(2);
      expect(m.stderr).toHaveLength(2);
    }
    // one-step GD at L = 10 is ~3.0 (docs/THEORY.md), within a loose band for 400 prompts
    expect(j.methods['one-step-gd'].mse[0]).toBeGreaterThan(2.2);
    expect(j.methods['one-step-gd'].mse[0]).toBeLessThan(3.8);
    expect(cli(args).stdout).toBe(r.stdout);
  });

  it('models + kernels by run name, range lengths, OLS null for L <= d, --out writes the same JSON', () => {
    const out = join(tmp, 'eval.json');
    const other = join(tmp, 'h2_fixture.safetensors');
    writeSafetensors(other, {
      'attention_layer.q_proj.weight': tensorF32([8, 4], new Array(32).fill(0).map((_, i) => Math.sin(i) * 0.3)),
      'attention_layer.k_proj.weight': tensorF32([8, 4], new Array(32).fill(0).map((_, i) => Math.cos(i) * 0.3)),
      'attention_layer.v_proj.weight': tensorF32([8, 4], new Array(32).fill(0).map((_, i) => Math.sin(2 * i) * 0.3)),
      'attention_layer.o_proj.weight': tensorF32([1, 8], new Array(8).fill(0).map((_, i) => Math.cos(3 * i) * 0.3)),
    });
    const r = cli(['evaluate', runDir, other, '--lengths', '1:16:5', '--samples', '300', '--json', '--out', out]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.lengths).toEqual([1, 6, 11, 16]);
    expect(Object.keys(j.methods)).toEqual(['run-d3', 'run-d3/kernel', 'h2_fixture', 'h2_fixture/kernel', 'one-step-gd', 'tuned-gd', 'debiased-gd', 'ridge', 'ols']);
    expect(j.d).toBe(3);
    expect(j.noise_std).toBe(0.05); // from the run directory
    expect(j.tasks).toHaveLength(1); // the bare file joins the run's task; its own is not recorded
    expect(j.models.map((m: { trained_task: unknown }) => m.trained_task === null)).toEqual([false, true]);
    expect(j.methods.ols.mse[0]).toBeNull(); // L = 1 <= d
    expect(j.methods.ols.mse[3]).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(j);
  });

  it('table output and bad input', () => {
    const r = cli(['evaluate', '--lengths', '20', '--samples', '200']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+L\s+one-step-gd\s+tuned-gd\s+debiased-gd\s+ridge\s+ols$/m);
    expect(r.stdout).toMatch(/^\s+20\s+\d\.\d+ ± /m);
    expect(cli(['evaluate', '--lengths', '5:1']).code).toBe(2);
    expect(cli(['evaluate', '--samples', '1']).code).toBe(2);
    // a model cannot be measured at another d
    const wrongD = cli(['evaluate', runDir, '--d', '5', '--lengths', '10', '--samples', '10']);
    expect(wrongD.code).toBe(2);
    expect(wrongD.stderr).toMatch(/--d 5 does not match the model run-d3 \(d=3\)/);
  });
});

// issue 12, misleading output 1: `evaluate runs/h2 runs/rho05` and `evaluate runs/rho05 runs/h2` measured the
// rho = 0.5 model on the first model's task (3.12 vs 4.18 at L = 10), and the output did not record rho.
describe('icl-lab evaluate: each model on its own training task', () => {
  const rhoDir = join(tmp, 'rho05');
  beforeAll(() => {
    const r = cli(['train', '--out', rhoDir, '--heads', '2', '--d', '3', '--context-length', '12', '--batch-size', '32', '--steps', '300', '--dynamics-every', '100', '--qk-every', '100', '--val-every', '100', '--progress', 'none', '--noise-std', '0.05', '--rho', '0.5']);
    if (r.code !== 0) throw new Error(`train failed: ${r.stderr}`);
  }, 120_000);

  it('the rho = 0.5 model gets the same numbers whichever model comes first; each task has its own estimators; the JSON records rho', () => {
    const ab = JSON.parse(cli(['evaluate', runDir, rhoDir, '--context-length', '6,12', '--samples', '300', '--json']).stdout);
    const ba = JSON.parse(cli(['evaluate', rhoDir, runDir, '--context-length', '6,12', '--samples', '300', '--json']).stdout);
    expect(ab.methods.rho05.mse).toEqual(ba.methods.rho05.mse);
    expect(ab.methods['run-d3'].mse).toEqual(ba.methods['run-d3'].mse);
    expect(ab.tasks.map((t: { rho: number }) => t.rho)).toEqual([0, 0.5]);
    expect(ab.tasks[1].methods).toEqual(['rho05', 'rho05/kernel', 'one-step-gd@rho=0.5', 'tuned-gd@rho=0.5', 'debiased-gd@rho=0.5', 'ridge@rho=0.5', 'ols@rho=0.5']);
    expect(ab.models.map((m: { out_of_distribution: boolean }) => m.out_of_distribution)).toEqual([false, false]);
    expect(ab.models[1].trained_task).toEqual({ d: 3, preset: 'seed', noise_std: 0.05, rho: 0.5, prior: 'gaussian' });
    // measured alone, on its own task: the same numbers as beside the other model
    const alone = JSON.parse(cli(['evaluate', rhoDir, '--context-length', '6,12', '--samples', '300', '--json']).stdout);
    expect(alone.methods.rho05.mse).toEqual(ab.methods.rho05.mse);
    expect(alone.methods.ridge.mse).toEqual(ab.methods['ridge@rho=0.5'].mse);
    expect(alone.rho).toBe(0.5);
    const table = cli(['evaluate', runDir, rhoDir, '--context-length', '12', '--samples', '100']).stdout;
    expect(table).toContain('task d=3, preset seed, noise_std 0.05, rho 0.5: rho05, rho05/kernel');
  });

  it('an explicit task measures every model on it and marks the ones trained on another task out of distribution', () => {
    const r = cli(['evaluate', rhoDir, runDir, '--context-length', '12', '--samples', '300', '--rho', '0', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.explicit_task).toBe(true);
    expect(j.tasks).toHaveLength(1);
    expect([j.rho, j.noise_std, j.preset]).toEqual([0, 0.05, 'seed']);
    expect(j.models.map((m: { name: string; out_of_distribution: boolean }) => [m.name, m.out_of_distribution])).toEqual([['rho05', true], ['run-d3', false]]);
    const own = JSON.parse(cli(['evaluate', runDir, '--context-length', '12', '--samples', '300', '--json']).stdout);
    expect(j.methods['run-d3'].mse).toEqual(own.methods['run-d3'].mse);
    const table = cli(['evaluate', rhoDir, runDir, '--context-length', '12', '--samples', '100', '--rho', '0']).stdout;
    expect(table).toContain('rho05: OUT OF DISTRIBUTION, trained on d=3, preset seed, noise_std 0.05, rho 0.5');
    expect(table).toContain('task d=3, preset seed, noise_std 0.05, rho 0 (given by flags)');
  });

  // issue 12, misleading output 8: one flag name per concept (--context-length), old spellings kept as aliases
  it('--context-length everywhere; --lengths still works and gives the same result; both at once is a usage error', () => {
    const a = cli(['evaluate', '--context-length', '10,20', '--samples', '100', '--json']);
    const b = cli(['evaluate', '--lengths', '10,20', '--samples', '100', '--json']);
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const both = cli(['evaluate', '--lengths', '10', '--context-length', '10']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/old spelling of --context-length/);
    expect(cli(['evaluate', '--help']).stdout).toMatch(/--context-length <spec>/);
  });
});

describe('icl-lab analyze: numbering, names and theory (issue 12, misleading output 5, 6, 8)', () => {
  it('5: layers and heads are numbered from 1 in the text and in --json (head lists too)', () => {
    const t = cli(['analyze', seedFile, '--samples', '200']).stdout;
    expect(t).toContain('Layer 1, head 1: QK^h');
    expect(t).toContain('Layer 1, head 2: QK^h');
    expect(t).not.toMatch(/Layer 0|head 0|Head 0/);
    expect(t).toMatch(/^\s+1\s+1\s+-0\.1399/m);
    expect(t).toMatch(/active heads 1, 2;/);
    const j = JSON.parse(cli(['analyze', seedFile, '--samples', '200', '--json']).stdout);
    expect(j.layers[0].layer).toBe(1);
    expect(j.layers[0].heads.map((h: { head: number }) => h.head)).toEqual([1, 2]);
    expect(j.grouping.active).toEqual([1, 2]);
  });

  it('8: --json keys are snake_case everywhere; --L is an alias of --context-length', () => {
    const r = cli(['analyze', runDir, '--json', '--samples', '300', '--context-length', '20']);
    const camel: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { if (/[a-z][A-Z]/.test(k)) camel.push(k); walk(x); }
    };
    const j = JSON.parse(r.stdout);
    walk(j);
    expect(camel).toEqual([]);
    expect(j.run.noise_std).toBe(0.05);
    expect(j.kernel_gap_detail.L).toBe(20);
    expect(cli(['analyze', runDir, '--json', '--samples', '300', '--L', '20']).stdout).toBe(r.stdout);
    expect(cli(['analyze', runDir, '--L', '20', '--context-length', '20']).code).toBe(2);
  });

  it('6: an isotropic run says the isotropic theory applies and has no anisotropy block', () => {
    const t = cli(['analyze', runDir, '--samples', '200']).stdout;
    expect(t).toContain('Theory: isotropic');
    const j = JSON.parse(cli(['analyze', runDir, '--samples', '200', '--json']).stdout);
    expect([j.theory, j.anisotropy]).toEqual(['isotropic', null]);
  });

  it('6: a rho run says the anisotropic theory applies, and compares each head\'s QK x-block with I and Sigma^-1', () => {
    const dir = join(tmp, 'rho-analyze');
    const tr = cli(['train', '--out', dir, '--heads', '2', '--d', '3', '--context-length', '12', '--batch-size', '32', '--steps', '200', '--dynamics-every', '100', '--qk-every', '100', '--val-every', '100', '--progress', 'none', '--rho', '0.6']);
    expect(tr.code, tr.stderr).toBe(0);
    const t = cli(['analyze', dir, '--samples', '200']).stdout;
    expect(t).toContain('Theory: ANISOTROPIC run (rho = 0.6)');
    expect(t).toContain('does not apply as such');
    expect(t).toContain('For reference only (isotropic theory, Sigma = I):');
    expect(t).toMatch(/QK x-block against I, Sigma\^-1 and Gamma\* at L = 12/);
    expect(t).toMatch(/sum_h mu\^h QK\^h x-block: rel to I \d\.\d{4}, to Sigma\^-1 \d\.\d{4}, to Gamma\* \d\.\d{4}/);
    const j = JSON.parse(cli(['analyze', dir, '--samples', '200', '--json']).stdout);
    expect(j.theory).toBe('anisotropic');
    expect(j.anisotropy.rho).toBe(0.6);
    expect(j.anisotropy.heads).toHaveLength(2);
    for (const h of j.anisotropy.heads) {
      expect(h.rel_to_identity).toBeGreaterThanOrEqual(0);
      const least = Math.min(h.rel_to_identity, h.rel_to_precision, h.rel_to_gamma_star);
      expect(h.closer).toBe(h.rel_to_gamma_star === least ? 'gamma_star' : h.rel_to_precision === least ? 'sigma_inverse' : 'identity');
    }
    expect(typeof j.anisotropy.paired).toBe('boolean');
    expect(j.anisotropy.rel_gamma_star).toBeGreaterThanOrEqual(0);
    expect(j.anisotropy.gamma_star).toHaveLength(3);
    // 200 steps from random init: the heads have not split, so it is not read as preconditioned GD
    if (!j.anisotropy.paired) expect(j.anisotropy.verdict).toMatch(/^not paired/);
    // Sigma^-1 of AR(1) with rho = 0.6 at d = 3: [[1, -0.6, 0], [-0.6, 1.36, -0.6], [0, -0.6, 1]] / 0.64
    expect(j.anisotropy.sigma_inverse[1][1]).toBeCloseTo(1.36 / 0.64, 12);
    expect(j.anisotropy.sigma_inverse[0][1]).toBeCloseTo(-0.6 / 0.64, 12);
    expect(j.kernel_gap_detail.rho).toBe(0.6);
  });
});
