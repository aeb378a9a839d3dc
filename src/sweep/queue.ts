/**
 * Sweeps across machines on BullMQ + Redis. One queue (`icl-lab-sweep`); one job per run, its id
 * `<sweep id>-<config hash>` so enqueuing the same sweep twice adds nothing. A job carries only
 * paths: the run directory (created at step 0 by the enqueuer) must be visible to every worker
 * (a shared file system), and the worker trains it from its checkpoint, so a job retried after
 * its worker died resumes where the last checkpoint left it.
 *
 * The training runs in a worker thread (run/worker.ts, the same one the local pool uses), so
 * this thread's event loop stays free to renew the job's lock: a CPU-bound processor would let the
 * lock expire and BullMQ would hand the job to a second worker while the first still trains it.
 *
 * Redis URLs: redis://[user][:password]@host:port[/db] or rediss:// (TLS). The password (from the
 * URL or ICL_LAB_REDIS_PASSWORD) is never printed or written: every message shows `redactUrl`.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { DelayedError, Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { UsageError } from '../errors.js';
import type { RunSummary } from '../run/run.js';
import type { WorkerJob, WorkerMessage } from '../run/worker.js';
import { acquireRunLock, releaseRunLock } from '../run/lock.js';
import { verifySweepJob, type PreparedSweep } from './sweep-dir.js';

export const QUEUE_NAME = 'icl-lab-sweep';
export const PASSWORD_ENV = 'ICL_LAB_REDIS_PASSWORD';

export interface RedisTarget {
  /** The URL with any password replaced by ***: safe to print. */
  shown: string;
  /** Connection options for ioredis / BullMQ (holds the password: never print it). */
  options: { host: string; port: number; db: number; username?: string; password?: string; tls?: { servername?: string }; maxRetriesPerRequest: null };
}

/** Parse `--queue URL`; a UsageError for anything but redis:// or rediss:// with a host. */
export function parseQueueUrl(url: string, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--queue must be a Redis URL such as redis://HOST:6379 or rediss://:PASSWORD@HOST:6380, got ${JSON.stringify(redactText(url))}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new UsageError(`--queue must be a redis:// or rediss:// URL, got ${u.protocol}//... (${redactUrl(u)})`);
  }
  if (!u.hostname) throw new UsageError(`--queue ${redactUrl(u)}: no host`);
  const port = u.port ? Number(u.port) : 6379;
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!/^\/?\d*$/.test(u.pathname) || !Number.isSafeInteger(db) || db < 0 || db > 2 ** 31 - 1) throw new UsageError(`--queue ${redactUrl(u)}: the path must be a database number (/0, /1, ...)`);
  const password = u.password ? decodeURIComponent(u.password) : env[PASSWORD_ENV] || undefined;
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    shown: redactUrl(u),
    options: {
      host, port, db,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(u.protocol === 'rediss:' ? { tls: isIP(host) ? {} : { servername: host } } : {}),
      maxRetriesPerRequest: null,
    },
  };
}

function redactUrl(u: URL): string {
  const c = new URL(u.href);
  if (c.password) c.password = '***';
  return c.href.replace(/\/$/, '');
}

