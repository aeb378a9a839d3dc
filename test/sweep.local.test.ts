/**
 * `icl-lab sweep` on this machine, through the compiled CLI: a straight run against one
 * interrupted with SIGINT and continued (same models, same results table), a changed spec refused,
 * bad grid values refused before anything is created, and results.parquet read back by a second,
 * independent Parquet reader (parquet-wasm, Rust's arrow-rs) and checked against `icl-lab analyze`
 * and `icl-lab evaluate` on every run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../src/io/csv.js';
import { cli, requireDist, runJson, start, waitFor } from './cli.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-sweep-local-'));
beforeAll(requireDist);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SPEC = `# 4 tiny runs: L x H, one seed
base:
  d: 3
  batch_size: 16
  steps: 16000
  checkpoint_every: 1000
  checkpoint_secs: 0
  qk_every: 2000
grid:
  context_length: [8, 12]
  heads: [1, 2]
`;
const specPath = join(tmp, 'spec.yaml');
writeFileSync(specPath, SPEC);
const EVAL = ['--eval-samples', '1000', '--eval-seed', '3'];
/** Columns that measure time, not results. */
const TIMING = new Set(['wall_seconds', 'steps_per_second', 'sessions']);

/** results.csv's cells as text (io/csv.ts, the one CSV reader: quoted cells per RFC 4180). */
function csvRows(dir: string): Record<string, string>[] {
  const [cols, ...lines] = parseCsv(readFileSync(join(dir, 'results.csv'), 'utf8'));
  return lines.map((cells) => Object.fromEntries(cells.map((v, i) => [cols![i]!, v])));
}

