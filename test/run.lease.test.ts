/**
 * The run lock as a lease (issue 20): a lease left by a SIGKILLed process on "another host" is
 * refused before its expiry (one line naming the host and the lease's age) and taken over after it,
 * the resumed run ending byte-identical to an uninterrupted one; a live process's heartbeat keeps
 * its lease from expiring; a lease file's own expiry decides (library level, no clock race).
 * "Another host" is played with $ICL_LAB_HOSTNAME in the trainer's environment.
 */
import { readFileSync, rmSync, utimesSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireRunLock, describeHolder, heartbeatMs, LOCK_FILE, lockHolder, releaseRunLock } from '../src/run/lock.js';
import { cli, oneLine, requireDist, runJson, start, tempDir, TINY, waitFor } from './cli.helpers.js';

const tmp = tempDir('lease');
beforeAll(requireDist);

interface LeaseFile { pid: number; host: string; started_at: string; heartbeat_at: string; expires_at: string; lease_seconds: number }
const lease = (dir: string): LeaseFile => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
const FILES = ['model.safetensors', 'metrics.safetensors', 'snapshots.safetensors', 'checkpoint.safetensors'];
const ARGS = ['--steps', '60000', '--checkpoint-every', '2000', '--checkpoint-secs', '0', ...TINY];

describe('the run lease across hosts', () => {
  it('a SIGKILLed process on another host: its lease is refused before its expiry (host and age named), taken over after it; the run ends byte-identical', async () => {
    const dir = join(tmp, 'killed');
    const a = start(['train', '--out', dir, ...ARGS], { env: { ...process.env, ICL_LAB_HOSTNAME: 'node-a', ICL_LAB_LEASE_SECONDS: '10' } });
    await waitFor('a checkpoint mid-run', () => runJson(dir).checkpoint_step >= 2000 && runJson(dir).status === 'running', 30_000, a.err);
    a.child.kill('SIGKILL');
    expect((await a.done).signal).toBe('SIGKILL');
    const l = lease(dir);
    expect(l.host).toBe('node-a');
    expect(l.pid).toBe(a.child.pid);
    expect(l.lease_seconds).toBe(10);
    expect(Date.parse(l.expires_at) - Date.parse(l.heartbeat_at)).toBe(10_000);
    const killedAt = runJson(dir).step;
    expect(killedAt).toBeLessThan(60000);

    // before the expiry (this host's name is not node-a: its pid cannot be checked here)
    const before = cli(['train', '--resume', dir, '--progress', 'none']);
    expect(Date.now()).toBeLessThan(Date.parse(l.expires_at)); // the refusal came before the expiry
    expect(before.code).toBe(2);
    expect(oneLine(before.stderr), before.stderr).toBe(true);
    expect(before.stderr).toMatch(new RegExp(`process ${l.pid} on node-a \\(lease renewed \\d+ s ago, expires in \\d+ s\\) is training this run right now`));
    expect(before.stderr).toMatch(/if node-a is down, a retry takes the run over once the lease expires/);
    const out = cli(['train', '--out', dir, '--force', ...ARGS]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/on node-a \(lease renewed/); // --force does not override a live lease
    expect(lease(dir).pid).toBe(l.pid); // nothing taken

    // after the expiry: taken over, trained to the end
    await waitFor('the lease to expire', () => Date.now() > Date.parse(l.expires_at) + 100, 30_000);
    const after = cli(['train', '--resume', dir, '--progress', 'none']);
    expect(after.code, after.stderr).toBe(0);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false); // released
    const j = runJson(dir);
    expect(j.status).toBe('completed');
    expect(j.step).toBe(60000);
    expect(j.timings.sessions).toBe(2);
    expect(j.host).toBe(hostname());
    const ref = join(tmp, 'killed-ref');
    expect(cli(['train', '--out', ref, ...ARGS]).code).toBe(0);
    for (const f of FILES) expect(readFileSync(join(dir, f)).equals(readFileSync(join(ref, f))), f).toBe(true);
  });

  it('a live process on another host renews its lease: still refused after several lease lengths; SIGTERM releases it', async () => {
    const dir = join(tmp, 'live');
    const env = { ...process.env, ICL_LAB_HOSTNAME: 'node-b', ICL_LAB_LEASE_SECONDS: '2' };
    const b = start(['train', '--out', dir, ...ARGS, '--steps', '3000000'], { env });
    await waitFor('the lease', () => lease(dir).host === 'node-b', 30_000, b.err);
    const first = lease(dir);
    // alive for more than two whole leases: without renewals its first expiry would be long past
    await waitFor('renewals past two leases', () => Date.parse(lease(dir).heartbeat_at) > Date.parse(first.expires_at) + 2000, 30_000, b.err);
    const renewed = lease(dir);
    expect(renewed.pid).toBe(first.pid);
    expect(renewed.started_at).toBe(first.started_at);
    expect(Date.parse(renewed.expires_at) - Date.parse(renewed.heartbeat_at)).toBe(2000);
    const r = cli(['train', '--resume', dir, '--progress', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`process ${first.pid} on node-b \\(lease renewed \\d+ s ago, expires in \\d+ s\\)`));
    b.child.kill('SIGTERM');
    expect((await b.done).code).toBe(130);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(runJson(dir).status).toBe('interrupted');
  });
});

