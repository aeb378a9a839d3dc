/**
 * One writer per run directory: `<dir>/.icl-lab.lock` is a lease held by the process that writes
 * the run:
 *
 *   {"pid", "host", "started_at", "heartbeat_at", "expires_at", "lease_seconds"}
 *
 * It is created exclusively (link(2) of a complete temporary file, so no reader sees it half
 * written), so of two processes started together exactly one gets it; the other is refused with a
 * message naming the first one. While the lease is held, a timer of this process (not the training
 * loop: it touches no tensor) renews it every `heartbeatMs` (lease / 4, at most 5 s): heartbeat_at
 * and expires_at = heartbeat_at + lease_seconds move forward.
 *
 * Whether a lease is live:
 * - on this host: while its pid is alive (a killed process's lease is taken over at once);
 * - from another host (a shared file system; its pid cannot be checked here): until its
 *   expires_at; after that its host is taken to be dead and the lease is taken over. A lease
 *   written by an older build (only pid and host) expires lease_seconds after the file's mtime.
 *   The hosts' clocks must agree to well within the lease (NTP).
 *
 * `--force` does not override a live lease: it replaces a run, never a run that another process is
 * writing. Leases are released when the command ends (and on process exit, which covers a second
 * Ctrl-C). $ICL_LAB_LEASE_SECONDS sets the lease (default 60 s); $ICL_LAB_HOSTNAME the host name
 * written and compared (default os.hostname(); tests use it to play another host).
 */
import { closeSync, linkSync, lstatSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

export const LOCK_FILE = '.icl-lab.lock';
export const LEASE_SECONDS_ENV = 'ICL_LAB_LEASE_SECONDS';
export const HOSTNAME_ENV = 'ICL_LAB_HOSTNAME';
export const DEFAULT_LEASE_SECONDS = 60;
const MAX_LEASE_SECONDS = 86_400;

export interface LockInfo {
  pid: number;
  host: string;
  /** Last renewal (ms since the epoch; the file's mtime for a lock of an older build). */
  heartbeatAt: number;
  /** Taken over from another host after this (ms since the epoch). */
  expiresAt: number;
}

const held = new Map<string, string>(); // dir -> lock path
let exitHook = false;
let timer: NodeJS.Timeout | undefined;

/** The host name leases are written with and compared to: $ICL_LAB_HOSTNAME, else os.hostname(). */
export function hostName(): string {
  return process.env[HOSTNAME_ENV] || hostname();
}

/** The lease this process writes: $ICL_LAB_LEASE_SECONDS (1..86400), default 60. */
export function leaseSeconds(): number {
  const v = process.env[LEASE_SECONDS_ENV];
  if (v === undefined || v.trim() === '') return DEFAULT_LEASE_SECONDS;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 1 || x > MAX_LEASE_SECONDS) {
    throw new UsageError(`$${LEASE_SECONDS_ENV} must be a number of seconds in 1..${MAX_LEASE_SECONDS} (the run lease), got ${JSON.stringify(v)}`);
  }
  return x;
}

/** How often a held lease is renewed: a quarter of the lease, at most every 5 s. */
export const heartbeatMs = (lease: number): number => Math.min(5000, (lease * 1000) / 4);

/** True when `pid` names a live process on this host. */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function leaseBody(pid: number, host: string, startedAt: string, now: number, lease: number): string {
  return JSON.stringify({
    pid, host, started_at: startedAt, heartbeat_at: new Date(now).toISOString(),
    expires_at: new Date(now + lease * 1000).toISOString(), lease_seconds: lease,
  }) + '\n';
}

function readLock(path: string): (LockInfo & { startedAt?: string }) | undefined {
  try {
    // a FIFO would block the read for ever (and SIGTERM with it), a device never end: only a regular
    // file (or a link to one) of lock size is read
    const st = statSync(path);
    if (!st.isFile() || st.size > 64 * 1024) return undefined;
    const o = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    if (typeof o.pid !== 'number' || typeof o.host !== 'string') return undefined;
    const beat = typeof o.heartbeat_at === 'string' ? Date.parse(o.heartbeat_at) : NaN;
    const expires = typeof o.expires_at === 'string' ? Date.parse(o.expires_at) : NaN;
    const heartbeatAt = Number.isFinite(beat) ? beat : statSync(path).mtimeMs; // an older build's lock: its mtime
    const expiresAt = Number.isFinite(expires) ? expires : heartbeatAt + DEFAULT_LEASE_SECONDS * 1000;
    return { pid: o.pid, host: o.host, heartbeatAt, expiresAt, ...(typeof o.started_at === 'string' ? { startedAt: o.started_at } : {}) };
  } catch {
    return undefined; // unreadable: treated as stale
  }
}

const ours = (info: LockInfo | undefined): boolean => info !== undefined && info.pid === process.pid && info.host === hostName();

/** The live process (other than this one) holding `dir`'s lease, if any. */
export function lockHolder(dir: string, now = Date.now()): LockInfo | undefined {
  const info = readLock(join(dir, LOCK_FILE));
  if (!info) return undefined;
  if (info.host !== hostName()) return now < info.expiresAt ? info : undefined; // another host: live until it expires
  return info.pid !== process.pid && pidAlive(info.pid) ? info : undefined;
}

/** "process 123", or for another host "process 123 on node-7 (lease renewed 4 s ago, expires in 56 s)". */
export function describeHolder(info: LockInfo, now = Date.now()): string {
  if (info.host === hostName()) return `process ${info.pid}`;
  const s = (ms: number) => `${Math.max(0, Math.round(ms / 1000))} s`;
  return `process ${info.pid} on ${info.host} (lease renewed ${s(now - info.heartbeatAt)} ago, expires in ${s(info.expiresAt - now)})`;
}

