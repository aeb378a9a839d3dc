/** Helpers of the hostile-input tests (issue 12): the compiled CLI, spawned. */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bin = join(root, 'bin', 'icl-lab');

export function requireDist(): void {
  if (!existsSync(join(root, 'dist', 'run', 'runs.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` first');
}

export function newTmp(tag: string): string {
  return mkdtempSync(join(tmpdir(), `icl-hostile-${tag}-`));
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

export function cli(args: string[], opts: SpawnSyncOptions & { timeout?: number } = {}): CliResult {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', ...opts });
  return { code: r.status, signal: r.signal, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), ms: Date.now() - t0 };
}

export function start(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, done, out: () => stdout, err: () => stderr };
}

export const runJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One line on stderr: "icl-lab: ..." and nothing else (no stack trace). */
export const oneLine = (stderr: string) => stderr.trim().split('\n').length === 1 && stderr.startsWith('icl-lab: ') && !/\n\s+at /.test(stderr);
