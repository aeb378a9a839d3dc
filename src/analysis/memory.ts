/**
 * Memory `evaluate` and `analyze` need, checked before they sample (io/memory.ts): prompts of the
 * longest L in chunks of `chunk` prompts, the estimators' per-prompt d x d moments, and a stack's
 * attention work arrays, which grow as (L+1)^2.
 */
import { checkMemory, type MemoryPart } from '../io/memory.js';

export interface ModelShape {
  H: number;
  layers: number;
}

/** evaluate: prompts of the longest L, the estimators' moments, the models' work arrays. */
export function evaluateMemoryParts(d: number, lengths: readonly number[], samples: number, chunk: number, models: readonly ModelShape[]): MemoryPart[] {
  const E = d + 1;
  const Lmax = Math.max(...lengths);
  const B = Math.min(chunk, samples);
  const T = Lmax + 1;
  const work = Math.max(0, ...models.map((m) => (m.layers > 1 ? m.layers * m.H * T * (T + 2 * E) : m.H * (2 * T + 2 * E * E))));
  return [
    { what: `prompts (${B} per chunk of length up to ${Lmax})`, bytes: 8 * 2 * B * T * E, largestArray: B * T * E },
    { what: `estimator moments (${B} prompts x d^2)`, bytes: 8 * B * (d * d + 2 * d + 1), largestArray: B * d * d },
    { what: 'model work arrays', bytes: 8 * work, largestArray: work },
  ];
}

export function checkEvaluateMemory(d: number, lengths: readonly number[], samples: number, chunk: number, models: readonly ModelShape[]): void {
  checkMemory('evaluate', evaluateMemoryParts(d, lengths, samples, chunk, models), 'lower the largest of --lengths, or --chunk (prompts held at once), or --d');
}

/** analyze's kernel gap: chunks of 1000 prompts of length L. */
export function checkKernelGapMemory(d: number, H: number, L: number, samples: number, chunk = 1000): void {
  const E = d + 1;
  const B = Math.min(chunk, samples);
  const parts: MemoryPart[] = [
    { what: `kernel-gap prompts (${B} of length ${L})`, bytes: 8 * B * (L + 1) * E, largestArray: B * (L + 1) * E },
    { what: 'work arrays', bytes: 8 * H * (2 * (L + 1) + 2 * E * E) },
  ];
  checkMemory('analyze', parts, 'lower --L (the kernel-gap context length)');
}