/** What to do about a live holder: wait, or for another host, its expiry. */
export function waitAdvice(info: LockInfo): string {
  return info.host === hostName()
    ? 'wait for it to finish or stop it'
    : `wait for it to finish or stop it on ${info.host}; if ${info.host} is down, a retry takes the run over once the lease expires`;
}

function refuse(dir: string, info: LockInfo, what: string): never {
  throw new UsageError(
    `${dir}: ${describeHolder(info)} is ${what} (lock ${join(dir, LOCK_FILE)}); ${waitAdvice(info)}` +
      (info.host === hostName() ? ' (if that process is not icl-lab, delete the lock file)' : ''),
  );
}

/** What is at `path` when it is not a regular file or a symbolic link ("a directory", ...), else null. */
function lockKind(path: string): string | null {
  try {
    const st = lstatSync(path);
    if (st.isFile() || st.isSymbolicLink()) return null;
    return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
  } catch {
    return null; // gone meanwhile
  }
}

/** Create `path` holding `body` only if it does not exist (EEXIST otherwise); readers never see it half written. */
function createExclusive(path: string, body: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, body, { mode: 0o644, flag: 'wx' });
  try {
    linkSync(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw err;
    // a file system without hard links: O_EXCL (a reader may see it empty for an instant)
    const fd = openSync(path, 'wx', 0o644);
    try {
      writeSync(fd, body);
    } finally {
      closeSync(fd);
    }
  } finally {
    try { unlinkSync(tmp); } catch { /* already gone */ }
  }
}

/** Renew every lease this process holds (the heartbeat timer); a lease another process took over is dropped. */
export function renewRunLocks(now = Date.now()): void {
  let lease = DEFAULT_LEASE_SECONDS;
  try {
    lease = leaseSeconds();
  } catch {
    /* checked when the lease was taken; a timer never throws */
  }
  for (const [key, path] of held) {
    try {
      const info = readLock(path);
      if (!ours(info)) {
        held.delete(key); // taken over (this process stalled past its lease) or removed: not ours to renew
        continue;
      }
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      writeFileSync(tmp, leaseBody(process.pid, hostName(), info!.startedAt ?? new Date(now).toISOString(), now, lease), { mode: 0o644 });
      renameSync(tmp, path);
    } catch {
      /* a full disk or a directory being replaced: try again at the next beat */
    }
  }
  if (held.size === 0) stopHeartbeat();
}

function startHeartbeat(): void {
  if (timer) return;
  timer = setInterval(() => renewRunLocks(), heartbeatMs(leaseSeconds())); // (validated by the caller's acquire)
  timer.unref(); // never keeps the process alive
}

function stopHeartbeat(): void {
  if (timer) clearInterval(timer);
  timer = undefined;
}

/**
 * Take the lease of an existing directory `dir`, or throw a UsageError naming the process that
 * has it (this process too: two trainings of one directory in one process are refused as well).
 * `what` says what the holder is doing in the message (a sweep directory: "running a sweep here").
 */
export function acquireRunLock(dir: string, what = 'writing this run directory'): boolean {
  const key = resolve(dir);
  if (held.has(key)) {
    throw new UsageError(`${dir}: this process (${process.pid}) is already writing this run directory; wait for that run to finish`);
  }
  const path = join(dir, LOCK_FILE);
  const lease = leaseSeconds();
  const now = Date.now();
  const body = leaseBody(process.pid, hostName(), new Date(now).toISOString(), now, lease);
  let taken = false;
  let oursAlready = false;
  for (let attempt = 0; attempt < 3 && !taken; attempt++) {
    try {
      createExclusive(path, body);
      taken = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (ours(readLock(path))) { oursAlready = true; break; } // ours (a previous session of this process)
      const live = lockHolder(dir);
      if (live) refuse(dir, live, what);
      // a directory (or a FIFO, a device) there is no lock of ours: never removed, never taken as free
      const kind = lockKind(path);
      if (kind !== null) throw new UsageError(`${dir}: the lock ${path} is ${kind}, not a lock file; remove it (no icl-lab process uses it) and run the command again`);
      try {
        unlinkSync(path); // stale: its process is gone, or its host stopped renewing it
      } catch {
        /* someone else removed it first; try again */
      }
    }
  }
  if (!taken && !oursAlready) {
    const live = lockHolder(dir);
    if (live) refuse(dir, live, what);
    // never go on without the lease: a second process would find the same and both would write
    throw new UsageError(`${dir}: cannot take the lock ${path} (a stale lock there could not be replaced: check its permissions); remove it and run the command again`);
  }
  held.set(key, path);
  if (!taken) renewRunLocks(now); // ours from before: renew it now
  startHeartbeat();
  if (!exitHook) {
    exitHook = true;
    process.on('exit', releaseAllRunLocks);
  }
  return true;
}

/** Lock every directory (all or none: on a refusal the ones taken here are released). Returns those taken here. */
export function acquireRunLocks(dirs: readonly string[]): string[] {
  const taken: string[] = [];
  try {
    for (const d of dirs) if (acquireRunLock(d)) taken.push(d);
  } catch (err) {
    releaseRunLocks(taken);
    throw err;
  }
  return taken;
}

export function releaseRunLocks(dirs: readonly string[]): void {
  for (const d of dirs) releaseRunLock(d);
}

export function releaseRunLock(dir: string): void {
  const key = resolve(dir);
  const path = held.get(key);
  if (path === undefined) return;
  held.delete(key);
  if (held.size === 0) stopHeartbeat();
  if (!ours(readLock(path))) return; // not ours any more
  try {
    unlinkSync(path);
  } catch {
    /* already gone (the directory was replaced) */
  }
}

export function releaseAllRunLocks(): void {
  for (const dir of [...held.keys()]) releaseRunLock(dir);
}