/** Redact what looks like a password in a string that is not a valid URL. */
function redactText(s: string): string {
  return s.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/**
 * Connect once, authenticate and PING, within `timeoutMs`: an unreachable server or a refused
 * password is one clear error in seconds, not an endless reconnect loop.
 */
export async function probeRedis(t: RedisTarget, timeoutMs = 4000): Promise<void> {
  const client = new Redis({
    ...t.options, lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0,
    retryStrategy: () => null, enableOfflineQueue: false, reconnectOnError: () => false,
  });
  let lastError: Error | undefined;
  client.on('error', (e: Error) => (lastError = e));
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs + 500).unref());
  try {
    await Promise.race([client.connect().then(() => client.ping()), timer]);
    await selectDatabase(client, t);
  } catch (err) {
    if (err instanceof QueueError) throw err;
    // "Connection is closed." hides the reason: the socket's own error (ECONNREFUSED, ...) says more
    const thrown = err instanceof Error ? err.message : String(err);
    const msg = lastError && /Connection is closed|timeout/i.test(thrown) ? lastError.message : thrown;
    if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) {
      throw new QueueError(`Redis at ${t.shown} refused the credentials (wrong password or user); check the URL or ${PASSWORD_ENV}`);
    }
    if (/NOAUTH|Authentication required/i.test(msg)) {
      throw new QueueError(`Redis at ${t.shown} needs a password: give it as redis://:PASSWORD@HOST:PORT or in ${PASSWORD_ENV}`);
    }
    if (/certificate|self.signed|unable to verify|ERR_TLS|SSL|wrong version number/i.test(msg)) {
      throw new QueueError(`TLS to Redis at ${t.shown} failed (${msg}); for a private CA, point NODE_EXTRA_CA_CERTS at its certificate; for a plain server use redis://`);
    }
    const why = /Unknown RESP type|Protocol error/i.test(msg) ? 'something answers there, but not a Redis server' : /ECONNREFUSED/.test(msg) ? 'connection refused' : /ENOTFOUND|EAI_AGAIN/.test(msg) ? 'unknown host' : /timeout|ETIMEDOUT/i.test(msg) ? `no answer within ${timeoutMs / 1000} s` : msg;
    throw new QueueError(`cannot reach Redis at ${t.shown} (${why}); is redis-server running there and reachable from this machine?`);
  } finally {
    client.disconnect();
  }
}

/**
 * SELECT the URL's database explicitly: ioredis only reports a refused SELECT as an 'error' event
 * and goes on in database 0, where the jobs would mix with every other sweep's.
 */
async function selectDatabase(client: Redis, t: RedisTarget): Promise<void> {
  try {
    await client.select(t.options.db);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/out of range|invalid DB index/i.test(msg)) {
      throw new QueueError(`Redis at ${t.shown} has no database ${t.options.db} (it has databases 0..N-1, N = its "databases" setting, 16 by default); give a database it has, e.g. /0`);
    }
    throw new QueueError(`Redis at ${t.shown} refused SELECT ${t.options.db} (${msg})`);
  }
}

/** A queue problem the user must fix (unreachable, wrong password): one line, exit 1. */
export class QueueError extends UsageError {
  override name = 'QueueError';
  constructor(message: string) {
    super(message, 1);
  }
}

export interface SweepJobData {
  sweepId: string;
  sweepDir: string;
  name: string;
  /** Absolute run directory (on a file system every worker sees). */
  dir: string;
  hash: string;
  steps: number;
}

export const jobId = (sweepId: string, hash: string): string => `${sweepId}-${hash}`;

function quietErrors(x: { on(ev: 'error', f: (e: Error) => void): unknown }, log: (s: string) => void): void {
  let said = '';
  x.on('error', (e: Error) => {
    if (e.message !== said) log(`redis: ${e.message}`);
    said = e.message;
  });
}

export function openQueue(t: RedisTarget, log: (s: string) => void = () => {}): Queue {
  const q = new Queue(QUEUE_NAME, { connection: t.options });
  quietErrors(q, log);
  return q;
}

export interface EnqueueResult {
  added: string[];
  /** Already in the queue (waiting, active, delayed or completed): not added again. */
  present: string[];
  /** Finished on disk: no job needed. */
  finished: string[];
  /** Failed jobs put back (retry). */
  retried: string[];
}

/** One job per unfinished run; jobs that exist are left alone (a failed one is retried). */
export async function enqueueSweep(q: Queue, p: PreparedSweep): Promise<EnqueueResult> {
  const out: EnqueueResult = { added: [], present: [], finished: [], retried: [] };
  for (const r of p.runs) {
    if (r.state.kind !== 'todo') {
      out.finished.push(r.name);
      continue;
    }
    const id = jobId(p.sweep.id, r.hash);
    const existing = await q.getJob(id);
    if (existing) {
      const state = await existing.getState();
      if (state === 'failed') {
        await existing.retry('failed');
        out.retried.push(r.name);
      } else if (state === 'completed') {
        await existing.remove(); // completed in the queue but not on disk (e.g. given more steps): train again
        await addJob(q, p, r, id);
        out.added.push(r.name);
      } else out.present.push(r.name);
      continue;
    }
    await addJob(q, p, r, id);
    out.added.push(r.name);
  }
  return out;
}

