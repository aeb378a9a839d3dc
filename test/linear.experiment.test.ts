// The length-generalisation experiment (experiments/length-generalization.ts): its closed forms, its
// runs and its report end to end on short runs; and linear attention as a sweep grid field.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reproduce } from '../src/experiments/reproduce.js';
import { experimentNamed, experimentOfRuns } from '../src/experiments/index.js';
import { experimentRuns } from '../src/experiments/experiment.js';
import { closedForms } from '../src/experiments/length-generalization-report.js';
import { readRunJson } from '../src/run/run-dir.js';
import { readSafetensors } from '../src/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'icl-linear-exp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('closed forms of the length-generalisation experiment (paper convention, d = 5, trained at L = 40)', () => {
  it("linear 0.2398 at 40 and 0.1676 at 100, linear-sum 1.724 at 100, tuned GD eta*(L) below both", () => {
    const c = closedForms(5, 40, Math.sqrt(0.1), 'paper', [40, 100, 200]);
    expect(c.linear[0]).toBeCloseTo(0.2398, 4);
    expect(c['linear-sum'][0]).toBeCloseTo(0.2398, 4); // the same step at the training length
    expect(c.linear[1]).toBeCloseTo(0.1676, 4);
    expect(c['linear-sum'][1]).toBeCloseTo(1.724, 3);
    expect(c.tuned[1]).toBeLessThan(c.linear[1]!);
    expect(c['linear-sum'][2]).toBeGreaterThan(2 * c['linear-sum'][0]!);
  });
});

describe('reproduce --experiment length-generalization (short runs)', () => {
  it('trains its five named runs, claims its linear runs, and writes the report with the closed forms and three findings', async () => {
    const e = experimentNamed('length-generalization');
    expect(experimentRuns(e, 100).map((r) => r.name)).toEqual(['linear-h1', 'linear-h2', 'linear-sum-h1', 'linear-sum-h2', 'softmax-h2']);
    const out = join(dir, 'lg');
    const res = await reproduce({ out, experiment: e, steps: 300, evalSamples: 200, lengths: [20, 40, 100], jobs: 1, progress: 'none', onLine: null });
    if ('interrupted' in res) throw new Error('interrupted');
    for (const n of ['linear-h1', 'linear-sum-h2', 'softmax-h2']) expect(readRunJson(join(out, n)).step).toBe(300);
    expect(readRunJson(join(out, 'linear-sum-h2')).config).toMatchObject({ attention: 'linear-sum', heads: 2, preset: 'paper', batch_size: 256 });
    expect(readSafetensors(join(out, 'linear-h1', 'model.safetensors')).metadata.attention).toBe('linear');
    expect(readSafetensors(join(out, 'softmax-h2', 'model.safetensors')).metadata.attention).toBeUndefined();
    expect(experimentOfRuns([join(out, 'linear-h1'), join(out, 'softmax-h2')]).name).toBe('length-generalization');
    expect(res.report.findings.map((f) => f.id)).toEqual(['linear-is-gd', 'linear-sum-grows', 'what-generalises']);
    for (const f of res.report.findings) expect(f.checks.length).toBeGreaterThan(0);
    const ev = JSON.parse(readFileSync(res.report.files.evaluation, 'utf8'));
    expect(ev.lengths).toEqual([20, 40, 100]);
    expect(ev.methods['closed form: GD at eta*(40)'].mse[2]).toBeCloseTo(0.1676, 4);
    // each model is evaluated with its own attention: the linear-sum model at L = 100 is far from the others
    expect(ev.methods['linear-sum-h1'].mse[2]).toBeGreaterThan(ev.methods['linear-h1'].mse[2]);
    expect(ev.methods['linear-h1/kernel']).toBeUndefined(); // no softmax kernel estimator for a linear model
    expect(ev.methods['softmax-h2/kernel']).toBeDefined();
    expect(existsSync(join(res.reportDir, 'figures', 'length_generalization.png'))).toBe(true);
    expect(readFileSync(res.report.files.md, 'utf8')).toMatch(/## Error against context length/);
  }, 120_000);
});

describe('sweep --grid attention=...', () => {
  it('trains one run per attention and the results table has the attention column; linear runs have no softmax kernel estimator', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'bin', 'icl-lab');
    const out = join(dir, 'sw');
    const r = spawnSync(process.execPath, [bin, 'sweep', '--out', out, '--grid', 'attention=softmax,linear,linear-sum', '--steps', '60', '--jobs', '1', '--val-samples', '32'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const [head, ...lines] = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    const cols = head!.split(',');
    const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
    expect(rows.map((x) => x.attention)).toEqual(['softmax', 'linear', 'linear-sum']);
    expect(rows.map((x) => x.mse_kernel === '')).toEqual([false, true, true]);
    for (const x of rows) expect(Number(x.mse_model)).toBeGreaterThan(0);
  }, 120_000);
});
