/**
 * The report's figures: error against context length of the main run (H = 2 when there is one),
 * the head-count comparison, observed (w, mu) against the reduced-loss gradient flow, and every
 * figure of each run (plots/run-figures.ts), each with its caption.
 */
import { join } from 'node:path';
import { effectiveLearningRate } from '../model/circuits.js';
import type { Evaluation } from '../analysis/evaluate.js';
import { readMetrics } from '../run/run-dir.js';
import { errorVsLengthSpec, headCountSpec } from '../plots/error-curves.js';
import { flowSpec } from '../plots/flow.js';
import { renderFigure as renderFigureFile } from '../plots/render.js';
import { contextLine, withContext, type VlSpec } from '../plots/theme.js';
import { FIGURE_ZOOM } from './html.js';
import { renderAllRunFigures } from '../plots/run-figures.js';
import { fromInitPrediction, predictFlow } from './flow-prediction.js';
import { settledIndex } from './sign-split.js';
import { optimalMu, reducedLoss, riskParams } from '../analysis/theory.js';
import { valleyLoss } from '../analysis/valley-loss.js';
import type { PresetName } from '../data/task.js';
import { fmt, fmtList } from './format.js';
import type { ReportRun } from './runs.js';

export interface ReportFigure {
  title: string;
  /** The PNG. */
  path: string;
  caption: string;
  /** The run whose own figure this is (plots/run-figures.ts): the report folds these per run; none: a headline figure. */
  run?: string;
}

/** The estimators drawn beside the models (those the evaluation has). */
export function drawnEstimators(evaluation: Evaluation): string[] {
  return ['one-step-gd', 'tuned-gd', 'ridge'].filter((n) => evaluation.methods[n]);
}

/** Display names of the evaluation's methods. */
export function methodLabels(runs: readonly ReportRun[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const r of runs) {
    labels[r.target.name] = `H = ${r.target.params.H} transformer (${r.target.name})`;
    labels[`${r.target.name}/kernel`] = `H = ${r.target.params.H} kernel estimator`;
  }
  Object.assign(labels, { 'one-step-gd': 'one-step GD (η = 1)', 'tuned-gd': 'tuned one-step GD (η*)', 'debiased-gd': 'debiased GD', ridge: 'ridge (Bayes)', ols: 'OLS' });
  return labels;
}

/** Restrict an evaluation to some methods (keeping their order). */
function pick(ev: Evaluation, names: string[]): Evaluation {
  const methods: Evaluation['methods'] = {};
  for (const n of names) if (ev.methods[n]) methods[n] = ev.methods[n]!;
  return { lengths: [...ev.lengths], methods };
}

/** What the figures need to know about the report. */
export interface FigureContext {
  runs: readonly ReportRun[];
  evaluation: Evaluation;
  /** Training context length and dimension, noise of the task. */
  L: number;
  d: number;
  noiseStd: number;
  figDir: string;
  log: (line: string) => void;
  /** The printed values' remark on the end point (ReportPlan's printed.endRemark), quoted in the flow caption. */
  endRemark?: string;
  /** The task's convention, and the prompts and seed of the exact loss along the ± valley in the flow caption (analysis/valley-loss.ts; none: left out). */
  preset?: PresetName;
  valleyPrompts?: number;
  valleySeed?: number;
}

/** Report figures are rasterised at exactly FIGURE_ZOOM (the HTML shows them inline as SVG). */
const RASTER = { scale: FIGURE_ZOOM, minWidth: 0 };

/** The line under a figure's title: the runs it shows (run names, H, d, L, preset, noise, rho, steps). */
function figureContext(shown: readonly ReportRun[], ctx: FigureContext): string {
  const c0 = shown[0]!.config;
  return contextLine({
    runs: shown.map((r) => r.target.name), heads: shown.map((r) => r.target.params.H), d: ctx.d, L: ctx.L,
    preset: c0.preset, noiseStd: ctx.noiseStd, rho: c0.rho, steps: shown.map((r) => r.runJson.step),
  });
}

/** Render a report figure with the context line of the runs it shows. */
function renderFigure(spec: VlSpec, shown: readonly ReportRun[], ctx: FigureContext, name: string): Promise<string[]> {
  return renderFigureFile(withContext(spec, figureContext(shown, ctx)), ctx.figDir, name, RASTER);
}

