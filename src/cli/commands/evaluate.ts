/**
 * `icl-lab evaluate [TARGET...]`: mean squared error against context length for the given models
 * (run directories or .safetensors files; zero or more), each model's kernel estimator
 * (`<name>/kernel`), and the estimators one-step-gd, tuned-gd, debiased-gd, ridge, ols, all on the
 * SAME prompts at each L, with standard errors (analysis/evaluate.ts, methods.ts).
 *
 *   --json / --out FILE.json:  {"lengths":[...],"samples":N,"tasks":[...],"models":[...],...,"methods":{"<name>":{"mse":[...],"stderr":[...]}}}
 *   (null where a method is undefined, e.g. ols for L <= d)
 */
import { Option, type Command } from 'commander';
import { defaultLengths, evaluateErrors, DEFAULT_CHUNK, DEFAULT_LENGTHS_TEXT, type FullEvaluation } from '../../analysis/evaluate.js';
import { estimatorMethods, modelMethods, type EvalMethod } from '../../analysis/methods.js';
import type { PromptSpec } from '../../analysis/prompts.js';
import { loadStackTarget, loadTarget, type ModelTarget, type StackTarget } from '../../analysis/targets.js';
import { Rng } from '../../data/rng.js';
import { DEFAULT_TASK, PRESET_NAMES, type PresetName } from '../../data/task.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { VERSION } from '../../version.js';
import { asChoice, asInteger, asIntListOrRange, asNonNegativeFloat, asPositiveInt, parseFloatInRange } from '../options.js';

const asFloatOpen = (flag: string) => (v: string) => parseFloatInRange(flag, v, 0, 1, true);
import { UsageError } from '../../errors.js';
import { jsonSafe } from './analyze.js';
import { stackForward } from '../../engine/ts/stack.js';

export interface EvaluateCliOptions {
  lengths: number[];
  samples: number;
  preset?: PresetName;
  noiseStd?: number;
  rho?: number;
  d?: number;
  seed: number;
  chunk: number;
  independent?: boolean;
  kernel: boolean;
  json?: boolean;
  out?: string;
  progress?: boolean;
}

