/**
 * `icl-lab reproduce --preset multitask`: the authors' multi-task runs (icl_linear_multitask.ipynb;
 * PAPER_EXPERIMENTS.md §5) — tasks x[0:4] and x[2:6] of x in R^6, L = 8d = 48, batch 256, seed 1029,
 * Adam lr 1e-3 — for H = 3 and 4 (theirs) and 2, 8, then the multi-task report (report.ts).
 * Runs train on the TypeScript engine (the wasm engine has n_out = 1). Re-running over the same --out
 * continues unfinished runs and redraws the report.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { defaultTrainConfig, type TrainConfig } from '../run/config.js';
import { executeRuns, trainRuns, type ExecuteOptions } from '../run/runs.js';
import { isRunDir, readRunJson } from '../run/run-dir.js';
import type { RunSummary } from '../run/run.js';
import type { ReproduceOptions, ReproduceResult } from './reproduce.js';
import { PRESET_INFO } from './reproduce-presets.js';
import { writeMultitaskReport } from './multitask.js';
import { AUTHORS_TASKS, formatTasks } from '../data/multitask.js';

/** The authors' multi-task run for H heads. */
export function multitaskConfig(heads: number, steps: number): TrainConfig {
  const c = defaultTrainConfig();
  const every = steps >= 100_000 ? c.dynamicsEvery : Math.max(1, Math.round(steps / 100));
  return {
    ...c, heads, steps, d: 6, contextLength: 48, batchSize: 256, valSamples: 256, seed: 1029, noiseStd: Math.sqrt(0.1),
    tasks: formatTasks(AUTHORS_TASKS), nOut: AUTHORS_TASKS.length, engine: 'ts',
    dynamicsEvery: every, qkEvery: Math.max(every, Math.round(steps / 20)), lossEvery: every, valEvery: every,
  };
}

export async function reproduceMultitask(o: ReproduceOptions): Promise<ReproduceResult | { runs: RunSummary[]; interrupted: true }> {
  const log = o.log ?? (() => {});
  const HEADS = PRESET_INFO.multitask.heads;
  const dirs = HEADS.map((h) => join(o.out, `h${h}`));
  const existing = dirs.filter((d) => existsSync(d) && isRunDir(d));
  const exec: ExecuteOptions = { ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), ...(o.progress ? { progress: o.progress } : {}), ...(o.signal ? { signal: o.signal } : {}), onLine: o.onLine ?? null };
  let runs: RunSummary[];
  if (existing.length === 0) {
    log(`training the multi-task runs H = ${HEADS.join(', ')} (tasks ${formatTasks(AUTHORS_TASKS)}, ts engine: the wasm engine has n_out = 1) for ${o.steps.toLocaleString('en-US')} steps each into ${o.out}`);
    runs = await trainRuns(HEADS.map((h) => multitaskConfig(h, o.steps)), { ...exec, out: o.out, names: HEADS.map((h) => `h${h}`), force: false });
  } else {
    if (existing.length !== dirs.length) throw new Error(`${o.out} holds only some of the runs (${existing.join(', ')}); use another --out or remove it`);
    const unfinished = dirs.filter((d) => readRunJson(d).step < o.steps);
    if (unfinished.length > 0) {
      log(`continuing ${unfinished.join(', ')} to ${o.steps.toLocaleString('en-US')} steps`);
      runs = await executeRuns(unfinished.map((dir) => ({ dir, name: basename(dir), steps: o.steps })), exec);
    } else {
      log(`runs in ${o.out} are complete at ${o.steps.toLocaleString('en-US')} steps; redrawing the report`);
      runs = [];
    }
  }
  if (runs.some((r) => r.status === 'interrupted')) return { runs, interrupted: true };
  const failed = runs.filter((r) => r.status === 'failed');
  if (failed.length > 0) throw new Error(`training failed: ${failed.map((r) => `${r.name} at step ${r.failure?.step}: ${r.failure?.reason}`).join('; ')}`);
  const reportDir = join(o.out, 'report');
  const report = await writeMultitaskReport(dirs, { out: reportDir, ...(o.samples !== undefined ? { samples: o.samples } : {}), log });
  return { runs, report, reportDir };
}
