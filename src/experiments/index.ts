/**
 * Every experiment icl-lab reproduces, by name (`icl-lab reproduce --experiment NAME`). Adding one is
 * a new file exporting an Experiment (experiment.ts) and a line here.
 */
import { UsageError } from '../errors.js';
import { isRunDir, readRunJson, runConfig } from '../run/run-dir.js';
import type { Experiment } from './experiment.js';
import { multitaskExperiment } from './multitask.js';
import { paperExperiment } from './paper.js';
import { seedExperiment } from './seed.js';
import { anisotropicExperiment } from './anisotropic.js';
import { lengthGeneralizationExperiment } from './length-generalization.js';
import { sparseExperiment } from './sparse.js';
import { taskDiversityExperiment } from './task-diversity.js';

export const EXPERIMENTS: readonly Experiment[] = [seedExperiment, paperExperiment, multitaskExperiment, taskDiversityExperiment, sparseExperiment, lengthGeneralizationExperiment, anisotropicExperiment];
export const EXPERIMENT_NAMES: readonly string[] = EXPERIMENTS.map((e) => e.name);

export function experimentNamed(name: string): Experiment {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new UsageError(`unknown experiment '${name}' (allowed: ${EXPERIMENT_NAMES.join(', ')})`);
  return e;
}

/**
 * The experiment whose report covers these run directories (`icl-lab report RUN...`): the entry that
 * claims the first run, or the first linear attention run among them (the report checks the others are of the same task). Runs of one task family only.
 */
export function experimentOfRuns(dirs: readonly string[]): Experiment {
  const configs = dirs.filter((d) => isRunDir(d)).map((d) => ({ d, c: runConfig(readRunJson(d), d) }));
  const multi = configs.filter(({ c }) => c.task === 'multitask').map(({ d }) => d);
  if (multi.length > 0 && multi.length < dirs.length) throw new UsageError(`${multi.join(', ')} ${multi.length === 1 ? 'is a multi-task run' : 'are multi-task runs'}; report them apart from the single-task runs`);
  // a linear attention run among them decides (the length-generalisation report takes softmax runs beside it)
  const first = configs.find(({ c }) => c.attention !== 'softmax') ?? configs[0];
  return (first && EXPERIMENTS.find((x) => x.claims(first.c))) || seedExperiment;
}
