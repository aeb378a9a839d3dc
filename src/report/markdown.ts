/**
 * The report's Markdown, section by section, the summary first: the header with the verdict, the
 * findings table, the headline figures; then the runs, the circuits beside the values the
 * experiment's authors printed (by sign group), the error table, how each finding is judged, and each
 * run's own figures folded in a <details> per run. Figures are referenced by path relative to the
 * output folder.
 */
import { relative } from 'node:path';
import { effectiveLearningRate, groupHeads } from '../model/circuits.js';
import type { Evaluation } from '../analysis/evaluate.js';
import { optimalEtaOf, oneStepGdRisk, riskParams, tunedGdRisk } from '../analysis/theory.js';
import { VERSION } from '../version.js';
import type { ReportFigure } from './figures.js';
import { meanStderr, resultLabel, tallyLine, THRESHOLDS, type Finding, type FindingsInput } from './findings.js';
import { headingId } from './html.js';
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
  const headline = c.figures.filter((f) => f.run === undefined);
  const perRun = c.figures.filter((f) => f.run !== undefined);
  const sections = [
    headerSection(c), findingsSection(c.findings), ...(headline.length ? [headlineFiguresSection(c, headline)] : []),
    runsSection(c.runs), circuitsSection(c), errorTableSection(c), ...(c.extra ? [c.extra] : []),
    findingDetailsSection(c.findings), ...(perRun.length ? [runFiguresSection(c, perRun)] : []),
  ];
  return sections.join('\n\n') + '\n';
}

function headerSection(c: ReportContent): string {
  const c0 = c.runs[0]!.config;
  const { d, contextLength: L } = c0;
  const names = c.runs.map((r) => mdText(r.target.name));
  const tally = tallyLine(c.findings);
  return `# icl-lab report\n\nicl-lab ${VERSION}. ${c.runs.length} run(s): ${names.join(', ')}. Task: d = ${d}, training context length L = ${L}, noise_std = ${+c0.noiseStd.toPrecision(6)} (σ² = ${+(c0.noiseStd ** 2).toPrecision(6)}) (${c0.preset} preset${c0.rho ? `, rho = ${c0.rho}` : ''}). Findings measured on ${c.samples.toLocaleString('en-US')} prompts at L = ${L} shared by every model (seed ${c.seed}: the prompts \`icl-lab evaluate --seed ${c.seed} --samples ${c.samples} --context-length ${L}\` measures).\n\n**${tally}.**`;
}

/** A finding's heading in "How each finding is judged" (the table's # links to it). */
const findingHeading = (f: Finding, i: number) => `${i + 1}. ${f.id}${f.result === 'n/a' ? ' (n/a)' : ''}`;

const SOURCE_WORDS: Record<Finding['threshold_source'], string> = {
  'seed code runs': "runs of the seed's own PyTorch code on this machine (docs/REFERENCE_RUNS.md)",
  'icl-lab runs': "icl-lab's own runs: a check of icl-lab against itself, not against the seed's code or the paper",
  authors: "the authors' printed values",
  theory: 'closed forms (theory), with a tolerance',
};

