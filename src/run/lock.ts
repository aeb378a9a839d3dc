/**
 * One writer per run directory: `<dir>/.icl-lab.lock` holds {"pid", "host"} of the process that
 * writes the run. It is created with O_EXCL, so of two processes started together exactly one gets
 * it; the other is refused with a message naming the first one's pid. A lock whose process is gone
 * (killed) is stale and is taken over. `--force` does not override a live lock: it replaces a run,
 * never a run that another process is writing.
 *
 * Locks are released when the command ends (and on process exit, which covers a second Ctrl-C).
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

export const LOCK_FILE = '.icl-lab.lock';

interface LockInfo {
  pid: number;
  host: string;
}

const held = new Map<string, string>(); // dir -> lock path
let exitHook = false;

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

function readLock(path: string): LockInfo | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? { pid: o.pid, host: o.host } : undefined;
  } catch {
    return undefined; // unreadable or half-written: treated as stale
  }
}

/** The live process (other than this one) holding `dir`'s lock, if any. */
export function lockHolder(dir: string): LockInfo | undefined {
  const info = readLock(join(dir, LOCK_FILE));
  if (!info) return undefined;
  if (info.host !== hostname()) return info; // cannot check another host: assume live
  return info.pid !== process.pid && pidAlive(info.pid) ? info : undefined;
}

function refuse(dir: string, info: LockInfo): never {
  const where = info.host === hostname() ? `process ${info.pid}` : `process ${info.pid} on ${info.host}`;
  throw new UsageError(
    `${dir}: ${where} is writing this run directory (lock ${join(dir, LOCK_FILE)}); wait for it to finish or stop it ` +
      `(if that process is not icl-lab, delete the lock file)`,
  );
}

/**
 * Take the lock of an existing directory `dir`, or throw a UsageError naming the process that has
 * it (this process too: two trainings of one directory in one process are refused as well).
 */
export function acquireRunLock(dir: string): boolean {
  const key = resolve(dir);
  if (held.has(key)) {
    throw new UsageError(`${dir}: this process (${process.pid}) is already writing this run directory; wait for that run to finish`);
  }
  const path = join(dir, LOCK_FILE);
  const body = JSON.stringify({ pid: process.pid, host: hostname() }) + '\n';
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const info = readLock(path);
      if (info && info.pid === process.pid && info.host === hostname()) break; // ours (a previous session of this process)
      const live = lockHolder(dir);
      if (live) refuse(dir, live);
      try {
        unlinkSync(path); // stale: its process is gone
      } catch {
        /* someone else removed it first; try again */
      }
      continue;
    }
    try {
      writeSync(fd, body);
    } finally {
      closeSync(fd);
    }
    held.set(key, path);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', releaseAllRunLocks);
    }
    return true;
  }
  const live = lockHolder(dir);
  if (live) refuse(dir, live);
  held.set(key, path);
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
  const info = readLock(path);
  if (info && (info.pid !== process.pid || info.host !== hostname())) return; // not ours any more
  try {
    unlinkSync(path);
  } catch {
    /* already gone (the directory was replaced) */
  }
}

export function releaseAllRunLocks(): void {
  for (const dir of [...held.keys()]) releaseRunLock(dir);
}
