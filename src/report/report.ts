/**
 * `icl-lab report RUN...`: one self-contained report over trained runs — configuration, statistics
 * next to the notebook's printed values, error against context length, every figure, and the seed's
 * five findings as numbers with thresholds (findings.ts). Writes into DIR:
 *
 *   report.html      self-contained (figures inline as PNG data URLs), opens offline
 *   report.md        the same content, figures linked from figures/
 *   findings.json    {"findings":[{"id","claim","value","threshold","pass","why","checks":[...]}, ...]}
 *   evaluation.json  error vs context length of every model and estimator (evaluate's JSON shape)
 *   figures/         comparison figures + one folder per run (SVG and PNG)
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Marked } from 'marked';
import { groupHeads, effectiveLearningRate } from '../core/circuits.js';
import { estimatorMethods, evaluateErrors, modelMethods, seedLengths, type EvalMethod, type EvaluateResult, type PromptSpec } from '../core/evaluate.js';
import { Rng } from '../core/rng.js';
import { optimalEtaOf, optimalMu, reducedLoss, riskParams, tunedGdRisk, oneStepGdRisk } from '../core/theory.js';
import { writeFileAtomic } from '../io/atomic.js';
import { f64, readSafetensors } from '../io/safetensors.js';
import { UsageError } from '../cli/errors.js';
import { loadTarget, type ModelTarget } from '../cli/commands/analyze.js';
import { readRunJson, runConfig, type RunJson } from '../train/run-dir.js';
import type { TrainConfig } from '../train/config.js';
import { errorVsLengthSpec, headCountSpec, type Evaluation } from '../plots/error-curves.js';
import { flowSpec } from '../plots/flow.js';
import { renderFigure } from '../plots/render.js';
import { renderAllRunFigures } from '../plots/run-figures.js';
import { VERSION } from '../version.js';
import { gatherEvidence } from './evidence.js';
import { computeFindings, meanStderr, type Finding, THRESHOLDS } from './findings.js';
import { predictFlow } from './flow-prediction.js';
import { notebookRun } from './notebook.js';
import { authorsPaperRun, fromInitPrediction, paperFigures, paperFindings, type PaperExtras } from './paper-report.js';
import { settledIndex } from './sign-split.js';

export interface ReportOptions {
  /** Output folder. */
  out: string;
  /** Error-vs-L evaluation to use (default: computed). */
  evaluation?: Evaluation;
  /** Context lengths of the computed evaluation (default the seed's 1:500:5). */
  lengths?: number[];
  /** Prompts per L of the computed evaluation (default 2,000). */
  evalSamples?: number;
  /** Shared prompts at the training L for the findings (default 20,000). */
  samples?: number;
  /** Seed of every prompt drawn by the report (default 2025). */
  seed?: number;
  /** Progress messages (default: none). */
  log?: (line: string) => void;
}

export interface ReportResult {
  findings: Finding[];
  files: { html: string; md: string; findings: string; evaluation: string };
  pngs: string[];
}

interface LoadedRun {
  target: ModelTarget;
  dir: string;
  runJson: RunJson;
  config: TrainConfig;
}

function loadRun(dir: string): LoadedRun {
  if (!existsSync(join(dir, 'run.json'))) throw new UsageError(`${dir} is not a run directory (no run.json); train one with \`icl-lab train --out ${dir}\``);
  const runJson = readRunJson(dir);
  const config = runConfig(runJson, dir);
  if (config.layers !== 1) throw new UsageError(`${dir}: the report covers one-layer runs (this one has ${config.layers} layers)`);
  return { target: loadTarget(dir), dir, runJson, config };
}

const fmt = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const fmtList = (xs: readonly number[], digits = 4): string => xs.map((x) => fmt(x, digits)).join(', ');

