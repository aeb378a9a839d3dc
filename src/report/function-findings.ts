/**
 * Findings that test the claims on the function, not on a number read from the weights (issue 26):
 *
 *   gd-gap               a paired model IS debiased one-step GD at its own eta_TF: relative MSE
 *                        sum (f_model - f_GD)^2 / sum (f_model - mean f_model)^2, f_GD with the
 *                        sum-mu * ybar term (evidence.ts), <= FUNCTION_THRESHOLDS.gdGap;
 *   two-head-equivalent  a paired model with H > 2 heads IS its equivalent two-head kernel (one head
 *                        per sign group: total mu, mu-weighted w): the same relative MSE, <= twoHeadGap;
 *   zero-sum             the OV entries of a paired model sum to about zero: |sum mu| / sum |mu| <= zeroSum.
 *   preconditioned-gd    (anisotropic prompts, rho != 0, only) each model with H >= 2 has split into a +/-
 *                        pair, its effective preconditioner sum_h mu^h QK^h x-block is within
 *                        rel <= gammaStar of a multiple of Gamma* (anisotropy.ts), and its MSE is within 3
 *                        of its standard errors of the closed-form risk of the debiased step at its
 *                        optimum Gamma*_deb. An unpaired model FAILs it (it is not preconditioned GD),
 *                        unlike the findings above. For rho runs gd-gap and two-head-equivalent are n/a
 *                        (they compare with the isotropic kernel w^h I); zero-sum still applies.
 *
 * Each needs the heads' +/- split: a model whose active heads all share one sign is n/a for it (not
 * split yet), never FAIL. Thresholds from the distribution measured on the quick seed reproduction
 * over 10 seeds (1024..1033; docs/readme/findings-across-seeds.md): paired models' GD gaps
 * 2.1e-3 .. 6.2e-3 (an unpaired one: 0.11), two-head gaps 1.4e-3 .. 5.9e-3, zero-sum 0.0002 .. 0.017
 * (unpaired: 1.0); each threshold leaves a margin of 1.6x, 1.7x and 2.9x above the largest paired value
 * and an order of magnitude below the unpaired ones.
 */
import { groupHeads, isPairedGrouping } from '../model/circuits.js';
import { assumesIsotropy, meanStderr, pairedDifference, THRESHOLDS, type Check, type Finding, type FindingsInput, type ModelEvidence } from './findings.js';

export const FUNCTION_THRESHOLDS = { gdGap: 0.01, twoHeadGap: 0.01, zeroSum: 0.05, gammaStar: 0.03, gammaStarZ: 3 } as const;

/** Whether the model's active heads have both signs of w (the +/- split). */
export function isPaired(m: ModelEvidence, threshold: number = THRESHOLDS.active): boolean {
  return isPairedGrouping(groupHeads(m.headStats.map((c) => c.w), m.headStats.map((c) => c.mu), threshold));
}

const check = (name: string, value: number, limit: number): Check => ({ name, value, threshold: `<= ${limit}`, pass: value <= limit });

/** Every function-level finding's threshold was set from icl-lab's own runs (10 seeds of the quick seed reproduction; two rho = 0.5 runs). */
function judge(id: string, claim: string, why: string, checks: Check[], unpaired: string[], needs: string): Finding {
  const na = unpaired.length ? ` Not split yet (n/a for them): ${unpaired.join(', ')}.` : '';
  if (checks.length === 0) return { id, claim, value: NaN, threshold: 'n/a', pass: false, result: 'n/a', why: `Not applicable: it needs ${needs}.${na} ${why}`, threshold_source: 'icl-lab runs', checks };
  const head = checks.find((c) => !c.pass) ?? checks[0]!;
  const pass = checks.every((c) => c.pass);
  return { id, claim, value: head.value, threshold: head.threshold, pass, result: pass ? 'pass' : 'FAIL', why: `${why}${na}`, threshold_source: 'icl-lab runs', checks };
}

export function functionFindings(input: FindingsInput): Finding[] {
  const thr = input.activeThreshold ?? THRESHOLDS.active;
  const multi = input.models.filter((m) => m.heads >= 2);
  const paired = multi.filter((m) => isPaired(m, thr));
  const unpaired = multi.filter((m) => !isPaired(m, thr)).map((m) => m.name);
  const source = 'Threshold from 10 seeds of the quick seed reproduction (src/report/function-findings.ts).';
  const fs = [
    judge('gd-gap', 'Each paired model computes debiased one-step GD at its own eta_TF (with the sum-mu * ybar term): the relative MSE between the two functions is small.',
      `Relative MSE sum (f_model - f_GD)^2 / sum (f_model - mean)^2 on the shared prompts at the training L. ${source} Paired: 2.1e-3 .. 6.2e-3; unpaired: 0.11.`,
      paired.filter((m) => m.gdGap !== undefined).map((m) => check(`${m.name}: model vs debiased GD at eta_TF`, m.gdGap!, FUNCTION_THRESHOLDS.gdGap)), unpaired, 'a model with H >= 2 whose heads have split into a +/- pair'),
    judge('two-head-equivalent', 'A paired model with more than two heads computes its equivalent two-head kernel (one head per sign group: total mu, mu-weighted w).',
      `The same relative MSE, model against that two-head kernel. ${source} Paired: 1.4e-3 .. 5.9e-3.`,
      paired.filter((m) => m.twoHeadGap !== undefined).map((m) => check(`${m.name}: model vs its two-head kernel`, m.twoHeadGap!, FUNCTION_THRESHOLDS.twoHeadGap)), unpaired.filter((n) => input.models.find((m) => m.name === n)!.heads > 2), 'a paired model with H > 2'),
    judge('zero-sum', "The OV entries of a paired model's heads sum to about zero (the paper's zero-sum statement): |sum_h mu^h| / sum_h |mu^h| is small.",
      `${source} Paired: 0.0002 .. 0.017; unpaired: 1.0.`,
      paired.filter((m) => m.zeroSum !== undefined).map((m) => check(`${m.name}: |sum mu| / sum |mu|`, m.zeroSum!, FUNCTION_THRESHOLDS.zeroSum)), unpaired, 'a model with H >= 2 whose heads have split into a +/- pair'),
  ];
  if (!input.rho) return fs;
  // anisotropic x: the GD and two-head comparisons use the isotropic kernel (scalar step, w^h I); zero-sum does not
  return [...fs.map((f) => (f.id === 'zero-sum' ? f : assumesIsotropy(f, input.rho!))), preconditionedGdFinding(input, multi.map((m) => ({ m, paired: isPaired(m, thr) })))];
}

