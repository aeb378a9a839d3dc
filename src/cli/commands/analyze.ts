/**
 * `icl-lab analyze TARGET [--json]`: read a trained one-layer model out in the seed's conventions
 * (a multi-layer stack gets its per-layer statistics only: `analyzeStack`).
 *
 * TARGET is a run directory (RUN/model.safetensors + RUN/run.json for L, noise, preset) or any
 * `.safetensors` model under the seed's state_dict keys (float32 or float64, e.g. one saved by the
 * seed's PyTorch code; unused keys such as final_linear.weight are ignored).
 *
 * Prints, per layer and head: scaled QK^h and OV^h[:, -1], w^h, var of diag(QK^h)[:d], sup-norm of
 * the off-diagonal d×d block, mu^h, sup-norm of OV^h[:d]; the lines the seed's
 * `calculate_statistics` prints; eta_TF = sum_h mu^h w^h beside L/(L+d) and L/(L+d+1); head
 * grouping (active/dummy by |mu^h w^h|, sign groups of w, equivalent two-head model); and the
 * kernel gap on fresh prompts (core/evaluate.ts `kernelGap`).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import {
  ACTIVE_HEAD_THRESHOLD, effectiveLearningRate, formatFixed, groupHeads, layerCircuits, statisticsLines,
  type HeadCircuit, type HeadGrouping,
} from '../../core/circuits.js';
import { kernelGap, type KernelGap, type PromptSpec } from '../../core/evaluate.js';
import { allocParams, type AttentionParams } from '../../core/params.js';
import { Rng } from '../../core/rng.js';
import type { StackParams } from '../../core/stack.js';
import { DEFAULT_TASK, type TaskPreset } from '../../core/task.js';
import { optimalEta, riskParams } from '../../core/theory.js';
import { loadModel, parseModelTensors, type ModelFile } from '../../io/model-file.js';
import { analyzeMultitask, formatMultitaskAnalysis } from '../../multitask/analyze.js';
import { FileFormatError, readSafetensors } from '../../io/safetensors.js';
import { readRunJson, runConfig, RUN_FILES } from '../../train/run-dir.js';
import { asNonNegativeFloat, asInteger, asPositiveInt } from '../options.js';
import { UsageError } from '../errors.js';

/** A model named on the command line, with what its run directory says about its task. */
export interface ModelTarget {
  /** Run name: directory basename, or file stem. */
  readonly name: string;
  /** The model file read. */
  readonly path: string;
  readonly params: AttentionParams;
  /** From run.json, when TARGET is a run directory. */
  readonly run?: { L: number; noiseStd: number; preset: TaskPreset; rho: number; step: number; status: string };
}

/** Resolve TARGET (run directory or .safetensors file) and load its model. */
export function loadTarget(target: string): ModelTarget {
  if (!existsSync(target)) throw new UsageError(`no such run directory or model file: ${target}`);
  if (statSync(target).isDirectory()) {
    const path = join(target, RUN_FILES.model);
    if (!existsSync(path)) throw new UsageError(`${target} has no ${RUN_FILES.model} (is it a run directory that has saved a model yet?)`);
    const run = existsSync(join(target, RUN_FILES.run)) ? readRunJson(target) : undefined;
    const params = loadModel(path);
    const name = basename(target.replace(/[\\/]+$/, '')) || target;
    if (!run) return { name, path, params };
    const c = runConfig(run, target);
    return { name, path, params, run: { L: c.contextLength, noiseStd: c.noiseStd, preset: c.preset, rho: c.rho, step: run.step, status: run.status } };
  }
  return { name: basename(target, extname(target)), path: target, params: loadModel(target) };
}

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

export interface AnalyzeHead {
  head: number;
  w: number;
  mu: number;
  var: number;
  supOffDiag: number;
  supOv: number;
  /** mu^h w^h */
  eta: number;
  active: boolean;
  /** Scaled QK^h, [E][E], row = query coordinate. */
  qk: number[][];
  /** OV^h[:, -1], [E]. */
  ov: number[];
}

