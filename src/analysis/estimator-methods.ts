/**
 * The analytic estimators of the authors' estimator comparison (docs/PAPER_EXPERIMENTS.md §2, `plots.ipynb`
 * `Est_comparison`) as `evaluate` methods, and their one-line spec syntax:
 *
 *   kernel:w=0.13,-0.13:mu=3.45,-3.45   multi-head kernel sum_h mu_h sum_i y_i softmax_i(w_h <x_i, x_q>)
 *   kernel:w=0.13,-0.13                  the same with mu = mu*(w) of the reduced loss at each evaluated L
 *   kernel:w=..:L=40                     ... with mu = mu*(w) at context length 40
 *   single-head[:L=40]                   kernel with H = 1, w = 1/sqrt(d), mu = mu*(w) = sqrt(d) / (1 + (1 + s2)(d/L) e) at
 *                                        L = 40 by default: the authors' figure fixes mu at the training length
 *                                        (plots.ipynb uses their global L = 40, not the evaluated L)
 *   gd:w=..:mu=..  | gd:eta=X            one GD step (eta/L) sum_i y_i <x_i, x_q>, eta = sum_h w_h mu_h (= 2 w mu for a +/- pair)
 *   debiased-gd:w=..:mu=.. | :eta=X      the same with the context mean removed: (eta/L) sum_i y_i <x_i - xbar, x_q>
 *   linear-gd[:eta=X | :L=N]             the GD construction (model/gd-construction.ts): one-head linear attention whose
 *                                        output is one GD step, run through the linear attention kernel; at eta, else
 *                                        at tuned one-step GD's eta* at L = N, else at eta* of each evaluated L
 *   ridge | ridge:lambda=X               ridge at lambda = sigma^2 / tau^2 (paper convention: sigma^2 d, the Bayes posterior mean)
 *
 * Any spec may end in `:name=LABEL` (the method's name in the result; default the spec itself).
 * `paper-comparison` expands to the five methods of the authors' figure (`paperComparisonSpecs`).
 *
 * mu*(w) and sigma^2 use the prompt distribution's noise (theory.ts `riskParams`, `optimalMu`).
 */
import type { Batch } from '../data/batch.js';
import { debiasedGd, kernelEstimator, oneStepGd, ridge } from './estimators.js';
import type { EvalMethod } from './methods.js';
import type { PromptSpec } from './prompts.js';
import { optimalEta, optimalMu, riskParams } from './theory.js';
import { gdConstruction } from '../model/gd-construction.js';
import { linearForward } from '../engine/ts/linear-attention.js';
import type { AttentionParams } from '../model/params.js';

export type MethodKind = 'kernel' | 'single-head' | 'gd' | 'debiased-gd' | 'linear-gd' | 'ridge';
export const METHOD_KINDS: readonly MethodKind[] = ['kernel', 'single-head', 'gd', 'debiased-gd', 'linear-gd', 'ridge'];

/** A parsed method spec. `from` names a model whose (w, mu) are read by the caller (the CLI). */
export interface MethodSpec {
  kind: MethodKind;
  name: string;
  w?: number[];
  mu?: number[];
  eta?: number;
  lambda?: number;
  from?: string;
  /** Context length at which mu = mu*(w) is computed (kernel without mu; single-head). Absent: each evaluated L. */
  atL?: number;
}

/** The authors' trained H = 2 circuit used by their figure script. */
export const AUTHORS_W = [0.13, -0.13];
export const AUTHORS_MU = [3.45, -3.45];

/** The five estimators of the authors' `Est_comparison` figure, with their labels. */
export function paperComparisonSpecs(w: readonly number[] = AUTHORS_W, mu: readonly number[] = AUTHORS_MU): MethodSpec[] {
  return [
    { kind: 'kernel', name: 'multi-head-kernel', w: [...w], mu: [...mu] },
    { kind: 'single-head', name: 'single-head-kernel', atL: 40 },
    { kind: 'gd', name: 'gd', w: [...w], mu: [...mu] },
    { kind: 'debiased-gd', name: 'debiased-gd-est', w: [...w], mu: [...mu] },
    { kind: 'ridge', name: 'ridge-est' },
  ];
}

