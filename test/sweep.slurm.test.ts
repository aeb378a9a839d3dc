/**
 * `icl-lab sweep --slurm` on a real single-node Slurm cluster (test/slurm.helpers.ts: munged,
 * slurmctld, slurmd on loopback, started here and stopped after): a 4-run sweep submitted twice and
 * followed with --wait trains each run once, byte-identical to the same sweep run locally; an array
 * task SIGKILLed mid-run and requeued with `scontrol requeue` resumes from its checkpoint, and one
 * sent SIGTERM (`scancel --signal=TERM`, what --signal sends before the time limit) checkpoints and
 * requeues itself: both end byte-identical to a local run; sbatch missing or refusing is one line.
 * Runs the compiled CLI (npx tsc -p tsconfig.json first).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arraySpec, signalSeconds, slurmSeconds } from '../src/sweep/slurm.js';
import { startSlurm, type SlurmCluster } from './slurm.helpers.js';
import { cli, requireDist, runJson, start, waitFor } from './cli.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-sweep-slurm-'));
let slurm: SlurmCluster;

beforeAll(async () => {
  requireDist();
  slurm = await startSlurm();
}, 90_000);
afterAll(async () => {
  await slurm?.stop();
  rmSync(tmp, { recursive: true, force: true });
}, 60_000);

const FILES = ['model.safetensors', 'metrics.safetensors', 'checkpoint.safetensors'];
const same = (a: string, b: string) => FILES.every((f) => readFileSync(join(a, f)).equals(readFileSync(join(b, f))));
/** Four tiny runs. */
const TINY = ['--grid', 'heads=1,2', '--grid', 'context-length=8,10', '--d', '3', '--batch-size', '16', '--steps', '400', '--checkpoint-every', '100', '--checkpoint-secs', '0', '--qk-every', '100', '--threads', '1'];
/** One run long enough to be caught mid-run (checkpoints every 2,000 steps). */
const LONG = ['--d', '3', '--batch-size', '16', '--context-length', '10', '--heads', '1', '--steps', '300000', '--checkpoint-every', '2000', '--checkpoint-secs', '0', '--qk-every', '4000', '--threads', '1'];

