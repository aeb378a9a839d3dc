import { describe, expect, it } from 'vitest';
import {
  integrateReducedFlow, oneStepGdRisk, olsRisk, optimalEta, optimalEtaOf, optimalMu, reducedLoss, reducedLossGrad, riskParams, tunedGdRisk,
} from '../src/analysis/theory.js';

const seed = (L: number) => riskParams({ d: 5, L, noiseStd: 0.01, preset: 'seed' });

describe('theory: one-step GD and OLS risks (docs/THEORY.md table, seed preset d=5, noise_std=0.01)', () => {
  // | L | R(1) | eta* | R(eta*) |
  const table: [number, number, number, number][] = [
    [10, 3.0003, 0.6250, 1.8751],
    [20, 1.5001, 0.7692, 1.1539],
    [40, 0.7501, 0.8696, 0.6522],
    [80, 0.3750, 0.9302, 0.3489],
    [160, 0.1875, 0.9639, 0.1807],
    [320, 0.0938, 0.9816, 0.0920],
  ];
  for (const [L, r1, eta, rEta] of table) {
    it(`L = ${L}: R(1) = ${r1}, eta* = ${eta}, R(eta*) = ${rEta}`, () => {
      const r = seed(L);
      expect(r.sigma2).toBeCloseTo(5e-4, 15);
      expect(oneStepGdRisk(1, r)).toBeCloseTo(r1, 4);
      expect(optimalEtaOf(r)).toBeCloseTo(eta, 4);
      expect(tunedGdRisk(r)).toBeCloseTo(rEta, 4);
      // R(eta*) from the closed form equals R evaluated at eta*, and eta* is the minimum
      const e = optimalEtaOf(r);
      expect(oneStepGdRisk(e, r)).toBeCloseTo(tunedGdRisk(r), 12);
      expect(oneStepGdRisk(e + 1e-3, r)).toBeGreaterThan(oneStepGdRisk(e, r));
      expect(oneStepGdRisk(e - 1e-3, r)).toBeGreaterThan(oneStepGdRisk(e, r));
    });
  }

  it('OLS risk sigma^2 d / (L - d - 1): 7.35e-5 at L = 40; infinite for L <= d + 1', () => {
    expect(olsRisk(seed(40))).toBeCloseTo(5e-4 * 5 / 34, 15);
    expect(olsRisk(seed(40))).toBeCloseTo(7.35e-5, 7);
    expect(olsRisk(seed(6))).toBe(Infinity);
  });

  it('paper preset: prior 1/d, query noise; eta* = L / (L + d + 1 + d sigma^2)', () => {
    const r = riskParams({ d: 5, L: 40, noiseStd: 0.1, preset: 'paper' });
    expect(optimalEtaOf(r)).toBeCloseTo(40 / (46 + 5 * 0.01), 14);
    expect(tunedGdRisk(r)).toBeCloseTo((1 - optimalEtaOf(r)) + 0.01, 14);
    expect(optimalEta(40, 5, 0.01, 0.2)).toBeCloseTo(optimalEtaOf(r), 15);
  });
});