/** A prompt distribution as evaluate's JSON records it (snake_case). */
export interface TaskJson {
  d: number;
  preset: PresetName;
  noise_std: number;
  rho: number;
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


const taskJson = (t: PromptSpec): TaskJson => ({ d: t.d, preset: t.preset, noise_std: t.noiseStd, rho: t.rho ?? 0 });
const sameTask = (a: PromptSpec, b: PromptSpec): boolean => a.d === b.d && a.preset === b.preset && a.noiseStd === b.noiseStd && (a.rho ?? 0) === (b.rho ?? 0);
/** A task in words: d=5, preset seed, noise_std 0.01, rho 0. */
export const taskWords = (t: TaskJson): string => `d=${t.d}, preset ${t.preset}, noise_std ${t.noise_std}, rho ${t.rho}`;

/**
 * Models + estimators over the lengths. Each model is measured on the task it was trained on
 * (run.json: d, preset, noise_std, rho); models trained on different tasks are measured on separate
 * prompts, each task with its own estimators (named `<estimator>@<what differs>`, e.g. ridge@rho=0.5).
 * A model file without run.json is measured on the first run's task (else the seed's) at its own d.
 * With an explicit task (--preset, --noise-std, --rho; --d when no model is given), every model is
 * measured on that task, and each whose training task differs is marked out of distribution.
 */
export function runEvaluate(targets: readonly (ModelTarget | StackTarget)[], o: EvaluateCliOptions, onProgress?: (done: number, total: number) => void): EvaluateOutput {
  const dOf = (t: ModelTarget | StackTarget) => ('stack' in t ? t.stack.d : t.params.d);
  const names = new Set<string>();
  for (const t of targets) {
    if (names.has(t.name)) throw new UsageError(`two models are named ${t.name} (${t.path}); give them distinct directory or file names`);
    names.add(t.name);
  }
  const trained = (t: ModelTarget | StackTarget): PromptSpec | null =>
    t.run ? { d: dOf(t), preset: t.run.preset, noiseStd: t.run.noiseStd, ...(t.run.rho ? { rho: t.run.rho } : {}) } : null;
  const firstRun = targets.find((t) => t.run !== undefined);
  const fallback = firstRun ? trained(firstRun)! : { d: DEFAULT_TASK.d, preset: DEFAULT_TASK.preset, noiseStd: DEFAULT_TASK.noiseStd };
  const explicit = o.preset !== undefined || o.noiseStd !== undefined || o.rho !== undefined || (targets.length === 0 && o.d !== undefined);
  if (o.d !== undefined && targets.length > 0) {
    const other = targets.find((t) => dOf(t) !== o.d);
    if (other) throw new UsageError(`--d ${o.d} does not match the model ${other.name} (d=${dOf(other)}); a model can only be measured at its own d`);
  }
  const explicitSpec = (d: number): PromptSpec => {
    const rho = o.rho ?? fallback.rho ?? 0;
    return { d, preset: o.preset ?? fallback.preset, noiseStd: o.noiseStd ?? fallback.noiseStd, ...(rho ? { rho } : {}) };
  };
  // the task each model is measured on
  const measuredOn = (t: ModelTarget | StackTarget): PromptSpec => {
    if (explicit) return explicitSpec(dOf(t));
    return trained(t) ?? { ...fallback, d: dOf(t) };
  };
  const groups: { spec: PromptSpec; targets: (ModelTarget | StackTarget)[] }[] = [];
  for (const t of targets) {
    const spec = measuredOn(t);
    const g = groups.find((x) => sameTask(x.spec, spec));
    if (g) g.targets.push(t);
    else groups.push({ spec, targets: [t] });
  }
  if (groups.length === 0) groups.push({ spec: explicit ? explicitSpec(o.d ?? fallback.d) : { ...fallback, d: o.d ?? fallback.d }, targets: [] });
  const label = groupLabels(groups.map((g) => g.spec));
  const methodsOut: FullEvaluation['methods'] = {};
  const tasks: EvaluatedTask[] = [];
  let lengths: number[] = [];
  let samples = o.samples;
  const nested = !o.independent;
  groups.forEach((g, gi) => {
    const methods: EvalMethod[] = [];
    for (const t of g.targets) {
      if ('stack' in t) {
        const st = t.stack; // a multi-layer stack: the model only (no kernel read-out)
        methods.push({ name: t.name, run: (b, out) => stackForward(st, b, out) });
      } else {
        methods.push(...modelMethods(t.name, t.params, o.kernel));
      }
    }
    const suffix = groups.length > 1 ? `@${label[gi]}` : '';
    for (const m of estimatorMethods(g.spec)) {
      const name = m.name + suffix;
      if (names.has(name)) throw new UsageError(`a model is named ${name}, like an estimator; rename it`);
      methods.push({ ...m, name, run: m.run, ...(m.prepare ? { prepare: m.prepare } : {}) });
    }
    const progress = onProgress ? (done: number, total: number) => onProgress(gi * total + done, groups.length * total) : undefined;
    const res = evaluateErrors(methods, g.spec, o.lengths, o.samples, new Rng(o.seed), { chunk: o.chunk, nested, ...(progress ? { onProgress: progress } : {}) });
    Object.assign(methodsOut, res.methods);
    lengths = res.lengths;
    samples = res.samples;
    tasks.push({ ...taskJson(g.spec), methods: Object.keys(res.methods) });
  });
  const first = groups[0]!.spec;
  return {
    icl_lab_version: VERSION,
    lengths,
    samples,
    ...taskJson(first),
    tasks,
    explicit_task: explicit,
    seed: o.seed,
    nested,
    models: targets.map((t) => {
      const tr = trained(t);
      const on = measuredOn(t);
      return { name: t.name, path: t.path, trained_task: tr ? taskJson(tr) : null, task: taskJson(on), out_of_distribution: tr !== null && !sameTask(tr, on) };
    }),
    methods: methodsOut,
  };
}

/** Short labels for tasks that differ: the fields where they differ, e.g. "rho=0.5" or "preset=paper,noise_std=0.1". */
function groupLabels(specs: readonly PromptSpec[]): string[] {
  const fields: [string, (s: PromptSpec) => string | number][] = [
    ['d', (s) => s.d], ['preset', (s) => s.preset], ['noise_std', (s) => s.noiseStd], ['rho', (s) => s.rho ?? 0],
  ];
  const differ = fields.filter(([, f]) => new Set(specs.map(f)).size > 1);
  return specs.map((s) => differ.map(([k, f]) => `${k}=${f(s)}`).join(','));
}

/** A table: one row per L, "mse ± stderr" per method; the task(s) measured and any model measured out of distribution above it. */
export function formatEvaluation(r: EvaluateOutput): string {
  const names = Object.keys(r.methods);
  const cell = (m: number, s: number) => (Number.isFinite(m) ? `${fmt(m, 4)} ± ${fmt(s, 2)}` : 'n/a');
  const cells = r.lengths.map((_, i) => names.map((n) => cell(r.methods[n]!.mse[i]!, r.methods[n]!.stderr[i]!)));
  const widths = names.map((n, j) => Math.max(n.length, ...cells.map((row) => row[j]!.length)));
  const lines: string[] = [];
  const how = `${r.samples} prompts per L (${r.nested ? 'nested across L' : 'fresh at every L'}), seed ${r.seed}`;
  if (r.tasks.length === 1) {
    lines.push(`MSE against y_q ± standard error, ${how}; task ${taskWords(r.tasks[0]!)}${r.explicit_task ? ' (given by flags)' : ''}`);
  } else {
    lines.push(`MSE against y_q ± standard error, ${how}; the models were trained on ${r.tasks.length} different tasks, each measured on its own prompts:`);
    for (const t of r.tasks) lines.push(`  task ${taskWords(t)}: ${t.methods.join(', ')}`);
  }
  for (const m of r.models) {
    if (m.out_of_distribution) lines.push(`  ${m.name}: OUT OF DISTRIBUTION, trained on ${taskWords(m.trained_task!)}`);
    else if (m.trained_task === null) lines.push(`  ${m.name}: no run.json, training task not recorded (measured on ${taskWords(m.task)})`);
  }
  lines.push(['    L', ...names.map((n, j) => n.padStart(widths[j]!))].join('  '));
  r.lengths.forEach((L, i) => lines.push([String(L).padStart(5), ...cells[i]!.map((c, j) => c.padStart(widths[j]!))].join('  ')));
  return lines.join('\n') + '\n';
}

/** `digits` significant digits; exponent form outside [1e-3, 1e5). */
function fmt(x: number, digits: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? x.toPrecision(digits) : x.toExponential(digits - 1);
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .argument('[targets...]', 'run directories or .safetensors models (zero or more)')
    .description('mean squared error vs context length for models, their kernel estimators and the estimators one-step-gd, tuned-gd, debiased-gd, ridge, ols, on the same prompts, with standard errors')
    .option('--context-length <spec>', `[int[,int...]|start:stop[:step]] context lengths L: 10,40,160 or start:stop:step (stop included); alias --lengths (default: ${DEFAULT_LENGTHS_TEXT}; the seed\'s sweep is 1:500:5)`, asIntListOrRange('--context-length', { min: 1 }))
    .addOption(new Option('--lengths <spec>', 'old spelling of --context-length').hideHelp().argParser(asIntListOrRange('--lengths', { min: 1 })))
    .option('--samples <n>', '[int] prompts per L', asPositiveInt('--samples'), 10_000)
    .option('--preset <name>', '[seed|paper] measure every model on this prompt distribution (models trained on another are marked out of distribution) (default: each model\'s own, else seed)', asChoice('--preset', PRESET_NAMES))
    .option('--noise-std <x>', '[number] measure every model at this noise_std (default: each model\'s own, else 0.01)', asNonNegativeFloat('--noise-std'))
    .option('--rho <x>', '[number] measure every model with x covariance Sigma_ij = rho^|i-j| (default: each model\'s own, else 0)', asFloatOpen('--rho'))
    .option('--d <n>', '[int] dimension when no model is given (default: 5)', asPositiveInt('--d'))
    .option('--seed <n>', '[int] RNG seed of the prompts', asInteger('--seed'), 0)
    .option('--chunk <n>', '[int] prompts per batch (bounds memory)', asPositiveInt('--chunk'), DEFAULT_CHUNK)
    .option('--independent', '[flag] fresh prompts at every L (default: nested prompts, the first L tokens of one longer prompt drawn in segments; same distribution per L, ~25x less sampling, smooth curves; either way the prompts at an L depend only on --seed, L, the task and --chunk)')
    .option('--no-kernel', '[flag] leave out each model\'s kernel estimator <name>/kernel')
    .option('--json', '[flag] print the result as JSON instead of a table')
    .option('--out <file>', '[path] also write the JSON result to this file')
    .action((targets: string[], opts: Omit<EvaluateCliOptions, 'lengths'> & { contextLength?: number[]; lengths?: number[] }) => {
      if (opts.contextLength && opts.lengths) throw new UsageError('--lengths is the old spelling of --context-length; give one of them');
      const lengths = opts.contextLength ?? opts.lengths ?? defaultLengths();
      if (opts.samples < 2) throw new UsageError('--samples: need at least 2 prompts for a standard error');
      const models = targets.map((t) => loadStackTarget(t) ?? loadTarget(t));
      // A plain progress line on stderr every 5 s (none for runs shorter than that).
      const t0 = Date.now();
      let last = t0;
      const progress = (done: number, total: number) => {
        const now = Date.now();
        if (now - last < 5000) return;
        last = now;
        process.stderr.write(`evaluate: ${done}/${total} ${opts.independent ? 'lengths' : 'chunks'} (${((now - t0) / 1000).toFixed(0)} s)\n`);
      };
      const r = runEvaluate(models, { ...opts, lengths }, progress);
      const json = JSON.stringify(r, jsonSafe);
      if (opts.out) writeFileAtomic(opts.out, json + '\n');
      process.stdout.write(opts.json ? json + '\n' : formatEvaluation(r));
    });
}