async function addJob(q: Queue, p: PreparedSweep, r: PreparedSweep['runs'][number], id: string): Promise<void> {
  const data: SweepJobData = { sweepId: p.sweep.id, sweepDir: resolve(p.dir), name: r.name, dir: r.dir, hash: r.hash, steps: r.config.steps };
  await q.add(r.name, data, { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: false, removeOnFail: false });
}

export interface JobView {
  name: string;
  state: string;
  step: number;
  total: number;
  stepsPerSecond: number;
  failedReason?: string;
}

/** State and last reported progress of each run's job (null: no such job). */
export async function jobViews(q: Queue, sweepId: string, runs: readonly { name: string; hash: string }[]): Promise<(JobView | null)[]> {
  return Promise.all(runs.map(async (r) => {
    let job: Job | undefined;
    try {
      job = await q.getJob(jobId(sweepId, r.hash));
    } catch (err) {
      // data that is not JSON (written by hand, corrupt): shown, with the reason; a worker fails it
      return { name: r.name, state: 'corrupt', step: 0, total: 0, stepsPerSecond: 0, failedReason: `job data in Redis is not valid JSON (${err instanceof Error ? err.message : String(err)})` };
    }
    if (!job) return null;
    const state = await job.getState();
    const pr = (typeof job.progress === 'object' && job.progress !== null ? job.progress : {}) as Partial<JobView>;
    return {
      name: r.name, state, step: pr.step ?? 0, total: pr.total ?? (job.data as SweepJobData).steps, stepsPerSecond: pr.stepsPerSecond ?? 0,
      ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    };
  }));
}

// ---------------------------------------------------------------------------------------------
// The worker
// ---------------------------------------------------------------------------------------------

export interface WorkerOptions {
  concurrency: number;
  /** BullMQ lock duration (a dead worker's job goes back to the queue after about this long). */
  lockMs: number;
  /** Exit when no job of the queue is waiting, active or delayed. */
  untilEmpty: boolean;
  log: (s: string) => void;
  /** Abort = checkpoint every job, give it back to the queue, exit. */
  signal: AbortSignal;
  /** Called once the training threads are loaded and the worker starts taking jobs. */
  onReady?: () => void;
}

