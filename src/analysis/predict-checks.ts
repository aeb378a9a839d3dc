/**
 * Checks `predict` makes before it computes: that --out is none of its inputs (it would destroy
 * them), and that the result fits in memory (attn_weights of a stack grows as B * H * (L+1)^2).
 */
import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { checkMemory } from '../io/memory.js';

function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    if (realpathSync(a) === realpathSync(b)) return true;
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino; // hard links
  } catch {
    return false; // one of them does not exist: not the same file
  }
}

/** Refuse an --out that is one of the input files (by path, symbolic link or hard link). */
export function refuseOverwritingInputs(out: string, inputs: Record<string, string>): void {
  for (const [flag, path] of Object.entries(inputs)) {
    if (sameFile(out, path)) {
      throw new UsageError(`--out ${out} is the ${flag} file ${path}; predict would overwrite its own input; choose another --out`);
    }
  }
}

/** Memory for predict's outputs and work arrays; a UsageError naming what to lower when too much. */
export function checkPredictMemory(nLayers: number, H: number, B: number, L: number, E: number, opts: { grad?: boolean; attn?: boolean }): void {
  const T = L + 1;
  const stack = nLayers > 1;
  const attn = opts.attn ? (stack ? nLayers * B * H * T * T : B * H * L) : 0;
  const parts = [
    { what: 'prompts', bytes: 8 * B * T * E * 2 },
    { what: 'attn_weights', bytes: 8 * attn * 2, largestArray: attn }, // the array and the file's bytes
    { what: 'work arrays', bytes: stack ? 8 * nLayers * H * T * (T + 2 * E) : 8 * H * (L + 2 * E * E) },
    { what: 'gradients', bytes: opts.grad ? 8 * nLayers * 4 * H * E * E * 3 : 0 },
  ];
  checkMemory('predict', parts, opts.attn ? 'leave out --attn, or use fewer or shorter prompts' : 'use fewer or shorter prompts');
}
