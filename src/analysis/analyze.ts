/**
 * The read-out of a trained model in the seed's conventions (the work behind `icl-lab analyze`).
 *
 * One layer (`analyzeTarget`): per head its circuit (model/circuits.ts `HeadCircuit`: scaled QK^h,
 * OV^h[:, -1], w^h, mu^h, varDiag, supOffDiag, supOv) and its share mu^h w^h of eta_TF; the lines
 * the seed's `calculate_statistics` prints; eta_TF = sum_h mu^h w^h beside L/(L+d), L/(L+d+1) and
 * the tuned one-step GD step; head grouping (active/dummy by |mu^h w^h|, sign groups of w, the
 * equivalent two-head model); and the kernel gap on fresh prompts (kernel-gap.ts).
 *
 * A linear attention model also gets its gap to the GD construction and its learned preconditioner
 * against I, Sigma^-1 and Gamma* (linear-readout.ts).
 *
 * A multi-layer stack (`analyzeStack`) gets its per-layer statistics only.
 */
import {
  ACTIVE_HEAD_THRESHOLD, effectiveLearningRate, groupHeads, isPairedGrouping, lastColumn, layerCircuits, stackCircuits, stackLayer, statisticsLines,
  type HeadCircuit, type HeadGrouping,
} from '../model/circuits.js';
import { allocParams } from '../model/params.js';
import { Rng } from '../data/rng.js';
import { DEFAULT_TASK, type PresetName } from '../data/task.js';
import { anisotropy, type Anisotropy } from './anisotropy.js';
import { kernelGap, type KernelGap } from './kernel-gap.js';
import { linearReadout, type LinearReadout } from './linear-readout.js';
import type { PromptSpec } from './prompts.js';
import { optimalEta, riskParams } from './theory.js';
import type { ModelTarget, StackTarget, TargetRun } from './targets.js';

export interface AnalyzeOptions {
  /** Context length of the kernel-gap prompts (default: run.json, else 40). */
  L?: number;
  /** Kernel-gap prompts (default 10,000). */
  samples?: number;
  /** RNG seed of the kernel-gap prompts (default 0). */
  seed?: number;
  /** |mu^h w^h| above which a head is active (default 0.05). */
  threshold?: number;
}

/** One head of a one-layer model: its circuit and its share of eta_TF. */
export interface AnalyzedHead extends HeadCircuit {
  /** mu^h w^h */
  readonly eta: number;
  /** |mu^h w^h| above the threshold. */
  readonly active: boolean;
}

export interface AnalyzeResult {
  source: string;
  name: string;
  d: number;
  E: number;
  H: number;
  run: TargetRun | null;
  layers: { layer: number; heads: AnalyzedHead[] }[];
  /** The seed's `calculate_statistics` printout, line by line. */
  statistics: string[];
  /** eta_TF = sum_h mu^h w^h. */
  effectiveLearningRate: number;
  /** Reference step sizes at the kernel-gap L. */
  reference: { L: number; lOverLPlusD: number; lOverLPlusDPlus1: number; tunedEta: number };
  grouping: HeadGrouping;
  /** sum (f_TF - f_K)^2 / sum (f_TF - mean f_TF)^2 on fresh prompts: relative MSE between model and kernel (see kernelGapDetail). */
  kernelGap: number;
  kernelGapDetail: KernelGap & { seed: number; preset: PresetName; noiseStd: number; rho: number };
  /** Which theory applies: 'isotropic' (Sigma = I, the seed's) or 'anisotropic' (run.json rho != 0; see `anisotropy`). */
  theory: 'isotropic' | 'anisotropic';
  /** A model trained with rho != 0: its QK x-blocks against I and Sigma^-1 (null when isotropic). */
  anisotropy: Anisotropy | null;
  /** A linear attention model only (absent for softmax): its gap to the GD construction and its learned preconditioner (linear-readout.ts). */
  linear?: LinearReadout;
}

/** The prompt distribution a target was trained on (run.json), else the seed's. */
export function targetPromptSpec(t: ModelTarget): PromptSpec {
  return {
    d: t.params.d,
    noiseStd: t.run?.noiseStd ?? DEFAULT_TASK.noiseStd,
    preset: t.run?.preset ?? DEFAULT_TASK.preset,
    ...(t.run?.rho ? { rho: t.run.rho } : {}),
  };
}

