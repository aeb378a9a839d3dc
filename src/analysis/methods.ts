/**
 * The method registry of `evaluate`: every method writes its predictions for a batch of prompts.
 * The estimator baselines (one-step-gd, tuned-gd, debiased-gd, ridge, ols) and a model with its
 * kernel estimator `<name>/kernel` from its (w^h, mu^h).
 */
import type { Batch } from '../data/batch.js';
import type { AttentionParams } from '../model/params.js';
import type { ModelForward } from '../engine/model.js';
import { layerCircuits } from '../model/circuits.js';
import { isLinearAttention } from '../model/attention-name.js';
import { bayesRidgeLambda, contextMoments, kernelEstimator, linearFromMoments, transformerEstimator, type ContextMoments } from './estimators.js';
import type { PromptSpec } from './prompts.js';
import { optimalDebiasedEta, optimalEta, riskParams } from './theory.js';

/** A named method: writes its predictions for `batch` into `out` [B]. */
export interface EvalMethod {
  readonly name: string;
  run(batch: Batch, out: Float64Array): void;
  /**
   * Optional work shared by several methods (the same function object on each of them):
   * `evaluateErrors` calls each distinct `prepare` once per batch, before any `run` on it.
   * `run` must still be correct when called without it.
   */
  readonly prepare?: (batch: Batch) => void;
  /** The step a GD-like method uses at context length L (evaluate --json records it per L as `eta`). */
  readonly stepAt?: (L: number) => number;
}

/** The estimator baselines, named as in the CLI: one-step-gd, tuned-gd, debiased-gd, ridge, ols. */
export const ESTIMATOR_NAMES = ['one-step-gd', 'tuned-gd', 'debiased-gd', 'ridge', 'ols'] as const;

/**
 * Baseline estimators for a prompt distribution:
 *   one-step-gd  eta = 1 (the seed's gradient_step_estimator)
 *   tuned-gd     eta* = L / (L + d + 1 + sigma^2/tau^2) (the optimum of plain one-step GD)
 *   debiased-gd  mean-centred one-step GD (sum mu = 0) at its own optimum L / (L + d + sigma^2/tau^2)
 *                (theory.ts debiasedGdRisk; issue 26: it used to run at the plain-GD step)
 *   ridge        lambda = sigma^2 / tau^2 (the Bayes posterior mean)
 *   ols          NaN for L <= d
 * sigma^2, tau^2 from the preset (theory.ts `riskParams`).
 */
export function estimatorMethods(spec: PromptSpec): EvalMethod[] {
  const r = riskParams({ d: spec.d, L: 1, noiseStd: spec.noiseStd, preset: spec.preset });
  const tau2 = r.priorVar ?? 1;
  const eta = (b: Batch) => optimalEta(b.L, b.d, r.sigma2, tau2);
  const etaDebiased = (b: Batch) => optimalDebiasedEta(b.L, b.d, r.sigma2, tau2);
  const lambda = bayesRidgeLambda(r.sigma2, tau2);
  // All five are linear in the context moments X^T X, X^T y, sum x, sum y: one pass over the tokens
  // (`prepare`) serves them all. Each `run` reads the results if `prepare` saw this batch and not
  // all five have run since, else computes its own.
  const names = ['one-step-gd', 'tuned-gd', 'debiased-gd', 'ridge', 'ols'] as const;
  let moments: ContextMoments | undefined;
  let prepared: Batch | undefined;
  let outs: Record<string, Float64Array> = {};
  let left = 0;
  const compute = (b: Batch): Record<string, Float64Array> => {
    moments = contextMoments(b, moments);
    const o: Record<string, Float64Array> = {};
    for (const n of names) o[n] = new Float64Array(b.B);
    const e = eta(b);
    linearFromMoments(b, moments, {
      oneStep: [{ eta: 1, out: o['one-step-gd']! }, { eta: e, out: o['tuned-gd']! }],
      debiased: [{ eta: etaDebiased(b), out: o['debiased-gd']! }],
      ridge: [{ lambda, out: o['ridge']! }, { lambda: 0, out: o['ols']! }],
    });
    return o;
  };
  const prepare = (b: Batch) => {
    outs = compute(b);
    prepared = b;
    left = names.length;
  };
  const steps: Record<string, (L: number) => number> = {
    'one-step-gd': () => 1,
    'tuned-gd': (L) => optimalEta(L, spec.d, r.sigma2, tau2),
    'debiased-gd': (L) => optimalDebiasedEta(L, spec.d, r.sigma2, tau2),
  };
  return names.map((name) => ({
    name,
    prepare,
    ...(steps[name] ? { stepAt: steps[name] } : {}),
    run: (b: Batch, out: Float64Array) => {
      if (prepared === b && left > 0) {
        out.set(outs[name]!);
        if (--left === 0) prepared = undefined;
      } else {
        out.set(compute(b)[name]!);
      }
    },
  }));
}

/**
 * A model and, unless `kernel` is false or the model is linear attention (whose counterpart is the GD
 * construction, `linear-gd`), its kernel estimator `<name>/kernel` from its (w^h, mu^h).
 * `forward` runs the model (default: the TypeScript kernel; io/wasm.ts nodeForward: the same doubles, faster).
 */
export function modelMethods(name: string, p: AttentionParams, kernel = true, forward?: ModelForward): EvalMethod[] {
  const methods: EvalMethod[] = [{ name, run: forward ? (b, out) => forward(p, b, out) : (b, out) => transformerEstimator(p, b, out) }];
  if (kernel && !isLinearAttention(p.attention)) {
    const heads = layerCircuits(p);
    const w = heads.map((c) => c.w);
    const mu = heads.map((c) => c.mu);
    methods.push({ name: `${name}/kernel`, run: (b, out) => kernelEstimator(b, w, mu, out) });
  }
  return methods;
}
