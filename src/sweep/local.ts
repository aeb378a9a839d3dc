/**
 * A sweep on this machine: the unfinished runs of a prepared sweep through the existing
 * worker-thread pool (run/runs.ts executeRuns, one thread per core), with a sweep-level display.
 * Completed runs are skipped; interrupted ones continue from their checkpoints (bit-identically).
 */
import { UsageError } from '../errors.js';
import type { ProgressMode } from '../run/progress.js';
import { readRunJson, runIsLive } from '../run/run-dir.js';
import { executeRuns } from '../run/runs.js';
import type { RunSummary } from '../run/run.js';
import { sweepProgressOf } from './progress.js';
import type { PreparedSweep } from './sweep-dir.js';

export interface LocalSweepOptions {
  jobs?: number;
  /** Threads per run (run/runs.ts ExecuteOptions.threads); default as train. */
  threads?: 1 | 2;
  progress: ProgressMode;
  signal?: AbortSignal;
  chunkMs?: number;
}

export interface LocalSweepResult {
  summaries: RunSummary[];
  skipped: { name: string; why: string }[];
  interrupted: boolean;
  failed: string[];
  wallSeconds: number;
}

export async function runLocalSweep(p: PreparedSweep, o: LocalSweepOptions): Promise<LocalSweepResult> {
  const t0 = performance.now();
  const todo = p.runs.filter((r) => r.state.kind === 'todo');
  for (const r of todo) {
    const j = readRunJson(r.dir);
    if (runIsLive(j)) throw new UsageError(`${r.dir}: process ${j.pid} is training this run right now (another sweep or worker on this DIR?); stop it first`);
  }
  const skipped = p.runs.filter((r) => r.state.kind !== 'todo').map((r) => ({
    name: r.name, why: r.state.kind === 'completed' ? 'completed' : `failed earlier (${r.state.kind === 'failed' ? r.state.reason : ''}); not retried`,
  }));
  const display = sweepProgressOf(o.progress, p.runs);
  if (skipped.length > 0) display.note(`sweep: ${skipped.length} of ${p.runs.length} runs already finished; ${todo.length} to train`);
  let summaries: RunSummary[] = [];
  try {
    if (todo.length > 0) {
      summaries = await executeRuns(todo.map((r) => ({ dir: r.dir, name: r.name })), {
        progress: 'none',
        onLine: null,
        ...(o.jobs !== undefined ? { jobs: o.jobs } : {}),
        ...(o.threads !== undefined ? { threads: o.threads } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.chunkMs !== undefined ? { chunkMs: o.chunkMs } : {}),
        onRunProgress: (name, pr) => display.update(name, { step: pr.step, total: pr.total, stepsPerSecond: pr.stepsPerSecond }),
        onRunDone: (s) => {
          display.finish(s.name, s.status === 'completed' ? 'done' : s.status === 'failed' ? 'failed' : 'queued', s.step);
          if (s.status !== 'interrupted') display.note(`[${s.name}] ${s.status} at step ${s.step}${s.status === 'completed' ? ` (${Math.round(s.steps_per_second)} steps/s)` : ''}`);
        },
      });
    }
  } finally {
    display.stop();
  }
  return {
    summaries,
    skipped,
    interrupted: summaries.some((s) => s.status === 'interrupted'),
    failed: [...summaries.filter((s) => s.status === 'failed').map((s) => s.name), ...p.runs.filter((r) => r.state.kind === 'failed').map((r) => r.name)],
    wallSeconds: (performance.now() - t0) / 1000,
  };
}
