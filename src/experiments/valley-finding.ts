/**
 * Finding `reduced-loss-valley` (the paper report's sixth finding; it replaced `reduced-loss-optimum`,
 * whose mu ≈ mu*(w) check restated one-step-gd's eta_TF check, issue 26 item 4): along the ± valley
 * through each paired model's w, does the authors' reduced loss have the exact population loss's shape?
 *
 * For each model with an active head of each sign of w: omega = (w+ − w−)/2, w± the mu-weighted w of
 * the sign groups (model/circuits.ts `groupHeads`; the heads themselves for H = 2). On the valley
 * w = (ω, −ω), mu = ±mu*(ω) (analysis/valley-loss.ts), with common prompts for every ω:
 *
 *   1. the ratio of rises ΔL̃ / ΔL within 1 ± (VALLEY_RATIO_TOLERANCE + 3 s.e. of the ratio), ΔL̃ and ΔL
 *      the reduced and the exact loss at the model's omega minus their ω → 0 limits: the reduced loss's
 *      rise tracks the exact one (below ω ≈ 0.12 the exact rise is near zero, it crosses zero near
 *      0.105, and the ratio means nothing: check 2 fails there);
 *   2. ΔL / se(ΔL) >= 3 (paired standard error): the exact loss is higher at the trained omega than at
 *      ω → 0, so the trained omega is not its minimum. With 2, check 1 also says ΔL̃ > 0 (a ratio <= 0
 *      is outside 1 ± (0.5 + 3 |ratio| se/ΔL) once se/ΔL <= 1/3), so the reduced loss's neither.
 */
import { groupHeads } from '../model/circuits.js';
import type { AttentionParams } from '../model/params.js';
import { layerCircuits } from '../model/circuits.js';
import type { ValleyLoss, ValleyPoint } from '../analysis/valley-loss.js';
import type { Check, Finding } from '../report/findings.js';

/**
 * Largest |ΔL̃ / ΔL − 1| (before the 3 s.e. allowance) that reads as "tracks": measured on 1,000,000
 * prompts, the reduced loss's rise is 8 % off at ω = 0.13, 14 % at 0.14, 25 % at 0.15, 42 % at 0.2,
 * 36 % at 0.3 and 6 % at 1/sqrt(d) (docs/readme/paper.md), so 0.5 holds on the whole valley from where
 * the exact rise is resolved to the single-head point, and a reduced loss flat or rising twice as fast fails.
 */
export const VALLEY_RATIO_TOLERANCE = 0.5;
/** The exact rise must be this many paired standard errors above zero. */
export const VALLEY_RISE_Z = 3;

/** The valley's omega of a model: (w+ − w−)/2 over its sign groups of w; undefined without an active head of each sign. */
export function valleyOmega(p: AttentionParams, activeThreshold?: number): number | undefined {
  const heads = layerCircuits(p);
  const g = groupHeads(heads.map((c) => c.w), heads.map((c) => c.mu), activeThreshold);
  const pos = g.active.some((h) => heads[h]!.w > 0), neg = g.active.some((h) => heads[h]!.w < 0);
  if (!pos || !neg) return undefined;
  const wp = g.signGroups.find((s) => s.sign === 1)!.w, wm = g.signGroups.find((s) => s.sign === -1)!.w;
  const omega = (wp - wm) / 2;
  return Number.isFinite(omega) && omega > 0 ? omega : undefined;
}

/** One paired model on the valley. */
export interface ValleyRow {
  name: string;
  heads: number;
  omega: number;
  point: ValleyPoint;
}

/** The rows of the models whose omega is in `valley.points` (valleyOmega defined). */
export function valleyRows(models: readonly { name: string; params: AttentionParams }[], valley: ValleyLoss): ValleyRow[] {
  const rows: ValleyRow[] = [];
  for (const m of models) {
    const omega = valleyOmega(m.params);
    if (omega === undefined) continue;
    const point = valley.points.find((p) => p.omega === omega);
    if (point) rows.push({ name: m.name, heads: m.params.H, omega, point });
  }
  return rows;
}

const e = (x: number) => x.toExponential(2);

