/**
 * `icl-lab worker --queue redis://HOST:PORT [--concurrency N]`: take sweep jobs from a BullMQ queue
 * (enqueued by `icl-lab sweep --queue`) and train them, each in a worker thread, until stopped.
 * SIGTERM / Ctrl-C: every job checkpoints, goes back to the queue for another worker, and the
 * process exits. Redis away: training goes on and the worker reconnects; away for --outage-seconds:
 * every job checkpoints and the worker exits 1 with one line.
 */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { onInterrupt } from '../signals.js';

/** How long a worker waits for an unreachable Redis before it gives up. */
const DEFAULT_OUTAGE_SECONDS = 60;

interface WorkerCliOptions {
  queue?: string;
  concurrency?: string;
  lockSeconds?: string;
  outageSeconds?: string;
  untilEmpty?: boolean;
}

function num(flag: string, v: string | undefined, lo: number, hi: number, int: boolean): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(x) || (int && !Number.isInteger(x)) || x < lo || x > hi) {
    throw new UsageError(`${flag} must be ${int ? 'an integer' : 'a number'} in ${lo}..${hi}, got ${JSON.stringify(v)}`);
  }
  return x;
}

export async function workerAction(o: WorkerCliOptions): Promise<number> {
  if (o.queue === undefined || o.queue === '') throw new UsageError('--queue redis://HOST:PORT is required (the Redis that `icl-lab sweep --queue` enqueued on)');
  const { parseQueueUrl, probeRedis, QueueError, runWorker } = await import('../../sweep/queue.js'); // BullMQ loads only here
  const t = parseQueueUrl(o.queue);
  const concurrency = num('--concurrency', o.concurrency, 1, 256, true) ?? Math.max(1, availableParallelism());
  const lockSeconds = num('--lock-seconds', o.lockSeconds, 1, 3600, false) ?? 30;
  const outageSeconds = num('--outage-seconds', o.outageSeconds, 1, 86_400, false) ?? DEFAULT_OUTAGE_SECONDS;
  await probeRedis(t);
  const log = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} worker ${process.pid}: ${s}\n`);
  const controller = new AbortController();
  const remove = onInterrupt((sig) => {
    log(`${sig}: checkpointing the active jobs and giving them back to the queue`);
    controller.abort();
  });
  const onReady = () => log(`taking jobs from ${t.shown} (concurrency ${concurrency}${o.untilEmpty ? ', until the queue is empty' : ''})`);
  try {
    const r = await runWorker(t, { concurrency, lockMs: lockSeconds * 1000, outageMs: outageSeconds * 1000, untilEmpty: o.untilEmpty === true, log, signal: controller.signal, onReady });
    log(`stopped: ${r.completed} job(s) completed, ${r.failed} failed (diverged), ${r.gaveBack} given back`);
    if (r.stranded && !r.lost && r.stranded.length === 0) log(`stopped while Redis at ${t.shown} is unreachable; no job was active`);
    else if (r.stranded && !r.lost) {
      throw new QueueError(
        `stopped while Redis at ${t.shown} is unreachable: ${r.stranded.length} job(s) checkpointed (${r.stranded.join(', ')}) and left in the queue; start a worker again once Redis is back`,
      );
    }
    if (r.lost) {
      const jobs = r.lost.checkpointed.length;
      throw new QueueError(
        `lost Redis at ${t.shown}: unreachable for ${r.lost.seconds} s (${r.lost.why}; the bound is --outage-seconds ${outageSeconds}); ` +
          `${jobs === 0 ? 'no job was active' : `${jobs} active job(s) checkpointed (${r.lost.checkpointed.join(', ')}) and left in the queue`}; start the worker again once Redis is back`,
      );
    }
  } finally {
    remove();
  }
  return 0;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('take sweep jobs from a BullMQ + Redis queue (`icl-lab sweep --queue`) and train them, one worker thread per job; the run directories must be on a file system this machine sees. SIGTERM checkpoints and gives the jobs back')
    .option('--queue <url>', '[redis://HOST:PORT] the Redis the sweep was enqueued on (rediss:// for TLS; password in the URL or $ICL_LAB_REDIS_PASSWORD)')
    .option('--concurrency <n>', '[int] jobs trained at once (default: number of cores)')
    .option('--lock-seconds <s>', '[number] job lock; a worker that dies loses its job to another after about this long (default: 30)')
    .option('--outage-seconds <s>', `[number] Redis unreachable this long: checkpoint every job and exit 1 (default: ${DEFAULT_OUTAGE_SECONDS}); shorter outages: training goes on and the worker reconnects`)
    .option('--until-empty', '[flag] exit when no job is waiting, active or delayed (default: keep waiting for jobs)')
    .action(async (o: WorkerCliOptions) => {
      process.exitCode = await workerAction(o);
    });
}
