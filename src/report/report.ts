/**
 * `icl-lab report RUN...`: one self-contained report over trained runs — configuration, statistics
 * next to the notebook's printed values, error against context length, every figure, and the seed's
 * five findings as numbers with thresholds (findings.ts). Writes into DIR:
 *
 *   report.html      self-contained (figures inline as PNG data URLs), opens offline
 *   report.md        the same content, figures linked from figures/
 *   findings.json    {"findings":[{"id","claim","value","threshold","pass","result","why","checks":[...]}, ...]}
 *                    (result pass | FAIL | n/a: n/a = the runs cannot test it; not counted as failed)
 *   evaluation.json  error vs context length of every model and estimator (evaluate's JSON shape)
 *   figures/         comparison figures + one folder per run (SVG and PNG)
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defaultLengths, type Evaluation } from '../analysis/evaluate.js';
import type { PromptSpec } from '../analysis/prompts.js';
import { Rng } from '../data/rng.js';
import { nodeForward } from '../io/wasm.js';
import type { ModelForward } from '../engine/model.js';
import { UsageError } from '../errors.js';
import { isRunDir, readRunJson, runConfig } from '../run/run-dir.js';
import { gatherEvidence } from './evidence.js';
import { evaluateSweep } from './evaluate-parallel.js';
import { drawReportFigures, methodLabels } from './figures.js';
import { VALLEY_PROMPTS_PER_SAMPLE } from '../analysis/valley-loss.js';
import { computeFindings } from './findings.js';
import { functionFindings } from './function-findings.js';
import { writeDocuments, writeEvaluation, type ReportResult } from './documents.js';
import { reportMarkdown } from './markdown.js';
import type { ReportPlan } from './plan.js';
import { loadReportRuns, runsPromptSpec, type ReportRun } from './runs.js';

export type { ReportResult } from './documents.js';

export interface ReportOptions {
  /** Output folder. */
  out: string;
  /** Error-vs-L evaluation to use (default: computed). */
  evaluation?: Evaluation;
  /** Context lengths of the computed evaluation (default the seed's 1:500:5). */
  lengths?: readonly number[];
  /** Prompts per L of the computed evaluation (default 2,000). */
  evalSamples?: number;
  /** Shared prompts at the training L for the findings (default 20,000; the multi-task report: 5,000). */
  samples?: number;
  /** Seed of every prompt drawn by the report (default 2025). */
  seed?: number;
  /** Progress messages (default: none). */
  log?: (line: string) => void;
  /** The models' forward (default: io/wasm.ts nodeForward: the wasm kernel when it loads, the TypeScript forward's doubles). */
  forward?: ModelForward;
  /** Threads of the error sweep (default: one per core; the numbers do not depend on it). */
  threads?: number;
}

/** Load the runs, measure the findings and the error against L, draw the figures, write the documents. */
export async function writeReport(runDirs: readonly string[], o: ReportOptions, plan: ReportPlan = {}): Promise<ReportResult> {
  const log = o.log ?? (() => {});
  const multi = runDirs.filter((d) => isRunDir(d) && runConfig(readRunJson(d), d).task === 'multitask');
  if (multi.length > 0) throw new UsageError(`${multi.join(', ')} ${multi.length === 1 ? 'is a multi-task run' : 'are multi-task runs'}; report them apart from the single-task runs`);
  const runs = loadReportRuns(runDirs);
  const spec = runsPromptSpec(runs);
  const L = runs[0]!.config.contextLength;
  const seed = o.seed ?? 2025;
  const forward = o.forward ?? nodeForward();
  mkdirSync(o.out, { recursive: true });

  // 1. Findings on shared prompts at the training length.
  const samples = o.samples ?? 20_000;
  log(`measuring ${runs.length} model(s) on ${samples} shared prompts at L = ${L}`);
  const evidence = gatherEvidence(runs.map((r) => ({ name: r.target.name, params: r.target.params })), spec, new Rng(seed), { L, samples, forward });
  const findings = computeFindings(evidence);

  // 2. Error against context length.
  const evaluation = o.evaluation ?? await errorVsLength(runs, spec, o, seed, log, forward);
  const evaluationPath = await writeEvaluation(o.out, { d: spec.d, preset: spec.preset, noise_std: spec.noiseStd, rho: spec.rho ?? 0, ...evaluation });

  // 3. Figures, and the experiment's own findings, sections and figures.
  const figDir = join(o.out, 'figures');
  const labels = methodLabels(runs);
  const figures = await drawReportFigures({ runs, evaluation, L, d: spec.d, noiseStd: spec.noiseStd, preset: spec.preset, valleyPrompts: VALLEY_PROMPTS_PER_SAMPLE * samples, valleySeed: seed + 2, figDir, log, ...(plan.printed?.endRemark ? { endRemark: plan.printed.endRemark } : {}) });
  const models = runs.map((r) => ({ name: r.target.name, params: r.target.params }));
  const extras = plan.extras ? await plan.extras({ models, spec, L, samples: o.evalSamples ?? 2_000, findingsSamples: samples, seed: seed + 2, figDir, labels, forward, log, evidence, reportDir: o.out }) : undefined;
  if (extras) {
    findings.push(...extras.findings);
    figures.push(...extras.figures);
  }
  // the function-level findings last, after any experiment's own (their order in findings.json stays)
  findings.push(...functionFindings(evidence));

  // 4. Documents.
  const md = reportMarkdown({ runs, findings, evidence, evaluation, labels, figures, samples, seed, out: o.out, ...(plan.printed ? { printed: plan.printed } : {}), ...(extras?.md ? { extra: extras.md } : {}) });
  return writeDocuments(o.out, {
    md, findings, pngs: figures.map((f) => f.path),
    findingsJson: { runs: runs.map((r) => r.target.name), L, samples },
    runDirs: runs.map((r) => r.dir),
    evaluation: evaluationPath,
  });
}

/** Every model, its kernel estimator and the estimators on shared prompts at every length. */
async function errorVsLength(runs: readonly ReportRun[], spec: PromptSpec, o: ReportOptions, seed: number, log: (line: string) => void, forward: ModelForward): Promise<Evaluation> {
  const lengths = o.lengths ? [...o.lengths] : defaultLengths();
  const evalSamples = o.evalSamples ?? 2_000;
  const threads = Math.min(o.threads ?? availableParallelism(), lengths.length);
  log(`evaluating error vs context length: ${lengths.length} lengths x ${evalSamples} prompts${threads > 1 ? ` on ${threads} threads` : ''}`);
  const models = runs.map((r) => ({ name: r.target.name, d: r.target.params.d, H: r.target.params.H, theta: r.target.params.theta, ...(r.target.params.attention ? { attention: r.target.params.attention } : {}) }));
  // the evaluation stream at the findings' seed: at L = training L its prompts are the first evalSamples of the findings' (chunks of 1,000)
  const ev = await evaluateSweep({ models, spec, lengths, samples: evalSamples, rngState: new Rng(seed).getState() }, { threads, forward });
  return { lengths: ev.lengths, samples: evalSamples, seed, methods: ev.methods };
}