const ALLOWED: Record<MethodKind, string[]> = {
  kernel: ['w', 'mu', 'L', 'from', 'name'],
  'single-head': ['w', 'L', 'name'],
  gd: ['w', 'mu', 'eta', 'from', 'name'],
  'debiased-gd': ['w', 'mu', 'eta', 'from', 'name'],
  'linear-gd': ['eta', 'L', 'name'],
  ridge: ['lambda', 'name'],
};

const SYNTAX = 'kernel:w=LIST[:mu=LIST | :L=N] | kernel:from=MODEL | single-head[:L=N] | gd:(w=LIST:mu=LIST | eta=X | from=MODEL) | debiased-gd:(same) | linear-gd[:eta=X | :L=N] | ridge[:lambda=X] | paper-comparison, each optionally :name=LABEL';

function numbers(key: string, text: string, spec: string): number[] {
  const parts = text.split(',');
  const xs = parts.map((p) => Number(p.trim()));
  if (parts.some((p) => p.trim() === '') || xs.some((x) => !Number.isFinite(x))) throw new RangeError(`method ${spec}: ${key} must be a comma-separated list of numbers, got '${text}'`);
  return xs;
}

/** Parse one spec (see the file comment); throws RangeError naming the problem and the syntax. */
export function parseMethodSpec(spec: string): MethodSpec[] {
  const s = spec.trim();
  if (s === 'paper-comparison') return paperComparisonSpecs();
  const [head, ...rest] = s.split(':');
  const kind = head as MethodKind;
  if (!METHOD_KINDS.includes(kind)) throw new RangeError(`method '${spec}': unknown estimator '${head}'; allowed: ${SYNTAX}`);
  const out: MethodSpec = { kind, name: s, ...(kind === 'single-head' ? { atL: 40 } : {}) };
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 1) throw new RangeError(`method '${spec}': '${part}' is not key=value; allowed: ${SYNTAX}`);
    const key = part.slice(0, eq);
    const val = part.slice(eq + 1);
    if (!ALLOWED[kind].includes(key)) throw new RangeError(`method '${spec}': ${kind} takes ${ALLOWED[kind].join(', ')}, not '${key}'`);
    if (key === 'w' || key === 'mu') out[key] = numbers(key, val, spec);
    else if (key === 'eta' || key === 'lambda') {
      const x = Number(val);
      if (val === '' || !Number.isFinite(x) || (key === 'lambda' && x < 0)) throw new RangeError(`method '${spec}': ${key} must be a ${key === 'lambda' ? 'number >= 0' : 'number'}, got '${val}'`);
      out[key] = x;
    } else if (key === 'L') {
      const x = Number(val);
      if (!Number.isInteger(x) || x < 1) throw new RangeError(`method '${spec}': L must be a positive integer, got '${val}'`);
      out.atL = x;
    } else if (key === 'from') {
      if (val === '') throw new RangeError(`method '${spec}': from= needs a run directory or .safetensors model`);
      out.from = val;
    } else {
      if (val === '') throw new RangeError(`method '${spec}': name= needs a label`);
      out.name = val;
    }
  }
  if (out.mu && !out.w) throw new RangeError(`method '${spec}': mu given without w`);
  if (out.w && out.mu && out.w.length !== out.mu.length) throw new RangeError(`method '${spec}': w has ${out.w.length} heads but mu has ${out.mu.length}`);
  if (kind === 'single-head' && out.w && out.w.length !== 1) throw new RangeError(`method '${spec}': single-head takes one w, got ${out.w.length}`);
  if ((kind === 'gd' || kind === 'debiased-gd') && out.eta === undefined && out.from === undefined && !(out.w && out.mu)) {
    throw new RangeError(`method '${spec}': ${kind} needs eta=X, w=LIST:mu=LIST (eta = sum_h w_h mu_h) or from=MODEL`);
  }
  if ((kind === 'gd' || kind === 'debiased-gd') && out.eta !== undefined && (out.w || out.from)) throw new RangeError(`method '${spec}': give eta or w/mu (or from), not both`);
  if (kind === 'kernel' && !out.w && !out.from) throw new RangeError(`method '${spec}': kernel needs w=LIST (mu optional) or from=MODEL`);
  if (out.mu && out.atL !== undefined && kind === 'kernel') throw new RangeError(`method '${spec}': L=N sets mu = mu*(w) at that length; give mu or L, not both`);
  if (kind === 'linear-gd' && out.eta !== undefined && out.atL !== undefined) throw new RangeError(`method '${spec}': L=N sets eta = eta* at that length; give eta or L, not both`);
  if (out.from && (out.w || out.mu)) throw new RangeError(`method '${spec}': give from=MODEL or w/mu, not both`);
  return [out];
}

