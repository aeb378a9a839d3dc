/**
 * The anisotropic experiment's extras in the report (ReportPlan.extras): per model, whether its heads
 * paired, the distances of its effective x-block A = sum_h mu^h QK^h[:d, :d] (and of each head's) to
 * I, Sigma^-1 and Gamma* (analysis/anisotropy.ts), the step along Gamma*_deb (the best multiple c of
 * A: 1 = the optimal debiased step), the closed-form risks of both preconditioned steps, and a figure
 * of A beside c Gamma*, the best multiple of Sigma^-1 and the residual A - c Gamma*.
 */
import { anisotropy, ar1Covariance, ar1Precision, optimalDebiasedPreconditioner, optimalPreconditioner, preconditionedGdRisk, relativeDistance, xBlock } from '../analysis/anisotropy.js';
import { riskParams } from '../analysis/theory.js';
import { groupHeads, isPairedGrouping, layerCircuits } from '../model/circuits.js';
import { preconditionerSpec } from '../plots/preconditioner.js';
import { renderFigure } from '../plots/render.js';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';
import { meanStderr, pairedDifference, THRESHOLDS } from '../report/findings.js';
import type { ExtrasContext, ReportExtras } from '../report/plan.js';

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '–');

/** One model's anisotropy read-out, as the section's table has it. */
export interface AnisotropyRow {
  name: string;
  paired: boolean;
  relIdentity: number;
  relSigmaInverse: number;
  relGammaStar: number;
  /** Best multiple of Gamma*_deb of the effective x-block (1: the debiased step at its optimum). */
  stepAlongGammaDeb: number;
  /** Per head: rel to Gamma*. */
  headsRelGammaStar: number[];
  effective: Float64Array;
}

export function anisotropyRows(o: Pick<ExtrasContext, 'models' | 'spec' | 'L'>): AnisotropyRow[] {
  const { spec, L } = o;
  const rho = spec.rho ?? 0;
  const d = spec.d;
  const r = riskParams({ d, L, noiseStd: spec.noiseStd, preset: spec.preset });
  const nop = r.sigma2 / (r.priorVar ?? 1);
  const deb = optimalDebiasedPreconditioner(ar1Covariance(d, rho), d, L, nop);
  return o.models.map((m) => {
    const heads = layerCircuits(m.params);
    const paired = isPairedGrouping(groupHeads(heads.map((c) => c.w), heads.map((c) => c.mu), THRESHOLDS.active));
    const an = anisotropy(heads, d, rho, L, nop, paired);
    const effective = new Float64Array(d * d);
    for (const c of heads) {
      const a = xBlock(c, d);
      for (let k = 0; k < d * d; k++) effective[k] += c.mu * a[k]!;
    }
    return {
      name: m.name, paired, relIdentity: an.relIdentity, relSigmaInverse: an.relSigmaInverse, relGammaStar: an.relGammaStar,
      stepAlongGammaDeb: relativeDistance(effective, deb).scale, headsRelGammaStar: an.heads.map((h) => h.relToGammaStar), effective,
    };
  });
}