describe('theory: the authors reduced loss L(mu, w)', () => {
  const p = { d: 5, L: 40, sigma2: 0.1 };

  it('gives 0.221 at their 2-head values (w = ±0.13, mu = ±3.45, L = 40, sigma^2 = 0.1)', () => {
    expect(reducedLoss([3.45, -3.45], [0.13, -0.13], p)).toBeCloseTo(0.2214, 4);
  });

  it('gradient matches central finite differences', () => {
    const mu = [1.3, -0.7, 2.1], w = [0.2, -0.15, 0.05];
    const { gMu, gW } = reducedLossGrad(mu, w, p);
    const h = 1e-6;
    for (let k = 0; k < 3; k++) {
      const mp = [...mu], mm = [...mu]; mp[k]! += h; mm[k]! -= h;
      expect(gMu[k]).toBeCloseTo((reducedLoss(mp, w, p) - reducedLoss(mm, w, p)) / (2 * h), 7);
      const wp = [...w], wm = [...w]; wp[k]! += h; wm[k]! -= h;
      expect(gW[k]).toBeCloseTo((reducedLoss(mu, wp, p) - reducedLoss(mu, wm, p)) / (2 * h), 7);
    }
  });

  it('mu*(w) zeroes the mu-gradient and beats nearby mu', () => {
    const w = [0.13, -0.13];
    const mu = optimalMu(w, p);
    const { gMu } = reducedLossGrad(mu, w, p);
    expect(Math.max(...gMu.map(Math.abs))).toBeLessThan(1e-10);
    const l0 = reducedLoss(mu, w, p);
    expect(reducedLoss([mu[0]! + 0.01, mu[1]!], w, p)).toBeGreaterThan(l0);
    // symmetric w gives antisymmetric mu
    expect(mu[0]).toBeCloseTo(-mu[1]!, 10);
  });

  it('RK4 gradient flow: loss decreases monotonically, step halving agrees to 1e-8, then drifts along the valley with eta = mu.w fixed', () => {
    const base = { ...p, mu0: [0.5, -0.4], w0: [0.3, -0.25] };
    const a = integrateReducedFlow({ ...base, dt: 0.01, steps: 4000, recordEvery: 100 });
    const b = integrateReducedFlow({ ...base, dt: 0.005, steps: 8000, recordEvery: 200 });
    expect(a.t.length).toBe(41);
    expect(a.t[40]).toBeCloseTo(40, 12);
    for (let i = 1; i < a.loss.length; i++) expect(a.loss[i]!).toBeLessThanOrEqual(a.loss[i - 1]! + 1e-15);
    for (let i = 0; i < a.mu.length; i++) {
      expect(Math.abs(a.mu[i]! - b.mu[i]!)).toBeLessThan(1e-8);
      expect(Math.abs(a.w[i]! - b.w[i]!)).toBeLessThan(1e-8);
    }
    // Run long: mu relaxes onto mu*(w) fast, then the flow drifts slowly along a flat valley
    // (w shrinks, mu grows, eta = mu.w stays put), as trained models do (docs/REFERENCE_RUNS.md).
    const c = integrateReducedFlow({ ...base, dt: 0.02, steps: 100000, recordEvery: 25000 });
    const H = 2;
    const at = (r: number) => ({ mu: c.mu.subarray(r * H, r * H + H), w: c.w.subarray(r * H, r * H + H) });
    const eta = (r: number) => { const s = at(r); return s.mu[0]! * s.w[0]! + s.mu[1]! * s.w[1]!; };
    for (let r = 1; r < c.t.length; r++) {
      const s = at(r);
      const ms = optimalMu(s.w, p);
      expect(Math.abs(s.mu[0]! / ms[0]! - 1)).toBeLessThan(3e-3);
      expect(s.mu[0]).toBeCloseTo(-s.mu[1]!, 8); // antisymmetric pair stays antisymmetric
      if (r > 1) {
        expect(s.w[0]!).toBeLessThan(at(r - 1).w[0]!);
        expect(s.mu[0]!).toBeGreaterThan(at(r - 1).mu[0]!);
        expect(Math.abs(eta(r) - eta(r - 1))).toBeLessThan(2e-3);
      }
    }
    expect(eta(4)).toBeCloseTo(0.878, 2);
    expect(c.loss[4]!).toBeLessThan(0.2212);
  });
});

describe('debiased one-step GD at its own optimum (issue 26)', () => {
  it('L/(L + d + sigma^2/tau^2) minimises its closed-form risk; at it the risk is 0.66671 (seed, L = 40) and 0.24286 (paper, L = 40)', async () => {
    const { debiasedGdRisk, optimalDebiasedEta, riskParams, tunedDebiasedGdRisk } = await import('../src/analysis/theory.js');
    const seed = riskParams({ d: 5, L: 40, noiseStd: 0.01, preset: 'seed' });
    const paper = riskParams({ d: 5, L: 40, noiseStd: Math.sqrt(0.1), preset: 'paper' });
    expect(tunedDebiasedGdRisk(seed)).toBeCloseTo(0.66671, 5);
    expect(tunedDebiasedGdRisk(paper)).toBeCloseTo(0.24286, 5);
    expect(optimalDebiasedEta(40, 5, paper.sigma2, paper.priorVar)).toBeCloseTo(0.879121, 6);
    for (const r of [seed, paper]) {
      const e = optimalDebiasedEta(r.L, r.d, r.sigma2, r.priorVar);
      expect(debiasedGdRisk(e, r)).toBeCloseTo(tunedDebiasedGdRisk(r), 12);
      expect(debiasedGdRisk(e * 1.01, r)).toBeGreaterThan(debiasedGdRisk(e, r));
      expect(debiasedGdRisk(e * 0.99, r)).toBeGreaterThan(debiasedGdRisk(e, r));
    }
  });

  it('evaluate\'s debiased-gd uses that step (recorded per L as eta) and is within 3 s.e. of the closed form, both conventions', async () => {
    const { estimatorMethods } = await import('../src/analysis/methods.js');
    const { evaluateErrors } = await import('../src/analysis/evaluate.js');
    const { Rng } = await import('../src/data/rng.js');
    const { optimalDebiasedEta, riskParams, tunedDebiasedGdRisk } = await import('../src/analysis/theory.js');
    for (const spec of [{ d: 5, noiseStd: 0.01, preset: 'seed' as const }, { d: 5, noiseStd: Math.sqrt(0.1), preset: 'paper' as const }]) {
      const ev = evaluateErrors(estimatorMethods(spec), spec, [10, 40], 20_000, new Rng(6));
      const r = riskParams({ ...spec, L: 40 });
      const m = ev.methods['debiased-gd']!;
      expect(m.eta).toEqual([10, 40].map((L) => optimalDebiasedEta(L, 5, r.sigma2, r.priorVar)));
      expect(Math.abs(m.mse[1]! - tunedDebiasedGdRisk(r)), `${spec.preset}: ${m.mse[1]} ± ${m.stderr[1]}`).toBeLessThan(3 * m.stderr[1]!);
      expect(ev.methods['one-step-gd']!.eta).toEqual([1, 1]);
      expect(ev.methods['ridge']!.eta).toBeUndefined();
    }
  });
});