/** sum_h w_h mu_h: the GD step size matched to a kernel (2 w mu for the pair (w, -w), (mu, -mu)). */
export function etaOf(w: readonly number[], mu: readonly number[]): number {
  let s = 0;
  for (let h = 0; h < w.length; h++) s += w[h]! * mu[h]!;
  return s;
}

/** The evaluate method of a spec with w/mu resolved (`from` must have been replaced by w and mu). */
export function methodFromSpec(m: MethodSpec, spec: PromptSpec): EvalMethod {
  if (m.from !== undefined) throw new RangeError(`method ${m.name}: from=${m.from} must be resolved to w, mu first`);
  const r = riskParams({ d: spec.d, L: 1, noiseStd: spec.noiseStd, preset: spec.preset });
  // The reduced loss is written for beta ~ N(0, I/d): its sigma^2 is the noise relative to the signal
  // variance per coordinate, sigma^2 / (tau^2 d) = noiseStd^2 in both presets.
  const sigma2 = r.sigma2 / ((r.priorVar ?? 1) * spec.d);
  const muStar = (w: readonly number[], L: number) => Array.from(optimalMu(w, { d: spec.d, L, sigma2 }));
  switch (m.kind) {
    case 'kernel':
    case 'single-head': {
      const w = m.w ?? [1 / Math.sqrt(spec.d)];
      const fixed = m.mu;
      const cache = new Map<number, number[]>();
      return {
        name: m.name,
        run: (b: Batch, out: Float64Array) => {
          let mu = fixed;
          if (!mu) {
            const L = m.atL ?? b.L;
            mu = cache.get(L);
            if (!mu) cache.set(L, (mu = muStar(w, L)));
          }
          kernelEstimator(b, w, mu, out);
        },
      };
    }
    case 'gd':
    case 'debiased-gd': {
      const eta = m.eta ?? etaOf(m.w!, m.mu!);
      return m.kind === 'gd' ? { name: m.name, run: (b, out) => void oneStepGd(b, eta, out) } : { name: m.name, run: (b, out) => void debiasedGd(b, eta, out, 0) };
    }
    case 'linear-gd': {
      const r0 = riskParams({ d: spec.d, L: 1, noiseStd: spec.noiseStd, preset: spec.preset });
      const models = new Map<number, AttentionParams>();
      const model = (L: number) => {
        let p = models.get(L);
        if (!p) models.set(L, (p = gdConstruction(spec.d, m.eta ?? optimalEta(m.atL ?? L, spec.d, r0.sigma2, r0.priorVar ?? 1))));
        return p;
      };
      // one construction per evaluated L (key 0: a fixed eta serves every L)
      return { name: m.name, run: (b, out) => void linearForward(model(m.eta !== undefined ? 0 : b.L), b, 'linear', out) };
    }
    case 'ridge': {
      const lambda = m.lambda ?? r.sigma2 / (r.priorVar ?? 1);
      return { name: m.name, run: (b, out) => void ridge(b, lambda, out) };
    }
  }
}
