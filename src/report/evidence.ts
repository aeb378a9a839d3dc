/**
 * The measurements behind the findings, from trained weights: seed statistics of every head, the
 * kernel gap, and per-prompt squared errors of every model and of one-step / tuned GD on ONE shared
 * set of prompts at the training context length (so differences between models are paired): the
 * evaluation stream's (analysis/eval-prompts.ts), so with the report's seed and prompt count they are
 * the prompts `evaluate --seed S --samples N` measures at that L.
 * Pure: parameters and an explicit RNG in, numbers out.
 */
import type { ModelForward } from '../engine/model.js';
import { layerCircuits } from '../model/circuits.js';
import { debiasedGd, debiasedPreconditionedGd, kernelEstimator, oneStepGd, preconditionedGd, transformerEstimator } from '../analysis/estimators.js';
import { anisotropy, ar1Covariance, optimalDebiasedPreconditioner, optimalPreconditioner, preconditionedGdRisk } from '../analysis/anisotropy.js';
import { groupHeads } from '../model/circuits.js';
import { THRESHOLDS } from './findings.js';
import { KernelGapSums } from '../analysis/kernel-gap.js';
import type { PromptSpec } from '../analysis/prompts.js';
import { forEachPromptBatch } from '../analysis/eval-prompts.js';
import { DEFAULT_CHUNK } from '../analysis/evaluate.js';
import type { AttentionParams } from '../model/params.js';
import type { Rng } from '../data/rng.js';
import { optimalEtaOf, riskParams } from '../analysis/theory.js';
import type { FindingsInput, ModelEvidence } from './findings.js';

export interface NamedModel {
  name: string;
  params: AttentionParams;
}

export interface EvidenceOptions {
  /** Training context length: where the models are compared. */
  L: number;
  /** Shared prompts (default 20,000, as in docs/REFERENCE_RUNS.md). */
  samples?: number;
  /** Prompts per batch (default 1,000, evaluate's: the prompts depend on it). */
  chunk?: number;
  /** The models' forward (default: the TypeScript kernel). */
  forward?: ModelForward;
}

/**
 * Squared errors of every model, its kernel estimator, one-step GD (eta = 1) and tuned GD on the same
 * prompts, and the statistics of every head.
 */
export function gatherEvidence(models: readonly NamedModel[], spec: PromptSpec, rng: Rng, opts: EvidenceOptions): FindingsInput {
  const { L } = opts;
  const samples = opts.samples ?? 20_000;
  const chunk = Math.min(opts.chunk ?? DEFAULT_CHUNK, samples);
  const forward = opts.forward ?? transformerEstimator;
  const r = riskParams({ d: spec.d, L, noiseStd: spec.noiseStd, preset: spec.preset });
  const etaStar = optimalEtaOf(r);
  const circuits = models.map((m) => layerCircuits(m.params));
  const sq = models.map(() => new Float64Array(samples));
  const gaps = models.map(() => new KernelGapSums());
  // the function-level comparisons (function-findings.ts): debiased GD at eta_TF with the sum-mu ybar
  // term, and for H > 2 the equivalent two-head kernel
  const gdGaps = models.map(() => new KernelGapSums());
  const twoGaps = models.map(() => new KernelGapSums());
  const forms = circuits.map((heads) => {
    const w = heads.map((c) => c.w), mu = heads.map((c) => c.mu);
    const eta = w.reduce((a, x, h) => a + x * mu[h]!, 0);
    return { eta, muSum: mu.reduce((a, x) => a + x, 0), twoHead: heads.length > 2 ? groupHeads(w, mu, THRESHOLDS.active).twoHead : undefined };
  });
  // anisotropic prompts: the finite-L optimum of one preconditioned GD step, Gamma*, as the reference
  const noiseOverPrior = r.sigma2 / (r.priorVar ?? 1);
  const sigma = spec.rho ? ar1Covariance(spec.d, spec.rho) : null;
  const gammaStar = sigma ? optimalPreconditioner(sigma, spec.d, L, noiseOverPrior) : null;
  const gammaDeb = sigma ? optimalDebiasedPreconditioner(sigma, spec.d, L, noiseOverPrior) : null;
  const starSq = gammaStar ? new Float64Array(samples) : null;
  const debSq = gammaDeb ? new Float64Array(samples) : null;
  const gout = new Float64Array(chunk);
  const tuned = new Float64Array(samples);
  const plain = new Float64Array(samples);
  const out = new Float64Array(chunk);
  const kout = new Float64Array(chunk);
  let done = 0;
  forEachPromptBatch(spec, [L], samples, rng, { chunk }, (_, batch) => {
    const B = batch.B;
    const o = out.subarray(0, B);
    const ko = kout.subarray(0, B);
    models.forEach((m, i) => {
      forward(m.params, batch, o);
      const heads = circuits[i]!;
      kernelEstimator(batch, heads.map((c) => c.w), heads.map((c) => c.mu), ko);
      for (let b = 0; b < B; b++) sq[i]![done + b] = (o[b]! - batch.yq[b]!) ** 2;
      gaps[i]!.add(o, ko, batch.yq, B);
      const go = gout.subarray(0, B);
      const form = forms[i]!;
      debiasedGd(batch, form.eta, go, form.muSum);
      gdGaps[i]!.add(o, go, batch.yq, B);
      if (form.twoHead) {
        kernelEstimator(batch, form.twoHead.w, form.twoHead.mu, go);
        twoGaps[i]!.add(o, go, batch.yq, B);
      }
    });
    if (gammaStar && starSq) {
      preconditionedGd(batch, gammaStar, o);
      for (let b = 0; b < B; b++) starSq[done + b] = (o[b]! - batch.yq[b]!) ** 2;
    }
    if (gammaDeb && debSq) {
      debiasedPreconditionedGd(batch, gammaDeb, o);
      for (let b = 0; b < B; b++) debSq[done + b] = (o[b]! - batch.yq[b]!) ** 2;
    }
    oneStepGd(batch, etaStar, o);
    for (let b = 0; b < B; b++) tuned[done + b] = (o[b]! - batch.yq[b]!) ** 2;
    oneStepGd(batch, 1, o);
    for (let b = 0; b < B; b++) plain[done + b] = (o[b]! - batch.yq[b]!) ** 2;
    done += B;
  });
  const evidence: ModelEvidence[] = models.map((m, i) => ({
    name: m.name,
    heads: m.params.H,
    headStats: circuits[i]!,
    kernelGap: gaps[i]!.result(L).relative,
    sqErr: sq[i]!,
    gdGap: gdGaps[i]!.result(L).relative,
    ...(forms[i]!.twoHead ? { twoHeadGap: twoGaps[i]!.result(L).relative } : {}),
    zeroSum: Math.abs(forms[i]!.muSum) / circuits[i]!.reduce((a, c) => a + Math.abs(c.mu), 0),
    ...(spec.rho ? { relGammaStar: anisotropy(circuits[i]!, spec.d, spec.rho, L, noiseOverPrior, true).relGammaStar } : {}),
  }));
  const aniso = sigma && starSq && debSq && gammaStar && gammaDeb
    ? { rho: spec.rho!, gammaStarSqErr: starSq, gammaStarDebSqErr: debSq, gammaStarRisk: preconditionedGdRisk(sigma, gammaDeb, spec.d, r, true), gammaStarPlainRisk: preconditionedGdRisk(sigma, gammaStar, spec.d, r, false) }
    : {};
  return { d: spec.d, L, models: evidence, tunedGdSqErr: tuned, oneStepGdSqErr: plain, ...aniso };
}
