/**
 * Test harness for the sweep tests: a real redis-server (Debian's package, installed by
 * scripts/system-deps.mjs) on a free loopback port, without persistence (or with an append-only
 * file, to be killed and started again on the same port), stopped after the tests; and helpers to
 * run the compiled CLI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bin = join(root, 'bin', 'icl-lab');
export const REDIS_SERVER = '/usr/bin/redis-server';

export function requireDist(): void {
  if (!existsSync(join(root, 'dist', 'sweep', 'queue.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` first');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** SIGKILL (a crash: nothing flushed but what the append-only file already holds). */
  kill(): Promise<void>;
}

/** Persistence for startRedis: appendonly yes, fsync always, in `dir`; `port` to start one again where a killed one was. */
export interface RedisPersistence {
  dir: string;
  port?: number;
}

/** Certificates for a TLS redis-server: a throw-away CA and a server certificate for localhost (openssl). */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  };
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=icl-lab test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/** Start redis-server on a free loopback port; throws (never skips) when it is missing. */
export async function startRedis(password?: string, tls?: { ca: string; cert: string; key: string }, persist?: RedisPersistence): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing: run \`node scripts/system-deps.mjs\` (npm test does it) or apt-get install redis-server`);
  const port = persist?.port ?? (await freePort());
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const persistence = persist
    ? ['--dir', persist.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction']
    : ['--appendonly', 'no'];
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', ...persistence, ...(password ? ['--requirepass', password] : [])];
  const child: ChildProcess = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stopChild = (sig: NodeJS.Signals) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(sig);
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/i.test(out)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return {
    port,
    url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    stop: () => stopChild('SIGTERM'),
    kill: () => stopChild('SIGKILL'),
  };
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 120_000) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, done, out: () => stdout, err: () => stderr };
}

export const runJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));

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
