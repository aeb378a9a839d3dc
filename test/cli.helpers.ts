/**
 * Running the built CLI from the tests (bin/icl-lab, which runs dist/): to its end (`cli`) or in the
 * background (`start`); temporary folders removed after the file's tests (`tempDir`); waiting for a
 * condition (`waitFor`); a copy of the CLI another user can run (`publicCli`). `opts.env` is added to
 * the test process's environment.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bin = join(root, 'bin', 'icl-lab');

export function requireDist(): void {
  if (!existsSync(join(root, 'dist', 'run', 'runs.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` first');
}

/** A fresh folder `$TMPDIR/icl-<prefix>-XXXXXX`, removed after the calling test file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `icl-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Small and fast runs: d=3, L=10, B=16. */
export const TINY = ['--d', '3', '--context-length', '10', '--batch-size', '16', '--dynamics-every', '10', '--qk-every', '20', '--val-every', '10', '--print-every', '1000', '--progress', 'none'];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs bin/icl-lab (or `opts.bin`: another copy of it, see publicCli) to its end; `opts.wrap`: a
 * command that runs node (e.g. nsenter into a namespace).
 */
export function cli(args: string[], { bin: cliBin = bin, wrap = [], ...opts }: SpawnSyncOptions & { timeout?: number; bin?: string; wrap?: string[] } = {}): CliResult {
  const t0 = Date.now();
  const [cmd, ...pre] = [...wrap, process.execPath];
  const r = spawnSync(cmd, [...pre, cliBin, ...args], { encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL', ...opts, env: { ...process.env, ...opts.env } });
  return { code: r.status, signal: r.signal, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), ms: Date.now() - t0 };
}

export function start(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts, env: { ...process.env, ...opts.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, done, out: () => stdout, err: () => stderr };
}

/** uid and gid of the user `nobody` (Debian, Ubuntu, Fedora, Alpine). */
export const NOBODY = 65534;

/**
 * Throws, in one line, unless every folder from `path` up to / lets other users through (the x bit
 * for others): a test that runs a command as another user needs that (the checkout may sit in a
 * mode-700 folder such as /root; TMPDIR may be private too).
 */
export function requireOpenToOthers(path: string): void {
  for (let p = resolve(path); ; p = dirname(p)) {
    const mode = statSync(p).mode;
    if ((mode & 0o001) === 0) throw new Error(`${p} (mode ${(mode & 0o7777).toString(8)}) is closed to other users, so the test cannot run a command as user nobody there: set TMPDIR to a folder every user can enter (e.g. TMPDIR=/tmp)`);
    if (p === dirname(p)) return;
  }
}

/** Creates the folders of `sub` below `base` that are missing, each readable by everyone. */
function mkdirOpen(base: string, sub: string): void {
  let p = base;
  for (const part of sub.split('/')) {
    p = join(p, part);
    if (existsSync(p)) continue;
    mkdirSync(p);
    chmodSync(p, 0o755);
  }
}

/** Hard link (no copying) where the file system allows and the file is readable by everyone, a copy readable by everyone otherwise. */
function linkOrCopy(from: string, to: string): void {
  const st = lstatSync(from);
  if (st.isSymbolicLink()) return symlinkSync(readlinkSync(from), to);
  if (st.isDirectory()) {
    mkdirSync(to);
    chmodSync(to, 0o755);
    for (const name of readdirSync(from)) if (name !== 'node_modules') linkOrCopy(join(from, name), join(to, name));
    return;
  }
  if ((st.mode & 0o004) !== 0) {
    try { return linkSync(from, to); } catch { /* another file system, or links refused: copy */ }
  }
  copyFileSync(from, to);
  chmodSync(to, (st.mode & 0o111) !== 0 ? 0o755 : 0o644);
}

/**
 * The built CLI in a fresh temporary folder that every user can read: bin/, dist/, package.json and
 * the packages package-lock.json installs for production (what the CLI needs at run time), for
 * running it as another user (`cli(args, { bin, uid: NOBODY, gid: NOBODY })`) wherever the checkout
 * lives. The caller removes `dir`.
 */
export function publicCli(tag: string): { dir: string; bin: string } {
  requireDist();
  const dir = mkdtempSync(join(tmpdir(), `icl-cli-${tag}-`));
  chmodSync(dir, 0o755);
  requireOpenToOthers(dir);
  for (const entry of ['bin', 'dist', 'package.json']) linkOrCopy(join(root, entry), join(dir, entry));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const runtime = Object.entries(lock.packages).filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && existsSync(join(root, path)));
  for (const [path] of runtime.sort(([a], [b]) => a.length - b.length)) {
    mkdirOpen(dir, dirname(path));
    linkOrCopy(join(root, path), join(dir, path));
  }
  return { dir, bin: join(dir, 'bin', 'icl-lab') };
}

export const runJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One line on stderr: "icl-lab: ..." and nothing else (no stack trace). */
export const oneLine = (stderr: string) => stderr.trim().split('\n').length === 1 && stderr.startsWith('icl-lab: ') && !/\n\s+at /.test(stderr);

/** Resolves once `cond()` holds (asked every 25 ms; a throw counts as not yet); rejects after `timeoutMs`, with `info()`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 60_000, info: () => string = () => ''): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      if (cond()) return;
    } catch { /* a file mid-rename: ask again */ }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}; ${info()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
