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
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Marked } from 'marked';
import { groupHeads, effectiveLearningRate } from '../model/circuits.js';
import { defaultLengths, evaluateErrors, type Evaluation } from '../analysis/evaluate.js';
import { estimatorMethods, modelMethods, type EvalMethod } from '../analysis/methods.js';
import type { PromptSpec } from '../analysis/prompts.js';
import { Rng } from '../data/rng.js';
import { optimalEtaOf, riskParams, tunedGdRisk, oneStepGdRisk } from '../analysis/theory.js';
import { writeFileAtomic } from '../io/atomic.js';
import { f64, readSafetensors } from '../io/safetensors.js';
import { UsageError } from '../errors.js';
import { loadTarget, type ModelTarget } from '../analysis/targets.js';
import { readRunJson, runConfig, type RunJson } from '../run/run-dir.js';
import type { TrainConfig } from '../run/config.js';
import { errorVsLengthSpec, headCountSpec } from '../plots/error-curves.js';
import { flowSpec } from '../plots/flow.js';
import { renderFigure as renderFigureFile } from '../plots/render.js';
import { contextLine, withContext, type VlSpec } from '../plots/theme.js';
import { renderAllRunFigures } from '../plots/run-figures.js';
import { VERSION } from '../version.js';
import { gatherEvidence } from './evidence.js';
import { computeFindings, meanStderr, tallyLine, type Finding, THRESHOLDS } from './findings.js';
import { predictFlow } from './flow-prediction.js';
import { notebookRun } from './notebook.js';