/** Draw every figure of the report into ctx.figDir, in the report's order. */
export async function drawReportFigures(ctx: FigureContext): Promise<ReportFigure[]> {
  const { runs, evaluation, L, figDir, log } = ctx;
  const figs: ReportFigure[] = [];
  const addFig = (title: string, files: string[], caption: string, run?: string) => {
    figs.push({ title, path: files.find((f) => f.endsWith('.png'))!, caption, ...(run !== undefined ? { run } : {}) });
  };
  const estimatorNames = drawnEstimators(evaluation);
  const labels = methodLabels(runs);
  const byHeads = [...runs].sort((a, b) => a.target.params.H - b.target.params.H);
  const main = runs.find((r) => r.target.params.H === 2) ?? runs[0]!;
  log('drawing figures');
  addFig(
    `Error against context length: ${main.target.name}, its kernel estimator and the estimators`,
    await renderFigure(errorVsLengthSpec(pick(evaluation, [main.target.name, `${main.target.name}/kernel`, ...estimatorNames]), { trainL: L, labels, logY: true, title: `Error against context length: ${labels[main.target.name]}`, subtitle: `mean squared error ± one standard error; dashed: reference estimators; rule: training L = ${L}` }), [main], ctx, 'error_vs_length'),
    'Mean squared error of the trained model, the kernel estimator built from its (w^h, mu^h), one-step GD (eta = 1, the seed\'s) and the reference estimators, on the same prompts at every L. The model tracks its kernel estimator everywhere; it beats plain one-step GD below about L = 80 and loses beyond, because its effective step is tuned for the training L.',
  );
  if (runs.length > 1) {
    addFig(
      'Head-count comparison',
      await renderFigure(headCountSpec(pick(evaluation, [...byHeads.map((r) => r.target.name), ...estimatorNames]), { trainL: L, labels, logY: true, title: `Transformers with H = ${byHeads.map((r) => r.target.params.H).join(', ')} heads against one-step gradient descent`, methods: [...byHeads.map((r) => r.target.name), ...estimatorNames], subtitle: 'mean squared error ± one standard error; dashed: reference estimators' }), runs, ctx, 'head_count'),
      'Transformers with different head counts against one-step GD, tuned GD and ridge on the same prompts. H >= 2 lie on one curve; H = 1 is worse.',
    );
  }
  const flow = await flowFigure(main, ctx);
  if (flow) figs.push(flow);
  for (const r of byHeads) {
    log(`drawing figures of ${r.target.name}`);
    const res = await renderAllRunFigures(r.dir, {
      outDir: join(figDir, r.target.name),
      raster: RASTER,
      evaluation: pick(evaluation, [r.target.name, `${r.target.name}/kernel`, ...estimatorNames]),
    });
    for (const [name, files] of Object.entries(res.figures)) addFig(`${r.target.name}: ${name.replace(/_/g, ' ')}`, files, runFigureCaption(name), r.target.name);
  }
  return figs;
}

/** Observed (w, mu) of the main run against the reduced-loss gradient flow from the same start; none without two logged points. */
async function flowFigure(main: ReportRun, ctx: FigureContext): Promise<ReportFigure | undefined> {
  const m = readMetrics(main.dir);
  if (!m || m.dynamics.step.length < 2) return undefined;
  const H = main.target.params.H;
  // [nDyn, layers=1, H] -> [nDyn, H]
  const step = m.dynamics.step, w = m.dynamics.qk, mu = m.dynamics.ov;
  // from the first logged point where every active head keeps its final signs (sign-split.ts)
  const start = settledIndex(w, mu, H);
  const fp = predictFlow(step, w, mu, H, { d: ctx.d, L: ctx.L, noiseStd: ctx.noiseStd }, Math.min(start, step.length - 2));
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
  const files = await renderFigure(flowSpec(fp.observed, fp.predicted, { title: `(wʰ, μʰ) during training vs the reduced-loss gradient flow (${main.target.name})`, subtitle: `flow from step ${fp.predicted.step[0]}, where the heads' signs are settled; its time matched to steps where η_TF reaches 90% of its final value (${fp.stepsPerTime.toFixed(1)} steps per unit time)` }), [main], ctx, 'flow');
  return {
    title: `Observed (w, mu) against the reduced-loss gradient flow (${main.target.name})`,
    path: files.find((f) => f.endsWith('.png'))!,
    caption: `Left: paths in the (w, mu) plane. Right: w^h and mu^h over training. Solid: the run (Adam); dashed: gradient flow of the authors' reduced loss L(mu, w) (docs/THEORY.md) in the (w, mu) coordinates, started at step ${fp.predicted.step[0]}, the first logged point from which every active head keeps its final signs of w and mu (src/report/sign-split.ts). ` +
      `The run ends at ${describeEnd(obsEnd)}; the flow at ${describeEnd(predEnd)}. ` +
      (fromInit
        ? `Why not from step 0: Adam on the factorised parameters (W_Q, W_K, W_V, W_O entries that form w and mu) with the exact reduced-loss gradient, from this run's own initial weights and with its lr and betas (src/analysis/reduced-adam.ts), ends at ${describeEnd(fromInit)}: ${fromInit.paired ? 'a +/- split like the run.' : 'every head on one side, the single-head point w = ±1/sqrt(d) = ' + fmt(1 / Math.sqrt(ctx.d), 3) + '. There the two heads share one direction of the reduced loss and mu^1 - mu^2 is flat: the deterministic dynamics have no reason to leave. The run leaves it through batch noise (in the paper convention it sits at w ~ 0.45 for tens of thousands of steps first) or through couplings the reduced loss leaves out (the o_proj entries shared with the OV x-block, in the seed convention within a few hundred steps). So the split is not predicted from the start; from the settled point the flow keeps it and moves the pair the way the run does (|w| shrinking, |mu| growing).'} `
        : '') +
      valleyNote(obsEnd.ws, { d: ctx.d, L: ctx.L, sigma2: ctx.noiseStd ** 2 }, ctx.endRemark ?? '') +
      exactValleyNote(obsEnd.ws, ctx) +
      'The reduced loss is a large-L approximation and the run uses Adam on the factorised weights, so agreement is expected in shape, not in speed.',
  };
}