function mdTable(header: string[], rows: string[][]): string {
  const cell = (c: string) => c.replace(/\|/g, '\\|'); // GFM: a literal | in a cell is \|
  return [`| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** Restrict an evaluation to some methods (keeping their order). */
function pick(ev: EvaluateResult | Evaluation, names: string[]): Evaluation {
  const methods: Evaluation['methods'] = {};
  for (const n of names) if (ev.methods[n]) methods[n] = ev.methods[n]!;
  return { lengths: [...ev.lengths], methods };
}

/** Everything of the report that is Markdown; figures are referenced by path relative to `out`. */
interface Section {
  md: string;
}

export async function writeReport(runDirs: readonly string[], o: ReportOptions): Promise<ReportResult> {
  if (runDirs.length === 0) throw new UsageError('report needs at least one run directory');
  const log = o.log ?? (() => {});
  const multi = runDirs.filter((d) => existsSync(join(d, 'run.json')) && runConfig(readRunJson(d), d).tasks !== '');
  if (multi.length > 0) {
    if (multi.length !== runDirs.length) throw new UsageError(`${multi.join(', ')} ${multi.length === 1 ? 'is a multi-task run' : 'are multi-task runs'}; report them apart from the single-task runs`);
    const { writeMultitaskReport } = await import('../multitask/report.js'); // multi-task runs: their own report
    return writeMultitaskReport(runDirs, { out: o.out, ...(o.samples !== undefined ? { samples: o.samples } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.log ? { log: o.log } : {}) });
  }
  const runs = runDirs.map(loadRun);
  const names = runs.map((r) => r.target.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`two runs are named ${dup}; give the run directories distinct names`);
  const c0 = runs[0]!.config;
  for (const r of runs) {
    const c = r.config;
    if (c.d !== c0.d || c.contextLength !== c0.contextLength || c.noiseStd !== c0.noiseStd || c.preset !== c0.preset || c.rho !== c0.rho) {
      throw new UsageError(`${r.dir} was trained on another task (d, context length, noise, preset or rho differ from ${runs[0]!.dir}); report runs of one task together`);
    }
  }
  const d = c0.d;
  const L = c0.contextLength;
  const spec: PromptSpec = { d, noiseStd: c0.noiseStd, preset: c0.preset, ...(c0.rho ? { rho: c0.rho } : {}) };
  const seed = o.seed ?? 2025;
  mkdirSync(o.out, { recursive: true });
  const figDir = join(o.out, 'figures');
  const pngs: string[] = [];

  // 1. Findings on shared prompts at the training length.
  const samples = o.samples ?? 20_000;
  log(`measuring ${runs.length} model(s) on ${samples} shared prompts at L = ${L}`);
  const evidence = gatherEvidence(runs.map((r) => ({ name: r.target.name, params: r.target.params })), spec, new Rng(seed), { L, samples });
  const findings = computeFindings(evidence);
  const paperConvention = c0.preset === 'paper';
  if (paperConvention) findings.push(...paperFindings(runs.map((r) => ({ name: r.target.name, params: r.target.params })), { d, L, noiseStd: c0.noiseStd }));

  // 2. Error against context length.
  let evaluation: Evaluation;
  if (o.evaluation) {
    evaluation = o.evaluation;
  } else {
    const lengths = o.lengths ?? seedLengths();
    const evalSamples = o.evalSamples ?? 2_000;
    log(`evaluating error vs context length: ${lengths.length} lengths x ${evalSamples} prompts`);
    const methods: EvalMethod[] = [...runs.flatMap((r) => modelMethods(r.target.name, r.target.params)), ...estimatorMethods(spec)];
    const ev = evaluateErrors(methods, spec, lengths, evalSamples, new Rng(seed + 1));
    evaluation = { lengths: ev.lengths, methods: ev.methods };
  }
  const evalPath = join(o.out, 'evaluation.json');
  await writeFileAtomic(evalPath, JSON.stringify({ icl_lab_version: VERSION, d, preset: spec.preset, noiseStd: spec.noiseStd, ...evaluation }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n');

  // 3. Figures.
  const figs: { title: string; path: string; caption: string }[] = [];
  const addFig = (title: string, files: string[], caption: string) => {
    const png = files.find((f) => f.endsWith('.png'))!;
    pngs.push(png);
    figs.push({ title, path: png, caption });
  };
  const estimatorNames = ['one-step-gd', 'tuned-gd', 'ridge'].filter((n) => evaluation.methods[n]);
  const labels: Record<string, string> = {};
  for (const r of runs) {
    labels[r.target.name] = `H = ${r.target.params.H} transformer (${r.target.name})`;
    labels[`${r.target.name}/kernel`] = `H = ${r.target.params.H} kernel estimator`;
  }
  Object.assign(labels, { 'one-step-gd': 'one-step GD (eta = 1)', 'tuned-gd': 'tuned one-step GD (eta*)', 'debiased-gd': 'debiased GD', ridge: 'ridge (Bayes)', ols: 'OLS' });
  const byHeads = [...runs].sort((a, b) => a.target.params.H - b.target.params.H);
  const main = runs.find((r) => r.target.params.H === 2) ?? runs[0]!;
  log('drawing figures');
  addFig(
    `Error against context length: ${main.target.name}, its kernel estimator and the estimators`,
    await renderFigure(errorVsLengthSpec(pick(evaluation, [main.target.name, `${main.target.name}/kernel`, ...estimatorNames]), { trainL: L, labels, logY: true, title: `Error against context length (${labels[main.target.name]})`, subtitle: `mean squared error ± one standard error; dashed: reference estimators; rule: training L = ${L}` }), figDir, 'error_vs_length'),
    'Mean squared error of the trained model, the kernel estimator built from its (w^h, mu^h), one-step GD (eta = 1, the seed\'s) and the reference estimators, on the same prompts at every L. The model tracks its kernel estimator everywhere; it beats plain one-step GD below about L = 80 and loses beyond, because its effective step is tuned for the training L.',
  );
  if (runs.length > 1) {
    addFig(
      'Head-count comparison',
      await renderFigure(headCountSpec(pick(evaluation, [...byHeads.map((r) => r.target.name), ...estimatorNames]), { trainL: L, labels, logY: true, methods: [...byHeads.map((r) => r.target.name), ...estimatorNames], subtitle: 'mean squared error ± one standard error; dashed: reference estimators' }), figDir, 'head_count'),
      'Transformers with different head counts against one-step GD, tuned GD and ridge on the same prompts. H >= 2 lie on one curve; H = 1 is worse.',
    );
  }
  // Flow prediction for the main run.
  const metricsPath = join(main.dir, 'metrics.safetensors');
  if (existsSync(metricsPath)) {
    const m = readSafetensors(metricsPath).tensors;
    const step = m['dyn_step'] ? f64(m['dyn_step']) : new Float64Array(0);
    if (step.length >= 2 && m['qk_dynamics'] && m['ov_dynamics']) {
      const H = main.target.params.H;
      // [nDyn, layers=1, H] -> [nDyn, H]
      const w = f64(m['qk_dynamics']);
      const mu = f64(m['ov_dynamics']);
      const start = settledIndex(w, mu, H);
      const fp = predictFlow(step, w, mu, H, { d, L, noiseStd: c0.noiseStd }, Math.min(start, step.length - 2));
      const fromInit = fromInitPrediction(main.config, step[step.length - 1]!);
      const end = (t: { w: ArrayLike<number>; mu: ArrayLike<number> }) => {
        const n = t.w.length / H;
        const ws = Array.from({ length: H }, (_, h) => t.w[(n - 1) * H + h]!);
        const ms = Array.from({ length: H }, (_, h) => t.mu[(n - 1) * H + h]!);
        return { ws, ms, eta: effectiveLearningRate(ws, ms), paired: ws.some((x) => x > 0) && ws.some((x) => x < 0) };
      };
      const obsEnd = end(fp.observed);
      const predEnd = end(fp.predicted);
      const describeEnd = (e: ReturnType<typeof end>) => `w = (${fmtList(e.ws, 3)}), mu = (${fmtList(e.ms, 2)}), eta_TF = ${fmt(e.eta, 3)}`;
      addFig(
        `Observed (w, mu) against the reduced-loss gradient flow (${main.target.name})`,
        await renderFigure(flowSpec(fp.observed, fp.predicted, { title: `(w^h, mu^h) during training vs the reduced-loss gradient flow (${main.target.name})`, subtitle: `flow from step ${fp.predicted.step[0]}, where the heads' signs are settled; its time matched to steps where eta_TF reaches 90% of its final value (${fp.stepsPerTime.toFixed(1)} steps per unit time)` }), figDir, 'flow'),
        `Left: paths in the (w, mu) plane. Right: w^h and mu^h over training. Solid: the run (Adam); dashed: gradient flow of the authors' reduced loss L(mu, w) (docs/THEORY.md) in the (w, mu) coordinates, started at step ${fp.predicted.step[0]}, the first logged point from which every active head keeps its final signs of w and mu (src/report/sign-split.ts). ` +
          `The run ends at ${describeEnd(obsEnd)}; the flow at ${describeEnd(predEnd)}. ` +
          (fromInit
            ? `Why not from step 0: Adam on the factorised parameters (W_Q, W_K, W_V, W_O entries that form w and mu) with the exact reduced-loss gradient, from this run's own initial weights and with its lr and betas (src/core/reduced-adam.ts), ends at ${describeEnd(fromInit)}: ${fromInit.paired ? 'a +/- split like the run.' : 'every head on one side, the single-head point w = ±1/sqrt(d) = ' + fmt(1 / Math.sqrt(d), 3) + '. There the two heads share one direction of the reduced loss and mu^1 - mu^2 is flat: the deterministic dynamics have no reason to leave. The run leaves it through batch noise (in the paper convention it sits at w ~ 0.45 for tens of thousands of steps first) or through couplings the reduced loss leaves out (the o_proj entries shared with the OV x-block, in the seed convention within a few hundred steps). So the split is not predicted from the start; from the settled point the flow keeps it and moves the pair the way the run does (|w| shrinking, |mu| growing).'} `
            : '') +
          valleyNote(obsEnd.ws, { d, L, sigma2: c0.noiseStd ** 2 }, c0.preset === 'paper') +
          'The reduced loss is a large-L approximation and the run uses Adam on the factorised weights, so agreement is expected in shape, not in speed.',
      );
    }
  }
  let paperExtras: PaperExtras | undefined;
  if (paperConvention) {
    log('estimator comparison (the authors\' five estimators and the trained models, L = 10..100)');
    paperExtras = await paperFigures(runs.map((r) => ({ name: r.target.name, params: r.target.params })), spec, { L, samples: o.evalSamples ?? 2_000, seed: seed + 2, figDir, labels });
    for (const f of paperExtras.figures) addFig(f.title, f.files, f.caption);
  }
  for (const r of byHeads) {
    log(`drawing figures of ${r.target.name}`);
    const res = await renderAllRunFigures(r.dir, {
      outDir: join(figDir, r.target.name),
      evaluation: pick(evaluation, [r.target.name, `${r.target.name}/kernel`, ...estimatorNames]),
    });
    for (const [name, files] of Object.entries(res.figures)) addFig(`${r.target.name}: ${name.replace(/_/g, ' ')}`, files, runFigureCaption(name));
  }

  // 4. Documents.
  const riskL = riskParams({ d, L, noiseStd: c0.noiseStd, preset: c0.preset });
  const sections: Section[] = [];
  const passed = findings.filter((f) => f.pass).length;
  sections.push({ md: `# icl-lab report\n\nicl-lab ${VERSION}. ${runs.length} run(s): ${names.join(', ')}. Task: d = ${d}, training context length L = ${L}, noise_std = ${c0.noiseStd} (${c0.preset} preset${c0.rho ? `, rho = ${c0.rho}` : ''}). Findings measured on ${samples.toLocaleString('en-US')} prompts at L = ${L} shared by every model (seed ${seed}).\n\n**${passed} of ${findings.length} findings pass.**` });
  sections.push({
    md: `## Findings\n\n${mdTable(['#', 'finding', 'value', 'threshold', 'result'], findings.map((f, i) => [String(i + 1), f.claim, fmt(f.value), f.threshold, f.pass ? '**pass**' : '**FAIL**']))}\n\n` +
      findings.map((f, i) => `### ${i + 1}. ${f.id}\n\n${f.claim}\n\n*Threshold:* ${f.why}\n\n${mdTable(['check', 'value', 'threshold', 'result'], f.checks.map((c) => [c.name, Number.isInteger(c.value) ? String(c.value) : fmt(c.value), c.threshold, c.pass ? 'pass' : 'FAIL']))}`).join('\n\n'),
  });
  sections.push({
    md: `## Runs\n\n${mdTable(['run', 'H', 'steps', 'status', 'final train loss', 'final val loss', 'wall time (s)', 'steps/s', 'optimizer', 'init', 'seed'], runs.map((r) => [r.target.name, String(r.config.heads), r.runJson.step.toLocaleString('en-US'), r.runJson.status, fmt(r.runJson.final.train_loss), fmt(r.runJson.final.val_loss), fmt(r.runJson.timings.wall_seconds, 1), fmt(r.runJson.timings.steps_per_second, 0), `${r.config.optimizer} lr ${r.config.lr}`, r.config.init, String(r.config.seed)]))}\n\nTraining losses are single batches of ${c0.batchSize} prompts: they scatter by ±30 % step to step (the notebook's printed losses too).`,
  });
  const statRows: string[][] = [];
  for (const [i, r] of runs.entries()) {
    const heads = evidence.models[i]!.headStats; // read out once, in gatherEvidence
    const w = heads.map((c) => c.w);
    const mu = heads.map((c) => c.mu);
    const g = groupHeads(w, mu, THRESHOLDS.active);
    const nb = paperConvention ? authorsPaperRun(r.target.params.H) : notebookRun(r.target.params.H);
    const err = meanStderr(evidence.models[i]!.sqErr);
    statRows.push([
      r.target.name,
      fmtList(w), fmtList(mu),
      nb && nb.w.length ? fmtList(nb.w) : '–', nb && nb.mu.length ? fmtList(nb.mu) : '–',
      fmt(effectiveLearningRate(w, mu)),
      `${g.active.length} / ${g.dummy.length}`,
      g.signGroups.map((s) => `${s.sign > 0 ? '+' : '−'}: mu ${fmt(s.totalMu, 2)}`).join('; '),
      fmt(evidence.models[i]!.kernelGap, 5),
      `${fmt(err.mean)} ± ${fmt(err.stderr)}`,
      nb ? `${fmt(nb.trainLoss)} / ${fmt(nb.valLoss)}` : '–',
    ]);
  }
  const tuned = meanStderr(evidence.tunedGdSqErr);
  const plain = meanStderr(evidence.oneStepGdSqErr);
  sections.push({
    md: `## Circuits beside the notebook\n\nw^h = mean of the first d diagonal entries of QK^h = W_Q^h W_K^h^T / sqrt(d+1); mu^h = OV^h[-1,-1] with OV^h = W_V^h W_O^h (the seed's \`calculate_statistics\`). eta_TF = sum_h mu^h w^h; L/(L+d) = ${fmt(L / (L + d))}, L/(L+d+1) = ${fmt(L / (L + d + 1))}. Active heads: |mu^h w^h| > ${THRESHOLDS.active}. The notebook's values are after 500,001 steps on a GPU from another random history (docs/SEED_NOTES.md #11): compare statistics, not trajectories.\n\n` +
      (paperConvention ? "\n\nIn the paper convention the comparison columns hold the authors' own runs (icl_linear.ipynb, step 500,000; w, mu from their figure script, H = 2 only; PAPER_EXPERIMENTS.md §1).\n\n" : '') +
      mdTable(['run', 'w^h', 'mu^h', `${paperConvention ? 'authors\'' : 'notebook'} w^h`, `${paperConvention ? 'authors\'' : 'notebook'} mu^h`, 'eta_TF', 'active / dummy', 'sign groups (total mu)', 'kernel gap', `MSE at L = ${L}`, `${paperConvention ? 'authors\'' : 'notebook'} final train / val loss`], statRows) +
      `\n\nOn the same prompts: one-step GD (eta = 1) ${fmt(plain.mean)} ± ${fmt(plain.stderr)} (closed form ${fmt(oneStepGdRisk(1, riskL))}); tuned one-step GD (eta* = ${fmt(optimalEtaOf(riskL))}) ${fmt(tuned.mean)} ± ${fmt(tuned.stderr)} (closed form ${fmt(tunedGdRisk(riskL))}).`,
  });
  const showL = [5, 10, 20, 40, 80, 160, 320].map((x) => evaluation.lengths.reduce((best, l) => (Math.abs(l - x) < Math.abs(best - x) ? l : best), evaluation.lengths[0]!));
  const uniqL = [...new Set(showL)];
  const sig = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x >= 0.01 ? x.toFixed(3) : x.toPrecision(3));
  const evalRows = Object.entries(evaluation.methods).map(([name, m]) => [labels[name] ?? name, ...uniqL.map((l) => sig(m.mse[evaluation.lengths.indexOf(l)]))]);
  sections.push({ md: `## Error against context length\n\nMean squared error (same prompts for every method at each L; full curves with standard errors in evaluation.json).\n\n${mdTable(['method', ...uniqL.map((l) => `L = ${l}`)], evalRows)}` });
  if (paperExtras) sections.push({ md: paperExtras.md });
  sections.push({ md: `## Figures\n\n${figs.map((f) => `### ${f.title}\n\n![${f.title}](${relative(o.out, f.path)})\n\n${f.caption}`).join('\n\n')}` });

  const md = sections.map((s) => s.md).join('\n\n') + '\n';
  const mdPath = join(o.out, 'report.md');
  await writeFileAtomic(mdPath, md);
  const htmlPath = join(o.out, 'report.html');
  await writeFileAtomic(htmlPath, markdownToHtml(md, o.out));
  const findingsPath = join(o.out, 'findings.json');
  await writeFileAtomic(findingsPath, JSON.stringify({ icl_lab_version: VERSION, runs: names, L, samples, findings }, null, 2) + '\n');
  return { findings, files: { html: htmlPath, md: mdPath, findings: findingsPath, evaluation: evalPath }, pngs };
}

/** Where the reduced loss goes along the run's +/- valley: it keeps falling towards w -> 0 (mu*(w) -> infinity). */
function valleyNote(ws: number[], p: { d: number; L: number; sigma2: number }, paper: boolean): string {
  if (!(ws.some((x) => x > 0) && ws.some((x) => x < 0))) return '';
  const at = (k: number) => reducedLoss(optimalMu(ws.map((x) => x * k), p), ws.map((x) => x * k), p);
  const l1 = at(1), lh = at(0.5);
  if (!(lh < l1)) return '';
  return `Along the run's +/- valley the reduced loss, with mu = mu*(w), keeps falling towards w -> 0 (${l1.toFixed(5)} at the run's w, ${lh.toFixed(5)} at half of it, mu*(w) growing like 1/w): it has no stationary point at the trained w, so neither its flow nor Adam on it ends there; where the run sits is set by its noise-limited drift along this nearly flat valley (${paper ? "the authors' w = 0.13 after 500,000 steps, " : ''}this run's ${ws.map((x) => x.toFixed(3)).join(', ')}). `;
}

function runFigureCaption(name: string): string {
  if (name === 'loss') return 'Training loss at every step (min-max band per bucket and bucket mean) and validation loss on fresh batches, log scale.';
  if (name === 'dynamics') return 'QK dynamics w^h (mean of the first d diagonal entries of the scaled QK^h) and OV dynamics mu^h (OV^h[-1,-1]) of every head over training.';
  if (name.startsWith('qk_evolution')) return 'Scaled QK^h of every head at chosen steps, one shared symmetric colour scale (navy negative, white zero, red positive). Not transposed, unlike the seed\'s sequence plot.';
  if (name.startsWith('circuits')) return 'Final scaled QK^h (left) and OV^h[:, -1] (right); dashed lines separate the x block from the y row/column. A kernel regressor shows w I on the x block and mu on the y entry.';
  if (name === 'error_vs_length') return 'Error against context length of this model, its kernel estimator and the estimators.';
  return '';
}

/** The report's Markdown as one self-contained HTML page: GFM via `marked`, every image inlined as a PNG data URL. */
export function markdownToHtml(md: string, baseDir: string): string {
  const marked = new Marked({ gfm: true });
  marked.use({
    walkTokens(token) {
      if (token.type === 'image' && !/^data:/.test(token.href)) {
        token.href = `data:image/png;base64,${readFileSync(join(baseDir, token.href)).toString('base64')}`;
      }
    },
  });
  const body = (marked.parse(md, { async: false }) as string)
    .replace(/<td>(<strong>)?FAIL/g, '<td class="fail">$1FAIL')
    .replace(/<td>(<strong>)?pass/g, '<td class="pass">$1pass');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>icl-lab report</title>
<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.pass{color:#1a6b1a;font-weight:bold}td.fail{color:#a32015;font-weight:bold}
figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}code{background:#f5f5f5;padding:0 3px}
</style></head><body>
${body}
</body></html>
`;
}