export interface ReportOptions {
  /** Output folder. */
  out: string;
  /** Error-vs-L evaluation to use (default: computed). */
  evaluation?: Evaluation;
  /** Context lengths of the computed evaluation (default: analysis/evaluate.ts defaultLengths, 1..500, dense at small L). */
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

function mdTable(header: string[], rows: string[][]): string {
  const cell = (c: string) => c.replace(/\|/g, '\\|'); // GFM: a literal | in a cell is \|
  return [`| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** Restrict an evaluation to some methods (keeping their order). */
function pick(ev: Evaluation, names: string[]): Evaluation {
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

  // 2. Error against context length.
  let evaluation: Evaluation;
  if (o.evaluation) {
    evaluation = o.evaluation;
  } else {
    const lengths = o.lengths ?? defaultLengths();
    const evalSamples = o.evalSamples ?? 2_000;
    log(`evaluating error vs context length: ${lengths.length} lengths x ${evalSamples} prompts`);
    const methods: EvalMethod[] = [...runs.flatMap((r) => modelMethods(r.target.name, r.target.params)), ...estimatorMethods(spec)];
    const ev = evaluateErrors(methods, spec, lengths, evalSamples, new Rng(seed + 1));
    evaluation = { lengths: ev.lengths, methods: ev.methods };
  }
  const evalPath = join(o.out, 'evaluation.json');
  await writeFileAtomic(evalPath, JSON.stringify({ icl_lab_version: VERSION, d, preset: spec.preset, noise_std: spec.noiseStd, rho: spec.rho ?? 0, ...evaluation }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n');

  // 3. Figures.
  const figs: { title: string; path: string; caption: string }[] = [];
  // the line under every figure's title: the runs it shows (all of them unless given)
  const figContext = (shown: readonly LoadedRun[] = runs) => contextLine({
    runs: shown.map((r) => r.target.name), heads: shown.map((r) => r.target.params.H), d, L, preset: c0.preset, noiseStd: c0.noiseStd, rho: c0.rho,
    steps: shown.map((r) => r.runJson.step),
  });
  const raster = { scale: FIGURE_ZOOM, minWidth: 0 };
  const renderFigure = (spec: VlSpec, dir: string, name: string, shown?: readonly LoadedRun[]) => renderFigureFile(withContext(spec, figContext(shown)), dir, name, raster);
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
  Object.assign(labels, { 'one-step-gd': 'one-step GD (η = 1)', 'tuned-gd': 'tuned one-step GD (η*)', 'debiased-gd': 'debiased GD', ridge: 'ridge (Bayes)', ols: 'OLS' });
  const byHeads = [...runs].sort((a, b) => a.target.params.H - b.target.params.H);
  const main = runs.find((r) => r.target.params.H === 2) ?? runs[0]!;
  log('drawing figures');
  addFig(
    `Error against context length: ${main.target.name}, its kernel estimator and the estimators`,
    await renderFigure(errorVsLengthSpec(pick(evaluation, [main.target.name, `${main.target.name}/kernel`, ...estimatorNames]), { trainL: L, labels, logY: true, title: `Error against context length (${labels[main.target.name]})`, subtitle: `mean squared error ± one standard error; dashed: reference estimators; rule: training L = ${L}` }), figDir, 'error_vs_length', [main]),
    'Mean squared error of the trained model, the kernel estimator built from its (w^h, mu^h), one-step GD (eta = 1, the seed\'s) and the reference estimators, on the same prompts at every L. The model tracks its kernel estimator everywhere; it beats plain one-step GD below about L = 80 and loses beyond, because its effective step is tuned for the training L.',
  );
  if (runs.length > 1) {
    addFig(
      'Head-count comparison',
      await renderFigure(headCountSpec(pick(evaluation, [...byHeads.map((r) => r.target.name), ...estimatorNames]), { trainL: L, labels, logY: true, title: `Transformers with H = ${byHeads.map((r) => r.target.params.H).join(', ')} heads against one-step gradient descent`, methods: [...byHeads.map((r) => r.target.name), ...estimatorNames], subtitle: 'mean squared error ± one standard error; dashed: reference estimators' }), figDir, 'head_count'),
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
      const fp = predictFlow(step, w, mu, H, { d, L, noiseStd: c0.noiseStd });
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
        await renderFigure(flowSpec(fp.observed, fp.predicted, { title: `(wʰ, μʰ) during training vs the reduced-loss gradient flow (${main.target.name})`, subtitle: `same start; flow time matched to steps where η_TF reaches 90% of its final value (${fp.stepsPerTime.toFixed(1)} steps per unit time)` }), figDir, 'flow', [main]),
        `Left: paths in the (w, mu) plane, from the first logged point. Right: w^h and mu^h over training. Solid: the run (Adam); dashed: gradient flow of the authors' reduced loss L(mu, w) (docs/THEORY.md) in the (w, mu) coordinates, from the same start. ` +
          `The run ends at ${describeEnd(obsEnd)}; the flow at ${describeEnd(predEnd)}. ` +
          (obsEnd.paired && !predEnd.paired
            ? 'Here the run splits the heads into a +/- pair while the flow keeps them on one side: from a near-zero start the flow moves each w^h along the sign of its mu^h, whereas Adam (per-coordinate steps on W_Q, W_K, W_V, W_O) flips a head\'s mu first. The reduced loss is also a large-L approximation. Read the figure as a comparison of mechanisms, not a fit.'
            : 'The reduced loss is a large-L approximation and the run uses Adam on the factorised weights, so agreement is expected in shape and end point, not in speed.'),
      );
    }
  }
  for (const r of byHeads) {
    log(`drawing figures of ${r.target.name}`);
    const res = await renderAllRunFigures(r.dir, {
      outDir: join(figDir, r.target.name),
      raster,
      evaluation: pick(evaluation, [r.target.name, `${r.target.name}/kernel`, ...estimatorNames]),
    });
    for (const [name, files] of Object.entries(res.figures)) addFig(`${r.target.name}: ${name.replace(/_/g, ' ')}`, files, runFigureCaption(name));
  }

  // 4. Documents.
  const riskL = riskParams({ d, L, noiseStd: c0.noiseStd, preset: c0.preset });
  const sections: Section[] = [];
  const tally = tallyLine(findings);
  sections.push({ md: `# icl-lab report\n\nicl-lab ${VERSION}. ${runs.length} run(s): ${names.join(', ')}. Task: d = ${d}, training context length L = ${L}, noise_std = ${c0.noiseStd} (${c0.preset} preset${c0.rho ? `, rho = ${c0.rho}` : ''}). Findings measured on ${samples.toLocaleString('en-US')} prompts at L = ${L} shared by every model (seed ${seed}).\n\n**${tally}.**` });
  sections.push({
    md: `## Findings\n\n${mdTable(['#', 'finding', 'value', 'threshold', 'result'], findings.map((f, i) => [String(i + 1), f.claim, f.result === 'n/a' ? '–' : fmt(f.value), f.threshold, f.result === 'n/a' ? 'n/a' : f.pass ? '**pass**' : '**FAIL**']))}\n\n` +
      findings.map((f, i) => `### ${i + 1}. ${f.id}${f.result === 'n/a' ? ' (n/a)' : ''}\n\n${f.claim}\n\n*Threshold:* ${f.why}${f.checks.length === 0 ? '' : `\n\n${mdTable(['check', 'value', 'threshold', 'result'], f.checks.map((c) => [c.name, Number.isInteger(c.value) ? String(c.value) : fmt(c.value), c.threshold, c.pass ? 'pass' : 'FAIL']))}`}`).join('\n\n'),
  });
  sections.push({
    md: `## Runs\n\n${mdTable(['run', 'H', 'steps', 'status', 'last training batch loss', 'held-out loss ± s.e.', 'wall time (s)', 'steps/s', 'optimizer', 'init', 'seed'], runs.map((r) => [r.target.name, String(r.config.heads), r.runJson.step.toLocaleString('en-US'), r.runJson.status, fmt(r.runJson.final.train_loss), heldOut(r.runJson), fmt(r.runJson.timings.wall_seconds, 1), fmt(r.runJson.timings.steps_per_second, 0), `${r.config.optimizer} lr ${r.config.lr}`, r.config.init, String(r.config.seed)]))}\n\n` +
      `The held-out loss is the final model's mean squared error on ${heldOutSamples(runs.map((r) => r.runJson))} held-out prompts of its training task, with its standard error (run.json \`final_validation\`); a run without one (not completed, or written by an older icl-lab) shows its last validation batch of ${c0.valSamples} prompts, marked "one batch". ` +
      `The training loss is a single batch of ${c0.batchSize} prompts: it scatters by ±30 % step to step (the notebook's printed losses too).`,
  });
  const statRows: string[][] = [];
  for (const [i, r] of runs.entries()) {
    const heads = evidence.models[i]!.headStats; // read out once, in gatherEvidence
    const w = heads.map((c) => c.w);
    const mu = heads.map((c) => c.mu);
    const g = groupHeads(w, mu, THRESHOLDS.active);
    const nb = notebookRun(r.target.params.H);
    const err = meanStderr(evidence.models[i]!.sqErr);
    statRows.push([
      r.target.name,
      fmtList(w), fmtList(mu),
      nb ? fmtList(nb.w) : '–', nb ? fmtList(nb.mu) : '–',
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
      mdTable(['run', 'w^h', 'mu^h', 'notebook w^h', 'notebook mu^h', 'eta_TF', 'active / dummy', 'sign groups (total mu)', 'kernel gap', `MSE at L = ${L}`, 'notebook final train / val loss'], statRows) +
      `\n\nOn the same prompts: one-step GD (eta = 1) ${fmt(plain.mean)} ± ${fmt(plain.stderr)} (closed form ${fmt(oneStepGdRisk(1, riskL))}); tuned one-step GD (eta* = ${fmt(optimalEtaOf(riskL))}) ${fmt(tuned.mean)} ± ${fmt(tuned.stderr)} (closed form ${fmt(tunedGdRisk(riskL))}).`,
  });
  const showL = [5, 10, 20, 40, 80, 160, 320].map((x) => evaluation.lengths.reduce((best, l) => (Math.abs(l - x) < Math.abs(best - x) ? l : best), evaluation.lengths[0]!));
  const uniqL = [...new Set(showL)];
  const sig = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x >= 0.01 ? x.toFixed(3) : x.toPrecision(3));
  const evalRows = Object.entries(evaluation.methods).map(([name, m]) => [labels[name] ?? name, ...uniqL.map((l) => sig(m.mse[evaluation.lengths.indexOf(l)]))]);
  sections.push({ md: `## Error against context length\n\nMean squared error (same prompts for every method at each L; full curves with standard errors in evaluation.json).\n\n${mdTable(['method', ...uniqL.map((l) => `L = ${l}`)], evalRows)}` });
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

