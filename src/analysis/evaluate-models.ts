/**
 * Evaluate models against the estimators on shared prompts (what `icl-lab evaluate` prints and the
 * sweep's results table reads): each model on its own training task, the method lists, the sweep,
 * and its JSON form.
 */
import { evaluateErrors, type FullEvaluation } from './evaluate.js';
import { estimatorMethods, modelMethods, type EvalMethod } from './methods.js';
import { resolveMethodSpecs } from './method-specs.js';
import { dmmseMethod, priorMethods } from './prior-estimators.js';
import { isShifted, shiftWords, type PromptShift, type QueryShift } from '../data/shift.js';
import type { PromptSpec } from './prompts.js';
import type { ModelTarget, StackTarget } from './targets.js';
import { Rng } from '../data/rng.js';
import { DEFAULT_TASK, type PresetName } from '../data/task.js';
import { stackForward } from '../engine/ts/stack.js';
import type { ModelForward } from '../engine/model.js';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { nodeForward } from '../io/wasm.js';


export interface EvaluateCliOptions {
  lengths: number[];
  samples: number;
  preset?: PresetName;
  noiseStd?: number;
  rho?: number;
  /** Measure every model on s-sparse prompts (an explicit task: models trained on another are out of distribution). */
  sparsity?: number;
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
  /** The models' forward (default: io/wasm.ts nodeForward, the wasm kernel when it loads: the TypeScript forward's doubles). */
  forward?: ModelForward;
  /** Prompts shifted away from every task (data/shift.ts): every model is then measured out of distribution. */
  shift?: PromptShift;
}

/** A prompt distribution as evaluate's JSON records it (snake_case). */
export interface TaskJson {
  d: number;
  preset: PresetName;
  noise_std: number;
  rho: number;
  /** The prior of beta: gaussian, pool (with task_pool = M) or sparse (with sparsity = s). */
  prior: 'gaussian' | 'pool' | 'sparse';
  task_pool?: number;
  sparsity?: number;
  /** Shifted prompts (evaluate --x-scale, --beta-scale, --query): absent = none. */
  shift?: { x_scale: number; beta_scale: number; query: string | null };
}

/** One model in the output: the task it was trained on, the task it was measured on, and whether they differ. */
export interface EvaluatedModel {
  name: string;
  path: string;
  /** From run.json; null for a bare model file (no run.json: its task is not recorded). */
  trained_task: TaskJson | null;
  /** The task of the prompts this model was measured on. */
  task: TaskJson;
  /** True when the model was measured on another task than it was trained on (an explicit --preset/--noise-std/--rho/--d). */
  out_of_distribution: boolean;
}

/** One task measured: its prompts, and the methods (names in `methods`) measured on them. */
export interface EvaluatedTask extends TaskJson {
  methods: string[];
}

export interface EvaluateOutput extends FullEvaluation {
  icl_lab_version: string;
  /** The task of the prompts (the first one when several tasks were measured, see `tasks`). */
  d: number;
  preset: PresetName;
  noise_std: number;
  rho: number;
  /** Every task measured, with its methods: one unless the models were trained on different tasks. */
  tasks: EvaluatedTask[];
  /** True when the task was given by flags (--preset, --noise-std, --rho, --d with no model). */
  explicit_task: boolean;
  seed: number;
  nested: boolean;
  models: EvaluatedModel[];
}

/** Short labels for tasks that differ: the fields where they differ, e.g. "rho=0.5" or "preset=paper,noise_std=0.1". */
function groupLabels(specs: readonly PromptSpec[]): string[] {
  const fields: [string, (s: PromptSpec) => string | number][] = [
    ['d', (s) => s.d], ['preset', (s) => s.preset], ['noise_std', (s) => s.noiseStd], ['rho', (s) => s.rho ?? 0],
    ['tasks', (s) => (s.pool ? `pool${s.pool.length / s.d}` : s.sparsity ? `sparse${s.sparsity}` : 'fresh')],
  ];
  const differ = fields.filter(([, f]) => new Set(specs.map(f)).size > 1);
  return specs.map((s) => differ.map(([k, f]) => `${k}=${f(s)}`).join(','));
}

/** The seed's sweep, range(1, 501, 5). */
export const DEFAULT_LENGTHS = '1:500:5';