export async function anisotropicExtras(o: ExtrasContext): Promise<ReportExtras> {
  const { spec, L } = o;
  const rho = spec.rho ?? 0;
  if (!rho) return { findings: [], figures: [], md: '' };
  const d = spec.d;
  const r = riskParams({ d, L, noiseStd: spec.noiseStd, preset: spec.preset });
  const nop = r.sigma2 / (r.priorVar ?? 1);
  const sigma = ar1Covariance(d, rho);
  const star = optimalPreconditioner(sigma, d, L, nop);
  const deb = optimalDebiasedPreconditioner(sigma, d, L, nop);
  const prec = ar1Precision(d, rho);
  const plainRisk = preconditionedGdRisk(sigma, star, d, r, false);
  const debRisk = preconditionedGdRisk(sigma, deb, d, r, true);
  const rows = anisotropyRows(o);
  const figures: ReportExtras['figures'] = [];
  for (const row of rows) {
    const g = relativeDistance(row.effective, star);
    const p = relativeDistance(row.effective, prec);
    const residual = row.effective.map((v, k) => v - g.scale * star[k]!);
    o.log(`drawing the preconditioner figure of ${row.name}`);
    const files = await renderFigure(preconditionerSpec([
      { title: 'model: Σ_h μʰ QKʰ x-block', subtitle: row.paired ? 'paired (+/- heads)' : 'NOT paired', m: row.effective },
      { title: `c Γ* (c = ${g.scale.toFixed(3)})`, subtitle: `rel ${f4(g.rel)}`, m: Float64Array.from(star, (v) => g.scale * v) },
      { title: `c' Σ⁻¹ (c' = ${p.scale.toFixed(3)})`, subtitle: `rel ${f4(p.rel)}`, m: Float64Array.from(prec, (v) => p.scale * v) },
      { title: 'residual: model − c Γ*', subtitle: `‖·‖_F / ‖model‖_F = ${f4(g.rel)}`, m: residual },
    ], d, { title: `${row.name}: the effective preconditioner against Γ* and Σ⁻¹ (ρ = ${rho}, L = ${L})` }), o.figDir, `preconditioner_${row.name}`);
    figures.push({
      title: `${row.name}: effective x-block against Γ* and Σ⁻¹`,
      path: files.find((x) => x.endsWith('.png'))!,
      caption: `The model's effective preconditioner Σ_h μʰ QKʰ[:d, :d] (what one GD step sees after linearising the softmax), the best multiples of Γ* and Σ⁻¹ and the residual against Γ*, on one colour scale. ${row.paired ? `Paired: rel ${f4(row.relGammaStar)} to Γ*, ${f4(row.relSigmaInverse)} to Σ⁻¹, ${f4(row.relIdentity)} to I.` : 'Not paired: its heads have not split into a +/- pair, so the block is not read as a preconditioner (its distances are shown for reference only).'}`,
    });
  }
  // the numbers of this section, and each model's MSE on the findings' prompts, for the across-seeds report
  const ev = o.evidence;
  const json: AnisotropyJson = {
    rho, d, L, sigma2: r.sigma2, tau2: r.priorVar ?? 1,
    risk: { debiased_gamma_star: debRisk, plain_gamma_star: plainRisk },
    samples: ev.models[0]?.sqErr.length ?? 0,
    on_prompts: { debiased_gamma_star: ev.gammaStarDebSqErr ? meanStderr(ev.gammaStarDebSqErr).mean : NaN, plain_gamma_star: ev.gammaStarSqErr ? meanStderr(ev.gammaStarSqErr).mean : NaN },
    models: rows.map((x, i) => {
      const e = meanStderr(ev.models[i]!.sqErr);
      const p = ev.gammaStarDebSqErr ? pairedDifference(ev.models[i]!.sqErr, ev.gammaStarDebSqErr) : { diff: NaN, stderr: NaN };
      return {
        name: x.name, paired: x.paired, rel_identity: x.relIdentity, rel_sigma_inverse: x.relSigmaInverse, rel_gamma_star: x.relGammaStar,
        step_along_gamma_deb: x.stepAlongGammaDeb, heads_rel_gamma_star: x.headsRelGammaStar, mse: e.mean, mse_stderr: e.stderr,
        minus_debiased_step: { diff: p.diff, stderr: p.stderr },
      };
    }),
  };
  await writeFileAtomic(join(o.reportDir, ANISOTROPY_JSON), JSON.stringify(json, null, 2) + '\n');
  const mat = (m: ArrayLike<number>) => Array.from({ length: d }, (_, j) => `| ${Array.from({ length: d }, (_, k) => (+m[j * d + k]!).toFixed(4)).join(' | ')} |`).join('\n');
  const head = `|${Array.from({ length: d }, (_, k) => ` x${k + 1} `).join('|')}|\n|${Array.from({ length: d }, () => '---').join('|')}|`;
  const table = anisotropyTable(json.models.map((m) => ({ label: m.name, m })));
  const md =
    `## Anisotropic x: the effective preconditioner against I, Σ⁻¹ and Γ*\n\n` +
    `x ~ N(0, Σ) with Σ_jk = ${rho}^|j−k| (d = ${d}, L = ${L}, σ² = ${+r.sigma2.toPrecision(4)}, τ² = ${+(r.priorVar ?? 1).toPrecision(4)}). ` +
    `A paired softmax model linearises to the debiased preconditioned step x_q · A (1/L) Σ_i y_i (x_i − x̄) with A = Σ_h μʰ QKʰ[:d, :d] (docs/THEORY.md). ` +
    `rel to M is the relative Frobenius residual of the best multiple of M (analysis/anisotropy.ts); c is the best multiple of Γ*_deb = (Σ + (tr Σ + σ²/τ²)/L I)⁻¹, the debiased step's optimum (c = 1: the optimal step, like η_TF = L/(L + d + σ²/τ²) in the isotropic case); Γ* = ((1 + 1/L) Σ + (tr Σ + σ²/τ²)/L I)⁻¹ is the plain step's optimum (rel(Γ*_deb, Γ*) = ${f4(relativeDistance(deb, star).rel)}: the distances do not tell them apart, the risks do). ` +
    `Closed-form population risks: the debiased step at Γ*_deb **${debRisk.toFixed(5)}** (the preconditioned-gd finding's reference), the plain step at Γ* ${plainRisk.toFixed(5)}; ` +
    `on the findings' ${json.samples.toLocaleString('en-US')} prompts they measure ${f4(json.on_prompts.debiased_gamma_star)} and ${f4(json.on_prompts.plain_gamma_star)} (the prompts' sampling error, shared by the models' MSE; "− debiased step" is the paired difference on them).\n\n` +
    `${table}\n\nΓ* (L = ${L}):\n\n${head}\n${mat(star)}\n\nΣ⁻¹:\n\n${head}\n${mat(prec)}`;
  return { findings: [], figures, md };
}

