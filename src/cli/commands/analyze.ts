/**
 * `icl-lab analyze TARGET [--json]`: read a trained model out in the seed's conventions (the work is
 * analysis/analyze.ts; TARGET is loaded by analysis/targets.ts). A one-layer model gets the full
 * read-out, a multi-layer stack its per-layer statistics only.
 *
 * Prints, per layer and head: scaled QK^h and OV^h[:, -1], w^h, var of diag(QK^h)[:d], sup-norm of
 * the off-diagonal d×d block, mu^h, sup-norm of OV^h[:d]; the lines the seed's
 * `calculate_statistics` prints; eta_TF = sum_h mu^h w^h beside L/(L+d) and L/(L+d+1); head
 * grouping (active/dummy by |mu^h w^h|, sign groups of w, equivalent two-head model); and the
 * kernel gap on fresh prompts (analysis/kernel-gap.ts).
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import { snakeCase } from '../json.js';
import { ACTIVE_HEAD_THRESHOLD, formatFixed, type HeadCircuit } from '../../model/circuits.js';
import type { LinearReadout } from '../../analysis/linear-readout.js';
import { analyzeStack, analyzeTarget, type AnalyzedHead, type AnalyzedStackHead, type AnalyzeResult, type AnalyzeStackResult } from '../../analysis/analyze.js';
import { analyzeMultitask, formatMultitaskAnalysis, type MultitaskAnalysis } from '../../analysis/multitask.js';
import { loadStackTarget, loadTarget, untrainedWarning } from '../../analysis/targets.js';
import { warn } from '../warn.js';
import { asNonNegativeFloat, asInteger, asPositiveInt } from '../options.js';
import { checkKernelGapMemory } from '../../analysis/memory.js';

export function formatStackAnalysis(a: AnalyzeStackResult): string {
  const out: string[] = [];
  const runInfo = a.run ? `, run step ${a.run.step} (${a.run.status})` : '';
  out.push(`${a.name}: ${a.source}  (d=${a.d}, E=${a.E}, H=${a.H}, ${a.nLayers} layers${a.weightTying ? ', tied weights' : ''}${runInfo})`);
  out.push('');
  out.push('Seed statistics (calculate_statistics, layers and heads numbered from 1; the last layer\'s OV is read through final_linear, so its mu is mu_out^h):');
  for (const l of a.statistics) out.push(l);
  out.push('');
  out.push('Per layer and head, numbered from 1 (mu^h = OV^h[-1,-1], the y -> y entry, in every layer: the value train logs as ov_dynamics;');
  out.push('mu_out^h = (OV^h final_linear^T)[-1], the last layer read through final_linear: what the seed prints as that layer\'s mu):');
  out.push(' layer head        w^h       mu^h   mu_out^h   var(diag)  supOffDiag     supOv');
  for (const l of a.layers) {
    for (const h of l.heads) {
      const muOut = h.muOut === undefined ? '' : s4(h.muOut);
      out.push(`${pad(String(l.layer + 1), 6)} ${pad(String(h.head + 1), 4)} ${pad(s4(h.w), 10)} ${pad(s4(h.mu), 10)} ${pad(muOut, 10)} ${pad(f4(h.varDiag), 11)} ${pad(f4(h.supOffDiag), 11)} ${pad(f4(h.supOv), 9)}`);
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
  out.push('Seed statistics (calculate_statistics; layers and heads numbered from 1, as everywhere in icl-lab):');
  for (const l of a.statistics) out.push(l);
  out.push('');
  out.push(`Per head, numbered from 1 (QK^h = W_Q^h W_K^h^T / sqrt(E); w^h = mean diag(QK^h)[:d]; mu^h = OV^h[-1]; active: |mu^h w^h| > ${a.grouping.threshold}):`);
  out.push(' layer head        w^h       mu^h  mu^h*w^h   var(diag)  supOffDiag     supOv  active');
  for (const l of a.layers) {
    for (const h of l.heads) {
      out.push(`${pad(String(l.layer + 1), 6)} ${pad(String(h.head + 1), 4)} ${pad(s4(h.w), 10)} ${pad(s4(h.mu), 10)} ${pad(s4(h.eta), 9)} ${pad(f4(h.varDiag), 11)} ${pad(f4(h.supOffDiag), 11)} ${pad(f4(h.supOv), 9)}  ${h.active ? 'yes' : 'no (dummy)'}`);
    }
  }
  for (const l of a.layers) {
    for (const h of l.heads) {
      out.push('');
      out.push(`Layer ${l.layer + 1}, head ${h.head + 1}: QK^h (rows: query coordinate x_1..x_${a.d}, y; columns: key coordinate), and OV^h[:, -1]`);
      qkRows(h, a.E).forEach((row, i) => {
        const label = i < a.d ? `x_${i + 1}` : 'y';
        out.push(`  ${label.padEnd(4)} ${row.map((v) => pad(s4(v), 9)).join(' ')}   | ${pad(s4(h.ov[i]!), 9)}`);
      });
    }
  }
  out.push('');
  if (a.anisotropy) {
    const an = a.anisotropy;
    out.push(`Theory: ANISOTROPIC run (rho = ${an.rho}). ${an.theory}`);
    out.push('');
    out.push(`QK x-block against I, Sigma^-1 and Gamma* at L = ${an.L} (rel = ||A - c M||_F / ||A||_F for the best multiple c; smaller is closer):`);
    out.push(` layer head   rel to I   rel to Sigma^-1   rel to Gamma*   closest`);
    const near = { identity: 'I', sigma_inverse: 'Sigma^-1', gamma_star: 'Gamma*' } as const;
    for (const h of an.heads) out.push(`${pad(String(h.layer), 6)} ${pad(String(h.head), 4)} ${pad(f4(h.relToIdentity), 10)} ${pad(f4(h.relToPrecision), 17)} ${pad(f4(h.relToGammaStar), 15)}   ${near[h.closer]}`);
    out.push(`  sum_h mu^h QK^h x-block: rel to I ${f4(an.relIdentity)}, to Sigma^-1 ${f4(an.relSigmaInverse)}, to Gamma* ${f4(an.relGammaStar)}`);
    out.push(`  ${an.verdict}`);
    out.push(`  Sigma^-1 (rho = ${an.rho}):`);
    for (const row of an.sigmaInverse) out.push(`  ${row.map((v) => pad(s4(v), 9)).join(' ')}`);
    out.push(`  Gamma* (L = ${an.L}):`);
    for (const row of an.gammaStar) out.push(`  ${row.map((v) => pad(s4(v), 9)).join(' ')}`);
    out.push('');
    out.push('For reference only (isotropic theory, Sigma = I):');
  } else {
    out.push('Theory: isotropic (x ~ N(0, I), as the seed): the kernel form w^h I, eta_TF ~ L/(L+d) and the two-head equivalence apply.');
    out.push('');
  }
  const ref = a.reference;
  out.push(`Effective learning rate eta_TF = sum_h mu^h w^h = ${f4(a.effectiveLearningRate)}`);
  out.push(`  at L = ${ref.L}: L/(L+d) = ${f4(ref.lOverLPlusD)}, L/(L+d+1) = ${f4(ref.lOverLPlusDPlus1)}, tuned one-step GD eta* = ${f4(ref.tunedEta)}`);
  out.push('');
  const g = a.grouping;
  const list = (xs: number[]) => (xs.length ? xs.map((h) => h + 1).join(', ') : 'none');
  out.push(`Head grouping (threshold |mu^h w^h| > ${g.threshold}): active heads ${list(g.active)}; dummy heads ${list(g.dummy)}`);
  for (const s of g.signGroups) {
    out.push(`  w ${s.sign > 0 ? '>= 0' : '<  0'}: heads ${s.heads.map((h) => h + 1).join(', ')}  total mu = ${s4(s.totalMu)}  sum mu*w = ${s4(s.eta)}  group w = ${s4(s.w)}`);
  }
  out.push(`  equivalent two-head model: w = (${g.twoHead.w.map(s4).join(', ')}), mu = (${g.twoHead.mu.map(s4).join(', ')})`);
  out.push('');
  const k = a.kernelGapDetail;
  out.push(`Kernel gap at L = ${k.L} (${k.samples} ${k.preset}-preset prompts, noise_std ${k.noiseStd}, rho ${k.rho}, seed ${k.seed}: the prompts evaluate --seed ${k.seed} --samples ${k.samples} measures at L = ${k.L}):`);
  out.push(`  relative MSE sum (model - kernel)^2 / sum (model - mean model)^2 = ${formatGap(a.kernelGap)}`);
  out.push(`  against the model's own error sum (model - kernel)^2 / sum (model - y_q)^2 = ${formatGap(k.relativeToModelError)}`);
  out.push(`  model MSE ${f4(k.modelMse)} ± ${f4(k.modelStderr)}, kernel estimator MSE ${f4(k.kernelMse)} ± ${f4(k.kernelStderr)}, mean (model - kernel)^2 = ${formatGap(k.meanSquaredDiff)}`);
  if (a.linear) out.push('', ...formatLinearReadout(a.linear));
  return out.join('\n') + '\n';
}

/** The linear attention section: the gap to the GD construction and the learned preconditioner. */
function formatLinearReadout(r: LinearReadout): string[] {
  const out: string[] = [];
  out.push(`Linear attention ('${r.attention}'): the GD construction at L = ${r.L} (tuned one-step GD, eta* = ${f4(r.tunedEta)}; ${r.samples} prompts as above):`);
  out.push(`  gap sum (model - GD)^2 / sum (model - mean model)^2 = ${formatGap(r.gap)}; against the model's own error = ${formatGap(r.gapToModelError)}`);
  out.push(`  model MSE ${f4(r.modelMse)}, tuned one-step GD MSE ${f4(r.gdMse)}`);
  out.push(`  learned preconditioner Gamma = ${r.attention === 'linear-sum' ? 'L ' : ''}sum_h mu^h QK^h x-block (rows: query coordinate), against I, Sigma^-1 and Gamma* (rel = ||Gamma - c M||_F / ||Gamma||_F, best multiple c):`);
  out.push(`    rel to I ${f4(r.toIdentity.rel)} (c = ${f4(r.toIdentity.scale)}), to Sigma^-1 ${f4(r.toSigmaInverse.rel)} (c = ${f4(r.toSigmaInverse.scale)}), to Gamma* ${f4(r.toGammaStar.rel)} (c = ${f4(r.toGammaStar.scale)}); ||Gamma - Gamma*||_F / ||Gamma*||_F = ${f4(r.toGammaStar.absolute)}`);
  out.push(`  MSE of the Gamma*-preconditioned GD step ${f4(r.gammaStarMse)}, of the step with the model's own Gamma ${f4(r.ownGammaMse)}`);
  out.push(`  entries beyond the GD term (largest |.|): QK x->y ${f4(r.extra.qkXY)}, QK y->x ${f4(r.extra.qkYX)}, QK y->y ${f4(r.extra.qkYY)}, OV x ${f4(r.extra.ovX)}`);
  out.push('  Gamma:');
  for (const row of r.gamma) out.push(`  ${row.map((v) => pad(s4(v), 9)).join(' ')}`);
  out.push('  Gamma*:');
  for (const row of r.gammaStar) out.push(`  ${row.map((v) => pad(s4(v), 9)).join(' ')}`);
  return out;
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
    .option('--context-length <n>', '[int] context length L of the kernel-gap prompts; alias --L (default: run.json, else 40)', asPositiveInt('--context-length'))
    .addOption(new Option('--L <n>', 'old spelling of --context-length').hideHelp().argParser(asPositiveInt('--L')))
    .option('--samples <n>', '[int] kernel-gap prompts', asPositiveInt('--samples'), 10_000)
    .option('--seed <n>', '[int] RNG seed of the kernel-gap prompts', asInteger('--seed'), 0)
    .option('--threshold <x>', `[number] |mu^h w^h| above which a head is active`, asNonNegativeFloat('--threshold'), ACTIVE_HEAD_THRESHOLD)
    .action((target: string, opts: { json?: boolean; contextLength?: number; L?: number; samples: number; seed: number; threshold: number }) => {
      if (opts.contextLength !== undefined && opts.L !== undefined) throw new UsageError('--L is the old spelling of --context-length; give one of them');
      const L = opts.contextLength ?? opts.L;
      const mt = analyzeMultitask(target);
      if (mt) {
        process.stdout.write(opts.json ? multitaskAnalysisJson(mt) + '\n' : formatMultitaskAnalysis(mt));
        return;
      }
      const stack = loadStackTarget(target);
      if (stack) warn(untrainedWarning(stack));
      if (stack) {
        const a = analyzeStack(stack);
        process.stdout.write(opts.json ? analysisJson(a) + '\n' : formatStackAnalysis(a));
        return;
      }
      const t = loadTarget(target);
      warn(untrainedWarning(t));
      checkKernelGapMemory(t.params.d, t.params.H, L ?? t.run?.L ?? 40, opts.samples); // before sampling: fail fast
      const a = analyzeTarget(t, { L, samples: opts.samples, seed: opts.seed, threshold: opts.threshold });
      process.stdout.write(opts.json ? analysisJson(a) + '\n' : formatAnalysis(a));
    });
}