export interface AnalyzeResult {
  source: string;
  name: string;
  d: number;
  E: number;
  H: number;
  run: ModelTarget['run'] | null;
  layers: { layer: number; heads: AnalyzeHead[] }[];
  /** The seed's `calculate_statistics` printout, line by line. */
  statistics: string[];
  /** eta_TF = sum_h mu^h w^h. */
  effectiveLearningRate: number;
  /** Reference step sizes at the kernel-gap L. */
  reference: { L: number; lOverLPlusD: number; lOverLPlusDPlus1: number; tunedEta: number };
  grouping: HeadGrouping;
  /** sum (f_TF - f_K)^2 / sum (f_TF - mean f_TF)^2 on fresh prompts: relative MSE between model and kernel (see kernelGapDetail). */
  kernelGap: number;
  kernelGapDetail: KernelGap & { seed: number; preset: TaskPreset; noiseStd: number };
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
  const spec: PromptSpec = {
    d,
    noiseStd: t.run?.noiseStd ?? DEFAULT_TASK.noiseStd,
    preset: t.run?.preset ?? DEFAULT_TASK.preset,
    ...(t.run?.rho ? { rho: t.run.rho } : {}),
  };
  const gap = kernelGap(p, w, mu, spec, L, samples, new Rng(seed));
  const r = riskParams({ d, L, noiseStd: spec.noiseStd, preset: spec.preset });
  const rows = (c: HeadCircuit): number[][] => Array.from({ length: E }, (_, a) => Array.from(c.qk.subarray(a * E, (a + 1) * E)));
  return {
    source: t.path,
    name: t.name,
    d, E, H,
    run: t.run ?? null,
    layers: [{
      layer: 0,
      heads: heads.map((c) => ({
        head: c.head, w: c.w, mu: c.mu, var: c.varDiag, supOffDiag: c.supOffDiag, supOv: c.supOv,
        eta: c.mu * c.w, active: grouping.active.includes(c.head), qk: rows(c), ov: Array.from(c.ov),
      })),
    }],
    statistics: statisticsLines(heads, d),
    effectiveLearningRate: effectiveLearningRate(w, mu),
    reference: { L, lOverLPlusD: L / (L + d), lOverLPlusDPlus1: L / (L + d + 1), tunedEta: optimalEta(L, d, r.sigma2, r.priorVar) },
    grouping,
    kernelGap: gap.relative,
    kernelGapDetail: { ...gap, seed, preset: spec.preset, noiseStd: spec.noiseStd },
  };
}

/** A multi-layer stack (keys `attention_layers.{l}.*` + `final_linear.weight`) named on the command line. */
export interface StackTarget {
  readonly name: string;
  readonly path: string;
  readonly stack: StackParams;
  /** From run.json, when TARGET is a run directory (evaluate takes the task from it). */
  readonly run?: ModelTarget['run'];
}

/** The stack in TARGET, or undefined when TARGET holds a one-layer model (or no model at all). */
export function loadStackTarget(target: string): StackTarget | undefined {
  if (!existsSync(target)) return undefined;
  const isDir = statSync(target).isDirectory();
  const path = isDir ? join(target, RUN_FILES.model) : target;
  if (!existsSync(path)) return undefined;
  const { tensors, metadata } = readSafetensors(path);
  if (!Object.keys(tensors).some((k) => k.startsWith('attention_layers.'))) return undefined;
  const name = isDir ? basename(target.replace(/[\\/]+$/, '')) || target : basename(target, extname(target));
  let m: ModelFile;
  try {
    m = parseModelTensors(tensors, path, metadata);
  } catch (err) {
    if (err instanceof FileFormatError) throw new UsageError(err.message);
    throw err;
  }
  if (m.kind !== 'stack') return undefined;
  if (!isDir || !existsSync(join(target, RUN_FILES.run))) return { name, path, stack: m.params };
  const run = readRunJson(target);
  const c = runConfig(run, target);
  return { name, path, stack: m.params, run: { L: c.contextLength, noiseStd: c.noiseStd, preset: c.preset, rho: c.rho, step: run.step, status: run.status } };
}