describe('icl-lab sweep (local worker threads)', () => {
  const straight = join(tmp, 'straight');
  const stopped = join(tmp, 'stopped');

  it('a straight sweep trains every run into DIR/runs/<name> and writes sweep.json and the results table', () => {
    const r = cli(['sweep', specPath, '--out', straight, '--jobs', '2', '--progress', 'lines', ...EVAL]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(straight, 'runs')).sort()).toEqual(['L12-h1', 'L12-h2', 'L8-h1', 'L8-h2']);
    const s = JSON.parse(readFileSync(join(straight, 'sweep.json'), 'utf8'));
    expect(s.runs.map((x: { name: string }) => x.name)).toEqual(['L8-h1', 'L8-h2', 'L12-h1', 'L12-h2']);
    expect(s.specs[0].grid).toEqual({ context_length: [8, 12], heads: [1, 2] });
    expect(csvRows(straight).map((x) => x.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    // a second run of the same sweep trains nothing
    const csvBefore = readFileSync(join(straight, 'results.csv'), 'utf8');
    const again = cli(['sweep', specPath, '--out', straight, '--progress', 'lines', ...EVAL]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/4 of 4 runs already finished; 0 to train/);
    expect(again.stderr).toMatch(/\(4 rows, 65 columns; 4 rows unchanged since the last table\)/);
    expect(readFileSync(join(straight, 'results.csv'), 'utf8')).toBe(csvBefore);
    for (const n of readdirSync(join(straight, 'runs'))) expect(runJson(join(straight, 'runs', n)).timings.sessions).toBe(1);
  });

  it('interrupted with SIGINT and continued, it ends with the same models and the same results table as the straight sweep', async () => {
    const p = start(['sweep', specPath, '--out', stopped, '--jobs', '2', '--progress', 'lines', '--report', ...EVAL]);
    await waitFor('a checkpoint', () => readdirSync(join(stopped, 'runs')).some((n) => runJson(join(stopped, 'runs', n)).checkpoint_step >= 2000), 60_000, p.err);
    p.child.kill('SIGINT');
    const r = await p.done;
    expect(r.code, p.err()).toBe(130);
    expect(p.err()).toContain(`Continue with:\n  node bin/icl-lab sweep --out ${stopped} --report\n`); // the report asked for is kept
    expect(existsSync(join(stopped, 'results.csv'))).toBe(false);
    const states = readdirSync(join(stopped, 'runs')).map((n) => runJson(join(stopped, 'runs', n)));
    expect(states.some((j) => j.status === 'interrupted' && j.step > 0 && j.step < 16000)).toBe(true);
    for (const j of states) expect(j.step).toBe(j.checkpoint_step); // stopped at a checkpoint

    // the printed command continues it (the spec comes from DIR/sweep.json)
    const c = cli(['sweep', '--out', stopped, '--jobs', '2', '--progress', 'lines', '--report', ...EVAL]);
    expect(c.code, c.stderr).toBe(0);
    expect(existsSync(join(stopped, 'report', 'report.md'))).toBe(true);
    expect(c.stderr).toMatch(/sweep: report: .*report\.md \(\d+ of \d+ applicable findings pass( \(\d+ not applicable to these runs: [a-z-, ]+\))?\)\n/); // n/a ones not counted as failing
    for (const n of readdirSync(join(straight, 'runs'))) {
      for (const f of ['model.safetensors', 'metrics.safetensors', 'snapshots.safetensors']) {
        expect(readFileSync(join(stopped, 'runs', n, f)).equals(readFileSync(join(straight, 'runs', n, f))), `${n}/${f}`).toBe(true);
      }
    }
    const a = csvRows(straight);
    const b = csvRows(stopped);
    expect(b.length).toBe(a.length);
    a.forEach((row, i) => {
      for (const [k, v] of Object.entries(row)) if (!TIMING.has(k)) expect(b[i]![k], `${row.name}.${k}`).toBe(v);
    });
  });

  it('a changed spec over the same DIR is refused (nothing written)', () => {
    const before = readFileSync(join(straight, 'sweep.json'), 'utf8');
    const changed = join(tmp, 'changed.yaml');
    writeFileSync(changed, SPEC.replace('steps: 16000', 'steps: 17000'));
    const r = cli(['sweep', changed, '--out', straight]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^icl-lab: .* holds a sweep whose run L8-h1 has other settings than this spec/);
    const more = join(tmp, 'more.yaml');
    writeFileSync(more, SPEC.replace('[8, 12]', '[8, 12, 6]'));
    const m = cli(['sweep', more, '--out', straight]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/holds a different sweep \(this spec has 2 new run\(s\) \(L6-h1, L6-h2\)\); pass --extend/);
    expect(readFileSync(join(straight, 'sweep.json'), 'utf8')).toBe(before);
    expect(existsSync(join(straight, 'runs', 'L6-h1'))).toBe(false);
    const dry = cli(['sweep', more, '--out', straight, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^6 runs, all valid \(nothing created\)/);
  });

  it('a bad value anywhere in the grid names the field, the value and its position; exit 2; nothing is created', () => {
    const dir = join(tmp, 'bad');
    const r = cli(['sweep', '--grid', 'heads=1,2', '--grid', 'context-length=10,0,20', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('icl-lab: the --grid/--zip/--seeds flags: grid.context_length[1] = "0": must be an integer >= 1 and <= 100000, got "0"');
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'base: {heads: 3}\ngrid:\n  init: [random, oppo_small_id]\n');
    const f = cli(['sweep', bad, '--out', dir]);
    expect(f.code).toBe(2);
    expect(f.stderr.trim()).toMatch(/--heads must be even, got 3 \(run 2 of 2: grid\.init\[1\] init="oppo_small_id"\)$/);
    writeFileSync(bad, 'grid:\n  hedas: [1, 2]\n');
    const u = cli(['sweep', bad, '--out', dir]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/unknown key "hedas"; did you mean "heads"\? Allowed: attention, task, layers, heads,/);
    expect(existsSync(dir)).toBe(false);
  });

  it('results.parquet read back by parquet-wasm equals results.csv on every column and row, and the numbers are those of analyze and evaluate', () => {
    const table = tableFromIPC(readParquet(new Uint8Array(readFileSync(join(straight, 'results.parquet')))).intoIPCStream());
    const csv = csvRows(straight);
    const cols = Object.keys(csv[0]!);
    expect(table.schema.fields.map((f) => f.name)).toEqual(cols);
    expect(table.numRows).toBe(4);
    const rows = table.toArray().map((r) => r.toJSON() as Record<string, unknown>);
    rows.forEach((row, i) => {
      for (const c of cols) {
        const v = row[c];
        const want = csv[i]![c]!;
        if (v === null) expect(want, `${c}`).toBe('');
        else if (typeof v === 'bigint') expect(String(v), c).toBe(want);
        else if (typeof v === 'number') expect(v, c).toBe(Number(want)); // the CSV prints every float exactly (shortest round-trip)
        else expect(String(v), c).toBe(want);
      }
    });
    expect(table.schema.fields.find((f) => f.name === 'seed')!.type.toString()).toBe('Int64');
    expect(table.schema.fields.find((f) => f.name === 'eta_tf')!.type.toString()).toBe('Float64');
    for (const row of rows) {
      const run = join(straight, 'runs', String(row.name));
      const a = JSON.parse(cli(['analyze', run, '--json', '--samples', '1000', '--seed', '3']).stdout);
      expect(row.eta_tf).toBe(a.effective_learning_rate);
      expect(row.kernel_gap).toBe(a.kernel_gap);
      expect(row.tuned_eta).toBe(a.reference.tuned_eta);
      expect(row.l_over_l_plus_d).toBe(a.reference.l_over_l_plus_d);
      a.layers[0].heads.forEach((h: { head: number; w: number; mu: number }) => {
        expect(row[`w_h${h.head}`]).toBe(h.w);
        expect(row[`mu_h${h.head}`]).toBe(h.mu);
      });
      if (a.H === 1) expect(row.w_h2).toBeNull(); // heads numbered from 1, as analyze shows them
      const L = Number(row.context_length);
      const e = JSON.parse(cli(['evaluate', run, '--lengths', String(L), '--json', '--samples', '1000', '--seed', '3']).stdout);
      const m = (k: string) => e.methods[k];
      expect(row.mse_model).toBe(m(row.name as string).mse[0]);
      expect(row.mse_model_se).toBe(m(row.name as string).stderr[0]);
      expect(row.mse_kernel).toBe(m(`${row.name}/kernel`).mse[0]);
      expect(row.mse_one_step_gd).toBe(m('one-step-gd').mse[0]);
      expect(row.mse_tuned_gd).toBe(m('tuned-gd').mse[0]);
      expect(row.mse_tuned_gd_se).toBe(m('tuned-gd').stderr[0]);
      expect(row.mse_ridge).toBe(m('ridge').mse[0]);
      // training numbers from the run's own files
      const j = runJson(run);
      expect(row.final_train_loss).toBe(j.final.train_loss);
      expect(row.val_loss).toBe(j.final.val_loss);
      expect(Number(row.step)).toBe(16000);
      expect(Number(row.plateau_train_loss)).toBeGreaterThan(0);
    }
  });

  it('--extend adds the new runs of a larger spec, keeping the finished ones', () => {
    const more = join(tmp, 'more.yaml');
    const r = cli(['sweep', more, '--out', straight, '--extend', '--report', '--progress', 'lines', ...EVAL]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2 run\(s\) added/);
    expect(r.stderr).toMatch(/4 of 6 runs already finished; 2 to train/);
    expect(csvRows(straight).map((x) => x.name)).toEqual(['L8-h1', 'L8-h2', 'L12-h1', 'L12-h2', 'L6-h1', 'L6-h2']);
    for (const n of ['L8-h1', 'L12-h2']) expect(runJson(join(straight, 'runs', n)).timings.sessions).toBe(1);
    const s = JSON.parse(readFileSync(join(straight, 'sweep.json'), 'utf8'));
    expect(s.specs).toHaveLength(2);
    // --report: the sweep's figures and findings, every finding evaluated on the runs it concerns
    for (const f of ['eta-vs-l.png', 'error-vs-theory.png', 'heads.png']) expect(existsSync(join(straight, 'report', 'figures', f)), f).toBe(true);
    const fj = JSON.parse(readFileSync(join(straight, 'report', 'findings.json'), 'utf8'));
    const eta = fj.findings.find((f: { id: string }) => f.id === 'eta-tracks-l-over-l-plus-d');
    expect(eta.result).toBe('n/a'); // no run with L >= 20 here
    const single = fj.findings.find((f: { id: string }) => f.id === 'single-head-worse');
    expect(single.checks.map((c: { run: string }) => c.run.split(':')[0])).toEqual(['L=8 d=3', 'L=12 d=3', 'L=6 d=3']);
    const rows = csvRows(straight);
    const mse = (n: string) => Number(rows.find((x) => x.name === n)!.mse_model);
    expect(single.checks[0].value).toBeCloseTo((mse('L8-h1') - mse('L8-h2')) / mse('L8-h2'), 12);
  });

  it('--threads 1 is taken (every run completes); a bad --threads is one line, exit 2, nothing created', () => {
    const out = join(tmp, 'one-thread');
    const r = cli(['sweep', '--grid', 'heads=1,2', '--steps', '300', '--d', '3', '--context-length', '8', '--batch-size', '16', '--jobs', '1', '--threads', '1', '--out', out, '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    for (const n of ['h1', 'h2']) expect(runJson(join(out, 'runs', n)).status).toBe('completed');
    const bad = cli(['sweep', '--grid', 'heads=1', '--steps', '10', '--threads', '3', '--out', join(tmp, 'bad-threads')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('icl-lab: --threads must be 1 or 2, got "3"');
    expect(existsSync(join(tmp, 'bad-threads'))).toBe(false);
  });

  it('sweep status: one step per run; runs a live sweep has not reached are queued, never-started runs of a dead one not started, its killed run stalled with the continue command; --json says the same', async () => {
    const dir = join(tmp, 'status');
    const args = ['sweep', '--grid', 'heads=1,2', '--grid', 'context-length=8,10', '--d', '3', '--batch-size', '16', '--steps', '4000000', '--checkpoint-every', '1000', '--checkpoint-secs', '0', '--jobs', '1', '--out', dir, '--progress', 'none'];
    const s = start(args);
    const runningRun = () => ['h1-L8', 'h1-L10', 'h2-L8', 'h2-L10'].find((n) => runJson(join(dir, 'runs', n)).status === 'running' && runJson(join(dir, 'runs', n)).checkpoint_step >= 1000);
    await waitFor('a run past its first checkpoint', () => runningRun() !== undefined, 60_000, s.err);
    const first = runningRun()!;
    const row = (out: string, n: string) => new RegExp(`^  ${n} +(\\S+(?: started)?) +(\\d+)/4000000 `, 'm').exec(out);
    const live = cli(['sweep', 'status', dir]);
    expect(live.code, live.stderr).toBe(0);
    expect(live.stdout).toMatch(/4 runs: 0 completed, 1 running, 3 queued, 0 failed;/);
    expect(row(live.stdout, first)![1]).toBe('running');
    expect(Number(row(live.stdout, first)![2])).toBeGreaterThanOrEqual(1000);
    for (const n of ['h1-L8', 'h1-L10', 'h2-L8', 'h2-L10'].filter((x) => x !== first)) expect(row(live.stdout, n)!.slice(1)).toEqual(['queued', '0']);
    // the live sweep carries the runs on: status names its process instead of a command to continue (which its lease would refuse)
    expect(live.stdout).toContain(`process ${s.child.pid} is running this sweep (lock ${join(dir, '.icl-lab.lock')}); it carries the unfinished runs on`);
    expect(live.stdout).not.toContain('continue:');
    const liveJson = JSON.parse(cli(['sweep', 'status', dir, '--json']).stdout);
    expect(liveJson.sweep_process).toMatchObject({ pid: s.child.pid });
    // the running run shows a loss (its heartbeat's while it trains), the others none yet
    const liveRow = liveJson.runs.find((r: { name: string }) => r.name === first);
    if (liveRow.status === 'running') expect(Number.isFinite(liveRow.loss)).toBe(true);
    for (const r of liveJson.runs.filter((x: { name: string }) => x.name !== first)) expect(r.loss).toBeNull();
    s.child.kill('SIGKILL');
    await s.done;
    const at = runJson(join(dir, 'runs', first)).checkpoint_step;
    const dead = cli(['sweep', 'status', dir]);
    expect(dead.code, dead.stderr).toBe(0);
    expect(dead.stdout).toMatch(/4 runs: 0 completed, 0 running, 1 stalled, 3 not started, 0 failed;/);
    expect(row(dead.stdout, first)!.slice(1)).toEqual(['stalled', String(at)]);
    expect(dead.stdout).toContain(`${first} stalled: run.json says running but no live process holds the run (the sweep or worker that trained it is gone); it resumes from step ${at} with: node bin/icl-lab sweep --out ${dir}`);
    for (const n of ['h1-L8', 'h1-L10', 'h2-L8', 'h2-L10'].filter((x) => x !== first)) expect(row(dead.stdout, n)!.slice(1)).toEqual(['not started', '0']);
    const j = JSON.parse(cli(['sweep', 'status', dir, '--json']).stdout);
    expect(j.counts).toEqual({ completed: 0, running: 0, stalled: 1, interrupted: 0, queued: 0, 'not started': 3, creating: 0, missing: 0, failed: 0 });
    expect(j.runs.map((r: { status: string }) => r.status).sort()).toEqual(['not started', 'not started', 'not started', 'stalled']);
    expect(j.runs.find((r: { name: string }) => r.name === first)).toMatchObject({ status: 'stalled', step: at, steps: 4000000, job: null });
    expect(j.step).toBe(at);
    expect(j.sweep_process).toBeNull();
    expect(dead.stdout).toContain(`continue: node bin/icl-lab sweep --out ${dir}`);
  });

  it('--dry-run: each run\'s steps, the total over the runs, and a time estimate from the bench saying its conditions; nothing created', async () => {
    const out = join(tmp, 'dry');
    const args = ['sweep', '--grid', 'steps=100,300', '--seeds', '2', '--d', '3', '--context-length', '10', '--batch-size', '16', '--out', out, '--dry-run'];
    const r = cli(args);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('4 runs, all valid (nothing created):');
    expect(lines.slice(1, 5).map((l) => l.trim().split(/ +/).slice(2).join(' '))).toEqual(['100 steps', '100 steps', '300 steps', '300 steps']);
    expect(lines[5]).toBe('total: 800 steps over 4 run(s)');
    expect(lines[6]).toMatch(/^estimate: \d+\.\ds of training here with [1-4] run\(s\) at a time, one thread each \(\d+\.\ds of one core in all\); this machine: \d+ core\(s\); 1 model shape\(s\) timed by the bench for 0\.5 s each:$/);
    const shape = /^ {2}H=2 L=10 d=3 B=16 (wasm|ts): ([\d,]+) steps\/s, 4 run\(s\), 800 steps$/.exec(lines[7]!);
    expect(shape, lines[7]).not.toBeNull();
    expect(Number(shape![2]!.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(lines[8]).toMatch(/^\(an estimate: the training step alone, on this machine under its present load/);
    expect(existsSync(out)).toBe(false);
    const quick = cli([...args, '--no-estimate']);
    expect(quick.stdout.trim().split('\n').at(-1)).toBe('total: 800 steps over 4 run(s)');
    // the arithmetic: one core's time is the sum of steps / steps per second; the wall time the runs longest first on the slots
    const { estimateSweep } = await import('../src/sweep/estimate.js');
    const { makeTrainConfig } = await import('../src/run/config.js');
    const c = (heads: number, steps: number) => ({ config: makeTrainConfig({ d: 3, contextLength: 10, batchSize: 16, heads, steps, engine: 'ts' }) });
    const e = estimateSweep([c(1, 100), c(1, 300), c(2, 200)], { parallel: 2, secondsPerShape: 0.05, warmupSeconds: 0.01, maxShapes: 1 });
    expect(e.totalSteps).toBe(600);
    expect(e.shapes.map((x) => [x.label, x.runs, x.steps, x.timed])).toEqual([['H=1 L=10 d=3 B=16 ts', 2, 400, true], ['H=2 L=10 d=3 B=16 ts', 1, 200, false]]);
    const [h1, h2] = e.shapes.map((x) => x.stepsPerSecond) as [number, number];
    expect(h2).toBeCloseTo((h1 * (4 + 1)) / (4 + 2), 6); // scaled by the step cost model B L E (4 + layers x heads)
    expect(e.cpuSeconds).toBeCloseTo(400 / h1 + 200 / h2, 9);
    expect(e.wallSeconds).toBeCloseTo(Math.max(300 / h1, 100 / h1 + 200 / h2, 200 / h2), 9);
  });
});
