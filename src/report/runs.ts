/** The runs a report covers: loaded, checked to be one-layer runs of one task with distinct names. */
import { cliCommand } from '../command.js';
import { loadTarget, type ModelTarget } from '../analysis/targets.js';
import type { PromptSpec } from '../analysis/prompts.js';
import type { TrainConfig } from '../run/config.js';
import { isRunDir, notARunDirAdvice, readRunJson, runConfig, type RunJson } from '../run/run-dir.js';
import { UsageError } from '../errors.js';

export interface ReportRun {
  target: ModelTarget;
  dir: string;
  runJson: RunJson;
  config: TrainConfig;
}

function loadRun(dir: string): ReportRun {
  if (!isRunDir(dir)) throw new UsageError(`${dir} is not a run directory (no run.json); ${notARunDirAdvice(dir, (runs) => `report ${runs.join(' ')}`)}`);
  const runJson = readRunJson(dir);
  const config = runConfig(runJson, dir);
  if (config.layers !== 1) throw new UsageError(`${dir}: the report covers one-layer runs (this one has ${config.layers} layers)`);
  return { target: loadTarget(dir), dir, runJson, config };
}

/** Load every run directory; refuse none, duplicate names, or runs of different tasks. */
export function loadReportRuns(runDirs: readonly string[]): ReportRun[] {
  if (runDirs.length === 0) throw new UsageError('report needs at least one run directory');
  const runs = runDirs.map(loadRun);
  const names = runs.map((r) => r.target.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`two runs are named ${dup}; give the run directories distinct names`);
  const c0 = runs[0]!.config;
  for (const r of runs) {
    const c = r.config;
    if (c.d !== c0.d || c.contextLength !== c0.contextLength || c.noiseStd !== c0.noiseStd || c.preset !== c0.preset || c.rho !== c0.rho) {
      throw new UsageError(`${r.dir} was trained on another task (d, context length, noise, preset or rho differ from ${runs[0]!.dir}); report runs of one task together`);
    }
  }
  return runs;
}

/** The prompt distribution the runs were trained on (they share it: loadReportRuns checks). */
export function runsPromptSpec(runs: readonly ReportRun[]): PromptSpec {
  const c0 = runs[0]!.config;
  return { d: c0.d, noiseStd: c0.noiseStd, preset: c0.preset, ...(c0.rho ? { rho: c0.rho } : {}) };
}
