/** The prompt distribution the analysis samples from: a TaskSpec without L and batch size. */
import type { BetaPrior } from '../data/beta-prior.js';
import type { PresetName, TaskSpec } from '../data/task.js';

/** The prompt distribution (TaskSpec without L and batch size; a pool or sparse prior of beta where the task has one). */
export interface PromptSpec extends BetaPrior {
  readonly d: number;
  readonly noiseStd: number;
  readonly preset: PresetName;
  readonly rho?: number;
}

/** The task that draws `batchSize` prompts of context length L from `spec` (rho only when non-zero). */
export function promptTask(spec: PromptSpec, L: number, batchSize: number): TaskSpec {
  return { d: spec.d, L, batchSize, noiseStd: spec.noiseStd, preset: spec.preset, ...(spec.rho ? { rho: spec.rho } : {}), ...(spec.pool ? { pool: spec.pool } : {}), ...(spec.sparsity ? { sparsity: spec.sparsity } : {}) };
}