function trainThreadScript(): string {
  const path = fileURLToPath(new URL('../run/worker.js', import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing: run the compiled CLI (npm run build)`);
  return path;
}

/**
 * Warm training threads, one per job slot, started with the worker (module loading and the
 * WebAssembly compile happen once, not per job). Each trains one run at a time; a thread that
 * dies is replaced.
 */
export class TrainThreads {
  private readonly idle: Thread[] = [];
  private readonly all = new Set<Thread>();
  /** Resolves when every thread has loaded its modules. */
  readonly ready: Promise<void>;

  constructor(size: number) {
    for (let i = 0; i < size; i++) this.idle.push(this.spawn());
    this.ready = Promise.all(this.idle.map((t) => new Promise<void>((resolve) => {
      const on = (m: WorkerMessage) => {
        if (m.type === 'ready') {
          t.off('message', on);
          resolve();
        }
      };
      t.on('message', on);
      t.once('exit', () => resolve());
    }))).then(() => {});
  }

  private spawn(): Thread {
    const t = new Thread(trainThreadScript()); // no workerData: the long-lived mode of run/worker.ts
    this.all.add(t);
    t.on('error', () => {}); // reported through the job that was running (exit without a result)
    t.on('exit', () => {
      this.all.delete(t);
      const i = this.idle.indexOf(t);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return t;
  }

  /** Train the run in `data.dir` from its checkpoint; `stopSignal` asks it to checkpoint and return. */
  train(data: SweepJobData, onProgress: (p: { step: number; total: number; stepsPerSecond: number }) => void, stopSignal: AbortSignal): Promise<RunSummary> {
    const t = this.idle.pop() ?? this.spawn();
    return new Promise((resolve, reject) => {
      const stop = () => t.postMessage({ type: 'stop' });
      const cleanup = () => {
        t.off('message', onMessage);
        t.off('exit', onExit);
        stopSignal.removeEventListener('abort', stop);
      };
      const onMessage = (m: WorkerMessage) => {
        if (m.name !== data.name) return;
        if (m.type === 'progress') onProgress({ step: m.step, total: m.total, stepsPerSecond: m.stepsPerSecond });
        else if (m.type === 'done' || m.type === 'error') {
          cleanup();
          this.idle.push(t);
          if (m.type === 'done') resolve(m.summary);
          else reject(new Error(m.message));
        }
      };
      const onExit = () => {
        cleanup();
        reject(new Error('the training thread exited without a result'));
      };
      t.on('message', onMessage);
      t.on('exit', onExit);
      const job: WorkerJob = { dir: data.dir, name: data.name };
      t.postMessage({ type: 'job', job });
      if (stopSignal.aborted) stop();
      else stopSignal.addEventListener('abort', stop, { once: true });
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.all].map((t) => t.terminate()));
  }
}

const BAD_DATA = '__icl_lab_bad_data__';
interface BadJobData {
  [BAD_DATA]: string;
}

/**
 * BullMQ's Worker, but a job whose data in Redis is not JSON (written there by hand, or corrupt)
 * reaches the processor, which fails it with the reason; BullMQ itself would throw while taking it
 * and leave it active for ever (so `worker --until-empty` would never exit).
 */
class SweepWorker extends Worker<SweepJobData, RunSummary> {
  protected override createJob(raw: Parameters<Worker['createJob']>[0], jobId: string): Job<SweepJobData, RunSummary> {
    try {
      return super.createJob(raw, jobId);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return super.createJob({ ...raw, data: JSON.stringify({ [BAD_DATA]: why }) }, jobId);
    }
  }
}

/** Take jobs until stopped (or, with untilEmpty, until the queue is empty). */
export async function runWorker(t: RedisTarget, o: WorkerOptions): Promise<{ completed: number; gaveBack: number; failed: number; abandoned: boolean }> {
  let completed = 0, gaveBack = 0, failed = 0;
  const threads = new TrainThreads(o.concurrency);
  const processor = async (job: Job<SweepJobData, RunSummary>, token?: string): Promise<RunSummary> => {
    const data = job.data;
    const bad = (data as unknown as Partial<BadJobData> | undefined)?.[BAD_DATA];
    if (bad !== undefined) throw new UnrecoverableError(`job ${job.id} refused: its data is not valid JSON (${bad})`);
    if (typeof data?.dir === 'string' && !existsSync(data.dir)) {
      throw new UnrecoverableError(`run directory ${data.dir} is not visible on this machine; the sweep's DIR must be on a file system every worker sees`);
    }
    // only a run of a sweep on disk that confirms the job (its id, name, hash and directory)
    try {
      verifySweepJob(data);
    } catch (err) {
      throw new UnrecoverableError(`job ${job.id} refused: ${err instanceof Error ? err.message : String(err)}`);
    }
    // one trainer per run: the run directory's lock (another worker, a local sweep, train --resume)
    try {
      acquireRunLock(data.dir);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      o.log(`[${data.name}] ${err.message.split(';')[0]}; job put back for later`);
      await job.moveToDelayed(Date.now() + Math.max(1000, o.lockMs), token);
      throw new DelayedError();
    }
    o.log(`[${data.name}] started (job ${job.id}, attempt ${job.attemptsMade + 1})`);
    let last = 0;
    try {
      const summary = await threads.train(data, (p) => {
        const now = Date.now();
        if (now - last < 1000 && p.step < p.total) return;
        last = now;
        job.updateProgress({ step: p.step, total: p.total, stepsPerSecond: Math.round(p.stepsPerSecond) }).catch(() => {});
      }, o.signal);
      if (summary.status === 'interrupted') {
        if ((await withTimeout(job.moveToWait(token), SHUTDOWN_MS)) === 'timeout') {
          o.log(`[${data.name}] checkpointed at step ${summary.step}; Redis did not answer, so the job stays active until its lock expires`);
          throw new WaitingError();
        }
        gaveBack++;
        o.log(`[${data.name}] checkpointed at step ${summary.step}; job given back to the queue`);
        throw new WaitingError();
      }
      await job.updateProgress({ step: summary.step, total: summary.steps, stepsPerSecond: 0 }).catch(() => {});
      if (summary.status === 'completed') completed++;
      else failed++;
      o.log(`[${data.name}] ${summary.status} at step ${summary.step}${summary.status === 'completed' ? ` (${Math.round(summary.steps_per_second)} steps/s)` : ''}`);
      return summary;
    } finally {
      releaseRunLock(data.dir);
    }
  };
  const worker = new SweepWorker(QUEUE_NAME, processor, {
    connection: t.options,
    concurrency: o.concurrency,
    lockDuration: o.lockMs,
    stalledInterval: Math.max(1000, o.lockMs),
    maxStalledCount: MAX_STALLED, // runs resume from their checkpoints: a worker dying again and again loses nothing
    autorun: false,
  });
  quietErrors(worker, o.log);
  worker.on('failed', (job, err) => {
    if (job && err && !(err instanceof WaitingError) && err.name !== 'WaitingError') o.log(`[${typeof job.data?.name === 'string' ? job.data.name : job.id}] error: ${err.message}`);
  });
  const q = openQueue(t, o.log);
  await threads.ready; // take the first job only when the training threads can start it at once
  const run = worker.run();
  o.onReady?.();
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    o.signal.addEventListener('abort', () => resolve(), { once: true });
    if (o.untilEmpty) {
      timer = setInterval(async () => {
        try {
          const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          if (Object.values(c).every((n) => n === 0)) resolve();
        } catch { /* redis hiccup: ask again */ }
      }, 500);
    }
  });
  await stopped;
  if (timer) clearInterval(timer);
  // waits for the active jobs: stopped ones checkpoint and give their job back. With Redis down
  // that would wait for ever: after SHUTDOWN_MS the jobs stay with the queue (their locks expire
  // and another worker resumes them from the checkpoints, which are on disk already)
  let abandoned = false;
  const bounded = async (what: Promise<unknown>): Promise<void> => {
    const t = await withTimeout(what, SHUTDOWN_MS);
    if (t === 'timeout') abandoned = true;
  };
  await bounded(worker.close());
  if (abandoned) {
    o.log(`Redis at ${t.shown} did not answer within ${SHUTDOWN_MS / 1000} s; the checkpointed jobs stay with the queue (another worker resumes them once their lock expires)`);
    await threads.close();
    return { completed, gaveBack, failed, abandoned };
  }
  await run.catch(() => {});
  await bounded(q.close());
  await threads.close();
  return { completed, gaveBack, failed, abandoned };
}

/**
 * How often a job may lose its worker (killed, machine lost) and go back to the queue: practically
 * without limit (BullMQ's default is 1, ours was 5), since each retry resumes from the checkpoint.
 * A job that errors (not a death) is still tried `attempts` (3) times; a failed job is shown by
 * `sweep status --queue` and put back by the same `sweep --out DIR --queue URL`.
 */
export const MAX_STALLED = 1_000_000;

/** How long a stopping worker waits for Redis to take its jobs back. */
export const SHUTDOWN_MS = 10_000;

async function withTimeout(p: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([p.then(() => 'done' as const, () => 'done' as const), t]);
  } finally {
    clearTimeout(timer);
  }
}
