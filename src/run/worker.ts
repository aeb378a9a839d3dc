/**
 * worker_threads entry: trains one run directory (runs.ts starts one worker per run, up to --jobs
 * at a time). Messages to the parent: progress, line, done, error. From the parent: stop
 * (checkpoint now, status interrupted).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { runSession } from './run.js';

export interface WorkerJob {
  dir: string;
  name: string;
  steps?: number;
  changes?: Partial<import('./config.js').TrainConfig>;
  chunkMs?: number;
  threads?: 1 | 2;
}

export type WorkerMessage =
  | { type: 'progress'; name: string; step: number; total: number; startStep: number; loss: number; stepsPerSecond: number }
  | { type: 'line'; name: string; text: string }
  | { type: 'done'; name: string; summary: import('./run.js').RunSummary }
  | { type: 'error'; name: string; message: string; usage: boolean };

const port = parentPort;
if (!port) throw new Error('worker.ts must run inside a worker thread');
const job = workerData as WorkerJob;
let stop = false;
let threads: 1 | 2 = job.threads ?? 1;
port.on('message', (m: { type: string; threads?: 1 | 2 }) => {
  if (m?.type === 'stop') stop = true;
  if (m?.type === 'threads' && (m.threads === 1 || m.threads === 2)) threads = m.threads;
});
const post = (m: WorkerMessage): void => port.postMessage(m);

try {
  const summary = await runSession(job.dir, job.name, job.steps, {
    chunkMs: job.chunkMs ?? 100,
    threads,
    threadsNow: () => threads,
    shouldStop: () => stop,
    onLine: (text) => post({ type: 'line', name: job.name, text }),
    onProgress: (p) => post({ type: 'progress', name: job.name, ...p }),
  }, job.changes ?? {});
  post({ type: 'done', name: job.name, summary });
} catch (err) {
  post({ type: 'error', name: job.name, message: err instanceof Error ? err.message : String(err), usage: err instanceof UsageError });
}
port.close();
