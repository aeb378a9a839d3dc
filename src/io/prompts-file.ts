/**
 * A prompts file for `icl-lab predict` (and PyTorch): fresh prompts of any task, as safetensors.
 *
 *   z [B, L, E], z_q [B, 1, E], y_q [B, 1, 1], beta [B, d]   all F64
 *   metadata: icl_lab = prompts, d, context_length, batch_size, preset, noise_std, rho, seed
 *
 * The prompts are `sampleBatch(task, new Rng(seed))`: the same (task, seed) gives the same file.
 */
import { Rng } from '../data/rng.js';
import { sampleBatch, validateTaskSpec, type TaskSpec } from '../data/task.js';
import { VERSION } from '../version.js';
import { tensorF64, writeSafetensors } from './safetensors.js';

export interface PromptsFileSummary {
  path: string;
  d: number;
  context_length: number;
  batch_size: number;
  preset: string;
  noise_std: number;
  rho: number;
  seed: number;
  tensors: Record<string, number[]>;
}

/** Draw `task.batchSize` prompts with `seed` and write them to `path`. */
export function writePromptsFile(path: string, task: TaskSpec, seed: number): PromptsFileSummary {
  validateTaskSpec(task);
  const { d, L, batchSize: B } = task;
  const E = d + 1;
  const beta = new Float64Array(B * d);
  const batch = sampleBatch(task, new Rng(seed), undefined, beta);
  const shapes: Record<string, number[]> = { z: [B, L, E], z_q: [B, 1, E], y_q: [B, 1, 1], beta: [B, d] };
  const rho = task.rho ?? 0;
  writeSafetensors(path, {
    z: tensorF64(shapes.z!, batch.z),
    z_q: tensorF64(shapes.z_q!, batch.zq),
    y_q: tensorF64(shapes.y_q!, batch.yq),
    beta: tensorF64(shapes.beta!, beta),
  }, {
    icl_lab: 'prompts', icl_lab_version: VERSION, d: String(d), context_length: String(L), batch_size: String(B),
    preset: task.preset, noise_std: String(task.noiseStd), rho: String(rho), seed: String(seed),
  });
  return { path, d, context_length: L, batch_size: B, preset: task.preset, noise_std: task.noiseStd, rho, seed, tensors: shapes };
}