const taskJson = (t: PromptSpec): TaskJson => ({
  d: t.d, preset: t.preset, noise_std: t.noiseStd, rho: t.rho ?? 0,
  ...(t.pool ? { prior: 'pool' as const, task_pool: t.pool.length / t.d } : t.sparsity ? { prior: 'sparse' as const, sparsity: t.sparsity } : { prior: 'gaussian' as const }),
});
const samePool = (a?: Float64Array, b?: Float64Array): boolean => a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));
const sameTask = (a: PromptSpec, b: PromptSpec): boolean =>
  a.d === b.d && a.preset === b.preset && a.noiseStd === b.noiseStd && (a.rho ?? 0) === (b.rho ?? 0) && samePool(a.pool, b.pool) && (a.sparsity ?? 0) === (b.sparsity ?? 0);
/** A task in words: d=5, preset seed, noise_std 0.01, rho 0 (and its prior of beta when not Gaussian). */
export const taskWords = (t: TaskJson): string =>
  `d=${t.d}, preset ${t.preset}, noise_std ${t.noise_std}, rho ${t.rho}${t.prior === 'pool' ? `, beta from a pool of ${t.task_pool} tasks` : t.prior === 'sparse' ? `, ${t.sparsity}-sparse beta` : ''}` +
  (t.shift ? `; SHIFTED: ${shiftWords({ xScale: t.shift.x_scale, betaScale: t.shift.beta_scale, ...(t.shift.query ? { query: t.shift.query as QueryShift } : {}) })}` : '');

/**
 * Models + estimators over the lengths. Each model is measured on the task it was trained on
 * (run.json: d, preset, noise_std, rho); models trained on different tasks are measured on separate
 * prompts, each task with its own estimators (named `<estimator>@<what differs>`, e.g. ridge@rho=0.5).
 * A model file without run.json is measured on the first run's task (else the seed's) at its own d.
 * With an explicit task (--preset, --noise-std, --rho; --d when no model is given), every model is
 * measured on that task, and each whose training task differs is marked out of distribution.
 */