/** The whole read-out of one model (pure apart from loading it). */
export function analyzeTarget(t: ModelTarget, o: AnalyzeOptions = {}): AnalyzeResult {
  const p = t.params;
  const { d, E, H } = p;
  const heads = layerCircuits(p);
  const w = heads.map((c) => c.w);
  const mu = heads.map((c) => c.mu);
  const threshold = o.threshold ?? ACTIVE_HEAD_THRESHOLD;
  const grouping = groupHeads(w, mu, threshold);
  const L = o.L ?? t.run?.L ?? DEFAULT_TASK.L;
  const samples = o.samples ?? 10_000;
  const seed = o.seed ?? 0;
  const spec = targetPromptSpec(t);
  const gap = kernelGap(p, w, mu, spec, L, samples, new Rng(seed));
  const linear = linearReadout(p, spec, L, samples, new Rng(seed)); // the kernel gap's prompts again
  return {
    source: t.path,
    name: t.name,
    d, E, H,
    run: t.run ?? null,
    layers: [{ layer: 0, heads: heads.map((c) => ({ ...c, eta: c.mu * c.w, active: grouping.active.includes(c.head) })) }],
    statistics: statisticsLines(heads, d),
    effectiveLearningRate: effectiveLearningRate(w, mu),
    reference: referenceSteps(L, spec),
    grouping,
    kernelGap: gap.relative,
    kernelGapDetail: { ...gap, seed, preset: spec.preset, noiseStd: spec.noiseStd, rho: spec.rho ?? 0 },
    theory: spec.rho ? 'anisotropic' : 'isotropic',
    anisotropy: spec.rho ? anisotropy(heads, d, spec.rho, L, noiseOverPrior(spec, d, L), isPairedGrouping(grouping)) : null,
    ...(linear ? { linear } : {}),
  };
}

/** sigma^2 / tau^2 of the task the prompts come from (riskParams: the preset's noise and prior variance). */
function noiseOverPrior(spec: PromptSpec, d: number, L: number): number {
  const r = riskParams({ d, L, noiseStd: spec.noiseStd, preset: spec.preset });
  return r.sigma2 / (r.priorVar ?? 1);
}

/** The step sizes eta_TF is compared with at context length L: L/(L+d), L/(L+d+1) and tuned one-step GD's eta*. */
function referenceSteps(L: number, spec: PromptSpec): AnalyzeResult['reference'] {
  const { d } = spec;
  const r = riskParams({ d, L, noiseStd: spec.noiseStd, preset: spec.preset });
  return { L, lOverLPlusD: L / (L + d), lOverLPlusDPlus1: L / (L + d + 1), tunedEta: optimalEta(L, d, r.sigma2, r.priorVar) };
}

/** One head of one layer of a stack: its circuit, plus (last layer only) the value through final_linear. */
export interface AnalyzedStackHead extends HeadCircuit {
  /** Last layer only: OV^h final_linear^T [E] and its last entry (the seed's last-layer statistics). */
  readonly ovOut?: Float64Array;
  readonly muOut?: number;
}

export interface AnalyzeStackResult {
  kind: 'stack';
  source: string;
  name: string;
  d: number;
  E: number;
  H: number;
  nLayers: number;
  weightTying: boolean;
  run: TargetRun | null;
  finalLinear: number[];
  /**
   * Every layer: ov = OV^h[:, -1] and mu = OV^h[-1, -1] (the y -> y entry) -- the same values
   * `train` logs as ov_dynamics / snapshots `ov`. The last layer also has ovOut / muOut, its value
   * through final_linear (what the seed's calculate_statistics prints for the last layer).
   */
  layers: { layer: number; heads: AnalyzedStackHead[] }[];
  /** The seed's calculate_statistics printout (last layer through final_linear, as the seed does). */
  statistics: string[];
  /** The kernel read-out (eta_TF, grouping, kernel gap) is for one-layer models: null here. */
  effectiveLearningRate: null;
  kernelGap: null;
}

/** Per-layer, per-head statistics of a multi-layer stack (see AnalyzeStackResult for the conventions). */
export function analyzeStack(t: StackTarget): AnalyzeStackResult {
  const s = t.stack;
  const { d, E, H, nLayers } = s;
  const seedHeads: HeadCircuit[] = [];
  const circuits = stackCircuits(s); // ov = OV^h [E, E]; the last layer also ovOut, muOut
  const layers = circuits.map((row, l) => {
    const last = l === nLayers - 1;
    // the seed's statistics read the last layer through final_linear
    seedHeads.push(...(last ? layerCircuits(stackLayer(s, l), l, { weight: s.finalLinear, rows: 1 }) : row));
    // y -> y: the column OV^h[:, -1] (what train logs as ov_dynamics and snapshots `ov`)
    return { layer: l, heads: row.map((c): AnalyzedStackHead => ({ ...c, ov: lastColumn(c.ov, E), ovCols: 1 })) };
  });
  return {
    kind: 'stack', source: t.path, name: t.name, d, E, H, nLayers, weightTying: s.weightTying, run: t.run ?? null,
    finalLinear: Array.from(s.finalLinear), layers, statistics: statisticsLines(seedHeads, d, { outLayer: nLayers - 1 }),
    effectiveLearningRate: null, kernelGap: null,
  };
}
