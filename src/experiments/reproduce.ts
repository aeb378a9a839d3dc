/**
 * `icl-lab reproduce --experiment NAME`: one experiment (index.ts) end to end, the same way for every
 * entry. Trains its runs (one worker thread per core) into OUT/h<H> (or the entry's own run names), then writes its report into
 * OUT/report as one unit.
 *
 *   quick (default)  the experiment's quick length (the seed's: 20,000 steps per run, every H on its
 *                    loss plateau, REFERENCE_RUNS.md), logging every 1% of the run
 *   --full           the authors' 500,001 steps, logging every 1,000 steps as the seed does
 *
 * Re-running over the same --out continues unfinished runs and redraws the report; completed runs
 * are not trained again.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { TrainConfig } from '../run/config.js';
import { executeRuns, trainRuns, type ExecuteOptions } from '../run/runs.js';
import { isRunDir, readRunJson } from '../run/run-dir.js';
import type { RunSummary } from '../run/run.js';
import { writeFolderAsUnit } from '../report/write-unit.js';
import type { ReportResult } from '../report/report.js';
import { experimentRuns, type Experiment } from './experiment.js';
import { experimentNamed } from './index.js';

export interface ReproduceOptions extends ExecuteOptions {
  out: string;
  steps: number;
  /** Prompts per context length in the error sweep. */
  evalSamples: number;
  /** Shared prompts at the training L for the findings. */
  samples?: number;
  /** Error-sweep lengths (default: the experiment's). */
  lengths?: number[];
  /** The experiment, or its name (default: seed). */
  experiment?: Experiment | string;
  log?: (line: string) => void;
  /** Told when training is over and the report starts (an interrupt can then no longer checkpoint anything). */
  onReportStart?: () => void;
}

export interface ReproduceResult {
  runs: RunSummary[];
  report: ReportResult;
  reportDir: string;
}

export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult | { runs: RunSummary[]; interrupted: true }> {
  const log = o.log ?? (() => {});
  const e = typeof o.experiment === 'object' ? o.experiment : experimentNamed(o.experiment ?? 'seed');
  const list = experimentRuns(e);
  const names = list.map((r) => r.name);
  const what = e.runs ? `${names.join(', ')} (${e.name} experiment)` : `H = ${e.heads.join(', ')} (${e.name} experiment)`;
  const runs = await trainExperimentRuns(o, names, () => list.map((r) => r.config(o.steps)), what);
  if ('interrupted' in runs) return runs;
  const dirs = names.map((n) => join(o.out, n));
  const reportDir = join(o.out, 'report');
  o.onReportStart?.();
  if (o.signal?.aborted) return { runs: runs.runs, interrupted: true };
  const lengths = o.lengths ?? e.lengths;
  const report = await writeFolderAsUnit(reportDir, (staging) => e.report(dirs, {
    out: staging,
    evalSamples: o.evalSamples,
    ...(o.samples !== undefined ? { samples: o.samples } : {}),
    ...(lengths ? { lengths } : {}),
    log,
  }));
  return { runs: runs.runs, report, reportDir };
}

/**
 * Train an experiment's runs into o.out/NAME, or continue the unfinished ones (runs at or past o.steps,
 * e.g. a --full run re-reported, are left as they are; runs cut short while being created are made
 * again). Interrupted: the runs so far; a failed run is an error.
 */
export async function trainExperimentRuns(o: ReproduceOptions, names: readonly string[], configs: () => TrainConfig[], what: string): Promise<{ runs: RunSummary[] } | { runs: RunSummary[]; interrupted: true }> {
  const log = o.log ?? (() => {});
  const dirs = names.map((n) => join(o.out, n));
  const existing = dirs.filter((d) => existsSync(d) && isRunDir(d));
  // runs whose creation was cut short (status creating: a kill or full disk) are made again from the start
  const created = existing.filter((d) => readRunJson(d).status !== 'creating');
  let runs: RunSummary[];
  const exec: ExecuteOptions = { ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), ...(o.progress ? { progress: o.progress } : {}), ...(o.signal ? { signal: o.signal } : {}), onLine: o.onLine ?? null };
  if (created.length === 0) {
    log(`training ${what} for ${o.steps.toLocaleString('en-US')} steps each into ${o.out}`);
    runs = await trainRuns(configs(), { ...exec, out: o.out, names: [...names], force: false });
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
  // an interrupt that came after the last checkpoint (or while no run was training) still stops here
  if (runs.some((r) => r.status === 'interrupted') || o.signal?.aborted) return { runs, interrupted: true };
  const failed = runs.filter((r) => r.status === 'failed');
  if (failed.length > 0) throw new Error(`training failed: ${failed.map((r) => `${r.name} at step ${r.failure?.step}: ${r.failure?.reason}`).join('; ')}`);
  return { runs };
}
