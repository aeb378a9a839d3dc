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
import { acquireRunLock, releaseRunLock } from '../run/lock.js';
import type { RunSummary } from '../run/run.js';
import { summaryFromDisk } from '../run/runs.js';
import type { WorkerJob, WorkerMessage } from '../run/worker.js';
import { runState, verifySweepJob, type PreparedSweep } from './sweep-dir.js';
import { OutageWatch, unreachableReason } from './outage.js';

export const QUEUE_NAME = 'icl-lab-sweep';
export const PASSWORD_ENV = 'ICL_LAB_REDIS_PASSWORD';

export interface RedisTarget {
  /** The URL with any password replaced by ***: safe to print. */
  shown: string;
  /** Connection options for ioredis / BullMQ (holds the password: never print it). */
  options: {
    host: string; port: number; db: number; username?: string; password?: string; tls?: { servername?: string }; maxRetriesPerRequest: null;
    retryStrategy: (times: number) => number;
  };
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
      // reconnect every 0.25, 0.5, ... at most 2 s (BullMQ's default backs off to 20 s: a Redis back
      // after an outage would wait that long for its workers)
      retryStrategy: reconnectDelay,
    },
  };
}

/** Delay before the n-th reconnection attempt (ms). */
export const reconnectDelay = (times: number): number => Math.min(250 * times, 2000);

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
    throw new QueueError(`cannot reach Redis at ${t.shown} (${unreachableReason(msg, timeoutMs)}); is redis-server running there and reachable from this machine?`);
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
  /**
   * Redis unreachable this long: checkpoint every job, leave it in the queue, return with `lost`
   * (the CLI exits 1). Shorter outages: training goes on, the worker reconnects.
   */
  outageMs: number;
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

/**
 * How often a job may lose its worker (killed, machine lost) and go back to the queue: practically
 * without limit (BullMQ's default is 1, ours was 5), since each retry resumes from the checkpoint.
 * A job that errors (not a death) is still tried `attempts` (3) times; a failed job is shown by
 * `sweep status --queue` and put back by the same `sweep --out DIR --queue URL`.
 */
export const MAX_STALLED = 1_000_000;

export interface WorkerResult {
  completed: number;
  gaveBack: number;
  failed: number;
  /** Set when Redis stayed unreachable for `outageMs`: why, and the active jobs left checkpointed. */
  lost?: { why: string; seconds: number; checkpointed: string[] };
  /** Set when the worker was stopped (SIGTERM) while Redis was unreachable: the jobs checkpointed and left in the queue (maybe none). */
  stranded?: string[];
}

/** A job whose run another process holds (its lease) waits this long before it is tried again. */
export const BUSY_RETRY_MS = 2000;

/** Settle `p` or give up waiting after `ms` (closing connections to a Redis that is gone may never settle). */
const bounded = (p: Promise<unknown>, ms = 2000): Promise<unknown> => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);

/**
 * Take jobs until stopped (or, with untilEmpty, until the queue is empty, or Redis is gone for
 * `outageMs`). Each job's run directory is held with the run lease (run/lock.ts) while it trains: a
 * job handed out twice (its BullMQ lock expired during a Redis outage, or a sweep enqueued again
 * after its Redis lost the queue) waits while the other copy trains, and a job whose run is already
 * completed on disk completes without training.
 */
