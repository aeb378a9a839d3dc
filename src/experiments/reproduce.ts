/**
 * `icl-lab reproduce --experiment NAME`: one experiment (index.ts) end to end, the same way for every
 * entry. Trains its runs (one worker thread per core) into OUT/h<H> (or the entry's own run names), then writes its report into
 * OUT/report as one unit.
 *
 *   quick (default)  the experiment's quick length (the seed's: 20,000 steps per run, every H on its
 *                    loss plateau, docs/REFERENCE_RUNS.md), logging every 1% of the run
 *   --full           the authors' 500,001 steps, logging every 1,000 steps as the seed does
 *
 * Re-running over the same --out continues unfinished runs and redraws the report; completed runs
 * are not trained again.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tagOf } from '../run/labels.js';
import type { TrainConfig } from '../run/config.js';
import { executeRuns, trainRuns, type ExecuteOptions } from '../run/runs.js';
import { isRunDir, readRunJson } from '../run/run-dir.js';
import type { RunSummary } from '../run/run.js';
import { writeFolderAsUnit } from '../report/write-unit.js';
import type { ReportResult } from '../report/report.js';
import { writeDocuments, writeEvaluation } from '../report/documents.js';
import { resultLabel, tallyLine } from '../report/findings.js';
import { judgeAcrossSeeds, SEED_PASS_FRACTION, seededName, seedTally, splitStep, withSeed } from './seeds.js';
import { experimentRuns, type Experiment } from './experiment.js';
import { experimentNamed } from './index.js';

export interface ReproduceOptions extends ExecuteOptions {
  out: string;
  steps: number;
  /** Prompts per context length in the error sweep. */
  evalSamples: number;
  /** Shared prompts at the training L for the findings. */
  samples?: number;
  /** Error-sweep lengths (default: the experiment's). */
  lengths?: number[];
  /** The experiment, or its name (default: seed). */
  experiment?: Experiment | string;
  /** RNG seeds: every run once per seed (folders <run>-seed<S>), findings judged across them (seeds.ts). */
  seeds?: number[];
  log?: (line: string) => void;
  /** Told when training is over and the report starts (an interrupt can then no longer checkpoint anything). */
  onReportStart?: () => void;
}

export interface ReproduceResult {
  runs: RunSummary[];
  report: ReportResult;
  reportDir: string;
}

export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult | { runs: RunSummary[]; interrupted: true }> {
  const log = o.log ?? (() => {});
  const e = typeof o.experiment === 'object' ? o.experiment : experimentNamed(o.experiment ?? 'seed');
  const seeds = o.seeds && o.seeds.length > 0 ? o.seeds : e.seeds;
  if (seeds && seeds.length > 0) return reproduceSeeds(o, e, seeds);
  const planned = experimentRuns(e, o.steps);
  const names = planned.map((r) => r.name);
  const runs = await trainExperimentRuns(o, names, () => planned.map((r) => r.config), `${e.runs ? names.join(', ') : `H = ${e.heads.join(', ')}`} (${e.name} experiment)`, e.name);
  if ('interrupted' in runs) return runs;
  const dirs = names.map((n) => join(o.out, n));
  const reportDir = join(o.out, 'report');
  o.onReportStart?.();
  if (o.signal?.aborted) return { runs: runs.runs, interrupted: true };
  const lengths = o.lengths ?? e.lengths;
  const report = await writeFolderAsUnit(reportDir, (staging) => e.report(dirs, {
    out: staging,
    evalSamples: o.evalSamples,
    ...(o.samples !== undefined ? { samples: o.samples } : {}),
    ...(lengths ? { lengths } : {}),
    log,
  }));
  return { runs: runs.runs, report, reportDir };
}