export function valleyFinding(rows: readonly ValleyRow[], valley: Pick<ValleyLoss, 'prompts'>): Finding {
  const checks: Check[] = [];
  for (const r of rows) {
    const p = r.point;
    const at = `ω = ${r.omega.toFixed(4)}, mu = ±${p.muStar.toFixed(3)}`;
    const ratio = p.reducedRise / p.exactRise;
    const band = VALLEY_RATIO_TOLERANCE + 3 * Math.abs(ratio) * (p.exactRiseSe / Math.abs(p.exactRise));
    checks.push({ name: `${r.name}: reduced rise / exact rise from ω → 0 to ${at} (reduced ${e(p.reducedRise)}, exact ${e(p.exactRise)} ± ${e(p.exactRiseSe)}; band 1 ± (${VALLEY_RATIO_TOLERANCE} + 3 s.e.))`, value: ratio, threshold: `within 1 ± ${band.toFixed(2)}`, pass: Number.isFinite(ratio) && Math.abs(ratio - 1) <= band });
    const z = p.exactRise / p.exactRiseSe;
    checks.push({ name: `${r.name}: exact rise / its paired s.e. (${valley.prompts.toLocaleString('en-US')} shared prompts; independent prompts would give s.e. ${e(p.exactRiseSeIndependent)})`, value: z, threshold: `>= ${VALLEY_RISE_Z}`, pass: z >= VALLEY_RISE_Z });
  }
  const claim = "Along the ± valley (w = ±ω, mu = ±mu*(ω)) the authors' reduced loss tracks the exact population loss from ω → 0 to each paired model's ω: both are higher there than at ω → 0, the reduced loss's rise within 50 % of the exact one (plus 3 standard errors), so the trained ω is the optimiser's, not a minimum of either loss.";
  const why =
    `The exact loss is computed with beta and the noise integrated out and Monte Carlo over the inputs only, on the same ${valley.prompts.toLocaleString('en-US')} prompts for every ω (src/analysis/valley-loss.ts); its ω → 0 limit is debiased one-step GD, whose closed form it matches. ` +
    `Measured on 1,000,000 prompts (paper convention, L = 40, two prompt seeds): at ω = 0.13 the exact loss is 1.18e-4 / 1.37e-4 (± 0.13e-4) above its ω → 0 limit and the reduced loss 1.27e-4; the reduced loss's rise is 8 % off the exact one at ω = 0.13, 14 % at 0.14, 25 % at 0.15, 42 % at 0.2, 36 % at 0.3 and 6 % at the single-head point 1/sqrt(d), so a ${VALLEY_RATIO_TOLERANCE * 100} % band (widened by 3 standard errors of the ratio) holds on the whole valley past ω ≈ 0.12; a reduced loss flat, falling or rising twice as fast fails. ` +
    `The reduced loss misses one feature: the exact loss first dips (by 3.9e-5 ± 0.4e-5, lowest at ω ≈ 0.07-0.08) and crosses its ω → 0 value near ω ≈ 0.105 before it rises; the reduced loss rises from ω → 0. Neither minimum is at a trained ω ~ 0.13, and the exact rise needs ω above ~0.12 to be 3 s.e. above zero at 500,000 prompts (the quick report's). ` +
    `This tests the reduced loss against the loss itself, which one-step-gd (eta_TF = 2 mu w near L/(L + d)) does not: mu ≈ mu*(w), the check this finding replaced, is that same eta_TF check for small w, since 2 mu*(w) w → L/(L + d (1 + sigma^2)).`;
  if (checks.length === 0) {
    return { id: 'reduced-loss-valley', claim, value: NaN, threshold: 'n/a', pass: false, result: 'n/a', why: `Not applicable: it needs a model with an active head of each sign of w (a ± pair), and none was given. ${why}`, threshold_source: 'icl-lab runs', checks };
  }
  const head = checks.find((c) => !c.pass) ?? checks[0]!;
  const pass = checks.every((c) => c.pass);
  return { id: 'reduced-loss-valley', claim, value: head.value, threshold: head.threshold, pass, result: pass ? 'pass' : 'FAIL', why, threshold_source: 'icl-lab runs', checks };
}