export const ANISOTROPY_JSON = 'anisotropy.json';

interface AnisotropyModelJson {
  name: string;
  paired: boolean;
  rel_identity: number;
  rel_sigma_inverse: number;
  rel_gamma_star: number;
  step_along_gamma_deb: number;
  heads_rel_gamma_star: number[];
  mse: number;
  mse_stderr: number;
  minus_debiased_step: { diff: number; stderr: number };
}

/** anisotropy.json in the report folder: the section's numbers. */
export interface AnisotropyJson {
  rho: number;
  d: number;
  L: number;
  sigma2: number;
  tau2: number;
  risk: { debiased_gamma_star: number; plain_gamma_star: number };
  samples: number;
  on_prompts: { debiased_gamma_star: number; plain_gamma_star: number };
  models: AnisotropyModelJson[];
}

function anisotropyTable(rows: readonly { label: string; m: AnisotropyModelJson }[]): string {
  const pm = (a: number, b: number) => `${f4(a)} ± ${f4(b)}`;
  return [
    '| run | paired | rel to I | rel to Σ⁻¹ | rel to Γ* | c along Γ*_deb | per head rel to Γ* | MSE ± s.e. | − debiased step (paired) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(({ label, m }) => `| ${label} | ${m.paired ? 'yes' : '**no**'} | ${f4(m.rel_identity)} | ${f4(m.rel_sigma_inverse)} | ${f4(m.rel_gamma_star)} | ${m.step_along_gamma_deb.toFixed(3)} | ${m.heads_rel_gamma_star.map(f4).join(', ')} | ${pm(m.mse, m.mse_stderr)} | ${m.minus_debiased_step.diff >= 0 ? '+' : ''}${pm(m.minus_debiased_step.diff, m.minus_debiased_step.stderr)} |`),
  ].join('\n');
}

/** The across-seeds section (Experiment.acrossSeeds): every seed's runs in one table, from each seed report's anisotropy.json. */
export function anisotropyAcrossSeeds(reports: readonly { seed: number; dir: string }[]): string {
  const all = reports.map((r) => ({ seed: r.seed, j: JSON.parse(readFileSync(join(r.dir, ANISOTROPY_JSON), 'utf8')) as AnisotropyJson }));
  const j0 = all[0]!.j;
  const rows = all.flatMap(({ seed, j }) => j.models.map((m) => ({ label: `seed ${seed}: ${m.name}`, m })));
  return `## Anisotropic x across seeds\n\n` +
    `The effective preconditioner A = Σ_h μʰ QKʰ[:d, :d] of every run against I, Σ⁻¹ and Γ* (rel: relative residual of the best multiple), c its best multiple of Γ*_deb (1 = the optimal debiased step), and the MSE on each seed report's ${j0.samples.toLocaleString('en-US')} prompts at L = ${j0.L} ` +
    `against R* = **${j0.risk.debiased_gamma_star.toFixed(5)}**, the closed-form risk of the debiased step at Γ*_deb (plain step at Γ*: ${j0.risk.plain_gamma_star.toFixed(5)}). Each seed's report shows the matrices and the figures.\n\n${anisotropyTable(rows)}`;
}