function runFigureCaption(name: string): string {
  if (name === 'loss') return 'Training loss at every step (min-max band per bucket and bucket mean) and validation loss on fresh batches, log scale.';
  if (name === 'dynamics') return 'QK dynamics w^h (mean of the first d diagonal entries of the scaled QK^h) and OV dynamics mu^h (OV^h[-1,-1]) of every head over training.';
  if (name.startsWith('qk_evolution')) return 'Scaled QK^h of every head at chosen steps, one shared symmetric colour scale (navy negative, white zero, red positive). Not transposed, unlike the seed\'s sequence plot.';
  if (name.startsWith('circuits')) return 'Final scaled QK^h (left) and OV^h[:, -1] (right); dashed lines separate the x block from the y row/column. A kernel regressor shows w I on the x block and mu on the y entry.';
  if (name === 'error_vs_length') return 'Error against context length of this model, its kernel estimator and the estimators.';
  return '';
}

/** Report PNGs are rendered at exactly this zoom (2x: sharp on high-density screens, a third of the bytes of the plot command's >= 1600 px). */
export const FIGURE_ZOOM = 2;

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A Vega SVG made fit to sit inline in the page: its ids prefixed (several figures on one page must
 * not share a gradient or clip id), the accessibility attributes Vega puts on every mark and the
 * class names (nothing styles them) dropped, the whole labelled with the figure's title.
 */
