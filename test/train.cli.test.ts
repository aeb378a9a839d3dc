/**
 * `icl-lab train` end to end through the compiled CLI (bin/icl-lab -> dist/; run `npx tsc -p
 * tsconfig.json` first): resume identity, SIGKILL at a random moment, SIGINT, divergence, bad input,
 * several runs in worker threads, --json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/io/model-file.js';
import { f64, readSafetensors } from '../src/io/safetensors.js';
import { readCheckpoint } from '../src/run/checkpoint.js';
import { bin, root, tempDir, start as startCli } from './cli.helpers.js';

const tmp = tempDir('train-cli');
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'run', 'runs.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` first');
});

/** Small and fast: d=3, L=10, B=16, everything logged every 10-20 steps. */
const SMALL = ['--d', '3', '--context-length', '10', '--batch-size', '16', '--dynamics-every', '10', '--qk-every', '20', '--val-every', '10', '--print-every', '100', '--progress', 'lines'];

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, 'train', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const read = (dir: string, f: string) => readFileSync(join(dir, f));
const runJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
const FILES = ['model.safetensors', 'metrics.safetensors', 'snapshots.safetensors', 'checkpoint.safetensors'];

/** Wait until run.json in `dir` reports step >= `step` (written by periodic checkpoints). */
async function waitForStep(dir: string, step: number, timeoutMs = 30_000, stderr: () => string = () => ''): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      if (runJson(dir).step >= step) return;
    } catch { /* not there yet, or mid-rename */ }
    if (Date.now() - t0 > timeoutMs) throw new Error(`run in ${dir} did not reach step ${step}; stderr: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const start = (args: string[]) => startCli(['train', ...args]);

describe('icl-lab train: resume is byte-identical', () => {
  it('300 steps straight == 150 steps + `--resume DIR --steps 300` (model, metrics, snapshots, checkpoint bytes)', () => {
    const a = join(tmp, 'straight');
    const b = join(tmp, 'split');
    const ra = cli(['--out', a, '--steps', '300', ...SMALL]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(ra.stdout).toMatch(/^After 0 steps, Training Loss: \d+\.\d{4}, Validation Loss: \d+\.\d{4}\nAfter 100 steps, .*\nAfter 200 steps, /);
    const rb = cli(['--out', b, '--steps', '150', ...SMALL]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(runJson(b)).toMatchObject({ status: 'completed', step: 150 });
    const rc = cli(['--resume', b, '--steps', '300', '--progress', 'none']);
    expect(rc.code, rc.stderr).toBe(0);
    expect(rc.stdout).toMatch(/^After 200 steps, /);
    for (const f of FILES) expect(read(b, f).equals(read(a, f)), f).toBe(true);
    const ja = runJson(a);
    const jb = runJson(b);
    expect(jb).toMatchObject({ status: 'completed', step: 300, steps: 300, checkpoint_step: 300, seed: 1024 });
    expect(jb.timings.sessions).toBe(2);
    expect(jb.config).toEqual(ja.config);
    expect(jb.final).toEqual(ja.final);
    const m = readSafetensors(join(a, 'metrics.safetensors')).tensors;
    expect(m.train_loss!.shape).toEqual([300]);
    // every 10 (snapshots every 20) steps, plus the last step 299 (issue 12, item 3)
    expect(m.val_loss!.shape).toEqual([31]);
    expect(m.qk_dynamics!.shape).toEqual([31, 1, 2]);
    expect(Array.from(f64(m.dyn_step!)).slice(0, 3)).toEqual([0, 10, 20]);
    expect(Array.from(f64(m.dyn_step!)).slice(-2)).toEqual([290, 299]);
    expect(readSafetensors(join(a, 'snapshots.safetensors')).tensors.qk!.shape).toEqual([16, 1, 2, 4, 4]);
    expect(jb.final_validation).toEqual(ja.final_validation);
    expect(ja.final_validation).toMatchObject({ step: 300, samples: 20000 });
    // the float32 model is the float64 checkpoint rounded
    const ck = readCheckpoint(join(a, 'checkpoint.safetensors'));
    expect(Array.from(loadModel(join(a, 'model.safetensors')).theta)).toEqual(Array.from(Float32Array.from(ck.theta)));
    // a completed run asked for nothing more is refused; one asked for fewer steps too
    const before = read(a, 'run.json');
    const again = cli(['--resume', a]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/completed at step 300: already completed; nothing to do/);
    expect(read(a, 'run.json').equals(before)).toBe(true);
    const low = cli(['--resume', a, '--steps', '100']);
    expect(low.code).toBe(2);
    expect(low.stderr).toMatch(/--steps 100 is below the 300 steps/);
  });
});

describe('icl-lab train: crash safety', () => {
  it('SIGKILL at random moments (three crashes, two of them of resumed sessions) leaves a directory that loads, and resuming it gives the straight run', async () => {
    const dir = join(tmp, 'killed');
    const steps = 100_000;
    let reached = 0;
    for (let crash = 0; crash < 3; crash++) {
      const args = crash === 0 ? ['--out', dir, '--steps', String(steps), '--checkpoint-every', '37', ...SMALL] : ['--resume', dir, '--progress', 'none'];
      const p = start(args);
      reached += 150;
      await waitForStep(dir, reached, 30_000, p.err);
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      p.child.kill('SIGKILL');
      const { signal, code } = await p.done;
      expect(signal, `crash ${crash}: exit ${code}, stderr: ${p.err()}`).toBe('SIGKILL');
      reached = readCheckpoint(join(dir, 'checkpoint.safetensors')).step;
    }
    // everything parses and decodes
    const r = runJson(dir);
    expect(r.status).toBe('running');
    for (const f of FILES) expect(() => readSafetensors(join(dir, f)), f).not.toThrow();
    const ck = readCheckpoint(join(dir, 'checkpoint.safetensors'));
    expect(ck.step % 37, `checkpoint step ${ck.step}`).toBe(0);
    expect(ck.step).toBeGreaterThanOrEqual(333);
    const metricsSteps = readSafetensors(join(dir, 'metrics.safetensors')).tensors.train_loss!.shape[0]!;
    expect(metricsSteps).toBeGreaterThanOrEqual(ck.step);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length).toBeLessThanOrEqual(1); // at most the one torn temp file
    const tmpBefore = readdirSync(dir).filter((f) => f.endsWith('.tmp'));
    // resume to a few steps past the checkpoint == a straight run of that length
    const target = ck.step + 23;
    const rr = cli(['--resume', dir, '--steps', String(target), '--progress', 'none']);
    expect(rr.code, rr.stderr).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp')), `left by the kill: ${tmpBefore.join(', ')}`).toEqual([]);
    const ref = join(tmp, 'killed-ref');
    expect(cli(['--out', ref, '--steps', String(target), '--checkpoint-every', '37', ...SMALL]).code).toBe(0);
    for (const f of ['model.safetensors', 'metrics.safetensors', 'snapshots.safetensors']) expect(read(dir, f).equals(read(ref, f)), f).toBe(true);
  });

  it('SIGINT finishes the step, checkpoints, status interrupted, prints the resume command, exit 130; resuming completes identically', async () => {
    const dir = join(tmp, 'interrupted');
    const steps = 100_000;
    const p = start(['--out', dir, '--steps', String(steps), '--checkpoint-secs', '0.05', ...SMALL]);
    await waitForStep(dir, 200);
    const busy = cli(['--resume', dir, '--progress', 'none']); // a second writer is refused while the first lives
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/process \d+ is training this run right now/);
    p.child.kill('SIGINT');
    const { code } = await p.done;
    expect(code).toBe(130);
    expect(p.err()).toContain(`node bin/icl-lab train --resume ${dir}`);
    const r = runJson(dir);
    expect(r.status).toBe('interrupted');
    expect(r.resume_command).toBe(`node bin/icl-lab train --resume ${dir}`);
    expect(r.checkpoint_step).toBe(r.step);
    const ck = readCheckpoint(join(dir, 'checkpoint.safetensors'));
    expect(ck.step).toBe(r.step);
    expect(readSafetensors(join(dir, 'metrics.safetensors')).tensors.train_loss!.shape).toEqual([r.step]);
    const target = r.step + 50;
    // settings that do not change the trajectory may change on resume (saved in run.json); others may not
    const fixed = cli(['--resume', dir, '--lr', '0.1']);
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toMatch(/--lr cannot be changed when resuming .*only --steps, --loss-every, --diverge-loss, --print-every, --checkpoint-every, --checkpoint-secs/);
    const rr = cli(['--resume', dir, '--steps', String(target), '--print-every', '10', '--progress', 'none']);
    expect(rr.code, rr.stderr).toBe(0);
    const printed = rr.stdout.split('\n').filter((l) => l.startsWith('After '));
    expect(printed.length).toBe(Math.floor((target - 1) / 10) - Math.floor((r.step - 1) / 10));
    expect(runJson(dir).config.print_every).toBe(10);
    const ref = join(tmp, 'interrupted-ref');
    expect(cli(['--out', ref, '--steps', String(target), ...SMALL]).code).toBe(0);
    for (const f of ['model.safetensors', 'metrics.safetensors']) expect(read(dir, f).equals(read(ref, f)), f).toBe(true);
  });
});

describe('icl-lab train: output', () => {
  it('a closed stdout (`| head -1`) does not kill the run', async () => {
    const dir = join(tmp, 'epipe');
    const p = start(['--out', dir, '--steps', '200', ...SMALL, '--print-every', '10']);
    await new Promise<void>((resolve) => p.child.stdout.once('data', () => resolve()));
    p.child.stdout.destroy();
    const { code } = await p.done;
    expect(p.err()).not.toMatch(/EPIPE|\n\s+at /);
    expect(code).toBe(0);
    expect(runJson(dir)).toMatchObject({ status: 'completed', step: 200 });
  });
});

describe('icl-lab train: divergence', () => {
  it('--lr 1e3 stops as failed with the step and the reason, keeping the last good checkpoint', () => {
    const dir = join(tmp, 'diverged');
    const r = cli(['--out', dir, '--lr', '1e3', '--steps', '1000', ...SMALL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed at step \d+: training loss is .* \(diverged; try a smaller --lr\)/);
    const j = runJson(dir);
    expect(j.status).toBe('failed');
    expect(j.failure.step).toBeGreaterThan(0);
    expect(j.failure.reason).toMatch(/diverge/);
    const ck = readCheckpoint(join(dir, 'checkpoint.safetensors'));
    expect(ck.step).toBe(j.checkpoint_step);
    expect(ck.step).toBeLessThanOrEqual(j.failure.step);
    expect(ck.theta.every(Number.isFinite)).toBe(true);
    // the bad loss is logged
    const tl = f64(readSafetensors(join(dir, 'metrics.safetensors')).tensors.train_loss!);
    expect(tl.length).toBe(j.failure.step + 1);
    expect(j.failure.kind).toBe('diverged');
    const again = cli(['--resume', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/the run failed at step/);
    // a run that failed on an error (disk full, ...) rather than divergence resumes from its checkpoint
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...j, failure: { ...j.failure, kind: 'error', reason: 'error: ENOSPC' } }));
    const resumed = cli(['--resume', dir, '--steps', '3', '--diverge-loss', '0', '--progress', 'none']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(runJson(dir)).toMatchObject({ status: 'completed', step: 3 });
    expect(runJson(dir).failure).toBeUndefined();
    // --diverge-loss 0: only a non-finite loss stops the run
    const sgd = cli(['--out', join(tmp, 'nan'), '--optimizer', 'sgd', '--lr', '1e3', '--diverge-loss', '0', '--steps', '1000', ...SMALL]);
    expect(sgd.code).toBe(1);
    expect(runJson(join(tmp, 'nan')).failure.reason).toMatch(/training loss is (NaN|Infinity) at step/);
  });
});

describe('icl-lab train: bad input', () => {
  // (every rule is unit-tested in train.config.test.ts; here: that the CLI turns them into exit 2, no trace, no directory)
  const bad: [string[], RegExp][] = [
    [['--steps', '0'], /--steps must be an integer >= 1/],
    [['--init', 'oppo_small_id', '--heads', '3'], /--heads must be even, got 3/],
    [['--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, re] of bad) {
    it(`${args.join(' ')} -> exit 2, message, no stack trace, no directory`, () => {
      const dir = join(tmp, 'bad', args.join('_').replace(/[^\w]/g, ''));
      const r = cli(['--out', dir, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(dir)).toBe(false);
    });
  }
  it('refuses a non-empty directory unless --force; a bad --config key is an error', () => {
    const dir = join(tmp, 'occupied');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const r = cli(['--out', dir, '--steps', '20', ...SMALL]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not empty .*--force/);
    expect(existsSync(join(dir, 'run.json'))).toBe(false);
    const cfg = join(tmp, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ heads: 1, steps: 20, learning_rate: 0.1 }));
    const rc = cli(['--out', join(tmp, 'cfgrun'), '--config', cfg]);
    expect(rc.code).toBe(2);
    expect(rc.stderr).toMatch(/unknown key "learning_rate"/);
    writeFileSync(cfg, JSON.stringify({ heads: 1, steps: 20, lr: 0.1, d: 3, context_length: 10, batch_size: 16 }));
    const rf = cli(['--out', dir, '--force', '--config', cfg, '--steps', '30', '--json']);
    expect(rf.code, rf.stderr).toBe(0);
    const j = runJson(dir);
    expect(j.config).toMatchObject({ heads: 1, lr: 0.1, steps: 30, d: 3 });
    const summary = JSON.parse(rf.stdout);
    expect(rf.stdout.trim().split('\n')).toHaveLength(1);
    expect(summary.runs[0]).toMatchObject({ status: 'completed', step: 30, dir });
    expect(rf.stderr).toBe('');
  });
});

describe('icl-lab train: several runs in worker threads', () => {
  it('--heads 1,2 --jobs 2 trains h1 and h2 in parallel, each equal to the same run trained alone', () => {
    const out = join(tmp, 'multi');
    const r = cli(['--out', out, '--heads', '1,2', '--jobs', '2', '--steps', '120', '--json', ...SMALL]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['h1', 'h2']);
    const s = JSON.parse(r.stdout);
    expect(s.runs.map((x: { name: string; status: string }) => [x.name, x.status])).toEqual([['h1', 'completed'], ['h2', 'completed']]);
    const alone = join(tmp, 'alone-h2');
    expect(cli(['--out', alone, '--heads', '2', '--steps', '120', ...SMALL]).code).toBe(0);
    for (const f of FILES) expect(read(join(out, 'h2'), f).equals(read(alone, f)), f).toBe(true);
    expect(runJson(join(out, 'h1')).config.heads).toBe(1);
  });

  it('SIGTERM stops every worker with a checkpoint; `--resume OUT` continues them all to the same bytes as straight runs', async () => {
    const out = join(tmp, 'multi-int');
    const p = start(['--out', out, '--heads', '1,2', '--seed', '3', '--jobs', '2', '--steps', '100000', '--checkpoint-secs', '0.05', ...SMALL]);
    await waitForStep(join(out, 'h1'), 100);
    await waitForStep(join(out, 'h2'), 100);
    p.child.kill('SIGTERM');
    expect((await p.done).code).toBe(130);
    expect(p.err()).toContain(`node bin/icl-lab train --resume ${out}`);
    const steps = ['h1', 'h2'].map((h) => runJson(join(out, h)));
    expect(steps.map((j) => j.status)).toEqual(['interrupted', 'interrupted']);
    const target = Math.max(...steps.map((j) => j.step)) + 30;
    const r = cli(['--resume', out, '--steps', String(target), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).runs.map((x: { status: string; step: number }) => [x.status, x.step])).toEqual([['completed', target], ['completed', target]]);
    const ref = join(tmp, 'multi-int-ref');
    expect(cli(['--out', ref, '--heads', '1', '--seed', '3', '--steps', String(target), ...SMALL]).code).toBe(0);
    for (const f of ['model.safetensors', 'metrics.safetensors']) expect(read(join(out, 'h1'), f).equals(read(ref, f)), f).toBe(true);
    // nothing left to do: reported, files untouched
    const again = cli(['--resume', out, '--steps', String(target)]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/\[h2\] .*already completed; nothing to do/);
  });

  it('a SIGINT delivered twice at once (terminal / timeout signal the whole group) still checkpoints cleanly', async () => {
    const dir = join(tmp, 'twice');
    const p = start(['--out', dir, '--steps', '5000000', '--checkpoint-secs', '0.05', ...SMALL]);
    await waitForStep(dir, 200);
    p.child.kill('SIGINT');
    p.child.kill('SIGINT');
    const { code } = await p.done;
    expect(code).toBe(130);
    expect(p.err()).toContain(`node bin/icl-lab train --resume ${dir}`);
    const r = runJson(dir);
    expect(r.status).toBe('interrupted');
    expect(r.checkpoint_step).toBe(r.step);
  });
});

describe('a list given to a one-value flag', () => {
  it('prints the sweep command that grids it, as icl-lab runs here, and creates nothing', () => {
    const out = join(tmp, 'lr-list');
    const r = cli(['--lr', '0.001,0.003', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`icl-lab: --lr must be a number > 0 and <= 1e12, got "0.001,0.003"; only --heads, --d, --context-length, --task-pool, --sparsity, --seed take lists (one run each); for a grid over --lr: node bin/icl-lab sweep --grid lr=0.001,0.003 --out DIR\n`);
    expect(existsSync(out)).toBe(false);
  });
});