/** Scaled QK^h as rows, [E][E] (row = query coordinate). */
function qkRows(c: HeadCircuit, E: number): number[][] {
  return Array.from({ length: E }, (_, a) => Array.from(c.qk.subarray(a * E, (a + 1) * E)));
}

/**
 * One head in `analyze --json`: {head, w, mu, var, sup_off_diag, sup_ov, [eta, active,] qk: [E][E],
 * ov: [E], [ov_out, mu_out]} (`var` is the circuit's varDiag, named as the seed's np.var). Layers and
 * heads are numbered from 1, as printed.
 */
function headJson(c: AnalyzedHead | AnalyzedStackHead, E: number): Record<string, unknown> {
  return {
    head: c.head + 1, w: c.w, mu: c.mu, var: c.varDiag, supOffDiag: c.supOffDiag, supOv: c.supOv,
    ...('eta' in c ? { eta: c.eta, active: c.active } : {}),
    qk: qkRows(c, E), ov: Array.from(c.ov),
    ...('ovOut' in c && c.ovOut ? { ovOut: Array.from(c.ovOut), muOut: c.muOut } : {}),
  };
}

/** `analyze --json`: the result with every head as headJson, layers, heads and head lists numbered from 1, keys snake_case, non-finite numbers null. */
export function analysisJson(a: AnalyzeResult | AnalyzeStackResult): string {
  const layers = a.layers.map((l) => ({ layer: l.layer + 1, heads: l.heads.map((h) => headJson(h, a.E)) }));
  const one = (xs: number[]) => xs.map((h) => h + 1);
  const grouping = 'grouping' in a
    ? { ...a.grouping, active: one(a.grouping.active), dummy: one(a.grouping.dummy), signGroups: a.grouping.signGroups.map((g) => ({ ...g, heads: one(g.heads) })) }
    : undefined;
  return JSON.stringify(snakeCase({ ...a, layers, ...(grouping ? { grouping } : {}) }));
}

/** A multi-task model in `analyze --json`: as the single-task one, heads numbered from 1 and snake_case keys. */
export function multitaskAnalysisJson(a: MultitaskAnalysis): string {
  return JSON.stringify(snakeCase({ ...a, heads: a.heads.map((h) => ({ ...h, head: h.head + 1 })) }));
}

/** JSON.stringify replacer: non-finite numbers become null. */
export function jsonSafe(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}
