/**
 * Evaluate models against the estimators on shared prompts (what `icl-lab evaluate` prints and the
 * sweep's results table reads): the task, the method list, the sweep, and its JSON form.
 */
import { evaluateErrors, type FullEvaluation } from './evaluate.js';
import { estimatorMethods, modelMethods, type EvalMethod } from './methods.js';
import type { PromptSpec } from './prompts.js';
import { resolveMethodSpecs } from './method-specs.js';
import type { ModelTarget, StackTarget } from './targets.js';
import { Rng } from '../data/rng.js';
import { DEFAULT_TASK, type PresetName } from '../data/task.js';
import { stackForward } from '../engine/ts/stack.js';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';

export interface EvaluateCliOptions {
  lengths: number[];
  samples: number;
  preset?: PresetName;
  noiseStd?: number;
  d?: number;
  seed: number;
  chunk: number;
  independent?: boolean;
  kernel: boolean;
  /** Analytic estimators (analysis/estimator-methods.ts specs), e.g. kernel:w=0.13,-0.13:mu=3.45,-3.45. */
  method?: string[];
  /** Leave out the default estimators (one-step-gd, tuned-gd, debiased-gd, ridge, ols). */
  baselines?: boolean;
  json?: boolean;
  out?: string;
  progress?: boolean;
}

export interface EvaluateOutput extends FullEvaluation {
  icl_lab_version: string;
  d: number;
  preset: PresetName;
  noiseStd: number;
  seed: number;
  nested: boolean;
  models: { name: string; path: string }[];
}

/** The seed's sweep, range(1, 501, 5). */
export const DEFAULT_LENGTHS = '1:500:5';

/** Models + estimators over the lengths. The task (d, preset, noise) comes from the flags, else the first run directory, else the seed config. */
export function runEvaluate(targets: readonly (ModelTarget | StackTarget)[], o: EvaluateCliOptions, onProgress?: (done: number, total: number) => void): EvaluateOutput {
  const dOf = (t: ModelTarget | StackTarget) => ('stack' in t ? t.stack.d : t.params.d);
  const ds = new Set(targets.map(dOf));
  if (ds.size > 1) throw new UsageError(`the models have different d (${targets.map((t) => `${t.name}: d=${dOf(t)}`).join(', ')}); evaluate them separately`);
  const d = targets[0] ? dOf(targets[0]) : (o.d ?? DEFAULT_TASK.d);
  if (o.d !== undefined && o.d !== d) throw new UsageError(`--d ${o.d} does not match the models' d=${d}`);
  const firstRun = targets.map((t) => ('run' in t ? t.run : undefined)).find((r) => r !== undefined);
  const spec: PromptSpec = {
    d,
    preset: o.preset ?? firstRun?.preset ?? DEFAULT_TASK.preset,
    noiseStd: o.noiseStd ?? firstRun?.noiseStd ?? DEFAULT_TASK.noiseStd,
    ...(firstRun?.rho ? { rho: firstRun.rho } : {}),
  };
  const names = new Set<string>();
  const methods: EvalMethod[] = [];
  for (const t of targets) {
    if (names.has(t.name)) throw new UsageError(`two models are named ${t.name} (${t.path}); give them distinct directory or file names`);
    names.add(t.name);
    if ('stack' in t) {
      const s = t.stack; // a multi-layer stack: the model only (no kernel read-out)
      methods.push({ name: t.name, run: (b, out) => stackForward(s, b, out) });
    } else {
      methods.push(...modelMethods(t.name, t.params, o.kernel));
    }
  }
  methods.push(...resolveMethodSpecs(o.method ?? [], spec));
  if (o.baselines !== false) methods.push(...estimatorMethods(spec));
  const dupName = methods.map((m) => m.name).find((n, i, a) => a.indexOf(n) !== i);
  if (dupName) throw new UsageError(`two methods are named ${dupName}; give one of them :name=LABEL`);
  const nested = !o.independent;
  const res = evaluateErrors(methods, spec, o.lengths, o.samples, new Rng(o.seed), { chunk: o.chunk, nested, ...(onProgress ? { onProgress } : {}) });
  return {
    icl_lab_version: VERSION,
    lengths: res.lengths,
    samples: res.samples,
    d,
    preset: spec.preset,
    noiseStd: spec.noiseStd,
    seed: o.seed,
    nested,
    models: targets.map((t) => ({ name: t.name, path: t.path })),
    methods: res.methods,
  };
}

