/**
 * The report's Markdown, section by section: the header with the verdict, the findings, the runs,
 * the circuits beside the values the experiment's authors printed, the error table, the figures. Figures are referenced by
 * path relative to the output folder.
 */
import { relative } from 'node:path';
import { effectiveLearningRate, groupHeads } from '../model/circuits.js';
import type { Evaluation } from '../analysis/evaluate.js';
import { optimalEtaOf, oneStepGdRisk, riskParams, tunedGdRisk } from '../analysis/theory.js';
import { VERSION } from '../version.js';
import type { ReportFigure } from './figures.js';
import { meanStderr, tallyLine, THRESHOLDS, type Finding, type FindingsInput } from './findings.js';
import type { RunJson } from '../run/run-dir.js';
import { fmt, fmtList, mdPath, mdProse, mdTable, mdText } from './format.js';
import type { PrintedValues } from './plan.js';
import type { ReportRun } from './runs.js';

/** Everything the report's text is made of. */
export interface ReportContent {
  runs: readonly ReportRun[];
  findings: Finding[];
  evidence: FindingsInput;
  evaluation: Evaluation;
  /** Display names of the evaluation's methods. */
  labels: Record<string, string>;
  figures: ReportFigure[];
  /** Shared prompts of the findings and their seed. */
  samples: number;
  seed: number;
  /** Output folder (figure paths are written relative to it). */
  out: string;
  /** A section before the figures (an experiment's extras, e.g. the paper's estimator comparison and reduced loss). */
  extra?: string;
  /** Printed values beside ours in the circuits table (none: its comparison columns show –). */
  printed?: PrintedValues;
}

/** The whole report as Markdown. */
export function reportMarkdown(c: ReportContent): string {
  const sections = [headerSection(c), findingsSection(c.findings), runsSection(c.runs), circuitsSection(c), errorTableSection(c), ...(c.extra ? [c.extra] : []), figuresSection(c)];
  return sections.join('\n\n') + '\n';
}

function headerSection(c: ReportContent): string {
  const c0 = c.runs[0]!.config;
  const { d, contextLength: L } = c0;
  const names = c.runs.map((r) => mdText(r.target.name));
  const tally = tallyLine(c.findings);
  return `# icl-lab report\n\nicl-lab ${VERSION}. ${c.runs.length} run(s): ${names.join(', ')}. Task: d = ${d}, training context length L = ${L}, noise_std = ${+c0.noiseStd.toPrecision(6)} (σ² = ${+(c0.noiseStd ** 2).toPrecision(6)}) (${c0.preset} preset${c0.rho ? `, rho = ${c0.rho}` : ''}). Findings measured on ${c.samples.toLocaleString('en-US')} prompts at L = ${L} shared by every model (seed ${c.seed}: the prompts \`icl-lab evaluate --seed ${c.seed} --samples ${c.samples} --context-length ${L}\` measures).\n\n**${tally}.**`;
}

function findingsSection(findings: Finding[]): string {
  return `## Findings\n\n${mdTable(['#', 'finding', 'value', 'threshold', 'result'], findings.map((f, i) => [String(i + 1), f.claim, f.result === 'n/a' ? '–' : fmt(f.value), f.threshold, f.result === 'n/a' ? 'n/a' : f.pass ? '**pass**' : '**FAIL**']))}\n\n` +
    findings.map((f, i) => `### ${i + 1}. ${f.id}${f.result === 'n/a' ? ' (n/a)' : ''}\n\n${f.claim}\n\n*Threshold:* ${mdProse(f.why)}${f.checks.length === 0 ? '' : `\n\n${mdTable(['check', 'value', 'threshold', 'result'], f.checks.map((c) => [c.name, Number.isInteger(c.value) ? String(c.value) : fmt(c.value), c.threshold, c.pass ? 'pass' : 'FAIL']))}`}`).join('\n\n');
}

function runsSection(runs: readonly ReportRun[]): string {
  const c0 = runs[0]!.config;
  return `## Runs\n\n${mdTable(['run', 'H', 'steps', 'status', 'last training batch loss', 'held-out loss ± s.e.', 'wall time (s)', 'steps/s', 'optimizer', 'init', 'seed'], runs.map((r) => [r.target.name, String(r.config.heads), r.runJson.step.toLocaleString('en-US'), r.runJson.status, fmt(r.runJson.final.train_loss), heldOut(r.runJson), fmt(r.runJson.timings.wall_seconds, 1), fmt(r.runJson.timings.steps_per_second, 0), `${r.config.optimizer} lr ${r.config.lr}`, r.config.init, String(r.config.seed)]))}\n\n` +
    `The held-out loss is the final model's mean squared error on ${heldOutSamples(runs.map((r) => r.runJson))} held-out prompts of its training task, with its standard error (run.json \`final_validation\`); a run without one (not completed, or written by an older icl-lab) shows its last validation batch of ${c0.valSamples} prompts, marked "one batch". ` +
    `The training loss is a single batch of ${c0.batchSize} prompts: it scatters by ±30 % step to step (the notebook's printed losses too).`;
}

/** run.json's held-out validation as "mse ± se", else its last validation batch, marked. */
function heldOut(r: RunJson): string {
  const v = r.final_validation;
  if (v) return `${fmt(v.mse)} ± ${fmt(v.stderr)}`;
  return r.final.val_loss === null ? '–' : `${fmt(r.final.val_loss)} (one batch)`;
}

