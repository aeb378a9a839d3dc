/**
 * `icl-lab reproduce [--experiment NAME] [--steps N] [--full] [--out DIR]`: one experiment of
 * src/experiments/ end to end (train its runs; evaluate; figures; report; findings). `npm start` runs
 * the seed notebook's, quick.
 */
import type { Command } from 'commander';
import { resultLabel, tallyFindings, tallyLine, type Finding } from '../../report/findings.js';
import { UsageError } from '../../errors.js';
import { MAX_RUNS } from '../../sweep/spec.js';

const MAX_SEED = 4_294_967_295; // train's --seed maximum (run/config.ts)
import { cliCommand, shellQuote } from '../../command.js';
import { onInterrupt } from '../signals.js';
import { addContextLengthsOption, addRunOptions, asChoice, asIntList, asPositiveInt, parseJobs, parseProgress, pickContextLengths } from '../options.js';
import { SEED_PASS_FRACTION, seedTally, type AcrossSeedsFinding } from '../../experiments/seeds.js';
import { EXPERIMENT_NAMES, EXPERIMENTS, experimentNamed } from '../../experiments/index.js';
import { FULL_STEPS, QUICK_STEPS, seedExperiment } from '../../experiments/seed.js';
import { shownPath } from '../shown-path.js';

interface ReproduceCliOptions {
  experiment?: string;
  preset?: string;
  steps?: number;
  full?: boolean;
  out?: string;
  evalSamples?: number;
  samples?: number;
  contextLength?: number[];
  lengths?: number[];
  jobs?: string;
  progress?: string;
  json?: boolean;
  seeds?: number[];
}