export async function runWorker(t: RedisTarget, o: WorkerOptions): Promise<WorkerResult> {
  let completed = 0, gaveBack = 0, failed = 0;
  const threads = new TrainThreads(o.concurrency);
  const stopAll = new AbortController(); // SIGTERM, or Redis lost: every training checkpoints
  const onSignal = () => {
    stopAll.abort();
    settle();
  };
  if (o.signal.aborted) stopAll.abort();
  else o.signal.addEventListener('abort', onSignal, { once: true });
  let lost: WorkerResult['lost'];
  const stranded: string[] = [];
  // stopping while Redis is away: once nothing trains, closing would wait for Redis (perhaps for ever); stop without it
  let stoppedAway = false;
  const givingBack = new Map<string, number>(); // run name -> checkpoint step, while its job is being given back
  const strand = (name: string, step: number) => {
    stranded.push(name);
    o.log(`[${name}] checkpointed at step ${step}; Redis is unreachable, so the job stays in the queue (it goes back to waiting once Redis is back and its lock expires)`);
  };
  const settle = (down = watch.down) => {
    if (stoppedAway || !o.signal.aborted || training.size > 0 || (stranded.length === 0 && !down)) return;
    stoppedAway = true;
    for (const [name, step] of givingBack) strand(name, step); // Redis went away while they were being given back
    giveUp();
  };
  let giveUp!: () => void;
  const gaveUp = new Promise<void>((resolve) => (giveUp = resolve));
  const training = new Map<string, Promise<RunSummary>>(); // run name -> its training (disk work only)
  const busySaid = new Set<string>();
  const watch = new OutageWatch(t.options, o.outageMs, {
    onDown: (why) => {
      o.log(`redis: unreachable (${why}); training goes on; giving up after ${o.outageMs / 1000} s without Redis`);
      settle(true);
    },
    onUp: (ms) => o.log(`redis: back after ${(ms / 1000).toFixed(1)} s`),
    onGiveUp: (why, ms) => {
      lost = { why, seconds: Math.round(ms / 1000), checkpointed: [...training.keys()] };
      o.log(`redis: unreachable for ${Math.round(ms / 1000)} s (${why}); checkpointing ${training.size} active job(s) and stopping`);
      stopAll.abort();
      giveUp();
    },
  });
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
    try {
      acquireRunLock(data.dir);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      if (!busySaid.has(data.dir)) o.log(`[${data.name}] waits (job ${job.id}): ${err.message.replace(/ \(if that process is not icl-lab.*$/, '')}`);
      busySaid.add(data.dir);
      await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
      throw new DelayedError();
    }
    busySaid.delete(data.dir);
    const state = runState(data.dir); // under the lease: no other process is training it now
    if (state.kind === 'completed') {
      releaseRunLock(data.dir);
      o.log(`[${data.name}] already completed at step ${state.step} on disk (job ${job.id}): nothing to train`);
      return summaryFromDisk(data.dir, data.name);
    }
    o.log(`[${data.name}] started (job ${job.id}, attempt ${job.attemptsMade + 1})`);
    let last = 0;
    const run = threads.train(data, (p) => {
      const now = Date.now();
      if ((now - last < 1000 && p.step < p.total) || watch.down) return; // no progress piling up for a Redis that is away
      last = now;
      job.updateProgress({ step: p.step, total: p.total, stepsPerSecond: Math.round(p.stepsPerSecond) }).catch(() => {});
    }, stopAll.signal).finally(() => {
      releaseRunLock(data.dir);
      training.delete(data.name);
    });
    training.set(data.name, run);
    const summary = await run;
    if (lost) {
      o.log(`[${data.name}] checkpointed at step ${summary.step}; the job stays in the queue (it goes back to waiting once Redis is back and its lock expires)`);
      return new Promise<never>(() => {}); // like a worker that died: nothing more is said to Redis about this job
    }
    if (summary.status === 'interrupted' && watch.down) {
      // stopped while Redis is away: the job cannot be given back now and waiting for Redis could be for ever
      strand(data.name, summary.step);
      settle();
      return new Promise<never>(() => {});
    }
    if (summary.status === 'interrupted') {
      givingBack.set(data.name, summary.step);
      try {
        await job.moveToWait(token);
      } finally {
        givingBack.delete(data.name);
      }
      gaveBack++;
      o.log(`[${data.name}] checkpointed at step ${summary.step}; job given back to the queue`);
      settle();
      throw new WaitingError();
    }
    if (!watch.down) await job.updateProgress({ step: summary.step, total: summary.steps, stepsPerSecond: 0 }).catch(() => {});
    if (summary.status === 'completed') completed++;
    else failed++;
    o.log(`[${data.name}] ${summary.status} at step ${summary.step}${summary.status === 'completed' ? ` (${Math.round(summary.steps_per_second)} steps/s)` : ''}`);
    settle();
    return summary;
  };
  const worker = new SweepWorker(QUEUE_NAME, processor, {
    connection: t.options,
    concurrency: o.concurrency,
    lockDuration: o.lockMs,
    stalledInterval: Math.max(1000, o.lockMs),
    maxStalledCount: MAX_STALLED, // runs resume from their checkpoints: a worker dying again and again loses nothing
    runRetryDelay: 1000, // retries after a connection error (default 15 s)
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
      let asking = false;
      timer = setInterval(async () => {
        if (asking || watch.down) return;
        asking = true;
        try {
          const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          if (Object.values(c).every((n) => n === 0)) resolve();
        } catch { /* redis hiccup: ask again */ }
        asking = false;
      }, 500);
    }
  });
  await Promise.race([stopped, gaveUp]);
  if (timer) clearInterval(timer);
  // a clean stop waits for the active jobs (stopped ones checkpoint and give their job back), unless Redis goes meanwhile
  if (!lost) await Promise.race([worker.close(), gaveUp]);
  if (lost || stoppedAway) {
    await Promise.allSettled([...training.values()]); // every active run checkpointed, its lease released
    await bounded(worker.close(true)); // returns the clean close's promise if one began (a stop while Redis is away) ...
    await bounded(worker.disconnect()); // ... so its connections are dropped here
    await bounded(q.disconnect());
  } else {
    await run.catch(() => {});
    await q.close();
  }
  watch.stop();
  o.signal.removeEventListener('abort', onSignal);
  await threads.close();
  return { completed, gaveBack, failed, ...(lost ? { lost } : {}), ...(stoppedAway ? { stranded } : {}) };
}
