/**
 * `icl-lab sweep --queue` and `icl-lab worker` against a real redis-server (started here on a free
 * loopback port, no persistence, stopped after): two worker processes drain a 6-run sweep while one
 * of them is SIGKILLed mid-job (its job finishes on the other, byte-identical to a local run);
 * enqueuing twice runs each job once; SIGTERM gives a job back; unreachable Redis and a wrong
 * password are clear errors within seconds. Runs the compiled CLI (npx tsc -p tsconfig.json first).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireDist, runJson, start, tempDir, waitFor } from './cli.helpers.js';
import { makeCertificates, startRedis, type RedisServer } from './redis.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-sweep-queue-'));
let redis: RedisServer;
let locked: RedisServer;
let tls: RedisServer;
const PASSWORD = 'pw-Zq81-secret';
const certs = makeCertificates(tempDir('sweep-tls')); // removed after the tests

beforeAll(async () => {
  requireDist();
  [redis, locked, tls] = await Promise.all([startRedis(), startRedis(PASSWORD), startRedis(PASSWORD, certs)]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), locked?.stop(), tls?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

/** Tiny runs that still take a second or two each: d=3, L=10, B=16, checkpoints every 2,000 steps. */
const BASE = ['--d', '3', '--batch-size', '16', '--steps', '24000', '--checkpoint-every', '2000', '--checkpoint-secs', '0', '--qk-every', '4000', '--progress', 'lines'];