function heldOutSamples(rs: readonly RunJson[]): string {
  const n = [...new Set(rs.map((r) => r.final_validation?.samples).filter((x) => x !== undefined))];
  return n.length === 1 ? n[0]!.toLocaleString('en-US') : 'many';
}

/** One row of the circuits table: a run's (w, mu) beside the printed ones, grouping, kernel gap and error. */
function circuitRow(r: ReportRun, i: number, evidence: FindingsInput, printed: PrintedValues | undefined): string[] {
  const heads = evidence.models[i]!.headStats; // read out once, in gatherEvidence
  const w = heads.map((c) => c.w);
  const mu = heads.map((c) => c.mu);
  const g = groupHeads(w, mu, THRESHOLDS.active);
  const nb = printed?.run(r.target.params.H);
  const err = meanStderr(evidence.models[i]!.sqErr);
  return [
    r.target.name,
    fmtList(w), fmtList(mu),
    nb && nb.w.length ? fmtList(nb.w) : '–', nb && nb.mu.length ? fmtList(nb.mu) : '–',
    fmt(effectiveLearningRate(w, mu)),
    `${g.active.length} / ${g.dummy.length}`,
    g.signGroups.map((s) => `${s.sign > 0 ? '+' : '−'}: mu ${fmt(s.totalMu, 2)}`).join('; '),
    fmt(evidence.models[i]!.kernelGap, 5),
    `${fmt(err.mean)} ± ${fmt(err.stderr)}`,
    nb ? `${fmt(nb.trainLoss)} / ${fmt(nb.valLoss)}` : '–',
  ];
}

function circuitsSection(c: ReportContent): string {
  const c0 = c.runs[0]!.config;
  const { d, contextLength: L } = c0;
  const riskL = riskParams({ d, L, noiseStd: c0.noiseStd, preset: c0.preset });
  const statRows = c.runs.map((r, i) => circuitRow(r, i, c.evidence, c.printed));
  const who = c.printed?.who ?? 'printed';
  const tuned = meanStderr(c.evidence.tunedGdSqErr);
  const plain = meanStderr(c.evidence.oneStepGdSqErr);
  return `## Circuits${c.printed ? ` beside ${c.printed.heading}` : ''}\n\nw^h = mean of the first d diagonal entries of QK^h = W_Q^h W_K^h^T / sqrt(d+1); mu^h = OV^h[-1,-1] with OV^h = W_V^h W_O^h (the seed's \`calculate_statistics\`). eta_TF = sum_h mu^h w^h; L/(L+d) = ${fmt(L / (L + d))}, L/(L+d+1) = ${fmt(L / (L + d + 1))}. Active heads: |mu^h w^h| > ${THRESHOLDS.active}.\n\n` +
    (c.printed?.note ? `${c.printed.note}\n\n` : '') +
    mdTable(['run', 'w^h', 'mu^h', `${who} w^h`, `${who} mu^h`, 'eta_TF', 'active / dummy', 'sign groups (total mu)', 'kernel gap', `MSE at L = ${L}`, `${who} final train / val loss`], statRows) +
    `\n\nOn the same prompts: one-step GD (eta = 1) ${fmt(plain.mean)} ± ${fmt(plain.stderr)} (closed form ${fmt(oneStepGdRisk(1, riskL))}); tuned one-step GD (eta* = ${fmt(optimalEtaOf(riskL))}) ${fmt(tuned.mean)} ± ${fmt(tuned.stderr)} (closed form ${fmt(tunedGdRisk(riskL))}).`;
}

/** MSE of every method at L near 5, 10, 20, ..., 320 (the lengths the evaluation has). */
function errorTableSection(c: ReportContent): string {
  const { evaluation, labels } = c;
  const showL = [5, 10, 20, 40, 80, 160, 320].map((x) => evaluation.lengths.reduce((best, l) => (Math.abs(l - x) < Math.abs(best - x) ? l : best), evaluation.lengths[0]!));
  const uniqL = [...new Set(showL)];
  const sig = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x >= 0.01 ? x.toFixed(3) : x.toPrecision(3));
  const cell = (m: Evaluation['methods'][string], i: number) => (Number.isFinite(m.mse[i]) && m.stderr && Number.isFinite(m.stderr[i]) ? `${sig(m.mse[i])} ± ${sig(m.stderr[i])}` : sig(m.mse[i]));
  const evalRows = Object.entries(evaluation.methods).map(([name, m]) => [labels[name] ?? name, ...uniqL.map((l) => cell(m, evaluation.lengths.indexOf(l)))]);
  const prompts = evaluation.samples ? `${evaluation.samples.toLocaleString('en-US')} prompts per L${evaluation.seed !== undefined ? `, seed ${evaluation.seed}` : ''}, ` : '';
  return `## Error against context length\n\nMean squared error ± standard error (${prompts}the same prompts for every method at each L; the full curves in evaluation.json).\n\n${mdTable(['method', ...uniqL.map((l) => `L = ${l}`)], evalRows)}`;
}

function figuresSection(c: ReportContent): string {
  return `## Figures\n\n${c.figures.map((f) => `### ${mdText(f.title)}\n\n![${mdText(f.title)}](${mdPath(relative(c.out, f.path))})\n\n${f.caption}`).join('\n\n')}`;
}
