/**
 * One row per run of a sweep as `icl-lab sweep status` shows it: the run directory's state (run.json,
 * its heartbeat while it trains), beside the queue's view of its job and Slurm's of its array task.
 */
import { isRunDir, readProgress, type RunJson } from '../run/run-dir.js';
import type { JobView } from './queue.js';
import type { SlurmJobState } from './slurm.js';
import { readSweepRun, runState, type sweepRuns } from './sweep-dir.js';

export interface StatusRow {
  name: string;
  /** completed, failed, running, interrupted, creating, or missing (not made yet). */
  status: string;
  /** The one step of the run: its heartbeat while it trains, else run.json's. */
  step: number;
  steps: number;
  job: string | null;
  job_step: number | null;
  slurm?: { job: string; state: string; reason: string } | null;
  final_train_loss: number | null;
  wall_seconds: number;
}

export function statusRows(runs: ReturnType<typeof sweepRuns>, views: readonly (JobView | null)[], slurm: Map<number, SlurmJobState> | null): StatusRow[] {
  return runs.map((r, i) => {
    const st = runState(r.dir);
    // (written atomically: a run.json that does not read is damaged, and said so, naming the file)
    const rj: RunJson | null = isRunDir(r.dir) ? readSweepRun(r.dir) : null;
    const v = views[i] ?? null;
    const status = st.kind === 'completed' ? 'completed' : st.kind === 'failed' ? 'failed' : rj?.status ?? 'missing';
    const live = rj?.status === 'running' ? readProgress(r.dir)?.step ?? 0 : 0;
    const task = slurm?.get(i);
    return {
      name: r.name, status, step: Math.max(rj?.step ?? 0, live, v?.state === 'active' ? v.step : 0), steps: r.config.steps,
      job: v ? v.state : null, job_step: v?.step ?? null,
      ...(slurm ? { slurm: task ? { job: task.id, state: task.state, reason: task.reason } : null } : {}),
      final_train_loss: rj?.final?.train_loss ?? null, wall_seconds: rj?.timings?.wall_seconds ?? 0,
    };
  });
}
