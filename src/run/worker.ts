/**
 * worker_threads entry: trains one run directory (runs.ts starts one worker per run, up to --jobs
 * at a time), or, started without workerData, one run after another as {type: 'job'} messages
 * arrive (a warm thread for the queue worker). Messages to the parent: progress, line, done,
 * error. From the parent: stop (checkpoint now, status interrupted).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { runSession } from './run.js';

export interface WorkerJob {
  dir: string;
  name: string;
  steps?: number;
  changes?: Partial<import('./config.js').TrainConfig>;
  labels?: import('./labels.js').RunLabels;
  chunkMs?: number;
  threads?: 1 | 2;
}

export type WorkerMessage =
  | { type: 'progress'; name: string; step: number; total: number; startStep: number; loss: number; stepsPerSecond: number }
  | { type: 'line'; name: string; text: string }
  | { type: 'done'; name: string; summary: import('./run.js').RunSummary }
  | { type: 'error'; name: string; message: string; usage: boolean; /** the system error's code (ENOSPC, EACCES, ...), when it is one */ code?: string }
  /** Long-lived mode: the thread has loaded its modules and takes jobs. */
  | { type: 'ready'; name: '' };

const port = parentPort;
if (!port) throw new Error('worker.ts must run inside a worker thread');
let stop = false;
const post = (m: WorkerMessage): void => port.postMessage(m);
let threads: 1 | 2 = 1;

async function train(job: WorkerJob): Promise<void> {
  stop = false;
  threads = job.threads ?? 1;
  try {
    const summary = await runSession(job.dir, job.name, job.steps, {
      chunkMs: job.chunkMs ?? 100,
      threads,
      threadsNow: () => threads,
      shouldStop: () => stop,
      onLine: (text) => post({ type: 'line', name: job.name, text }),
      onProgress: (p) => post({ type: 'progress', name: job.name, ...p }),
    }, job.changes ?? {}, job.labels ?? {});
    post({ type: 'done', name: job.name, summary });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    post({ type: 'error', name: job.name, message: err instanceof Error ? err.message : String(err), usage: err instanceof UsageError, ...(typeof code === 'string' ? { code } : {}) });
  }
}

/** stop: checkpoint now; threads: batches on a second thread from now on (bit-identical) */
const control = (m: { type: string; threads?: 1 | 2 }): boolean => {
  if (m?.type === 'stop') stop = true;
  else if (m?.type === 'threads' && (m.threads === 1 || m.threads === 2)) threads = m.threads;
  else return false;
  return true;
};

if (workerData) {
  // one run per thread (run/runs.ts)
  port.on('message', (m: { type: string; threads?: 1 | 2 }) => void control(m));
  await train(workerData as WorkerJob);
  port.close();
} else {
  // a long-lived thread (sweep/queue.ts keeps one warm per job slot): {type: 'job', job} runs one
  // run at a time; {type: 'stop'} stops the current one at a checkpoint
  port.on('message', (m: { type: string; job?: WorkerJob; threads?: 1 | 2 }) => {
    if (!control(m) && m?.type === 'job' && m.job) void train(m.job);
  });
  post({ type: 'ready', name: '' });
}