export function runEvaluate(targets: readonly (ModelTarget | StackTarget)[], o: EvaluateCliOptions, onProgress?: (done: number, total: number) => void): EvaluateOutput {
  const mt = targets.find((t) => !('stack' in t) && t.params.nOut > 1);
  if (mt) throw new UsageError(`${mt.path} is a multi-task model (n_out = ${'params' in mt ? mt.params.nOut : 1}); evaluate compares single-task estimators. Its errors per task are in the multi-task report (icl-lab report RUN_DIR) or from icl-lab predict`);
  const dOf = (t: ModelTarget | StackTarget) => ('stack' in t ? t.stack.d : t.params.d);
  const shifted = isShifted(o.shift);
  const shiftJson = (t: TaskJson): TaskJson => (shifted ? { ...t, shift: { x_scale: o.shift!.xScale ?? 1, beta_scale: o.shift!.betaScale ?? 1, query: o.shift!.query ?? null } } : t);
  const names = new Set<string>();
  for (const t of targets) {
    if (names.has(t.name)) throw new UsageError(`two models are named ${t.name} (${t.path}); give them distinct directory or file names`);
    names.add(t.name);
  }
  const trained = (t: ModelTarget | StackTarget): PromptSpec | null =>
    t.run ? { d: dOf(t), preset: t.run.preset, noiseStd: t.run.noiseStd, ...(t.run.rho ? { rho: t.run.rho } : {}), ...(t.run.pool ? { pool: t.run.pool } : {}), ...(t.run.sparsity ? { sparsity: t.run.sparsity } : {}) } : null;
  const firstRun = targets.find((t) => t.run !== undefined);
  const fallback = firstRun ? trained(firstRun)! : { d: DEFAULT_TASK.d, preset: DEFAULT_TASK.preset, noiseStd: DEFAULT_TASK.noiseStd };
  const explicit = o.preset !== undefined || o.noiseStd !== undefined || o.rho !== undefined || o.sparsity !== undefined || (targets.length === 0 && o.d !== undefined);
  if (o.d !== undefined && targets.length > 0) {
    const other = targets.find((t) => dOf(t) !== o.d);
    if (other) throw new UsageError(`--d ${o.d} does not match the model ${other.name} (d=${dOf(other)}); a model can only be measured at its own d`);
  }
  const explicitSpec = (d: number): PromptSpec => {
    const rho = o.rho ?? fallback.rho ?? 0;
    if (o.sparsity !== undefined && o.sparsity > d) throw new UsageError(`--sparsity ${o.sparsity} is more coordinates than d = ${d}`);
    return { d, preset: o.preset ?? fallback.preset, noiseStd: o.noiseStd ?? fallback.noiseStd, ...(rho ? { rho } : {}), ...(o.sparsity ? { sparsity: o.sparsity } : {}) };
  };
  // the task each model is measured on
  const measuredOn = (t: ModelTarget | StackTarget): PromptSpec => {
    if (explicit) return explicitSpec(dOf(t));
    return trained(t) ?? { ...fallback, d: dOf(t) };
  };
  const groups: { spec: PromptSpec; targets: (ModelTarget | StackTarget)[]; trainedPool?: Float64Array }[] = [];
  for (const t of targets) {
    const spec = measuredOn(t);
    const g = groups.find((x) => sameTask(x.spec, spec));
    if (g) g.targets.push(t);
    else groups.push({ spec, targets: [t] });
  }
  // a model trained on a pool is also measured on fresh tasks from the prior (Raventós et al.'s two curves)
  for (const g of [...groups]) {
    if (!g.spec.pool) continue;
    const { pool: _p, ...fresh } = g.spec;
    const twin = groups.find((x) => sameTask(x.spec, fresh));
    if (twin) twin.targets.push(...g.targets.filter((t) => !twin.targets.includes(t)));
    else groups.push({ spec: fresh, targets: [...g.targets], trainedPool: g.spec.pool });
  }
  if (groups.length === 0) groups.push({ spec: explicit ? explicitSpec(o.d ?? fallback.d) : { ...fallback, d: o.d ?? fallback.d }, targets: [] });
  const label = groupLabels(groups.map((g) => g.spec));
  const methodsOut: FullEvaluation['methods'] = {};
  const tasks: EvaluatedTask[] = [];
  let lengths: number[] = [];
  let samples = o.samples;
  const nested = !o.independent;
  const forward = o.forward ?? nodeForward();
  groups.forEach((g, gi) => {
    const methods: EvalMethod[] = [];
    const suffix = groups.length > 1 ? `@${label[gi]}` : '';
    for (const t of g.targets) {
      // a model measured on several tasks (a pool model: its pool and fresh tasks) is named per task
      const name = groups.filter((x) => x.targets.includes(t)).length > 1 ? `${t.name}${suffix}` : t.name;
      if ('stack' in t) {
        const st = t.stack; // a multi-layer stack: the model only (no kernel read-out)
        methods.push({ name, run: (b, out) => stackForward(st, b, out) });
      } else {
        methods.push(...modelMethods(name, t.params, o.kernel, forward));
      }
    }
    for (const m of [...resolveMethodSpecs(o.method ?? [], g.spec), ...(o.baselines !== false ? [...estimatorMethods(g.spec), ...priorMethods(g.spec), ...(g.trainedPool ? [dmmseMethod(g.trainedPool, g.spec)] : [])] : [])]) {
      const name = m.name + suffix;
      if (names.has(name)) throw new UsageError(`a model is named ${name}, like an estimator; rename it`);
      if (methods.some((x) => x.name === name)) throw new UsageError(`two methods are named ${name}; give one of them :name=LABEL`);
      methods.push({ ...m, name, run: m.run, ...(m.prepare ? { prepare: m.prepare } : {}) });
    }
    const progress = onProgress ? (done: number, total: number) => onProgress(gi * total + done, groups.length * total) : undefined;
    const res = evaluateErrors(methods, g.spec, o.lengths, o.samples, new Rng(o.seed), { chunk: o.chunk, nested, ...(progress ? { onProgress: progress } : {}), ...(shifted ? { shift: o.shift! } : {}) });
    Object.assign(methodsOut, res.methods);
    lengths = res.lengths;
    samples = res.samples;
    tasks.push({ ...shiftJson(taskJson(g.spec)), methods: Object.keys(res.methods) });
  });
  const first = groups[0]!.spec;
  return {
    icl_lab_version: VERSION,
    lengths,
    samples,
    ...shiftJson(taskJson(first)),
    tasks,
    explicit_task: explicit,
    seed: o.seed,
    nested,
    models: targets.map((t) => {
      const tr = trained(t);
      const on = measuredOn(t);
      return { name: t.name, path: t.path, trained_task: tr ? taskJson(tr) : null, task: shiftJson(taskJson(on)), out_of_distribution: (tr !== null && !sameTask(tr, on)) || shifted };
    }),
    methods: methodsOut,
  };
}
