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
import { defaultLengths, DEFAULT_CHUNK, DEFAULT_LENGTHS_TEXT } from '../../analysis/evaluate.js';
import { runEvaluate, taskWords, type EvaluateCliOptions, type EvaluateOutput } from '../../analysis/evaluate-models.js';
import { loadStackTarget, loadTarget, untrainedWarning, type ModelTarget, type StackTarget } from '../../analysis/targets.js';
import { warn } from '../warn.js';
import { DEFAULT_TASK, PRESET_NAMES, type PresetName } from '../../data/task.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { VERSION } from '../../version.js';
import { asChoice, asInteger, asIntListOrRange, asNonNegativeFloat, asPositiveFloat, asPositiveInt, parseFloatInRange } from '../options.js';
import { QUERY_SHIFTS, type QueryShift } from '../../data/shift.js';

const asFloatOpen = (flag: string) => (v: string) => parseFloatInRange(flag, v, 0, 1, true);
import { UsageError } from '../../errors.js';
import { jsonSafe } from './analyze.js';
import { checkEvaluateMemory } from '../../analysis/memory.js';
import { checkOutputFile } from '../../io/input-file.js';

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
    lines.push(`MSE against y_q ± standard error, ${how}; measured on ${r.tasks.length} tasks (the models' own training tasks; a pool model also on fresh tasks from the prior), each on its own prompts:`);
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
    .option('--sparsity <s>', '[int] measure every model on s-sparse prompts (beta with s non-zero coordinates, E||beta||^2 unchanged; lasso, lasso-tuned and support-oracle join the estimators) (default: each model\'s own)', asPositiveInt('--sparsity'))
    .option('--x-scale <c>', '[number] shifted prompts: every x (context and query) times c; every model is then measured out of distribution (docs/readme/task-families.md) (default: 1)', asPositiveFloat('--x-scale'))
    .option('--beta-scale <c>', '[number] shifted prompts: beta times c (default: 1)', asPositiveFloat('--beta-scale'))
    .option('--query <kind>', `[${QUERY_SHIFTS.join('|')}] shifted queries: opposite-orthant = x_q in the orthant opposite to the first context token; orthogonal = x_q orthogonal to every context x (L < d) (default: from the task)`, asChoice('--query', QUERY_SHIFTS))
    .option('--seed <n>', '[int] RNG seed of the prompts', asInteger('--seed'), 0)
    .option('--chunk <n>', '[int] prompts per batch (bounds memory)', asPositiveInt('--chunk'), DEFAULT_CHUNK)
    .option('--independent', '[flag] fresh prompts at every L (default: nested prompts, the first L tokens of one longer prompt drawn in segments; same distribution per L, ~25x less sampling, smooth curves; either way the prompts at an L depend only on --seed, L, the task and --chunk)')
    .option('--method <spec>', "[spec] an analytic estimator, repeatable: kernel:w=0.13,-0.13:mu=3.45,-3.45 | kernel:w=LIST (mu = reduced-loss mu*(w)) | kernel:from=MODEL | single-head[:L=40] | gd:w=LIST:mu=LIST (eta = sum w mu) | gd:eta=X | debiased-gd:(same) | linear-gd[:eta=X | :L=N] (the GD construction: one-head linear attention = one GD step; default eta* at each L) | ridge[:lambda=X] | paper-comparison (the authors' five); add :name=LABEL to rename (default: none)", (v: string, prev: string[] = []) => [...prev, v])
    .option('--no-baselines', '[flag] leave out the default estimators one-step-gd, tuned-gd, debiased-gd, ridge, ols')
    .option('--no-kernel', '[flag] leave out each model\'s kernel estimator <name>/kernel')
    .option('--json', '[flag] print the result as JSON instead of a table')
    .option('--out <file>', '[path] also write the JSON result to this file')
    .action((targets: string[], opts: Omit<EvaluateCliOptions, 'lengths'> & { contextLength?: number[]; lengths?: number[] }) => {
      if (opts.contextLength && opts.lengths) throw new UsageError('--lengths is the old spelling of --context-length; give one of them');
      const lengths = opts.contextLength ?? opts.lengths ?? defaultLengths();
      if (opts.samples < 2) throw new UsageError('--samples: need at least 2 prompts for a standard error');
      if (opts.out !== undefined) checkOutputFile(opts.out, '--out', 'evaluation.json'); // before the work, not after
      const models = targets.map((t) => loadStackTarget(t) ?? loadTarget(t));
      for (const m of models) warn(untrainedWarning(m));
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
      const { xScale, betaScale, query, ...rest } = opts as typeof opts & { xScale?: number; betaScale?: number; query?: QueryShift };
      const shift = { ...(xScale !== undefined ? { xScale } : {}), ...(betaScale !== undefined ? { betaScale } : {}), ...(query ? { query } : {}) };
      const r = runEvaluate(models, { ...rest, lengths, ...(Object.keys(shift).length ? { shift } : {}) }, progress);
      const json = JSON.stringify(r, jsonSafe);
      if (opts.out) writeFileAtomic(opts.out, json + '\n');
      process.stdout.write(opts.json ? json + '\n' : formatEvaluation(r));
    });
}