/** Where the reduced loss goes along the run's +/- valley: it keeps falling towards w -> 0 (mu*(w) -> infinity). */
function valleyNote(ws: number[], p: { d: number; L: number; sigma2: number }, remark: string): string {
  if (!(ws.some((x) => x > 0) && ws.some((x) => x < 0))) return '';
  const at = (k: number) => reducedLoss(optimalMu(ws.map((x) => x * k), p), ws.map((x) => x * k), p);
  const l1 = at(1), lh = at(0.5);
  if (!(lh < l1)) return '';
  return `Along the run's +/- valley the reduced loss, with mu = mu*(w), keeps falling towards w -> 0 (${l1.toFixed(5)} at the run's w, ${lh.toFixed(5)} at half of it, mu*(w) growing like 1/w): it has no stationary point at the trained w, so neither its flow nor Adam on it ends there; where the run sits is set by its noise-limited drift along this nearly flat valley (${remark}this run's ${ws.map((x) => x.toFixed(3)).join(', ')}). `;
}

/**
 * What the exact population loss does along the same valley (analysis/valley-loss.ts, mu = ±mu*(ω), the
 * same prompts at every ω): it too is higher at the run's ω than at ω → 0, so the trained ω is the
 * optimiser's, not an optimum of either loss.
 */
function exactValleyNote(ws: number[], ctx: FigureContext): string {
  const pos = ws.filter((x) => x > 0), neg = ws.filter((x) => x < 0);
  if (!ctx.valleyPrompts || !ctx.preset || pos.length === 0 || neg.length === 0) return '';
  const omega = (Math.max(...pos) - Math.min(...neg)) / 2;
  ctx.log(`exact loss along the ± valley for the flow caption (${ctx.valleyPrompts.toLocaleString('en-US')} prompts)`);
  const v = valleyLoss({ ...riskParams({ d: ctx.d, L: ctx.L, noiseStd: ctx.noiseStd, preset: ctx.preset }), omegas: [omega / 2, omega], prompts: ctx.valleyPrompts, seed: ctx.valleySeed ?? 1 });
  const [half, at] = v.points as [typeof v.points[0], typeof v.points[0]];
  const e = (x: number) => x.toExponential(2);
  const higher = at.exactRise > 3 * at.exactRiseSe;
  return `The exact population loss along the same valley (w = ±ω, mu = ±mu*(ω); beta and noise integrated out, Monte Carlo over the inputs on the same ${v.prompts.toLocaleString('en-US')} prompts at every ω, src/analysis/valley-loss.ts) ` +
    (higher ? 'behaves the same way: ' : 'is as flat: ') +
    `at the run's ω = ${fmt(omega, 4)} it is ${e(at.exactRise)} ± ${e(at.exactRiseSe)} above its ω → 0 limit ${fmt(v.limit.exact, 5)} (debiased one-step GD, closed form ${fmt(v.limit.closedForm, 5)}; the reduced loss rises by ${e(at.reducedRise)}), and at ω = ${fmt(omega / 2, 4)} it is ${e(half.exactRise)} ± ${e(half.exactRiseSe)} (reduced ${e(half.reducedRise)})` +
    (half.exactRise < -3 * half.exactRiseSe ? ': below its limit, for the exact loss dips at small ω before it rises, which the reduced loss misses. ' : '. ') +
    (higher
      ? 'So the trained ω is the optimiser\'s, not a minimum of either loss. '
      : 'At this ω the exact loss is not resolved from its ω → 0 value: the valley is flat to the Monte Carlo\'s precision here. ');
}

function runFigureCaption(name: string): string {
  if (name === 'loss') return 'Training loss at every step (min-max band per bucket and bucket mean) and validation loss on fresh batches, log scale.';
  if (name === 'dynamics') return 'QK dynamics w^h (mean of the first d diagonal entries of the scaled QK^h) and OV dynamics mu^h (OV^h[-1,-1]) of every head over training.';
  if (name.startsWith('qk_evolution')) return 'Scaled QK^h of every head at chosen steps, one shared symmetric colour scale (navy negative, white zero, red positive). Not transposed, unlike the seed\'s sequence plot.';
  if (name.startsWith('circuits')) return 'Final scaled QK^h (left) and OV^h[:, -1] (right); dashed lines separate the x block from the y row/column. A kernel regressor shows w I on the x block and mu on the y entry.';
  if (name === 'error_vs_length') return 'Error against context length of this model, its kernel estimator and the estimators.';
  return '';
}