/**
 * The MSE reference is the closed-form risk of the DEBIASED preconditioned step at its own optimum
 * Gamma*_deb = (Sigma + (tr Sigma + sigma^2/tau^2)/L I)^-1 (anisotropy.ts): a paired softmax model
 * linearises to x_q . A (1/L) sum_i y_i (x_i - xbar) (+ sum mu * ybar, ~0 when paired), as in the
 * isotropic case where debiased GD, not plain GD, is its reference. Seed convention, rho = 0.5, L = 40:
 * 0.64055 (the plain step at Gamma*: 0.62706). The x-block is compared with Gamma* (the issue's
 * rel_gamma_star; Gamma*_deb is 0.0013 from a multiple of it, so the distance does not tell them apart).
 */
function preconditionedGdFinding(input: FindingsInput, models: { m: ModelEvidence; paired: boolean }[]): Finding {
  const T = FUNCTION_THRESHOLDS;
  const ref = input.gammaStarRisk ?? NaN;
  const f4 = (x: number) => x.toFixed(4);
  const onPrompts = (m: ModelEvidence) => {
    const parts: string[] = [];
    if (input.gammaStarDebSqErr) {
      const p = pairedDifference(m.sqErr, input.gammaStarDebSqErr);
      parts.push(`the debiased step measures ${f4(meanStderr(input.gammaStarDebSqErr).mean)} on these prompts, the model ${p.diff >= 0 ? '+' : ''}${f4(p.diff)} ± ${f4(p.stderr)} (paired) from it`);
    }
    if (input.gammaStarSqErr) parts.push(`the plain Gamma* step ${f4(meanStderr(input.gammaStarSqErr).mean)}`);
    return parts.length ? `; ${parts.join(', ')}` : '';
  };
  // the headline (first check) of a paired model is its distance to Gamma*; an unpaired one has only the pairing check
  const checks: Check[] = models.flatMap(({ m, paired }) => !paired
    ? [{ name: `${m.name}: heads split into a +/- pair (1 = yes)`, value: 0, threshold: '= 1', pass: false }]
    : [
      check(`${m.name}: rel(sum_h mu^h QK^h x-block, Gamma*)`, m.relGammaStar ?? NaN, T.gammaStar),
      ((e) => check(`${m.name}: |MSE - R*| / s.e. of the model's MSE (MSE ${f4(e.mean)} ± ${f4(e.stderr)}; R* = ${f4(ref)}, the closed-form risk of the debiased step at Gamma*_deb${input.gammaStarPlainRisk !== undefined ? `, plain step at Gamma* ${f4(input.gammaStarPlainRisk)}` : ''}${onPrompts(m)})`, Math.abs(e.mean - ref) / e.stderr, T.gammaStarZ))(meanStderr(m.sqErr)),
      { name: `${m.name}: heads split into a +/- pair (1 = yes)`, value: 1, threshold: '= 1', pass: true },
    ]);
  return judge('preconditioned-gd', 'With anisotropic x (Sigma != I), each model with H >= 2 pairs its heads and computes one preconditioned GD step: its effective x-block sum_h mu^h QK^h near a multiple of Gamma* = ((1 + 1/L) Sigma + (tr Sigma + sigma^2/tau^2)/L I)^-1 (Zhang-Frei-Bartlett; Ahn et al.), its MSE within 3 s.e. of the risk of the debiased step at its optimum Gamma*_deb = (Sigma + (tr Sigma + sigma^2/tau^2)/L I)^-1.',
    `Thresholds: rel <= ${T.gammaStar} from two paired rho = 0.5, H = 2 runs of 60,000 steps (reproduce --experiment anisotropic, seeds 1 and 2: 0.019, 0.022; Sigma^-1 is 0.063-0.067 away, I 0.44; the unpaired seed 1024: 0.075); the model's MSE within ${T.gammaStarZ} of its standard errors of R*, the closed-form population risk of the debiased preconditioned step at its own optimum (the softmax kernel linearises to the debiased step; docs/THEORY.md). The paired difference on the same prompts is shown, not judged: it resolves the model's small excess over that step. An unpaired model fails: it is not preconditioned GD.`,
    checks, [], 'a model with H >= 2 on anisotropic prompts');
}