describe('sweep on a BullMQ queue with a real redis-server', () => {
  it('two workers drain a 6-run sweep; one is SIGKILLed mid-job and its job resumes on the other, byte-identical to a local run; enqueuing twice runs each job once', async () => {
    const dir = join(tmp, 'q6');
    const grid = ['--grid', 'heads=1,2', '--grid', 'context-length=8,10,12'];
    const first = cli(['sweep', ...grid, ...BASE, '--out', dir, '--queue', redis.url]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/6 job\(s\) added, 0 already queued/);
    const again = cli(['sweep', ...grid, ...BASE, '--out', dir, '--queue', redis.url]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/0 job\(s\) added, 6 already queued/);

    const worker = (lock: string) => start(['worker', '--queue', redis.url, '--concurrency', '1', '--lock-seconds', lock, '--until-empty']);
    const a = worker('2');
    // the victim takes the first job; the survivor starts once the victim is mid-job
    await waitFor('worker A to start a job', () => /\] started/.test(a.out()), 30_000, a.err);
    const victim = /\[([^\]]+)\] started/.exec(a.out())![1]!;
    const victimDir = join(dir, 'runs', victim);
    await waitFor('a checkpoint of the victim run', () => runJson(victimDir).checkpoint_step >= 2000 && runJson(victimDir).status === 'running', 30_000, a.out);
    const b = worker('2');
    a.child.kill('SIGKILL');
    const killedAt = runJson(victimDir).checkpoint_step;
    const ra = await a.done;
    expect(ra.signal).toBe('SIGKILL');
    const rb = await b.done;
    expect(rb.code, b.out() + b.err()).toBe(0);

    const runs = readdirSync(join(dir, 'runs')).sort();
    expect(runs).toHaveLength(6);
    for (const r of runs) {
      const j = runJson(join(dir, 'runs', r));
      expect(j.status, r).toBe('completed');
      expect(j.step, r).toBe(24000);
      // one session per run: enqueuing twice did not train anything twice; the victim has two (killed + resumed)
      expect(j.timings.sessions, r).toBe(r === victim ? 2 : 1);
    }
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(24000);
    // the victim's job finished on B, which started it at the checkpoint the killed worker left
    expect(b.out()).toContain(`[${victim}] completed at step 24000`);
    const completedLines = (a.out() + b.out()).match(/\] completed at step/g) ?? [];
    expect(completedLines).toHaveLength(6);

    // the same config trained locally: the same bytes
    const [, h, L] = /^h(\d+)-L(\d+)$/.exec(victim)!;
    const local = join(tmp, 'local-victim');
    const t = cli(['train', ...BASE, '--heads', h!, '--context-length', L!, '--out', local, '--json']);
    expect(t.code, t.stderr).toBe(0);
    for (const f of ['model.safetensors', 'metrics.safetensors', 'checkpoint.safetensors']) {
      expect(readFileSync(join(victimDir, f)).equals(readFileSync(join(local, f))), f).toBe(true);
    }

    // --wait on a drained queue collects the results table at once; status shows the jobs
    const w = cli(['sweep', '--out', dir, '--queue', redis.url, '--wait', '--eval-samples', '500', '--progress', 'lines']);
    expect(w.code, w.stderr).toBe(0);
    expect(existsSync(join(dir, 'results.parquet'))).toBe(true);
    const st = cli(['sweep', 'status', dir, '--queue', redis.url]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/6 runs: 6 completed/);
    expect(st.stdout).toMatch(/queue redis:\/\/127\.0\.0\.1:\d+: this sweep's jobs: 0 waiting, 0 active, 0 delayed, 0 prioritized, 6 completed, 0 failed\n/);
  });

  it('SIGTERM on a worker checkpoints its job and gives it back; another worker finishes it; --wait shows sweep progress', async () => {
    const dir = join(tmp, 'term');
    const r = cli(['sweep', '--grid', 'heads=1,2', ...BASE, '--steps', '80000', '--context-length', '10', '--out', dir, '--queue', redis.url]);
    expect(r.code, r.stderr).toBe(0);
    const waiter = start(['sweep', '--out', dir, '--queue', redis.url, '--wait', '--eval-samples', '500', '--progress', 'lines']);
    const a = start(['worker', '--queue', redis.url, '--concurrency', '2']);
    await waitFor('both runs past a checkpoint', () => ['h1', 'h2'].every((n) => runJson(join(dir, 'runs', n)).checkpoint_step >= 4000), 60_000, a.out);
    a.child.kill('SIGTERM');
    const ra = await a.done;
    expect(ra.code, a.out() + a.err()).toBe(0);
    expect(a.out()).toMatch(/2 given back/);
    const stopped = ['h1', 'h2'].map((n) => runJson(join(dir, 'runs', n)));
    for (const j of stopped) {
      expect(j.status).toBe('interrupted');
      expect(j.step).toBe(j.checkpoint_step);
      expect(j.step).toBeLessThan(80000);
    }
    const st = cli(['sweep', 'status', dir, '--queue', redis.url]);
    expect(st.stdout).toMatch(/h1 +interrupted .* waiting/);
    const b = start(['worker', '--queue', redis.url, '--concurrency', '2', '--until-empty']);
    const rb = await b.done;
    expect(rb.code, b.out() + b.err()).toBe(0);
    const rw = await waiter.done;
    expect(rw.code, waiter.err()).toBe(0);
    expect(waiter.err()).toMatch(/sweep: runs \d\/2 done/);
    expect(waiter.err()).toMatch(/results\.parquet/);
    for (const n of ['h1', 'h2']) {
      const j = runJson(join(dir, 'runs', n));
      expect(j.status).toBe('completed');
      expect(j.timings.sessions).toBe(2);
    }
  });

  it('an unreachable Redis is one clear error within seconds, and nothing is created', () => {
    const dir = join(tmp, 'unreachable');
    const t0 = Date.now();
    const r = cli(['sweep', '--grid', 'heads=1,2', ...BASE, '--out', dir, '--queue', 'redis://127.0.0.1:1'], { timeout: 30_000 });
    const seconds = (Date.now() - t0) / 1000;
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^icl-lab: cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(connection refused\)/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(seconds).toBeLessThan(10);
    expect(existsSync(dir)).toBe(false);
    const w = cli(['worker', '--queue', 'redis://127.0.0.1:1'], { timeout: 30_000 });
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/cannot reach Redis/);
  });

  it('a wrong or missing password is a clear error; the password is never printed; the right one works (URL or env)', () => {
    const port = locked.port;
    const wrong = cli(['worker', '--queue', `redis://:not-it@127.0.0.1:${port}`], { timeout: 30_000 });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/refused the credentials/);
    expect(wrong.stderr).not.toContain('not-it');
    expect(wrong.stderr).toContain(`redis://:***@127.0.0.1:${port}`);
    const none = cli(['sweep', 'status', '--queue', `redis://127.0.0.1:${port}`], { timeout: 30_000 });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/needs a password/);
    const dir = join(tmp, 'pw');
    const ok = cli(['sweep', '--grid', 'heads=1,2', ...BASE, '--out', dir, '--queue', `redis://:${PASSWORD}@127.0.0.1:${port}`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(PASSWORD);
    expect(ok.stderr).toContain(`redis://:***@127.0.0.1:${port}`);
    const env = cli(['sweep', 'status', dir, '--queue', `redis://127.0.0.1:${port}`], { env: { ICL_LAB_REDIS_PASSWORD: PASSWORD } });
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout).toMatch(/2 waiting/);
    // nothing on disk holds the password
    const files = [join(dir, 'sweep.json'), ...readdirSync(join(dir, 'runs')).map((n) => join(dir, 'runs', n, 'run.json'))];
    for (const f of files) expect(readFileSync(f, 'utf8')).not.toContain(PASSWORD);
  });

  it('rediss:// with a password: a sweep over TLS; an untrusted certificate is a clear error', async () => {
    const url = `rediss://:${PASSWORD}@localhost:${tls.port}`;
    const env = { NODE_EXTRA_CA_CERTS: certs.ca };
    const untrusted = cli(['sweep', 'status', '--queue', url], { timeout: 30_000 });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/^icl-lab: TLS to Redis at rediss:\/\/:\*\*\*@localhost:\d+ failed \(self-signed certificate in certificate chain\); for a private CA, point NODE_EXTRA_CA_CERTS/);
    const dir = join(tmp, 'tls');
    const r = cli(['sweep', '--grid', 'heads=1,2', ...BASE, '--steps', '2000', '--out', dir, '--queue', url], { env });
    expect(r.code, r.stderr).toBe(0);
    const w = start(['worker', '--queue', url, '--concurrency', '2', '--until-empty'], { env });
    const done = cli(['sweep', '--out', dir, '--queue', url, '--wait', '--eval-samples', '200', '--progress', 'none'], { env });
    expect(done.code, done.stderr).toBe(0);
    expect((await w.done).code, w.out() + w.err()).toBe(0);
    expect(w.out()).toMatch(/2 job\(s\) completed/);
    expect(w.out() + w.err() + done.stderr + r.stderr).not.toContain(PASSWORD);
    for (const n of ['h1', 'h2']) expect(runJson(join(dir, 'runs', n)).status).toBe('completed');
  });

  it("sweep status --queue: this sweep's job counts beside the whole queue's; never-started runs queued; one step per run; a SIGKILLed worker's job stalled with what happens next", async () => {
    const own = await startRedis(); // a queue of its own: the stalled job stays active for the worker's 600 s lock
    try {
      const dir = join(tmp, 'status');
      const other = join(tmp, 'status-other');
      const LONG = [...BASE, '--steps', '4000000', '--context-length', '10'];
      expect(cli(['sweep', '--grid', 'heads=1,2', ...LONG, '--out', dir, '--queue', own.url]).code).toBe(0);
      expect(cli(['sweep', '--grid', 'heads=1,2,3', ...LONG, '--out', other, '--queue', own.url]).code).toBe(0); // another sweep on the same queue
      const status = () => {
        const r = cli(['sweep', 'status', dir, '--queue', own.url]);
        expect(r.code, r.stderr).toBe(0);
        return r.stdout;
      };
      const row = (out: string, n: string) => new RegExp(`^  ${n} +(\\S+) +(\\d+)/4000000 +\\S+  (.*)$`, 'm').exec(out)?.slice(1);
      const before = status();
      expect(before).toMatch(/2 runs: 0 completed, 0 running, 2 queued, 0 failed;/);
      expect(row(before, 'h1')).toEqual(['queued', '0', 'waiting']);
      expect(row(before, 'h2')).toEqual(['queued', '0', 'waiting']);
      expect(before).toContain(`queue ${own.url}: this sweep's jobs: 2 waiting, 0 active, 0 delayed, 0 prioritized, 0 completed, 0 failed\n`);
      expect(before).toContain(`queue ${own.url}: every sweep on it: 5 waiting, 0 active, 0 delayed, 0 prioritized, 0 completed, 0 failed\n`);

      const w = start(['worker', '--queue', own.url, '--concurrency', '1', '--lock-seconds', '600']);
      const busy = () => ['h1', 'h2'].find((n) => runJson(join(dir, 'runs', n)).status === 'running' && runJson(join(dir, 'runs', n)).checkpoint_step >= 2000);
      await waitFor('a run of this sweep past a checkpoint', () => busy() !== undefined, 60_000, w.out);
      const victim = busy()!;
      const idle = victim === 'h1' ? 'h2' : 'h1';
      const live = status();
      expect(live).toMatch(/2 runs: 0 completed, 1 running, 1 queued, 0 failed;/);
      const [st, step, job] = row(live, victim)!;
      expect([st, job]).toEqual(['running', 'active']); // one step: no second "(step N)" beside the job
      expect(Number(step)).toBeGreaterThanOrEqual(2000);
      expect(row(live, idle)).toEqual(['queued', '0', 'waiting']);
      expect(live).toContain(`this sweep's jobs: 1 waiting, 1 active, 0 delayed, 0 prioritized, 0 completed, 0 failed\n`);

      w.child.kill('SIGKILL');
      await w.done;
      const at = runJson(join(dir, 'runs', victim)).checkpoint_step;
      const dead = status();
      expect(dead).toMatch(/2 runs: 0 completed, 0 running, 1 stalled, 1 queued, 0 failed;/);
      expect(row(dead, victim)).toEqual(['stalled', String(at), 'active']);
      expect(dead).toContain(`${victim} stalled: its job is active but no live worker holds the run (its worker is gone); a running worker's stalled check puts the job back to waiting within about twice the workers' --lock-seconds (default 30 s) and it resumes from step ${at}; no worker running? start one: node bin/icl-lab worker --queue ${own.url}`);
      expect(dead).toContain(`this sweep's jobs: 1 waiting, 1 active, 0 delayed, 0 prioritized, 0 completed, 0 failed; 1 of the active stalled\n`);
      const j = JSON.parse(cli(['sweep', 'status', dir, '--queue', own.url, '--json']).stdout);
      expect(j.counts).toMatchObject({ running: 0, stalled: 1, queued: 1, completed: 0 });
      expect(j.queue.url).toBe(own.url);
      expect(j.queue.sweep).toEqual({ waiting: 1, active: 1, delayed: 0, prioritized: 0, completed: 0, failed: 0, stalled: 1, none: 0 });
      expect(j.queue.all).toEqual({ waiting: 4, active: 1, delayed: 0, prioritized: 0, completed: 0, failed: 0 });
      expect(j.runs.find((r: { name: string }) => r.name === victim)).toMatchObject({ status: 'stalled', step: at, job: 'active' });
      expect(j.runs.find((r: { name: string }) => r.name === victim).hint).toMatch(/stalled check/);
    } finally {
      await own.stop();
    }
  });
});
