#!/usr/bin/env node
// Measures the sweep machinery (run with the compiled dist/):
//   1. queue overhead: one 20,000-step job (the default config) through BullMQ + a real redis-server
//      (started here on a free loopback port) against the same run's own training wall time;
//   2. local scaling: a sweep of 4 runs x STEPS with --jobs 1 and --jobs 2, one thread per run (so
//      --jobs 1 does not use the second core for its batches: the workers' scaling alone).
// Usage: node scripts/sweep-bench.mjs [--steps 20000] [--skip-scaling]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'icl-lab');
const args = process.argv.slice(2);
const steps = Number(args[args.indexOf('--steps') + 1] || 20000) || 20000;
const tmp = mkdtempSync(join(tmpdir(), 'icl-sweep-bench-'));
const cli = (a) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...a], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`icl-lab ${a.join(' ')} failed: ${r.stderr}`);
  return { ...r, seconds: (performance.now() - t0) / 1000 };
};
const port = await new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const redis = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));
const url = `redis://127.0.0.1:${port}`;
console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (shared machine: timings are indicative)`);
try {
  // 1. queue overhead
  // a worker already waiting for jobs (the steady state of a cluster), then one job
  const worker = spawn(process.execPath, [bin, 'worker', '--queue', url, '--concurrency', '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise((r) => worker.on('exit', r));
  await new Promise((r) => worker.stdout.once('data', r)); // "taking jobs from ..." = threads ready
  const dir = join(tmp, 'q');
  cli(['sweep', '--out', dir, '--steps', String(steps), '--seeds', '1', '--queue', url, '--progress', 'none']);
  const w = cli(['sweep', '--out', dir, '--queue', url, '--wait', '--progress', 'none', '--eval-samples', '100']);
  worker.kill('SIGTERM');
  await exited;
  const { Queue } = await import('bullmq');
  const q = new Queue('icl-lab-sweep', { connection: { host: '127.0.0.1', port } });
  const [job] = await q.getJobs(['completed']);
  const run = JSON.parse(readFileSync(join(dir, 'runs', 'seed1024', 'run.json'), 'utf8'));
  const train = run.timings.wall_seconds;
  const inJob = (job.finishedOn - job.processedOn) / 1000;
  const total = (job.finishedOn - job.timestamp) / 1000;
  await q.close();
  console.log(`queue: ${steps}-step job: training ${train.toFixed(3)} s (run.json wall); job active ${inJob.toFixed(3)} s; enqueued -> finished ${total.toFixed(3)} s`);
  console.log(`queue: overhead inside the job (hand-off to the warm thread, checkpoint load, final save, updateProgress) ${(inJob - train).toFixed(3)} s = ${((100 * (inJob - train)) / train).toFixed(2)} %`);
  console.log(`queue: overhead enqueue -> finished (includes the worker's poll for new jobs) ${(total - train).toFixed(3)} s = ${((100 * (total - train)) / train).toFixed(2)} %`);
  void w;
  // 2. local scaling
  if (!args.includes('--skip-scaling')) {
    const grid = ['--grid', 'heads=1,2', '--seeds', '2', '--steps', String(steps), '--progress', 'none', '--eval-samples', '100'];
    const one = cli(['sweep', ...grid, '--out', join(tmp, 'j1'), '--jobs', '1', '--threads', '1']);
    const two = cli(['sweep', ...grid, '--out', join(tmp, 'j2'), '--jobs', '2', '--threads', '1']);
    const wall = (s) => Number(/; (?:(\d+)m)?(\d+)s wall/.exec(s.stderr)?.slice(1).reduce((a, x, i) => a + (i === 0 ? 60 * Number(x ?? 0) : Number(x)), 0));
    console.log(`local: 4 runs x ${steps} steps: --jobs 1 ${wall(one)} s, --jobs 2 ${wall(two)} s (training phase; whole command ${one.seconds.toFixed(1)} s vs ${two.seconds.toFixed(1)} s): speed-up ${(wall(one) / wall(two)).toFixed(2)}x`);
  }
} finally {
  redis.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
