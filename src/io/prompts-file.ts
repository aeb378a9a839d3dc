/**
 * A prompts file for `icl-lab predict` (and PyTorch): fresh prompts of any task, as safetensors.
 *
 *   z [B, L, E], z_q [B, 1, E], y_q [B, 1, 1], beta [B, d]   all F64
 *   metadata: icl_lab = prompts, d, context_length, batch_size, preset, noise_std, rho, seed
 *
 * The prompts are `sampleBatch(task, new Rng(seed))`: the same (task, seed) gives the same file.
 * readPrompts is the one reader of the format (`predict`): z [B, L, E], z_q [B, 1, E] (or [B, E]),
 * y_q [B, 1, 1] (or [B, 1], [B]; a multi-task file [B, 1, N]) optional, F32 or F64.
 */
import { batchFromArrays, type Batch } from '../data/batch.js';
import { Rng } from '../data/rng.js';
import { sampleBatch, validateTaskSpec, type TaskSpec } from '../data/task.js';
import { VERSION } from '../version.js';
import { checkFinite } from './model-file.js';
import { f64, FileFormatError, readSafetensors, tensorF64, writeSafetensors, type Tensor } from './safetensors.js';

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

/** Prompts read from a file: the batch (y_q zeros when absent) and whether y_q was there. */
export interface Prompts {
  batch: Batch;
  hasTarget: boolean;
  /** Targets per prompt: 1, or N for a multi-task y_q [B, 1, N] (batch.yq is then [B, N]). */
  outputs: number;
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);
export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Interpret z / z_q / y_q tensors as a batch; `source` names the file in errors. */
export function promptsFromTensors(tensors: Record<string, Tensor>, source: string): Prompts {
  const get = (name: string): Tensor | undefined => {
    const t = tensors[name];
    if (t !== undefined && !FLOAT_DTYPES.has(t.dtype)) throw new FileFormatError(`${name} has dtype ${t.dtype}; expected F32 or F64`, source);
    return t;
  };
  const z = get('z');
  const zq = get('z_q');
  const yq = get('y_q');
  if (z === undefined || zq === undefined) {
    const found = Object.keys(tensors).map((k) => `${k} ${fmtShape(tensors[k]!.shape)}`).join(', ') || '(no tensors)';
    throw new FileFormatError(`prompts need tensors z [B, L, E] and z_q [B, 1, E] (y_q [B, 1, 1] optional); found ${found}`, source);
  }
  if (z.shape.length !== 3) throw new FileFormatError(`z has shape ${fmtShape(z.shape)}; expected [B, L, E]`, source);
  const [B, L, E] = z.shape as [number, number, number];
  if (B < 1 || L < 1 || E < 2) throw new FileFormatError(`z has shape ${fmtShape(z.shape)}; expected B >= 1 prompts of L >= 1 tokens of width E >= 2`, source);
  if (!same(zq.shape, [B, 1, E]) && !same(zq.shape, [B, E])) {
    throw new FileFormatError(`z_q has shape ${fmtShape(zq.shape)}; expected [${B}, 1, ${E}] or [${B}, ${E}] to match z ${fmtShape(z.shape)}`, source);
  }
  // multi-task prompts (data/multitask.ts and the multi-task modules of each layer): y_q [B, 1, N] or [B, N] with N > 1
  const N = yq !== undefined && yq.shape.length >= 2 && yq.shape[0] === B && (yq.shape.length === 2 || yq.shape[1] === 1) ? yq.shape[yq.shape.length - 1]! : 1;
  if (yq !== undefined && N === 1 && !same(yq.shape, [B, 1, 1]) && !same(yq.shape, [B, 1]) && !same(yq.shape, [B])) {
    throw new FileFormatError(`y_q has shape ${fmtShape(yq.shape)}; expected [${B}, 1, 1], [${B}, 1] or [${B}] (or [${B}, 1, N] for N tasks) to match z ${fmtShape(z.shape)}`, source);
  }
  // f64 returns the file's own array for F64 tensors; copy so the batch never aliases the caller's tensors.
  const base = batchFromArrays(B, L, E - 1, Float64Array.from(f64(z)), Float64Array.from(f64(zq)), N === 1 && yq ? Float64Array.from(f64(yq)) : new Float64Array(B));
  const batch = N === 1 ? base : { ...base, yq: Float64Array.from(f64(yq!)) }; // yq [B, N]
  checkFinite('z', batch.z, source, 'prompts');
  checkFinite('z_q', batch.zq, source, 'prompts');
  if (yq) checkFinite('y_q', batch.yq, source, 'prompts');
  return { batch, hasTarget: yq !== undefined, outputs: N };
}

/** Read a prompts file (see the header comment). */
export function readPrompts(path: string): Prompts {
  return promptsFromTensors(readSafetensors(path).tensors, path);
}