/** One head of one layer of a stack: the one-layer fields, plus (last layer only) the value through final_linear. */
export interface AnalyzeStackHead extends Omit<AnalyzeHead, 'eta' | 'active'> {
  /** Last layer only: OV^h final_linear^T [E] and its last entry (the seed's last-layer statistics). */
  ovOut?: number[];
  muOut?: number;
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
  run: ModelTarget['run'] | null;
  finalLinear: number[];
  /**
   * Every layer: ov = OV^h[:, -1] and mu = OV^h[-1, -1] (the y -> y entry) -- the same values
   * `train` logs as ov_dynamics / snapshots `ov`. The last layer also has ovOut / muOut, its value
   * through final_linear (what the seed's calculate_statistics prints for the last layer).
   */
  layers: { layer: number; heads: AnalyzeStackHead[] }[];
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
  const rows = (c: HeadCircuit): number[][] => Array.from({ length: E }, (_, a) => Array.from(c.qk.subarray(a * E, (a + 1) * E)));
  const layers = s.layers.map((lw, l) => {
    const p = allocParams(d, H, E); // one layer block as a single-layer view, n_out = E
    p.q.set(lw.q);
    p.k.set(lw.k);
    p.v.set(lw.v);
    p.o.set(lw.o);
    const heads = layerCircuits(p, l); // y -> y: OV^h[:, -1]
    const last = l === nLayers - 1;
    const out = last ? layerCircuits(p, l, { weight: s.finalLinear, rows: 1 }) : heads; // through final_linear
    seedHeads.push(...out);
    return {
      layer: l,
      heads: heads.map((c, h) => ({
        head: c.head, w: c.w, mu: c.mu, var: c.varDiag, supOffDiag: c.supOffDiag, supOv: c.supOv, qk: rows(c), ov: Array.from(c.ov),
        ...(last ? { ovOut: Array.from(out[h]!.ov), muOut: out[h]!.mu } : {}),
      })),
    };
  });
  return {
    kind: 'stack', source: t.path, name: t.name, d, E, H, nLayers, weightTying: s.weightTying, run: t.run ?? null,
    finalLinear: Array.from(s.finalLinear), layers, statistics: statisticsLines(seedHeads, d),
    effectiveLearningRate: null, kernelGap: null,
  };
}

export function formatStackAnalysis(a: AnalyzeStackResult): string {
  const out: string[] = [];
  const runInfo = a.run ? `, run step ${a.run.step} (${a.run.status})` : '';
  out.push(`${a.name}: ${a.source}  (d=${a.d}, E=${a.E}, H=${a.H}, ${a.nLayers} layers${a.weightTying ? ', tied weights' : ''}${runInfo})`);
  out.push('');
  out.push('Seed statistics (calculate_statistics; the last layer\'s OV includes final_linear):');
  for (const l of a.statistics) out.push(l);
  out.push('');
  out.push('Per layer and head (mu^h = OV^h[-1,-1], the y -> y entry, in every layer: the value train logs as ov_dynamics;');
  out.push('mu_out^h = (OV^h final_linear^T)[-1], the last layer read through final_linear, as the seed prints it):');
  out.push(' layer head        w^h       mu^h   mu_out^h   var(diag)  supOffDiag     supOv');
  for (const l of a.layers) {
    for (const h of l.heads) {
      const muOut = h.muOut === undefined ? '' : s4(h.muOut);
      out.push(`${pad(String(l.layer), 6)} ${pad(String(h.head), 4)} ${pad(s4(h.w), 10)} ${pad(s4(h.mu), 10)} ${pad(muOut, 10)} ${pad(f4(h.var), 11)} ${pad(f4(h.supOffDiag), 11)} ${pad(f4(h.supOv), 9)}`);
    }
  }
  out.push('');
  out.push('eta_TF, head grouping and the kernel gap read a one-layer model as a kernel regressor; they are not computed for a stack.');
  return out.join('\n') + '\n';
}

const f4 = (x: number) => formatFixed(x, 4);
const s4 = (x: number) => (x >= 0 ? '+' : '') + formatFixed(x, 4);
const pad = (s: string, n: number) => s.padStart(n);

