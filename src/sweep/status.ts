/**
 * One row per run of a sweep as `icl-lab sweep status` shows it: the run directory's state (run.json,
 * its heartbeat and its lease while it trains), beside the queue's view of its job and Slurm's of
 * its array task.
 *
 * status, one per run:
 *   completed, failed   as run.json says (a failed run is not retried)
 *   running             a live process holds the run's lease (run/lock.ts): it trains now
 *   stalled             run.json says running, or its job is active, but no live process holds the
 *                       lease: the worker or sweep that trained it is gone (killed, its machine lost)
 *   interrupted         trained for a while, stopped at a checkpoint; it resumes from there
 *   queued              never started, and its queue job (or Slurm task) waits for a worker; or a
 *                       live local sweep holds it and has not reached it yet
 *   not started         never started, and nothing is asked to train it (a local sweep not run yet)
 *   creating            its directory is being made (or a creation was cut short)
 */
import { lockHolder } from '../run/lock.js';
import { isRunDir, readProgress, type RunJson } from '../run/run-dir.js';
import type { JobView } from './queue.js';
import type { SlurmJobState } from './slurm.js';
import { readSweepRun, runState, type sweepRuns } from './sweep-dir.js';

export type RunStatusShown = 'completed' | 'failed' | 'running' | 'stalled' | 'interrupted' | 'queued' | 'not started' | 'creating' | 'missing';

/** Order of the counts in the header line. */
export const SHOWN_STATUSES: readonly RunStatusShown[] = ['completed', 'running', 'stalled', 'interrupted', 'queued', 'not started', 'creating', 'missing', 'failed'];

export interface StatusRow {
  name: string;
  status: RunStatusShown;
  /** The one step of the run: its heartbeat (or its job's progress) while it trains, else the checkpoint it resumes from. */
  step: number;
  steps: number;
  /** The queue job's state (waiting, active, delayed, completed, failed, corrupt), null without a job or a queue. */
  job: string | null;
  slurm?: { job: string; state: string; reason: string } | null;
  final_train_loss: number | null;
  /** The loss shown: a running run's heartbeat loss (its last checkpoint's before the first beat), else final_train_loss. */
  loss: number | null;
  wall_seconds: number;
  /** For a stalled run: what happens next and what to do. */
  hint?: string;
}

/** Job states of a job that waits for a worker. */
const WAITING = new Set(['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);

export interface StatusContext {
  /** The continue command of this sweep (`sweep --out DIR ...`), for the hint of a stalled run. */
  continueCommand: string;
  /** The worker command (with the queue's URL), for the hint of a stalled job; null without a queue. */
  workerCommand: string | null;
}

export function statusRows(runs: ReturnType<typeof sweepRuns>, views: readonly (JobView | null)[], slurm: Map<number, SlurmJobState> | null, ctx: StatusContext): StatusRow[] {
  return runs.map((r, i) => {
    const st = runState(r.dir); // (validated: a damaged run.json is a FileFormatError naming it)
    const rj: RunJson | null = isRunDir(r.dir) ? readSweepRun(r.dir) : null;
    const v = views[i] ?? null;
    const task = slurm?.get(i);
    const holder = lockHolder(r.dir); // a live process trains it now (this host: its pid; another: its lease)
    let status: RunStatusShown;
    let hint: string | undefined;
    let step = rj?.step ?? 0;
    let liveLoss: number | null = null;
    if (st.kind === 'completed') status = 'completed';
    else if (st.kind === 'failed') status = 'failed';
    else if (rj === null) status = 'missing';
    else if (rj.status === 'creating') status = 'creating';
    else if (holder && !(v?.state === 'active' || (rj.status === 'running' && (rj.pid === undefined || (rj.pid === holder.pid && rj.host === holder.host))))) {
      // a live sweep holds it (a local sweep locks every run it will train) and has not started it yet
      // (a run.json that says running was written by another, dead, process)
      status = 'queued';
      step = rj.checkpoint_step;
    } else if (holder) {
      status = 'running';
      const beat = rj.status === 'running' ? readProgress(r.dir) : undefined;
      step = Math.max(rj.step, beat?.step ?? 0, v?.state === 'active' ? v.step : 0);
      liveLoss = beat?.loss ?? null;
    } else if (v?.state === 'active' || rj.status === 'running') {
      status = 'stalled';
      step = rj.checkpoint_step; // where it resumes: what the dead process trained past its checkpoint is lost
      hint = v?.state === 'active'
        ? `its job is active but no live worker holds the run (its worker is gone); a running worker's stalled check puts the job back to waiting within about twice the workers' --lock-seconds (default 30 s) and it resumes from step ${step}` +
          (ctx.workerCommand ? `; no worker running? start one: ${ctx.workerCommand}` : '')
        : `run.json says running but no live process holds the run (the sweep or worker that trained it is gone); it resumes from step ${step} with: ${ctx.continueCommand}`;
    } else if (rj.step === 0 && rj.timings.sessions === 0) {
      status = (v && WAITING.has(v.state)) || (task && task.state === 'PENDING') ? 'queued' : 'not started';
    } else status = 'interrupted';
    return {
      name: r.name, status, step, steps: r.config.steps,
      job: v ? v.state : null,
      ...(slurm ? { slurm: task ? { job: task.id, state: task.state, reason: task.reason } : null } : {}),
      final_train_loss: rj?.final?.train_loss ?? null, loss: liveLoss ?? rj?.final?.train_loss ?? null, wall_seconds: rj?.timings?.wall_seconds ?? 0,
      ...(hint ? { hint } : {}),
    };
  });
}

/** Per job state, over this sweep's jobs only (`none`: runs without a job). */
export function sweepJobCounts(rows: readonly StatusRow[]): Record<string, number> {
  const c: Record<string, number> = { waiting: 0, active: 0, delayed: 0, prioritized: 0, completed: 0, failed: 0 };
  for (const r of rows) {
    const k = r.job ?? 'none';
    c[k] = (c[k] ?? 0) + 1;
  }
  c.stalled = rows.filter((r) => r.status === 'stalled' && r.job === 'active').length;
  c.none ??= 0;
  return c;
}