export function inlineSvg(svg: string, title: string, prefix: string): string {
  return svg
    .replace(/<\?xml[^>]*>\s*/, '')
    .replace(/ (aria-[a-z]+|role|class)="[^"]*"/g, '')
    .replace(/ id="([^"]+)"/g, ` id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/(xlink:)?href="#([^"]+)"/g, (_m, x: string | undefined, id: string) => `${x ?? ''}href="#${prefix}-${id}"`)
    .replace(/^<svg /, `<svg role="img" aria-label="${escapeHtml(title)}" `);
}

/** Anchor id of a heading: lower case, runs of other characters as '-' ("1. kernel-regressor" -> "1-kernel-regressor"). */
export function headingId(text: string): string {
  return text.toLowerCase().replace(/<[^>]+>/g, '').replace(/&[a-z]+;/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'section';
}

/**
 * The report's Markdown as one self-contained HTML page: GFM via `marked`, every heading with an
 * anchor id, a table of contents (h2, with their h3) after the opening section, every image
 * inlined as a PNG data URL.
 */
export function markdownToHtml(md: string, baseDir: string): string {
  const marked = new Marked({ gfm: true });
  const toc: { depth: number; id: string; text: string }[] = [];
  let figureNo = 0;
  const used = new Map<string, number>();
  marked.use({
    renderer: {
      image({ href, text }) {
        if (/^data:/.test(href)) return `<img src="${href}" alt="${escapeHtml(text)}">`;
        // the SVG drawn beside each PNG, inline: sharp at any zoom, and a third of the bytes of 2x PNGs
        const svgPath = join(baseDir, href.replace(/\.png$/, '.svg'));
        if (href.endsWith('.png') && existsSync(svgPath)) return inlineSvg(readFileSync(svgPath, 'utf8'), text, `f${++figureNo}`);
        const png = readFileSync(join(baseDir, href));
        // PNGs are drawn at FIGURE_ZOOM x their CSS size: show them at that size, sharp on high-density screens
        const width = png.length > 24 && png.toString('latin1', 12, 16) === 'IHDR' ? Math.round(png.readUInt32BE(16) / FIGURE_ZOOM) : undefined;
        return `<img src="data:image/png;base64,${png.toString('base64')}" alt="${escapeHtml(text)}"${width ? ` width="${width}"` : ''}>`;
      },
      heading({ tokens, depth }) {
        const text = this.parser.parseInline(tokens);
        const base = headingId(text);
        const n = used.get(base) ?? 0;
        used.set(base, n + 1);
        const id = n === 0 ? base : `${base}-${n + 1}`;
        if (depth === 2 || depth === 3) toc.push({ depth, id, text });
        return `<h${depth} id="${id}"><a class="anchor" href="#${id}">#</a> ${text}</h${depth}>\n`;
      },
    },
  });
  let body = (marked.parse(md, { async: false }) as string)
    .replace(/<td>(<strong>)?FAIL/g, '<td class="fail">$1FAIL')
    .replace(/<td>(<strong>)?pass/g, '<td class="pass">$1pass');
  // table of contents: h2 entries, each with its h3 entries, before the first h2
  const items: string[] = [];
  for (let i = 0; i < toc.length; i++) {
    const t = toc[i]!;
    if (t.depth !== 2) continue;
    const subs: string[] = [];
    for (let j = i + 1; j < toc.length && toc[j]!.depth === 3; j++) subs.push(`<li><a href="#${toc[j]!.id}">${toc[j]!.text}</a></li>`);
    items.push(`<li><a href="#${t.id}">${t.text}</a>${subs.length ? `<ul>${subs.join('')}</ul>` : ''}</li>`);
  }
  if (items.length > 0) {
    const nav = `<nav class="toc" id="contents"><h2>Contents</h2><ul>${items.join('')}</ul></nav>\n`;
    const at = body.indexOf('<h2 ');
    body = at < 0 ? body + nav : body.slice(0, at) + nav + body.slice(at);
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>icl-lab report</title>
<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.pass{color:#1a6b1a;font-weight:bold}td.fail{color:#a32015;font-weight:bold}
figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}code{background:#f5f5f5;padding:0 3px}
a.anchor{color:#bbb;text-decoration:none;font-weight:normal}
p>svg{max-width:100%;height:auto;display:block;border:1px solid #eee}svg text{font-family:"DejaVu Sans","Bitstream Vera Sans",Verdana,Geneva,sans-serif}a.anchor:hover{color:#555}
nav.toc{background:#fafafa;border:1px solid #e5e5e5;padding:0.3em 1.2em;margin:1.5em 0}nav.toc ul{margin:0.2em 0}nav.toc li{margin:0.1em 0}
</style></head><body>
${body}
</body></html>
`;
}