function findingsSection(findings: Finding[]): string {
  const own = findings.some((f) => f.threshold_source === 'icl-lab runs' && f.result !== 'n/a');
  return `## Findings\n\n${mdTable(['no.', 'finding', 'value', 'threshold', 'result'], findings.map((f, i) => [`[${i + 1}](#${headingId(findingHeading(f, i))})`, f.claim, f.result === 'n/a' ? '–' : fmt(f.value), f.threshold, resultLabel(f, { pass: '**pass**', fail: '**FAIL**' })]))}` +
    (own ? `\n\n"Threshold from icl-lab runs": that threshold was set from icl-lab's own runs (the seed's findings' thresholds come from runs of the seed's own code, docs/REFERENCE_RUNS.md), so its pass says icl-lab agrees with itself, not with an outside source.` : '') +
    `\n\nEach finding's checks and the reason for its threshold: [How each finding is judged](#how-each-finding-is-judged).`;
}

function findingDetailsSection(findings: Finding[]): string {
  return `## How each finding is judged\n\n` +
    findings.map((f, i) => `### ${findingHeading(f, i)}\n\n${f.claim}\n\n*Threshold* (set from ${SOURCE_WORDS[f.threshold_source]}): ${mdProse(f.why)}${f.checks.length === 0 ? '' : `\n\n${mdTable(['check', 'value', 'threshold', 'result'], f.checks.map((c) => [c.name, Number.isInteger(c.value) ? String(c.value) : fmt(c.value), c.threshold, c.pass ? 'pass' : 'FAIL']))}`}`).join('\n\n');
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
  const theirs = nb && nb.w.length && nb.w.length === nb.mu.length ? nb : undefined;
  return [
    r.target.name,
    fmtList(w), fmtList(mu),
    fmt(effectiveLearningRate(w, mu)),
    `${g.active.length} / ${g.dummy.length}`,
    signGroupsCell(w, mu),
    theirs ? signGroupsCell(theirs.w, theirs.mu) : '–',
    theirs ? fmt(effectiveLearningRate(theirs.w, theirs.mu)) : '–',
    fmt(evidence.models[i]!.kernelGap, 5),
    `${fmt(err.mean)} ± ${fmt(err.stderr)}`,
    nb ? `${fmt(nb.trainLoss)} / ${fmt(nb.valLoss)}` : '–',
  ];
}

/**
 * The heads of each sign of w merged (groupHeads: + first, then −): "+ (2 heads): w 0.140, mu 3.16".
 * Head order is arbitrary, so two models' heads are compared this way, never by index.
 */
export function signGroupsCell(w: readonly number[], mu: readonly number[]): string {
  return groupHeads(w, mu, THRESHOLDS.active).signGroups
    .map((s) => `${s.sign > 0 ? '+' : '−'} (${s.heads.length} head${s.heads.length === 1 ? '' : 's'}): w ${fmt(s.w, 3)}, mu ${fmt(s.totalMu, 2)}`).join('; ');
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
    (c.printed ? `A permutation of the heads is the same model, so the ${who} heads are set beside ours by sign group of w, not by index: the heads with w^h >= 0 (+) and those with w^h < 0 (−) merged, each group as its mu-weighted w (sum mu^h w^h / sum mu^h), its total mu and its head count (dummies included; the equivalent two-head model).\n\n` : '') +
    mdTable(['run', 'w^h', 'mu^h', 'eta_TF', 'active / dummy', 'w^h, mu^h by sign group', `${who} w^h, mu^h by sign group`, `${who} eta_TF`, 'kernel gap', `MSE at L = ${L}`, `${who} final train / val loss`], statRows) +
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

const figureMd = (c: ReportContent, f: ReportFigure, depth: number) => `${'#'.repeat(depth)} ${mdText(f.title)}\n\n![${mdText(f.title)}](${mdPath(relative(c.out, f.path))})\n\n${f.caption}`;

function headlineFiguresSection(c: ReportContent, figs: readonly ReportFigure[]): string {
  return `## Figures\n\n${figs.map((f) => figureMd(c, f, 3)).join('\n\n')}`;
}

/** Text for inside raw HTML (a <summary>): a run name shows as it is and starts no tag. */
const htmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Each run's own figures, one <details> per run (closed: the page stays short; report.md on GitHub folds them too). */
function runFiguresSection(c: ReportContent, figs: readonly ReportFigure[]): string {
  const names = [...new Set(figs.map((f) => f.run!))];
  const blocks = names.map((name) => {
    const mine = figs.filter((f) => f.run === name);
    const H = c.runs.find((r) => r.target.name === name)?.target.params.H;
    // "loss, dynamics, qk evolution layer1, circuits of 8 heads, error vs length"
    const kinds = mine.map((f) => f.title.slice(name.length + 2));
    const heads = kinds.filter((k) => /^circuits layer\d+ head\d+$/.test(k)).length;
    const what = [...new Set(kinds.map((k) => (/^circuits layer\d+ head\d+$/.test(k) ? `circuits of ${heads} head${heads === 1 ? '' : 's'}` : k)))].join(', ');
    return `<details>\n<summary>${htmlText(name)}${H !== undefined ? ` (H = ${H})` : ''}: ${mine.length} figures (${htmlText(what)})</summary>\n\n${mine.map((f) => figureMd(c, f, 4)).join('\n\n')}\n\n</details>`;
  });
  return `## Figures of each run\n\nEvery figure of each run (\`icl-lab plot\`), folded: open a run to see them.\n\n${blocks.join('\n\n')}`;
}