/** The readable report. */
export function formatAnalysis(a: AnalyzeResult): string {
  const out: string[] = [];
  const runInfo = a.run ? `, run step ${a.run.step} (${a.run.status})` : '';
  out.push(`${a.name}: ${a.source}  (d=${a.d}, E=${a.E}, H=${a.H}, 1 layer${runInfo})`);
  out.push('');
  out.push('Seed statistics (calculate_statistics):');
  for (const l of a.statistics) out.push(l);
  out.push('');
  out.push(`Per head (QK^h = W_Q^h W_K^h^T / sqrt(E); w^h = mean diag(QK^h)[:d]; mu^h = OV^h[-1]; active: |mu^h w^h| > ${a.grouping.threshold}):`);
  out.push(' layer head        w^h       mu^h  mu^h*w^h   var(diag)  supOffDiag     supOv  active');
  for (const l of a.layers) {
    for (const h of l.heads) {
      out.push(`${pad(String(l.layer), 6)} ${pad(String(h.head), 4)} ${pad(s4(h.w), 10)} ${pad(s4(h.mu), 10)} ${pad(s4(h.eta), 9)} ${pad(f4(h.var), 11)} ${pad(f4(h.supOffDiag), 11)} ${pad(f4(h.supOv), 9)}  ${h.active ? 'yes' : 'no (dummy)'}`);
    }
  }
  for (const l of a.layers) {
    for (const h of l.heads) {
      out.push('');
      out.push(`Layer ${l.layer}, head ${h.head}: QK^h (rows: query coordinate x_1..x_${a.d}, y; columns: key coordinate), and OV^h[:, -1]`);
      h.qk.forEach((row, i) => {
        const label = i < a.d ? `x_${i + 1}` : 'y';
        out.push(`  ${label.padEnd(4)} ${row.map((v) => pad(s4(v), 9)).join(' ')}   | ${pad(s4(h.ov[i]!), 9)}`);
      });
    }
  }
  out.push('');
  const ref = a.reference;
  out.push(`Effective learning rate eta_TF = sum_h mu^h w^h = ${f4(a.effectiveLearningRate)}`);
  out.push(`  at L = ${ref.L}: L/(L+d) = ${f4(ref.lOverLPlusD)}, L/(L+d+1) = ${f4(ref.lOverLPlusDPlus1)}, tuned one-step GD eta* = ${f4(ref.tunedEta)}`);
  out.push('');
  const g = a.grouping;
  const list = (xs: number[]) => (xs.length ? xs.join(', ') : 'none');
  out.push(`Head grouping (threshold |mu^h w^h| > ${g.threshold}): active heads ${list(g.active)}; dummy heads ${list(g.dummy)}`);
  for (const s of g.signGroups) {
    out.push(`  w ${s.sign > 0 ? '>= 0' : '<  0'}: heads ${s.heads.join(', ')}  total mu = ${s4(s.totalMu)}  sum mu*w = ${s4(s.eta)}  group w = ${s4(s.w)}`);
  }
  out.push(`  equivalent two-head model: w = (${g.twoHead.w.map(s4).join(', ')}), mu = (${g.twoHead.mu.map(s4).join(', ')})`);
  out.push('');
  const k = a.kernelGapDetail;
  out.push(`Kernel gap at L = ${k.L} (${k.samples} fresh ${k.preset}-preset prompts, noise_std ${k.noiseStd}, seed ${k.seed}):`);
  out.push(`  relative MSE sum (model - kernel)^2 / sum (model - mean model)^2 = ${formatGap(a.kernelGap)}`);
  out.push(`  against the model's own error sum (model - kernel)^2 / sum (model - y_q)^2 = ${formatGap(k.relativeToModelError)}`);
  out.push(`  model MSE ${f4(k.modelMse)}, kernel estimator MSE ${f4(k.kernelMse)}, mean (model - kernel)^2 = ${formatGap(k.meanSquaredDiff)}`);
  return out.join('\n') + '\n';
}

function formatGap(x: number): string {
  return Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2);
}

export function register(program: Command): void {
  program
    .command('analyze')
    .argument('<target>', 'run directory (holding model.safetensors and run.json) or a .safetensors model with the seed\'s keys')
    .description('read a trained model out: QK/OV circuits, w^h and mu^h per head, the seed\'s statistics, eta_TF = sum mu^h w^h, head grouping, and the kernel gap (how well the kernel estimator from (w, mu) reproduces the model)')
    .option('--json', '[flag] print one JSON object instead of the table')
    .option('--L <n>', '[int] context length of the kernel-gap prompts (default: run.json, else 40)', asPositiveInt('--L'))
    .option('--samples <n>', '[int] kernel-gap prompts', asPositiveInt('--samples'), 10_000)
    .option('--seed <n>', '[int] RNG seed of the kernel-gap prompts', asInteger('--seed'), 0)
    .option('--threshold <x>', `[number] |mu^h w^h| above which a head is active`, asNonNegativeFloat('--threshold'), ACTIVE_HEAD_THRESHOLD)
    .action((target: string, opts: { json?: boolean; L?: number; samples: number; seed: number; threshold: number }) => {
      const mt = analyzeMultitask(target);
      if (mt) {
        process.stdout.write(opts.json ? JSON.stringify(mt, jsonSafe) + '\n' : formatMultitaskAnalysis(mt));
        return;
      }
      const stack = loadStackTarget(target);
      if (stack) {
        const a = analyzeStack(stack);
        process.stdout.write(opts.json ? JSON.stringify(a, jsonSafe) + '\n' : formatStackAnalysis(a));
        return;
      }
      const a = analyzeTarget(loadTarget(target), { L: opts.L, samples: opts.samples, seed: opts.seed, threshold: opts.threshold });
      process.stdout.write(opts.json ? JSON.stringify(a, jsonSafe) + '\n' : formatAnalysis(a));
    });
}

/** JSON.stringify replacer: non-finite numbers become null. */
export function jsonSafe(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}
