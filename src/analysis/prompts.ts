/** The prompt distribution the analysis samples from: a TaskSpec without L and batch size. */
import type { PresetName, TaskSpec } from '../data/task.js';

/** The prompt distribution (TaskSpec without L and batch size). */
export interface PromptSpec {
  readonly d: number;
  readonly noiseStd: number;
  readonly preset: PresetName;
  readonly rho?: number;
}

/** The task that draws `batchSize` prompts of context length L from `spec` (rho only when non-zero). */
export function promptTask(spec: PromptSpec, L: number, batchSize: number): TaskSpec {
  return { d: spec.d, L, batchSize, noiseStd: spec.noiseStd, preset: spec.preset, ...(spec.rho ? { rho: spec.rho } : {}) };
}
