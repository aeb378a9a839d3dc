/**
 * `icl-lab reproduce`: the notebook's whole experiment. Trains H = 2, 1, 4, 8 at the seed
 * configuration (one worker thread per core), evaluates them over the seed's context-length sweep
 * with many more prompts, draws every figure, writes the report and returns the findings.
 *
 *   quick (default)  20,000 steps per run: every H is on its loss plateau by then
 *                    (REFERENCE_RUNS.md); logging every 200 steps so the curves have detail
 *   --full           the notebook's 500,001 steps, logging every 1,000 steps as the seed does
 *
 * Re-running over the same --out continues unfinished runs and redraws the report; completed runs
 * are not trained again.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { wasmAvailable } from '../io/wasm.js';
import { defaultTrainConfig, type TrainConfig } from '../run/config.js';
import { executeRuns, trainRuns, type ExecuteOptions } from '../run/runs.js';
import { isRunDir, readRunJson } from '../run/run-dir.js';
import { writeFolderAsUnit } from './write-unit.js';
import type { RunSummary } from '../run/run.js';
import { writeReport, type ReportResult } from './report.js';

import { REPRODUCE_HEADS } from './reproduce-config.js';
import { PAPER_RUN, PRESET_INFO, type ReproducePreset } from './reproduce-presets.js';

export { FULL_STEPS, QUICK_STEPS, REPRODUCE_HEADS } from './reproduce-config.js';

export interface ReproduceOptions extends ExecuteOptions {
  out: string;
  steps: number;
  /** Prompts per context length in the error sweep. */
  evalSamples: number;
  /** Shared prompts at the training L for the findings. */
  samples?: number;
  lengths?: number[];
  /** seed (default), paper or multitask (reproduce-presets.ts). */
  preset?: ReproducePreset;
  log?: (line: string) => void;
  /** Told when training is over and the report starts (an interrupt can then no longer checkpoint anything). */
  onReportStart?: () => void;
}

/** The seed configuration (config_1, SEED_NOTES #8) for H heads and `steps` steps. */
export function reproduceConfig(heads: number, steps: number, preset: ReproducePreset = 'seed'): TrainConfig {
  const c = { ...defaultTrainConfig({ wasmAvailable: wasmAvailable() }), ...(preset === 'paper' ? PAPER_RUN : {}) };
  if (preset === 'paper') c.valSamples = c.batchSize;
  const every = steps >= 100_000 ? c.dynamicsEvery : Math.max(1, Math.round(steps / 100));
  return { ...c, heads, steps, dynamicsEvery: every, qkEvery: every, lossEvery: every, valEvery: every };
}

export const runDirName = (heads: number): string => `h${heads}`;

export interface ReproduceResult {
  runs: RunSummary[];
  report: ReportResult;
  reportDir: string;
}

export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult | { runs: RunSummary[]; interrupted: true }> {
  const log = o.log ?? (() => {});
  const preset = o.preset ?? 'seed';
  if (preset === 'multitask') {
    const { reproduceMultitask } = await import('./reproduce-multitask.js');
    return reproduceMultitask(o);
  }
  const HEADS = preset === 'seed' ? REPRODUCE_HEADS : PRESET_INFO[preset].heads;
  const names = HEADS.map(runDirName);
  const runs = await trainPresetRuns(o, names, () => HEADS.map((h) => reproduceConfig(h, o.steps, preset)), `H = ${HEADS.join(', ')} (${preset} preset)`);
  if ('interrupted' in runs) return runs;
  const dirs = names.map((n) => join(o.out, n));
  const reportDir = join(o.out, 'report');
  o.onReportStart?.();
  if (o.signal?.aborted) return { runs: runs.runs, interrupted: true };
  const report = await writeFolderAsUnit(reportDir, (staging) => writeReport(dirs, {
    out: staging,
    evalSamples: o.evalSamples,
    ...(o.samples !== undefined ? { samples: o.samples } : {}),
    ...(o.lengths ? { lengths: o.lengths } : preset === 'paper' ? { lengths: PRESET_INFO.paper.lengths! } : {}),
    log,
  }));
  return { runs: runs.runs, report, reportDir };
}

/**
 * Train a preset's runs into o.out/NAME, or continue the unfinished ones (runs at or past o.steps,
 * e.g. a --full run re-reported, are left as they are; runs cut short while being created are made
 * again). Interrupted: the runs so far; a failed run is an error.
 */
export async function trainPresetRuns(o: ReproduceOptions, names: readonly string[], configs: () => TrainConfig[], what: string): Promise<{ runs: RunSummary[] } | { runs: RunSummary[]; interrupted: true }> {
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
