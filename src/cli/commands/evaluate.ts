/**
 * `icl-lab evaluate [TARGET...]`: mean squared error against context length for the given models
 * (run directories or .safetensors files; zero or more), each model's kernel estimator
 * (`<name>/kernel`), and the estimators one-step-gd, tuned-gd, debiased-gd, ridge, ols, all on the
 * SAME prompts at each L, with standard errors (analysis/evaluate.ts, methods.ts).
 *
 *   --json / --out FILE.json:  {"lengths":[...],"samples":N,...,"methods":{"<name>":{"mse":[...],"stderr":[...]}}}
 *   (null where a method is undefined, e.g. ols for L <= d)
 */
import type { Command } from 'commander';
import { evaluateErrors, DEFAULT_CHUNK, type FullEvaluation } from '../../analysis/evaluate.js';
import { estimatorMethods, modelMethods, type EvalMethod } from '../../analysis/methods.js';
import type { PromptSpec } from '../../analysis/prompts.js';
import { loadStackTarget, loadTarget, type ModelTarget, type StackTarget } from '../../analysis/targets.js';
import { Rng } from '../../data/rng.js';
import { DEFAULT_TASK, PRESET_NAMES, type PresetName } from '../../data/task.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { VERSION } from '../../version.js';
import { asChoice, asInteger, asIntListOrRange, asNonNegativeFloat, asPositiveInt } from '../options.js';
import { UsageError } from '../../errors.js';
import { jsonSafe } from './analyze.js';
import { stackForward } from '../../engine/ts/stack.js';
import { checkEvaluateMemory } from '../../analysis/memory.js';
import { checkOutputFile } from '../../io/input-file.js';

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
  methods.push(...estimatorMethods(spec));
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

/** A table: one row per L, "mse ± stderr" per method. */
export function formatEvaluation(r: EvaluateOutput): string {
  const names = Object.keys(r.methods);
  const cell = (m: number, s: number) => (Number.isFinite(m) ? `${fmt(m, 4)} ± ${fmt(s, 2)}` : 'n/a');
  const cells = r.lengths.map((_, i) => names.map((n) => cell(r.methods[n]!.mse[i]!, r.methods[n]!.stderr[i]!)));
  const widths = names.map((n, j) => Math.max(n.length, ...cells.map((row) => row[j]!.length)));
  const lines: string[] = [];
  lines.push(`MSE against y_q ± standard error, ${r.samples} prompts per L (${r.nested ? 'nested across L' : 'fresh at every L'}), d=${r.d}, preset ${r.preset}, noise_std ${r.noiseStd}, seed ${r.seed}`);
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
    .option('--lengths <spec>', '[list|range] context lengths: 10,40,160 or start:stop:step (stop included) (default: 1:500:5, the seed\'s sweep)', asIntListOrRange('--lengths', { min: 1 }), undefined)
    .option('--samples <n>', '[int] prompts per L', asPositiveInt('--samples'), 10_000)
    .option('--preset <name>', '[seed|paper] prompt distribution (default: the first run\'s, else seed)', asChoice('--preset', PRESET_NAMES))
    .option('--noise-std <x>', '[number] noise_std (default: the first run\'s, else 0.01)', asNonNegativeFloat('--noise-std'))
    .option('--d <n>', '[int] dimension when no model is given (default 5)', asPositiveInt('--d'))
    .option('--seed <n>', '[int] RNG seed of the prompts', asInteger('--seed'), 0)
    .option('--chunk <n>', '[int] prompts per batch (bounds memory)', asPositiveInt('--chunk'), DEFAULT_CHUNK)
    .option('--independent', '[flag] fresh prompts at every L (default: nested prompts, the first L tokens of one long prompt; same distribution per L, 50x less sampling)')
    .option('--no-kernel', '[flag] leave out each model\'s kernel estimator <name>/kernel')
    .option('--json', '[flag] print the result as JSON instead of a table')
    .option('--out <file>', '[path] also write the JSON result to this file')
    .action((targets: string[], opts: Omit<EvaluateCliOptions, 'lengths'> & { lengths?: number[] }) => {
      const lengths = opts.lengths ?? asIntListOrRange('--lengths')(DEFAULT_LENGTHS);
      if (opts.samples < 2) throw new UsageError('--samples: need at least 2 prompts for a standard error');
      if (opts.out !== undefined) checkOutputFile(opts.out, '--out', 'evaluation.json'); // before the work, not after
      const models = targets.map((t) => loadStackTarget(t) ?? loadTarget(t));
      const shapes = models.map((m) => ('stack' in m ? { d: m.stack.d, H: m.stack.H, layers: m.stack.nLayers } : { d: m.params.d, H: m.params.H, layers: 1 }));
      checkEvaluateMemory(shapes[0]?.d ?? opts.d ?? DEFAULT_TASK.d, lengths, opts.samples, opts.chunk, shapes); // before sampling: fail fast
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