export function findingsTable(findings: readonly Finding[]): string {
  // judged across seeds (experiments/seeds.ts): the value is "passed/applicable seeds"
  const value = (f: Finding) => ('per_seed' in f ? seedTally(f as AcrossSeedsFinding) + ' seeds' : Number.isFinite(f.value) ? f.value.toFixed(4) : '-');
  const rows = findings.map((f, i) => [`${i + 1}`, resultLabel(f, { pass: 'PASS', fail: 'FAIL' }), f.id, value(f), f.threshold]);
  const head = ['#', 'result', 'finding', 'value', 'threshold'];
  const w = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)));
  const line = (r: string[]) => r.map((c, j) => c.padEnd(w[j]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function register(program: Command): void {
  const cmd = addContextLengthsOption(program.command('reproduce'), 'context lengths L of the error sweep, e.g. 10,40,160 or 1:500:5 (default: 1..10, 12..40 step 2, 45..500 step 5)')
    .description(
      `reproduce an experiment (default: the seed notebook): train its runs in parallel (the seed's: H = ${seedExperiment.heads.join(', ')} at config_1), evaluate them over ` +
        'L = 1..500 (every L up to 10, then sparser), draw every figure, write report.html / report.md / findings.json and print the findings. ' +
        `Quick: ${QUICK_STEPS.toLocaleString('en-US')} steps per run for the seed (on the loss plateau; about 35 s on 2 free cores, 1–3½ min on a shared machine); --full: the notebook's ${FULL_STEPS.toLocaleString('en-US')}. ` +
        'Running it again over the same --out continues unfinished runs and redraws the report.',
    )
    .option('--experiment <name>', `[${EXPERIMENT_NAMES.join('|')}] which experiment: ${EXPERIMENTS.map((e) => `${e.name} = ${e.summary}`).join('; ')} (default: seed)`, asChoice('--experiment', EXPERIMENT_NAMES))
    .option('--preset <name>', '[name] the same as --experiment (its older name)', asChoice('--preset', EXPERIMENT_NAMES))
    .option('--steps <n>', `[int] steps per run (default: the experiment's quick length, ${EXPERIMENTS.map((e) => e.quickSteps).join(' / ')} for ${EXPERIMENT_NAMES.join(' / ')}, or ${FULL_STEPS} with --full)`, asPositiveInt('--steps'))
    .option('--full', `[flag] the notebook's full length: ${FULL_STEPS} steps per run, seed logging intervals`)
    .option('--out <dir>', `[path] where runs and report go (default: ${EXPERIMENTS.map((e) => e.out[0]).join(', ')}; -full with --full)`)
    .option('--eval-samples <n>', '[int] prompts per context length in the error sweep (default: 2000, or 10000 with --full)', asPositiveInt('--eval-samples'))
    .option('--samples <n>', '[int] prompts at the training L shared by every model for the findings (default: 20000)', asPositiveInt('--samples'))
    .option('--seeds <n|list>', `[int|int,int...] every run once per RNG seed: N seeds from the experiment's own (1024 for seed), or a list; each finding judged across them (passes on >= ${SEED_PASS_FRACTION * 100} % of the seeds where it applies; the table shows passed/applicable seeds), a report per seed in report/seed-<S>/ (default: the experiment's one seed, or its own list: ${EXPERIMENTS.filter((e) => e.seeds).map((e) => `${e.name} ${e.seeds!.join(',')}`).join('; ')})`, asIntList('--seeds', { min: 0 }))
    .option('--json', '[flag] print only a JSON summary (findings and file paths) on stdout');
  addRunOptions(cmd, { threads: false, what: 'training progress' })
    .action(async (o: ReproduceCliOptions) => {
      const jobs = parseJobs(o.jobs);
      const progress = parseProgress(o.progress, o.json === true);
      if (o.full && o.steps !== undefined) throw new UsageError('--full sets --steps to 500001; give one of them');
      if (o.experiment !== undefined && o.preset !== undefined && o.experiment !== o.preset) throw new UsageError(`--experiment ${o.experiment} and --preset ${o.preset} disagree; give one of them`);
      const info = experimentNamed(o.experiment ?? o.preset ?? 'seed');
      const preset = info.name;
      const baseSeed = (info.runs ? info.runs(1)[0]!.config : info.config(info.heads[0]!, 1)).seed;
      // a count is checked before the list is made: --seeds 100000 made 100,000 run folders at once
      const perSeed = info.runs ? info.runs(1).length : info.heads.length;
      const nSeeds = o.seeds === undefined ? 1 : o.seeds.length === 1 ? o.seeds[0]! : o.seeds.length;
      if (nSeeds * perSeed > MAX_RUNS) {
        throw new UsageError(`--seeds ${o.seeds!.length === 1 ? nSeeds : `(a list of ${nSeeds})`}: ${nSeeds} seeds x ${perSeed} run(s) of ${info.name} = ${nSeeds * perSeed} runs; at most ${MAX_RUNS} (${Math.floor(MAX_RUNS / perSeed)} seeds of this experiment)`);
      }
      if (o.seeds?.length === 1 && baseSeed + nSeeds - 1 > MAX_SEED) {
        throw new UsageError(`--seeds ${nSeeds} counts from ${info.name}'s seed ${baseSeed} past the largest seed ${MAX_SEED}; give fewer seeds or a list`);
      }
      const seeds = o.seeds === undefined ? undefined : o.seeds.length === 1 ? Array.from({ length: o.seeds[0]! }, (_, i) => baseSeed + i) : o.seeds;
      if (seeds && seeds.length === 0) throw new UsageError('--seeds 0: give at least one seed');
      if (seeds && new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds ${seeds.join(',')}: a seed is given twice`);
      const steps = o.steps ?? (o.full ? info.fullSteps : info.quickSteps);
      const out = o.out ?? (o.full ? info.out[1] : info.out[0]);
      const again = cliCommand(`reproduce${preset !== 'seed' ? ` --experiment ${preset}` : ''}${o.seeds ? ` --seeds ${o.seeds.join(',')}` : ''} --out ${shellQuote(out)} --steps ${steps}`);
      const log = o.json ? () => {} : (s: string) => process.stderr.write(`icl-lab: ${s}\n`);
      if (steps < info.quickSteps) {
        log(`note: ${steps.toLocaleString('en-US')} steps is below the ${preset} experiment's quick length (${info.quickSteps.toLocaleString('en-US')}): the findings assume models on their loss plateau, so some may FAIL`);
      }
      const controller = new AbortController();
      let reporting = false;
      const removeInterrupt = onInterrupt((sig) => {
        if (reporting) {
          // training is over and checkpointed: nothing to save, so stop at once (the report is redrawn by the same command)
          process.stderr.write(`\nicl-lab: ${sig} while writing the report; the runs are complete. Write the report with:\n  ${again}\n`);
          process.exit(130);
        }
        process.stderr.write(`\nicl-lab: ${sig}: stopping every run within 0.1 s at a step boundary and writing checkpoints (again to quit at once)\n`);
        controller.abort();
      });
      const t0 = performance.now();
      const { reproduce } = await import('../../experiments/reproduce.js'); // loads the renderer
      let res;
      try {
        res = await reproduce({
          out, steps, experiment: info,
          ...(seeds ? { seeds } : {}),
          evalSamples: o.evalSamples ?? (o.full ? 10_000 : 2_000),
          ...(o.samples !== undefined ? { samples: o.samples } : {}),
          ...(pickContextLengths(o) ? { lengths: pickContextLengths(o)! } : {}),
          ...(jobs !== undefined ? { jobs } : {}),
          progress,
          signal: controller.signal,
          onReportStart: () => {
            reporting = true;
          },
          onLine: o.json ? null : (line: string) => process.stdout.write(`${line}\n`),
          log,
        });
      } finally {
        removeInterrupt();
      }
      if ('interrupted' in res) {
        process.stderr.write(`interrupted; continue with:\n  ${again}\n`);
        process.exitCode = 130;
        return;
      }
      const seconds = (performance.now() - t0) / 1000;
      const { report } = res;
      const { passed, failed, notApplicable } = tallyFindings(report.findings);
      if (o.json) {
        process.stdout.write(JSON.stringify({ steps, out, seconds, passed, failed, not_applicable: notApplicable, findings: report.findings.map(({ checks: _c, ...f }) => f), files: report.files, figures: report.pngs }) + '\n');
      } else {
        if (report.findings.length === 0) process.stdout.write(`\nthe ${preset} experiment reports measurements, no pass/fail findings (${seconds.toFixed(0)} s).\n`);
        else process.stdout.write(`\n${findingsTable(report.findings)}\n\n${tallyLine(report.findings)} (${seconds.toFixed(0)} s).\n`);
        process.stdout.write(`report: ${shownPath(report.files.html)} (and report.md, findings.json, ${report.pngs.length} PNG figures in ${shownPath(res.reportDir)}/figures)\n`);
      }
      if (failed > 0) process.exitCode = 1;
    });
}