describe('sweep on a real Slurm cluster', () => {
  it('a 4-run sweep submitted twice and followed with --wait trains each run once, byte-identical to the local sweep', async () => {
    const dir = join(tmp, 's4');
    // a throttle of 1: most tasks still pending when the same sweep is submitted again
    const first = cli(['sweep', ...TINY, '--out', dir, '--slurm', '--max-parallel', '1', '--eval-samples', '500'], { env: slurm.env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/job array \d+ \(4 task\(s\)/);
    const [arrayJob] = first.stdout.trim().split(' ');
    const script = readFileSync(join(dir, 'slurm', 'array.sh'), 'utf8');
    expect(script).toContain('#SBATCH --array=0-3%1');
    expect(script).toContain('#SBATCH --cpus-per-task=1');
    expect(script).toContain('#SBATCH --requeue');
    expect(script).toMatch(/#SBATCH --signal=B:TERM@120/);
    const again = start(['sweep', ...TINY, '--out', dir, '--slurm', '--wait', '--progress', 'lines', '--eval-samples', '500'], { env: slurm.env });
    const r = await again.done;
    expect(r.code, again.err()).toBe(0);
    expect(again.err()).toMatch(/no job array \(nothing left to train\), results job \d+ after it; 4 run\(s\) already queued/);
    expect(again.err()).toMatch(/4 run\(s\) completed, 0 failed, 0 unfinished/);
    expect(existsSync(join(dir, 'results.parquet'))).toBe(true);
    expect(readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(5);

    const local = join(tmp, 's4-local');
    const l = cli(['sweep', ...TINY, '--out', local, '--jobs', '2', '--progress', 'none', '--eval-samples', '500']);
    expect(l.code, l.stderr).toBe(0);
    for (const n of ['h1-L8', 'h1-L10', 'h2-L8', 'h2-L10']) {
      const j = runJson(join(dir, 'runs', n));
      expect(j.status, n).toBe('completed');
      expect(j.timings.sessions, n).toBe(1); // submitted twice, trained once
      expect(same(join(dir, 'runs', n), join(local, 'runs', n)), n).toBe(true);
    }
    for (const i of [0, 1, 2, 3]) expect(slurm.state(`${arrayJob}_${i}`)).toBe('COMPLETED');

    const st = cli(['sweep', 'status', dir], { env: slurm.env });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/4 runs: 4 completed/);
    expect(st.stdout).toMatch(/slurm: 2 submission\(s\); last: job array - \(0 task\(s\)\), results job \d+ completed; 0 task\(s\) pending or running/);
    // a third submission finds nothing to train
    const third = cli(['sweep', '--out', dir, '--slurm'], { env: slurm.env });
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toMatch(/no job array \(nothing left to train\).*0 run\(s\) already queued, 4 already finished/);
  }, 150_000);

  it('a task SIGKILLed mid-run and requeued resumes; a task sent SIGTERM checkpoints and requeues itself; both end byte-identical', async () => {
    const killed = join(tmp, 'killed');
    const termed = join(tmp, 'termed');
    const a = cli(['sweep', ...LONG, '--seeds', '1', '--out', killed, '--slurm', '--eval-samples', '500'], { env: slurm.env });
    expect(a.code, a.stderr).toBe(0);
    const b = cli(['sweep', ...LONG, '--seeds', '1', '--out', termed, '--slurm', '--eval-samples', '500'], { env: slurm.env });
    expect(b.code, b.stderr).toBe(0);
    const jobA = `${a.stdout.trim().split(' ')[0]}_0`;
    const jobB = `${b.stdout.trim().split(' ')[0]}_0`;
    const [runA] = JSON.parse(readFileSync(join(killed, 'sweep.json'), 'utf8')).runs.map((r: { name: string }) => join(killed, 'runs', r.name));
    const [runB] = JSON.parse(readFileSync(join(termed, 'sweep.json'), 'utf8')).runs.map((r: { name: string }) => join(termed, 'runs', r.name));
    const midRun = (d: string) => () => runJson(d).status === 'running' && runJson(d).checkpoint_step >= 4000;
    // SIGKILL: the task dies (FAILED); scontrol requeue starts it again from the checkpoint
    await waitFor('task A past a checkpoint', midRun(runA), 90_000, () => slurm.state(jobA));
    process.kill(runJson(runA).pid as number, 'SIGKILL');
    // SIGTERM to the batch shell (icl-lab itself), as --signal=B:TERM@S does before the time limit
    await waitFor('task B past a checkpoint', midRun(runB), 90_000, () => slurm.state(jobB));
    slurm.cmd('scancel', ['--signal=TERM', '--batch', jobB]);
    await waitFor('the killed task to fail', () => slurm.state(jobA) === 'FAILED', 60_000, () => slurm.state(jobA));
    const killedAt = runJson(runA).checkpoint_step;
    expect(killedAt).toBeLessThan(300000);
    slurm.cmd('scontrol', ['requeue', jobA]);
    await waitFor('both runs to complete', () => runJson(runA).status === 'completed' && runJson(runB).status === 'completed', 120_000,
      () => `${slurm.state(jobA)} ${slurm.state(jobB)} ${runJson(runA).step} ${runJson(runB).step}`);
    await waitFor('both tasks to end', () => slurm.state(jobA) === 'COMPLETED' && slurm.state(jobB) === 'COMPLETED', 60_000, () => `${slurm.state(jobA)} ${slurm.state(jobB)}`);
    const logB = readFileSync(join(termed, 'slurm', 'logs', `${jobB.replace('_0', '')}_0.out`), 'utf8');
    expect(logB).toMatch(/SIGTERM: checkpointing/);
    expect(logB).toMatch(/checkpointed at step \d+; job \d+ requeued/);
    expect(logB).toMatch(/completed at step 300000/);
    for (const d of [runA, runB]) {
      const j = runJson(d);
      expect(j.step).toBe(300000);
      expect(j.timings.sessions).toBe(2);
    }
    const local = join(tmp, 'long-local');
    const t = cli(['train', ...LONG, '--out', local, '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(same(runA, local)).toBe(true);
    expect(same(runB, local)).toBe(true);
  }, 180_000);

  it('a task that reaches its --time gets SIGTERM before the limit (--signal=B:TERM@15), checkpoints, requeues itself and resumes', async () => {
    const dir = join(tmp, 'timed');
    // far more steps than a minute trains: the task is still running when its time is up
    const HUGE = LONG.map((x) => (x === '300000' ? '100000000' : x));
    const r = cli(['sweep', ...HUGE, '--seeds', '1', '--out', dir, '--slurm', '--time', '1', '--eval-samples', '500'], { env: slurm.env });
    expect(r.code, r.stderr).toBe(0);
    const array = r.stdout.trim().split(' ')[0]!;
    const log = join(dir, 'slurm', 'logs', `${array}_0.out`);
    const text = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
    // Slurm signals up to 60 s early (its event resolution), so this comes within about a minute
    await waitFor('SIGTERM before the time limit, a checkpoint and a requeue', () => /checkpointed at step \d+; job \d+ requeued/.test(text()), 150_000, () => `${slurm.state(`${array}_0`)}\n${text()}`);
    await waitFor('the requeued task to start again from the checkpoint', () => (text().match(/starting at step/g) ?? []).length >= 2, 120_000, () => `${slurm.state(`${array}_0`)}\n${text()}`);
    expect(text()).toMatch(/SIGTERM: checkpointing/);
    const [first, second] = [...text().matchAll(/starting at step (\d+)/g)].map((m) => Number(m[1]));
    const saved = Number(text().match(/checkpointed at step (\d+); job \d+ requeued/)![1]);
    expect(first).toBe(0);
    expect(second).toBe(saved); // resumed where it checkpointed
    expect(saved).toBeGreaterThan(0);
    slurm.cmd('scancel', [array]);
  }, 300_000);

  it('--dry-run prints both scripts and writes and submits nothing; array specs and time limits', () => {
    const dir = join(tmp, 'dry');
    const r = cli(['sweep', ...TINY, '--out', dir, '--slurm', '--dry-run', '--max-parallel', '3', '--threads', '2', '--partition', 'debug', '--time', '2:00', '--sbatch-arg=--comment=x', '--report'], { env: slurm.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('#SBATCH --array=0-3%3');
    expect(r.stdout).toContain('#SBATCH --cpus-per-task=2');
    expect(r.stdout).toContain('#SBATCH --signal=B:TERM@30');
    expect(r.stdout).toContain('#SBATCH --time=2:00');
    expect(r.stdout.match(/#SBATCH --partition=debug/g)).toHaveLength(2);
    expect(r.stdout.match(/#SBATCH --comment=x/g)).toHaveLength(2);
    expect(r.stdout).toMatch(/sweep task \S+dry "\$SLURM_ARRAY_TASK_ID" --threads 2/);
    expect(r.stdout).toMatch(/sweep finish \S+dry --report/);
    expect(existsSync(dir)).toBe(false);
    expect(arraySpec([0, 1, 2, 4, 6, 7])).toBe('0-2,4,6-7');
    expect([slurmSeconds('10'), slurmSeconds('1:30'), slurmSeconds('1:00:00'), slurmSeconds('2-3')]).toEqual([600, 90, 3600, 2 * 86400 + 3 * 3600]);
    expect([signalSeconds(undefined), signalSeconds('10'), signalSeconds('1')]).toEqual([120, 120, 15]);
  });

  it('sbatch missing or refusing the job is one clear line', () => {
    const onlyNode = join(tmp, 'only-node');
    mkdirSync(onlyNode);
    symlinkSync(process.execPath, join(onlyNode, 'node'));
    const noSlurm = cli(['sweep', ...TINY, '--out', join(tmp, 'nosbatch'), '--slurm'], { env: { ...slurm.env, PATH: onlyNode } });
    expect(noSlurm.code).toBe(1);
    expect(noSlurm.stderr.trim().split('\n').filter((x) => x.startsWith('icl-lab:'))).toEqual([
      'icl-lab: sbatch is not on PATH: --slurm needs Slurm\'s client commands (sbatch, squeue); run it on a login node of the cluster',
    ]);
    const refused = cli(['sweep', ...TINY, '--out', join(tmp, 'refused'), '--slurm', '--partition', 'nosuch'], { env: slurm.env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^icl-lab: sbatch refused the job array \(exit 1\): sbatch: error: invalid partition specified: nosuch$/m);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    const badTime = cli(['sweep', ...TINY, '--out', join(tmp, 'badtime'), '--slurm', '--time', 'soon'], { env: slurm.env });
    expect(badTime.code).toBe(2);
    expect(badTime.stderr.trim()).toBe('icl-lab: --time must be a Slurm time limit (MINUTES, MM:SS, HH:MM:SS or D-HH:MM:SS), got "soon"');
  });
});
