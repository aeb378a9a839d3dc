/**
 * The paper-convention parts of the report (called by report.ts when the runs use preset `paper`):
 * the reduced-loss optimum finding, the estimator comparison figure and table, and the from-init
 * reduced-Adam prediction quoted in the flow figure's caption (any preset).
 */
import type { ModelForward } from '../engine/model.js';
import { effectiveLearningRate } from '../model/circuits.js';
import type { PromptSpec } from '../analysis/prompts.js';
import { initParams } from '../model/init.js';
import { reducedAdam } from '../analysis/reduced-adam.js';
import { Rng } from '../data/rng.js';
import type { TrainConfig } from '../run/config.js';
import { errorVsLengthSpec } from '../plots/error-curves.js';
import { renderFigure } from '../plots/render.js';
import { AUTHORS_ESTIMATOR_COMPARISON, AUTHORS_PAPER_RUNS } from './authors-values.js';
import type { NotebookRun } from './notebook.js';
import type { Finding } from './findings.js';
import { compareWithPrinted, estimatorComparison, PAPER_LABELS, PAPER_LENGTHS, reducedOptimum, reducedOptimumFinding, type NamedParams, type ReducedOptimum } from './paper-sections.js';

export interface PaperExtras {
  figures: { title: string; files: string[]; caption: string }[];
  md: string;
}

let lastOptima: ReducedOptimum[] = [];

/** The paper convention's extra finding(s). */
export function paperFindings(models: readonly NamedParams[], task: { d: number; L: number; noiseStd: number }): Finding[] {
  lastOptima = models.map((m) => reducedOptimum(m.name, m.params, { d: task.d, L: task.L, sigma2: task.noiseStd ** 2 }));
  return [reducedOptimumFinding(lastOptima)];
}

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '–');