describe('lease files (library)', () => {
  const dir = join(tmp, 'unit');
  mkdirSync(dir, { recursive: true });
  const write = (o: object) => writeFileSync(join(dir, LOCK_FILE), JSON.stringify(o));
  const iso = (ms: number) => new Date(ms).toISOString();

  it('another host: live until its stated expiry, whatever its pid; this host: by pid, whatever the expiry', () => {
    const now = Date.now();
    write({ pid: 4242, host: 'node-c', started_at: iso(now - 9000), heartbeat_at: iso(now - 7000), expires_at: iso(now + 3000), lease_seconds: 10 });
    const live = lockHolder(dir, now)!;
    expect(live).toMatchObject({ pid: 4242, host: 'node-c' });
    expect(describeHolder(live, now)).toBe('process 4242 on node-c (lease renewed 7 s ago, expires in 3 s)');
    expect(lockHolder(dir, now + 3001)).toBeUndefined();
    expect(() => acquireRunLock(dir)).toThrow(/^.*: process 4242 on node-c \(lease renewed \d+ s ago, expires in \d+ s\) is writing this run directory/);
    // expired: taken over, the file is now this process's lease
    write({ pid: 4242, host: 'node-c', started_at: iso(now - 90_000), heartbeat_at: iso(now - 70_000), expires_at: iso(now - 10_000), lease_seconds: 60 });
    expect(acquireRunLock(dir)).toBe(true);
    const mine = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
    expect(mine).toMatchObject({ pid: process.pid, host: hostname(), lease_seconds: 60 });
    expect(Date.parse(mine.expires_at) - Date.parse(mine.heartbeat_at)).toBe(60_000);
    releaseRunLock(dir);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    // this host, a dead pid: stale even with a far expiry; a live pid (this test's parent): live even when expired
    write({ pid: 2 ** 22 + 99, host: hostname(), heartbeat_at: iso(now), expires_at: iso(now + 3_600_000) });
    expect(lockHolder(dir, now)).toBeUndefined();
    write({ pid: process.ppid, host: hostname(), heartbeat_at: iso(now - 3_600_000), expires_at: iso(now - 3_000_000) });
    expect(lockHolder(dir, now)).toMatchObject({ pid: process.ppid });
  });

  it("an older build's lock from another host (pid and host only) expires 60 s after its mtime", () => {
    write({ pid: 4242, host: 'node-d' });
    expect(lockHolder(dir)).toMatchObject({ host: 'node-d' });
    const old = (Date.now() - 61_000) / 1000;
    utimesSync(join(dir, LOCK_FILE), old, old);
    expect(lockHolder(dir)).toBeUndefined();
  });

  it('a bad $ICL_LAB_LEASE_SECONDS is one line, exit 2', () => {
    const r = cli(['train', '--out', join(tmp, 'bad-lease'), '--steps', '20', ...TINY], { env: { ...process.env, ICL_LAB_LEASE_SECONDS: '0.1' } });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr), r.stderr).toBe(true);
    expect(r.stderr).toMatch(/\$ICL_LAB_LEASE_SECONDS must be a number of seconds in 1\.\.86400 \(the run lease\), got "0\.1"/);
  });

  it('the heartbeat: a quarter of the lease, at most 5 s', () => {
    expect(heartbeatMs(60)).toBe(5000);
    expect(heartbeatMs(2)).toBe(500);
  });
});
