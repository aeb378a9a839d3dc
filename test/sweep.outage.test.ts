/**
 * `icl-lab worker` through a Redis outage (issue 20), against real redis-servers started here:
 * Redis SIGKILLed mid-sweep and started again on its append-only file: the worker reconnects and
 * every job completes once (each run trained in one session, byte-identical to a local run); Redis
 * gone for good: the worker checkpoints its jobs and exits 1 within --outage-seconds with one line;
 * the sweep enqueued again on a new, empty Redis resumes those runs from their checkpoints.
 * Runs the compiled CLI (npx tsc -p tsconfig.json first).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireDist, runJson, start, waitFor } from './cli.helpers.js';
import { startRedis, type RedisServer } from './redis.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-sweep-outage-'));
const servers: RedisServer[] = [];
const redis = async (persistDir?: string, port?: number) => {
  const r = await startRedis(undefined, undefined, persistDir ? { dir: persistDir, ...(port ? { port } : {}) } : undefined);
  servers.push(r);
  return r;
};

beforeAll(requireDist);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

const BASE = ['--d', '3', '--batch-size', '16', '--checkpoint-every', '2000', '--checkpoint-secs', '0', '--qk-every', '4000', '--progress', 'lines'];
const noLocks = (dir: string) => readdirSync(join(dir, 'runs')).filter((r) => existsSync(join(dir, 'runs', r, '.icl-lab.lock')));

describe('the queue worker and a Redis outage', () => {
  it('Redis SIGKILLed mid-sweep and restarted (append-only file): the worker reconnects; every job completes once, byte-identical to a local run', async () => {
    const aof = mkdtempSync(join(tmp, 'aof-'));
    let r = await redis(aof);
    const dir = join(tmp, 'restart');
    const grid = ['--grid', 'heads=1,2', '--grid', 'context-length=8,10'];
    const args = [...BASE, '--steps', '60000'];
    const e = cli(['sweep', ...grid, ...args, '--out', dir, '--queue', r.url]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/4 job\(s\) added/);
    const w = start(['worker', '--queue', r.url, '--concurrency', '2', '--lock-seconds', '2', '--outage-seconds', '120', '--until-empty']);
    await waitFor('a job to start', () => /\] started/.test(w.out()), 60_000, () => w.out() + w.err());
    const victim = /\[([^\]]+)\] started/.exec(w.out())![1]!;
    const victimDir = join(dir, 'runs', victim);
    await waitFor('the victim past its first checkpoint', () => runJson(victimDir).checkpoint_step >= 2000 && runJson(victimDir).status === 'running', 60_000, w.out);
    await r.kill(); // mid-job: the BullMQ lock of the active jobs lives in this Redis
    const killedAt = runJson(victimDir).checkpoint_step;
    await waitFor('the worker to notice', () => /redis: unreachable \(connection (refused|lost)\); training goes on/.test(w.out()), 30_000, w.out);
    // training goes on without Redis: the victim finishes on disk, its completion not yet in the queue (and its 2 s lock expires)
    await waitFor('the victim to finish on disk while Redis is away', () => runJson(victimDir).status === 'completed', 60_000, w.out);
    expect(w.child.exitCode).toBeNull();
    r = await redis(aof, r.port); // the same port, the same append-only file
    const done = await w.done;
    expect(done.code, w.out() + w.err()).toBe(0);
    expect(w.out()).toMatch(/redis: back after \d+\.\d s/);

    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(60000);
    for (const n of readdirSync(join(dir, 'runs'))) {
      const j = runJson(join(dir, 'runs', n));
      expect(j.status, n).toBe('completed');
      expect(j.step, n).toBe(60000);
      expect(j.timings.sessions, n).toBe(1); // never trained twice, never restarted
    }
    expect(w.out().match(/\] completed at step 60000/g)).toHaveLength(4);
    expect(noLocks(dir)).toEqual([]);
    const st = cli(['sweep', 'status', dir, '--queue', r.url]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/4 runs: 4 completed/);
    expect(st.stdout).toMatch(/: 0 waiting, 0 active, 0 delayed, 0 prioritized, 4 completed, 0 failed/);

    const [, h, L] = /^h(\d+)-L(\d+)$/.exec(victim)!;
    const local = join(tmp, 'restart-local');
    const t = cli(['train', ...args, '--heads', h!, '--context-length', L!, '--out', local, '--progress', 'none']);
    expect(t.code, t.stderr).toBe(0);
    for (const f of ['model.safetensors', 'metrics.safetensors', 'checkpoint.safetensors']) {
      expect(readFileSync(join(victimDir, f)).equals(readFileSync(join(local, f))), f).toBe(true);
    }
  }, 240_000);

  it('Redis gone for good: the worker checkpoints its jobs and exits 1 within --outage-seconds with one line; the sweep enqueued on a new Redis resumes them', async () => {
    const r = await redis();
    const dir = join(tmp, 'gone');
    const args = [...BASE, '--steps', '3000000', '--context-length', '10'];
    expect(cli(['sweep', '--grid', 'heads=1,2', ...args, '--out', dir, '--queue', r.url]).code).toBe(0);
    const w = start(['worker', '--queue', r.url, '--concurrency', '2', '--lock-seconds', '2', '--outage-seconds', '4']);
    await waitFor('both runs past a checkpoint', () => ['h1', 'h2'].every((n) => runJson(join(dir, 'runs', n)).checkpoint_step >= 2000), 60_000, () => w.out() + w.err());
    await r.kill();
    const t0 = Date.now();
    const done = await w.done;
    const seconds = (Date.now() - t0) / 1000;
    expect(done.code, w.out() + w.err()).toBe(1);
    expect(seconds).toBeGreaterThanOrEqual(4);
    expect(seconds).toBeLessThan(4 + 15); // the bound, a PING interval, the checkpoints and closing
    const line = w.err().trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(new RegExp(`^icl-lab: lost Redis at redis://127\\.0\\.0\\.1:${r.port}: unreachable for [4-9] s \\(connection (refused|lost); the bound is --outage-seconds 4\\); 2 active job\\(s\\) checkpointed \\((h1, h2|h2, h1)\\) and left in the queue; start the worker again once Redis is back$`));
    const stopped = ['h1', 'h2'].map((n) => runJson(join(dir, 'runs', n)));
    for (const j of stopped) {
      expect(j.status).toBe('interrupted');
      expect(j.step).toBe(j.checkpoint_step);
      expect(j.step).toBeGreaterThan(0);
      expect(j.step).toBeLessThan(3000000);
    }
    expect(noLocks(dir)).toEqual([]);

    // that Redis (no persistence) is lost: the same sweep enqueued on a new one adds a job per unfinished run
    const fresh = await redis();
    const again = cli(['sweep', '--out', dir, '--queue', fresh.url]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/2 job\(s\) added, 0 already queued, 0 failed job\(s\) retried, 0 run\(s\) already finished/);
    const w2 = start(['worker', '--queue', fresh.url, '--concurrency', '2']);
    // each resumes from its checkpoint (a second session, past the step it stopped at)
    await waitFor('both runs resumed past their checkpoints', () => stopped.every((s, i) => {
      const j = runJson(join(dir, 'runs', `h${i + 1}`));
      return j.timings.sessions === 2 && j.status === 'running' && j.checkpoint_step > s.step;
    }), 60_000, () => w2.out() + w2.err());
    w2.child.kill('SIGTERM');
    const d2 = await w2.done;
    expect(d2.code, w2.out() + w2.err()).toBe(0);
    expect(w2.out()).toMatch(/2 given back/);
  }, 240_000);

  it('a sweep enqueued on a new Redis while a worker of the old one still trains a run: that job waits on the run lease and completes from the disk; no run trained twice', async () => {
    const old = await redis();
    const dir = join(tmp, 'twice');
    const args = [...BASE, '--steps', '400000', '--context-length', '10'];
    expect(cli(['sweep', '--grid', 'heads=1,2', ...args, '--out', dir, '--queue', old.url]).code).toBe(0);
    const w1 = start(['worker', '--queue', old.url, '--concurrency', '1', '--until-empty']);
    await waitFor('worker 1 to start a job', () => /\] started/.test(w1.out()), 60_000, () => w1.out() + w1.err());
    const held = /\[([^\]]+)\] started/.exec(w1.out())![1]!;
    await waitFor('its first checkpoint', () => runJson(join(dir, 'runs', held)).checkpoint_step >= 2000, 60_000, w1.out);
    const fresh = await redis(); // "the old Redis lost its data": the same sweep on a new one
    const again = cli(['sweep', '--out', dir, '--queue', fresh.url]);
    expect(again.stderr).toMatch(/2 job\(s\) added/);
    const w2 = start(['worker', '--queue', fresh.url, '--concurrency', '2', '--until-empty']);
    await waitFor(`worker 2 to wait for ${held}`, () => w2.out().includes(`[${held}] waits`), 60_000, () => w2.out() + w2.err());
    expect(w2.out()).toMatch(new RegExp(`\\[${held}\\] waits \\(job [^)]+\\): .*: process ${w1.child.pid} is writing this run directory`));
    expect(runJson(join(dir, 'runs', held)).status).toBe('running'); // still worker 1's
    const [d1, d2] = await Promise.all([w1.done, w2.done]);
    expect(d1.code, w1.out() + w1.err()).toBe(0);
    expect(d2.code, w2.out() + w2.err()).toBe(0);
    expect(w2.out()).toContain(`[${held}] already completed at step 400000 on disk`);
    expect(w1.out()).toContain(`[${held}] completed at step 400000`);
    for (const n of ['h1', 'h2']) {
      const j = runJson(join(dir, 'runs', n));
      expect(j.status, n).toBe('completed');
      expect(j.timings.sessions, n).toBe(1);
    }
    expect((w1.out() + w2.out()).match(/\] completed at step 400000/g)).toHaveLength(2);
    expect(noLocks(dir)).toEqual([]);
  }, 240_000);
});