export async function paperFigures(models: readonly NamedParams[], spec: PromptSpec, o: { L: number; samples: number; seed: number; figDir: string; labels: Record<string, string>; forward?: ModelForward }): Promise<PaperExtras> {
  const ev = estimatorComparison(models, spec, PAPER_LENGTHS, o.samples, new Rng(o.seed), o.forward);
  const main = models.find((m) => m.params.H === 2) ?? models[0]!;
  const names = [...Object.keys(PAPER_LABELS), main.name];
  const labels = { ...o.labels, ...PAPER_LABELS };
  const files = await renderFigure(
    errorVsLengthSpec({ lengths: ev.lengths, methods: Object.fromEntries(names.map((n) => [n, ev.methods[n]!])) }, {
      methods: names, labels, logY: true, logX: false, trainL: o.L, reference: ['ridge-est'],
      title: 'Estimator comparison (paper convention, sigma^2 = 0.1)',
      subtitle: `MSE against the noisy y_q ± one standard error, ${ev.samples.toLocaleString('en-US')} shared prompts per L; dashed: ridge`,
    }),
    o.figDir, 'estimator_comparison',
  );
  const rows = compareWithPrinted(ev, [40, 80, 100]);
  const at = (n: string, L: number) => ev.methods[n]!.mse[ev.lengths.indexOf(L)]!;
  const printed = (n: string, L: number) => AUTHORS_ESTIMATOR_COMPARISON.methods[n]![AUTHORS_ESTIMATOR_COMPARISON.lengths.indexOf(L)]!;
  const worstZ = Math.max(...rows.map((r) => Math.abs(r.z)));
  const caption =
    `The authors' figure Est_comparison (plots.ipynb) redrawn on our prompts, with the trained ${main.name} model added. ` +
    `They printed at L = 100 (50,000 prompts): multi-head kernel ${printed('multi-head-kernel', 100)}, GD ${printed('gd', 100)}, debiased GD ${printed('debiased-gd-est', 100)}, single-head ${printed('single-head-kernel', 100)}, ridge ${printed('ridge-est', 100)}. ` +
    `We measure ${f4(at('multi-head-kernel', 100))}, ${f4(at('gd', 100))}, ${f4(at('debiased-gd-est', 100))}, ${f4(at('single-head-kernel', 100))}, ${f4(at('ridge-est', 100))} (${ev.samples.toLocaleString('en-US')} prompts; largest |z| against their values at L = 40, 80, 100: ${worstZ.toFixed(1)}), and the trained ${main.name} model ${f4(at(main.name, 100))}. ` +
    'As they report: the multi-head kernel, GD with eta = 2 w mu and debiased GD lie on one curve, the single-head kernel well above, ridge (the Bayes-optimal estimator here) below all of them.';
  const table = [
    '| estimator | L | ours ± se | authors (printed) | z |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${PAPER_LABELS[r.method] ?? r.method} | ${r.L} | ${f4(r.ours)} ± ${f4(r.stderr)} | ${r.printed.toFixed(4)} | ${r.z.toFixed(2)} |`),
  ].join('\n');
  const opt = lastOptima.map((r) => `| ${r.name} | ${r.unit} | ${r.w.map((x) => x.toFixed(4)).join(', ')} | ${r.mu.map((x) => x.toFixed(3)).join(', ')} | ${r.muStar.map((x) => x.toFixed(3)).join(', ')} | ${(100 * r.worst).toFixed(1)} % | ${r.excessLoss.toExponential(2)} |`).join('\n');
  const md =
    `## Paper convention: estimator comparison and reduced-loss optimum\n\n` +
    `The authors' five estimators (PAPER_EXPERIMENTS.md §2; \`icl-lab evaluate --method paper-comparison\`) against the values they printed; z = (ours - theirs) / combined standard error (theirs: our spread at their 50,000 prompts).\n\n${table}\n\n` +
    `Reduced-loss optimum (PAPER_EXPERIMENTS.md §4): mu*(w) = (w w^T + (1 + sigma^2)/L exp(d w w^T))^{-1} w at each model's own w (L = ${o.L}, sigma^2 = ${(spec.noiseStd ** 2).toPrecision(3)}); the authors: w = 0.13, mu = 3.45 against mu* = 3.381.\n\n` +
    `| model | unit | w | mu | mu*(w) | max |mu - mu*|/|mu*| | L(mu, w) - L(mu*, w) |\n|---|---|---|---|---|---|---|\n${opt}`;
  return { figures: [{ title: 'Estimator comparison (the authors\' Est_comparison)', files, caption }], md };
}

/**
 * Adam on the factorised reduced model from the run's own initial weights (analysis/reduced-adam.ts),
 * `steps` steps: its end point. Undefined for runs it does not describe (stacks, other optimizers).
 */
export function fromInitPrediction(c: TrainConfig, steps: number): { ws: number[]; ms: number[]; eta: number; paired: boolean } | undefined {
  if (c.layers !== 1 || c.optimizer !== 'adam' || c.weightDecay !== 0 || c.rho !== 0) return undefined;
  const init = initParams(c.d, c.heads, c.init, new Rng(c.seed));
  const t = reducedAdam({
    init, d: c.d, L: c.contextLength, sigma2: c.noiseStd ** 2, steps: Math.round(steps), lr: c.lr,
    beta1: c.betas[0], beta2: c.betas[1], eps: c.eps, scale: c.preset === 'paper' ? 1 : c.d, recordEvery: Math.max(1, Math.round(steps)),
  });
  const H = c.heads;
  const n = t.step.length;
  const ws = Array.from(t.w.subarray((n - 1) * H));
  const ms = Array.from(t.mu.subarray((n - 1) * H));
  return { ws, ms, eta: effectiveLearningRate(ws, ms), paired: ws.some((x) => x > 0) && ws.some((x) => x < 0) };
}


/** The authors' paper-convention run with H heads, shaped like the seed notebook's (w, mu empty where they gave none). */
export function authorsPaperRun(H: number): NotebookRun | undefined {
  const r = AUTHORS_PAPER_RUNS[H];
  return r ? { heads: H, w: r.w ?? [], mu: r.mu ?? [], trainLoss: r.train, valLoss: r.val } : undefined;
}
