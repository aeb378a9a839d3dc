/**
 * The report's additions for runs in the paper convention (docs/PAPER_EXPERIMENTS.md §2, §4):
 *
 *   - the estimator comparison (figure `estimator_comparison`): the authors' five analytic estimators
 *     (analysis/estimator-methods.ts) and the trained models on shared prompts at L = 10, 15, ..., 100,
 *     beside the values the authors printed;
 *   - the reduced-loss optimum, a measurement in the report's text (no longer a finding: for small w,
 *     2 mu*(w) w → L/(L + d(1 + s2)), so it restated one-step-gd; the finding is experiments/valley-finding.ts):
 *     for each model mu*(w) = (w w^T + (1 + s2)/L exp(d w w^T))^{-1} w at its
 *     own w against its mu (per head for H <= 2; per sign group of w, the equivalent two-head model of
 *     model/circuits.ts `groupHeads`, for H > 2, where heads of one group make the matrix near-singular).
 */
import { groupHeads, layerCircuits } from '../model/circuits.js';
import { methodFromSpec, paperComparisonSpecs, AUTHORS_MU, AUTHORS_W } from '../analysis/estimator-methods.js';
import { evaluateErrors, type FullEvaluation as EvaluateResult } from '../analysis/evaluate.js';
import { type EvalMethod } from '../analysis/methods.js';
import { type PromptSpec } from '../analysis/prompts.js';
import { transformerEstimator } from '../analysis/estimators.js';
import type { AttentionParams } from '../model/params.js';
import type { ModelForward } from '../engine/model.js';
import type { Rng } from '../data/rng.js';
import { optimalMu, reducedLoss } from '../analysis/theory.js';
import { AUTHORS_ESTIMATOR_COMPARISON } from './authors-values.js';
import type { NamedParams } from '../report/plan.js';

/** The authors' sweep of the comparison figures: L = 10, 15, ..., 100. */
export const PAPER_LENGTHS: number[] = Array.from({ length: 19 }, (_, i) => 10 + 5 * i);

export const PAPER_LABELS: Record<string, string> = {
  'multi-head-kernel': `multi-head kernel (w = ±${AUTHORS_W[0]}, mu = ±${AUTHORS_MU[0]})`,
  'single-head-kernel': 'single-head kernel (w = 1/sqrt(d), mu*(w) at L = 40)',
  gd: 'GD (eta = 2 w mu)',
  'debiased-gd-est': 'debiased GD (eta = 2 w mu)',
  'ridge-est': 'ridge (lambda = sigma^2 d)',
};

export type { NamedParams } from '../report/plan.js';

/** Models and the five analytic estimators on the same prompts at `lengths`. */
export function estimatorComparison(models: readonly NamedParams[], spec: PromptSpec, lengths: readonly number[], samples: number, rng: Rng, forward: ModelForward = transformerEstimator): EvaluateResult {
  const methods: EvalMethod[] = [
    ...paperComparisonSpecs().map((m) => methodFromSpec(m, spec)),
    ...models.map((m) => ({ name: m.name, run: (b: Parameters<EvalMethod['run']>[0], out: Float64Array) => void forward(m.params, b, out) })),
  ];
  return evaluateErrors(methods, spec, lengths, samples, rng);
}

/** Our value, its standard error and the authors' printed value at one L, with z = (ours - theirs) / combined se. */
export interface ComparisonRow {
  method: string;
  L: number;
  ours: number;
  stderr: number;
  printed: number;
  z: number;
}

/** Rows at the lengths both sweeps have (the combined se takes the authors' spread as ours at their 50,000 prompts). */
export function compareWithPrinted(ev: EvaluateResult, at: readonly number[] = [40, 80, 100]): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const [method, printed] of Object.entries(AUTHORS_ESTIMATOR_COMPARISON.methods)) {
    const m = ev.methods[method];
    if (!m) continue;
    for (const L of at) {
      const i = ev.lengths.indexOf(L);
      const j = AUTHORS_ESTIMATOR_COMPARISON.lengths.indexOf(L);
      if (i < 0 || j < 0) continue;
      const se = m.stderr[i]!;
      const seTheirs = se * Math.sqrt(ev.samples / AUTHORS_ESTIMATOR_COMPARISON.samples);
      rows.push({ method, L, ours: m.mse[i]!, stderr: se, printed: printed[j]!, z: (m.mse[i]! - printed[j]!) / Math.hypot(se, seTheirs) });
    }
  }
  return rows;
}

/** One model's reduced-loss optimum: per head (H <= 2) or per sign group of w (H > 2). */
export interface ReducedOptimum {
  name: string;
  heads: number;
  /** What is compared: 'head' or 'sign group'. */
  unit: 'head' | 'sign group';
  /** w and mu of each unit (a group's w is its mu-weighted w, its mu the group's total). */
  w: number[];
  mu: number[];
  /** mu*(w) of the reduced loss at those w. */
  muStar: number[];
  /** max over units of |mu - mu*| / |mu*|. */
  worst: number;
  /** L(mu, w) - L(mu*(w), w), the reduced loss it leaves on the table. */
  excessLoss: number;
}

export function reducedOptimum(name: string, p: AttentionParams, task: { d: number; L: number; sigma2: number }): ReducedOptimum {
  const heads = layerCircuits(p);
  const w0 = heads.map((c) => c.w);
  const mu0 = heads.map((c) => c.mu);
  let w = w0, mu = mu0;
  let unit: ReducedOptimum['unit'] = 'head';
  if (p.H > 2) {
    const g = groupHeads(w0, mu0);
    w = g.twoHead.w;
    mu = g.twoHead.mu;
    unit = 'sign group';
  }
  const muStar = Array.from(optimalMu(w, task));
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(mu[i]! - muStar[i]!) / Math.abs(muStar[i]!));
  return { name, heads: p.H, unit, w, mu, muStar, worst, excessLoss: reducedLoss(mu, w, task) - reducedLoss(muStar, w, task) };
}
