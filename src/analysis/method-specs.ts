/**
 * `evaluate --method SPEC`: turn the estimator specs of analysis/estimator-methods.ts into evaluate methods,
 * reading (w, mu) from a model for `from=MODEL` (a run directory or .safetensors file).
 */
import { layerCircuits } from '../model/circuits.js';
import { methodFromSpec, parseMethodSpec, type MethodSpec } from './estimator-methods.js';
import type { EvalMethod } from './methods.js';
import type { PromptSpec } from './prompts.js';
import { UsageError } from '../errors.js';
import { loadTarget } from './targets.js';

/** Parse every spec (a bad one is a UsageError naming it and the syntax) and resolve from=MODEL. */
export function resolveMethodSpecs(specs: readonly string[], prompt: PromptSpec): EvalMethod[] {
  const parsed: MethodSpec[] = [];
  for (const s of specs) {
    try {
      parsed.push(...parseMethodSpec(s));
    } catch (e) {
      throw new UsageError(`--method: ${(e as Error).message}`);
    }
  }
  return parsed.map((m) => {
    if (m.from === undefined) return methodFromSpec(m, prompt);
    const t = loadTarget(m.from);
    if (t.params.d !== prompt.d) throw new UsageError(`--method ${m.name}: the model ${m.from} has d=${t.params.d}, the prompts d=${prompt.d}`);
    const heads = layerCircuits(t.params);
    const { from: _f, ...rest } = m;
    return methodFromSpec({ ...rest, w: heads.map((c) => c.w), mu: heads.map((c) => c.mu) }, prompt);
  });
}
