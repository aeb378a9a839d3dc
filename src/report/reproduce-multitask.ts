/**
 * `icl-lab reproduce --preset multitask`: the authors' multi-task runs (icl_linear_multitask.ipynb;
 * PAPER_EXPERIMENTS.md §5) — tasks x[0:4] and x[2:6] of x in R^6, L = 8d = 48, batch 256, seed 1029,
 * Adam lr 1e-3 — for H = 3 and 4 (theirs) and 2, 8, then the multi-task report (report.ts).
 * Runs train on the WebAssembly engine when dist/wasm/attention.wasm loads (asm/multitask.ts), else on
 * the TypeScript one. Re-running over the same --out continues unfinished runs (each on the engine it
 * started on) and redraws the report.
 */
import { join } from 'node:path';
import { defaultTrainConfig, type TrainConfig } from '../run/config.js';
import type { EngineName } from '../engine/model.js';
import { wasmAvailable } from '../io/wasm.js';
import type { RunSummary } from '../run/run.js';
import { trainPresetRuns, type ReproduceOptions, type ReproduceResult } from './reproduce.js';
import { writeFolderAsUnit } from './write-unit.js';
import { PRESET_INFO } from './reproduce-presets.js';
import { writeMultitaskReport } from './multitask.js';
import { AUTHORS_TASKS, formatTasks } from '../data/multitask.js';

/** The authors' multi-task run for H heads. */
export function multitaskConfig(heads: number, steps: number, engine: EngineName = wasmAvailable() ? 'wasm' : 'ts'): TrainConfig {
  const c = defaultTrainConfig();
  const every = steps >= 100_000 ? c.dynamicsEvery : Math.max(1, Math.round(steps / 100));
  return {
    ...c, heads, steps, d: 6, contextLength: 48, batchSize: 256, valSamples: 256, seed: 1029, noiseStd: Math.sqrt(0.1),
    tasks: formatTasks(AUTHORS_TASKS), nOut: AUTHORS_TASKS.length, engine,
    dynamicsEvery: every, qkEvery: Math.max(every, Math.round(steps / 20)), lossEvery: every, valEvery: every,
  };
}

export async function reproduceMultitask(o: ReproduceOptions): Promise<ReproduceResult | { runs: RunSummary[]; interrupted: true }> {
  const log = o.log ?? (() => {});
  const HEADS = PRESET_INFO.multitask.heads;
  const names = HEADS.map((h) => `h${h}`);
  const trained = await trainPresetRuns(o, names, () => HEADS.map((h) => multitaskConfig(h, o.steps)), `the multi-task runs H = ${HEADS.join(', ')} (tasks ${formatTasks(AUTHORS_TASKS)})`);
  if ('interrupted' in trained) return trained;
  const runs = trained.runs;
  const dirs = names.map((n) => join(o.out, n));
  const reportDir = join(o.out, 'report');
  o.onReportStart?.();
  if (o.signal?.aborted) return { runs, interrupted: true };
  const report = await writeFolderAsUnit(reportDir, (staging) => writeMultitaskReport(dirs, { out: staging, ...(o.samples !== undefined ? { samples: o.samples } : {}), log }));
  return { runs, report, reportDir };
}
