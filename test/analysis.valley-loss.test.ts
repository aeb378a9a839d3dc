/**
 * The exact population loss along the ± valley (src/analysis/valley-loss.ts): the per-prompt loss with
 * beta and the noise integrated out against sampling them, the fast loop against the written-out one,
 * the ω → 0 limit against debiased GD's closed form, common prompts against independent ones, and the
 * issue's number (issue 26 item 4).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/data/rng.js';
import { promptLoss, reducedParams, valleyLimitEta, valleyLoss, valleyMuStar } from '../src/analysis/valley-loss.js';
import { debiasedGdRisk, reducedLoss, riskParams, tunedDebiasedGdRisk } from '../src/analysis/theory.js';

const paper = riskParams({ d: 5, L: 40, noiseStd: Math.sqrt(0.1), preset: 'paper' });
const seed = riskParams({ d: 5, L: 40, noiseStd: 0.01, preset: 'seed' });

describe('promptLoss: one prompt, beta and noise integrated out', () => {
  it('equals the mean squared error over sampled beta, context and query noise for a fixed input', () => {
    const { d, L } = paper;
    const rng = new Rng(3);
    const x = new Float64Array(L * d), xq = new Float64Array(d);
    rng.fillNormal(x);
    rng.fillNormal(xq);
    const omega = 0.13, m = valleyMuStar(omega, reducedParams(paper));
    const exact = promptLoss(x, xq, omega, m, paper);
    // the model m sum_i y_i (softmax_i(w s) - softmax_i(-w s)) on sampled y
    const s = Array.from({ length: L }, (_, i) => { let t = 0; for (let k = 0; k < d; k++) t += x[i * d + k]! * xq[k]!; return t; });
    const soft = (w: number) => { const e = s.map((v) => Math.exp(w * v)); const z = e.reduce((a, b) => a + b, 0); return e.map((v) => v / z); };
    const p = soft(omega), q = soft(-omega);
    const n = 100_000;
    const beta = new Float64Array(d), eps = new Float64Array(L + 1);
    let sum = 0, sum2 = 0;
    for (let t = 0; t < n; t++) {
      rng.fillNormal(beta);
      rng.fillNormal(eps);
      let pred = 0;
      for (let i = 0; i < L; i++) {
        let y = 0;
        for (let k = 0; k < d; k++) y += beta[k]! * Math.sqrt(paper.priorVar!) * x[i * d + k]!;
        y += Math.sqrt(paper.sigma2) * eps[i]!;
        pred += m * (p[i]! - q[i]!) * y;
      }
      let yq = Math.sqrt(paper.queryNoiseVar!) * eps[L]!;
      for (let k = 0; k < d; k++) yq += beta[k]! * Math.sqrt(paper.priorVar!) * xq[k]!;
      const e2 = (pred - yq) ** 2;
      sum += e2;
      sum2 += e2 * e2;
    }
    const mean = sum / n, se = Math.sqrt((sum2 / n - mean * mean) / n);
    expect(Math.abs(mean - exact)).toBeLessThan(3 * se);
    expect(se).toBeLessThan(0.01 * exact); // a real comparison, not a wide one
  });

  it("valleyLoss's loop gives promptLoss's values on the same inputs (prompts drawn x then x_q from Rng(seed))", () => {
    const { d, L } = paper;
    const omegas = [0.05, 0.13];
    const v = valleyLoss({ ...paper, omegas, prompts: 3, seed: 9 });
    const rng = new Rng(9);
    const x = new Float64Array(L * d), xq = new Float64Array(d);
    const at = omegas.map(() => 0);
    let lim = 0;
    for (let p = 0; p < 3; p++) {
      rng.fillNormal(x);
      rng.fillNormal(xq);
      omegas.forEach((w, j) => { at[j]! += promptLoss(x, xq, w, valleyMuStar(w, reducedParams(paper)), paper) / 3; });
      lim += promptLoss(x, xq, 0, v.limit.eta0, paper) / 3;
    }
    expect(v.limit.exact).toBeCloseTo(lim, 12);
    omegas.forEach((_, j) => expect(v.points[j]!.exact).toBeCloseTo(at[j]!, 12));
  });
});

describe('valleyLoss', () => {
  const v = valleyLoss({ ...paper, omegas: [0.001, 0.13], prompts: 20_000, seed: 1 });

  it('its omega -> 0 limit is debiased one-step GD at eta0 = lim 2 mu*(w) w: within 3 s.e. of the closed form 0.24286 (paper, L = 40)', () => {
    expect(v.limit.eta0).toBeCloseTo(40 / 45.5, 12);
    expect(2 * valleyMuStar(1e-4, reducedParams(paper)) * 1e-4).toBeCloseTo(v.limit.eta0, 7);
    expect(v.limit.closedForm).toBeCloseTo(debiasedGdRisk(v.limit.eta0, paper), 12);
    // in the paper convention eta0 is also debiased GD's own optimum, so the limit is its tuned risk
    expect(v.limit.closedForm).toBeCloseTo(tunedDebiasedGdRisk(paper), 12);
    expect(v.limit.closedForm).toBeCloseTo(0.24286, 5);
    expect(Math.abs(v.limit.exact - v.limit.closedForm)).toBeLessThan(3 * v.limit.exactSe);
    expect(v.limit.exactSe).toBeLessThan(0.001);
    // the exact loss's own best step on these prompts is near it
    expect(Math.abs(v.limit.etaExact - v.limit.eta0)).toBeLessThan(0.01);
    // and a small omega is continuous with the limit
    expect(Math.abs(v.points[0]!.exactRise)).toBeLessThan(1e-7);
  });

  it('in the seed convention too (beta ~ N(0, I), no query noise): the limit within 3 s.e. of debiasedGdRisk(eta0)', () => {
    const s = valleyLoss({ ...seed, omegas: [0.13], prompts: 5_000, seed: 2 });
    expect(s.limit.eta0).toBeCloseTo(40 / (40 + 5 * (1 + 0.0001)), 12);
    expect(Math.abs(s.limit.exact - debiasedGdRisk(s.limit.eta0, seed))).toBeLessThan(3 * s.limit.exactSe);
    // the reduced loss put in the data's units: d times the paper's shape (its rise scales with tau^2 d = 5)
    const rp = reducedParams(seed);
    const m = valleyMuStar(0.13, rp);
    expect(s.points[0]!.reducedRise).toBeCloseTo(5 * (reducedLoss([m, -m], [0.13, -0.13], rp) - (1 + rp.sigma2 - valleyLimitEta(rp))), 12);
  });

  it('common prompts: the rise has a paired s.e. over 10 times smaller than two independent estimates would', () => {
    const p = v.points[1]!;
    expect(p.exactRiseSe).toBeGreaterThan(0);
    expect(p.exactRiseSeIndependent / p.exactRiseSe).toBeGreaterThan(10);
    expect(p.exactRise).toBeCloseTo(p.exact - v.limit.exact, 12);
  });

  it('the reduced loss at the same points is theory.ts reducedLoss at (±omega, ±mu*(omega)); it rises from omega -> 0', () => {
    const p = v.points[1]!;
    expect(p.muStar).toBeCloseTo(3.3807, 4);
    expect(p.reduced).toBeCloseTo(reducedLoss([p.muStar, -p.muStar], [0.13, -0.13], paper), 12);
    expect(v.limit.reduced).toBeCloseTo(1.1 - 40 / 45.5, 12);
    expect(p.reducedRise).toBeCloseTo(1.265e-4, 7);
    expect(v.argmin.reduced).toBe(0);
  });

  it("the issue's number: in the paper convention the exact loss rises from omega -> 0 to 0.13, consistent with 1.9e-4 ± 0.35e-4", () => {
    const big = valleyLoss({ ...paper, omegas: [0.13], prompts: 200_000, seed: 2 });
    const p = big.points[0]!;
    expect(p.exactRise).toBeGreaterThan(3 * p.exactRiseSe);
    expect(Math.abs(p.exactRise - 1.9e-4)).toBeLessThan(3 * Math.hypot(p.exactRiseSe, 0.35e-4));
    expect(p.exactRiseSe).toBeLessThan(3e-5);
  }, 60_000);

  it('refuses fewer than two prompts and an omega <= 0', () => {
    expect(() => valleyLoss({ ...paper, omegas: [0.1], prompts: 1, seed: 1 })).toThrow(/prompts must be an integer >= 2/);
    expect(() => valleyLoss({ ...paper, omegas: [0], prompts: 10, seed: 1 })).toThrow(/omega must be a finite number > 0/);
  });
});