/** reproduce over several seeds: every run per seed, a report per seed, the findings judged across them. */
async function reproduceSeeds(o: ReproduceOptions, e: Experiment, seeds: readonly number[]): Promise<ReproduceResult | { runs: RunSummary[]; interrupted: true }> {
  const log = o.log ?? (() => {});
  const base = experimentRuns(e, o.steps);
  const planned = seeds.flatMap((s) => base.map((r) => ({ seed: s, name: seededName(r.name, s), config: withSeed(r.config, s) })));
  const names = planned.map((r) => r.name);
  const trained = await trainExperimentRuns(o, names, () => planned.map((r) => r.config), `${base.map((r) => r.name).join(', ')} x ${seeds.length} seeds (${e.name} experiment)`, e.name);
  if ('interrupted' in trained) return trained;
  const reportDir = join(o.out, 'report');
  o.onReportStart?.();
  if (o.signal?.aborted) return { runs: trained.runs, interrupted: true };
  const lengths = o.lengths ?? e.lengths;
  const report = await writeFolderAsUnit(reportDir, async (staging) => {
    const perSeed: ReportResult[] = [];
    for (const s of seeds) {
      log(`report of seed ${s}`);
      const dirs = planned.filter((r) => r.seed === s).map((r) => join(o.out, r.name));
      perSeed.push(await e.report(dirs, { out: join(staging, `seed-${s}`), evalSamples: o.evalSamples, ...(o.samples !== undefined ? { samples: o.samples } : {}), ...(lengths ? { lengths } : {}), log }));
    }
    const findings = judgeAcrossSeeds(seeds, perSeed.map((r) => r.findings));
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '–');
    const md = [
      `# icl-lab report across seeds: ${e.name}\n\n${e.summary}. ${seeds.length} seeds (${seeds.join(', ')}), ${o.steps.toLocaleString('en-US')} steps per run; each seed's own report in seed-<S>/. A finding passes across seeds when it passes on at least ${SEED_PASS_FRACTION * 100} % of the seeds where it applies; n/a on a seed (the runs cannot test it) is left out of that seed's count.`,
      `## Findings across seeds\n\n| no. | finding | seeds passed | verdict | per seed (value, result) |\n|---|---|---|---|---|\n` +
        findings.map((x, i) => `| ${i + 1} | ${x.id} | ${seedTally(x)} | ${resultLabel(x, { pass: '**pass**', fail: '**FAIL**' })} | ${x.per_seed.map((r) => `${r.seed}: ${f(r.value)} ${r.result}`).join('; ')} |`).join('\n'),
      ...(e.acrossSeeds ? [await e.acrossSeeds(seeds.map((s) => ({ seed: s, dir: join(staging, `seed-${s}`) })))] : []),
      splitSection(o.out, base.map((r) => r.name), seeds),
      `## The reports of each seed\n\n${seeds.map((s, i) => `- [seed ${s}](seed-${s}/report.md): ${tallyLine(perSeed[i]!.findings)}`).join('\n')}`,
    ].join('\n\n') + '\n';
    const evaluation = await writeEvaluation(staging, { seeds, per_seed: Object.fromEntries(seeds.map((s) => [String(s), `seed-${s}/evaluation.json`])) });
    return writeDocuments(staging, { md, findings, pngs: perSeed.flatMap((r) => r.pngs), evaluation, findingsJson: { experiment: e.name, seeds, runs: names, pass_fraction_needed: SEED_PASS_FRACTION } });
  });
  return { runs: trained.runs, report, reportDir };
}

/** The step at which each run's +/- split settled, per seed (seeds.ts splitStep). */
function splitSection(out: string, names: readonly string[], seeds: readonly number[]): string {
  const cell = (name: string, s: number) => {
    const step = splitStep(join(out, seededName(name, s)));
    return step === null ? 'not split' : step.toLocaleString('en-US');
  };
  const multi = names.filter((n) => seeds.some((s) => splitStep(join(out, seededName(n, s))) !== null));
  if (multi.length === 0) return '## The heads\' +/- split\n\nNo run has split its heads into a +/- pair.';
  const splitShare = multi.map((n) => `${n}: ${seeds.filter((s) => splitStep(join(out, seededName(n, s))) !== null).length}/${seeds.length}`).join(', ');
  return `## The heads' +/- split\n\nThe logged step from which every active head keeps its final signs (report/sign-split.ts); "not split": the active heads end with one sign of w. Split: ${splitShare}.\n\n| seed | ${multi.join(' | ')} |\n|---|${multi.map(() => '---').join('|')}|\n${seeds.map((s) => `| ${s} | ${multi.map((n) => cell(n, s)).join(' | ')} |`).join('\n')}`;
}

/**
 * Train an experiment's runs into o.out/NAME, or continue the unfinished ones (runs at or past o.steps,
 * e.g. a --full run re-reported, are left as they are; runs cut short while being created are made
 * again). Interrupted: the runs so far; a failed run is an error.
 */
export async function trainExperimentRuns(o: ReproduceOptions, names: readonly string[], configs: () => TrainConfig[], what: string, experiment: string): Promise<{ runs: RunSummary[] } | { runs: RunSummary[]; interrupted: true }> {
  const log = o.log ?? (() => {});
  const dirs = names.map((n) => join(o.out, n));
  const existing = dirs.filter((d) => existsSync(d) && isRunDir(d));
  // runs whose creation was cut short (status creating: a kill or full disk) are made again from the start
  const created = existing.filter((d) => readRunJson(d).status !== 'creating');
  let runs: RunSummary[];
  const exec: ExecuteOptions = { ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), ...(o.progress ? { progress: o.progress } : {}), ...(o.signal ? { signal: o.signal } : {}), onLine: o.onLine ?? null };
  if (created.length === 0) {
    log(`training ${what} for ${o.steps.toLocaleString('en-US')} steps each into ${o.out}`);
    runs = await trainRuns(configs(), { ...exec, out: o.out, names: [...names], force: false, labels: { tags: [tagOf('experiment', experiment)] } });
  } else {
    if (existing.length !== dirs.length) throw new Error(`${o.out} holds only some of the runs (${existing.join(', ')}); use another --out or remove it`);
    const unfinished = dirs.filter((d) => readRunJson(d).step < o.steps);
    if (unfinished.length > 0) {
      log(`continuing ${unfinished.join(', ')} to ${o.steps.toLocaleString('en-US')} steps`);
      runs = await executeRuns(unfinished.map((dir) => ({ dir, name: basename(dir), steps: o.steps })), exec);
    } else {
      log(`runs in ${o.out} are complete at ${o.steps.toLocaleString('en-US')} steps; redrawing the report`);
      runs = [];
    }
  }
  // an interrupt that came after the last checkpoint (or while no run was training) still stops here
  if (runs.some((r) => r.status === 'interrupted') || o.signal?.aborted) return { runs, interrupted: true };
  const failed = runs.filter((r) => r.status === 'failed');
  if (failed.length > 0) throw new Error(`training failed: ${failed.map((r) => `${r.name} at step ${r.failure?.step}: ${r.failure?.reason}`).join('; ')}`);
  return { runs };
}
