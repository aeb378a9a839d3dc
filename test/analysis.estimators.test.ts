import { describe, expect, it } from 'vitest';
import {
  bayesRidgeLambda, debiasedGd, gradientStepEstimator, kernelEstimator, ols, oneStepGd, ridge, transformerEstimator, tunedGd,
} from '../src/analysis/estimators.js';
import { layerCircuits } from '../src/model/circuits.js';
import { optimalEta } from '../src/analysis/theory.js';
import { allocBatch } from '../src/data/batch.js';
import { forward } from '../src/engine/ts/attention.js';
import { initParams } from '../src/model/init.js';
import { Rng } from '../src/data/rng.js';
import { sampleBatch } from '../src/data/task.js';
import { expectClose, fixtureBatch, fixtureParams, flat, fx, mse } from './estimators-fixture.helpers.js';

const B = fx.B;
/** Deterministic pseudo-random values in [-1, 1) (full-rank designs, unlike sin of a linear phase). */
const noise = (k: number) => { const s = Math.sin(k * 12.9898 + 78.233) * 43758.5453; return 2 * (s - Math.floor(s)) - 1; };
const yq = flat(fx.inputs.y_q);

describe('estimators on test/fixtures/estimators.json (PyTorch float64)', () => {
  const batch = fixtureBatch();

  it('one-step GD (eta = 1, the seed gradient_step_estimator) to 1e-10, and its MSE', () => {
    const out = gradientStepEstimator(batch, new Float64Array(B));
    expectClose(out, flat(fx.one_step_gd_output), 1e-10, 'one_step_gd_output');
    expect(mse(out, yq)).toBeCloseTo(fx.mse_vs_y_q.one_step_gd, 10);
    const half = oneStepGd(batch, 0.5, new Float64Array(B));
    expectClose(half, out.map((v) => v / 2), 1e-14, 'eta = 0.5');
  });

  it('kernel estimator for the given (w, mu) to 1e-10, and its MSE', () => {
    const { w_h, mu_h } = fx.kernel_estimator_params;
    const out = kernelEstimator(batch, w_h, mu_h, new Float64Array(B));
    expectClose(out, flat(fx.kernel_estimator_output), 1e-10, 'kernel_estimator_output');
    expect(mse(out, yq)).toBeCloseTo(fx.mse_vs_y_q.kernel_estimator, 10);
  });

  for (const name of ['random', 'structured'] as const) {
    const set = fx.weight_sets[name];
    it(`${name}: transformer output and the kernel estimator from its statistics to 1e-10`, () => {
      const p = fixtureParams(set);
      const tf = transformerEstimator(p, batch, new Float64Array(B));
      expectClose(tf, flat(set.transformer_output), 1e-10, `${name} transformer_output`);
      expect(mse(tf, yq)).toBeCloseTo(set.mse_vs_y_q.transformer, 10);
      const heads = layerCircuits(p);
      const k = kernelEstimator(batch, heads.map((c) => c.w), heads.map((c) => c.mu), new Float64Array(B));
      expectClose(k, flat(set.kernel_estimator_output_from_statistics), 1e-10, `${name} kernel_from_statistics`);
      expect(mse(k, yq)).toBeCloseTo(set.mse_vs_y_q.kernel_estimator_from_statistics, 10);
    });
  }

  it('transformerEstimator equals attention.ts forward (H = 1..4, L = 1..97, large weights)', () => {
    const rng = new Rng(42);
    for (const [H, d, L, gain] of [[1, 5, 1, 1], [2, 5, 40, 1], [3, 3, 7, 4], [4, 2, 97, 10]] as const) {
      const p = initParams(d, H, 'random', rng);
      for (let i = 0; i < p.theta.length; i++) p.theta[i] *= gain; // sharp softmax: the running max matters
      const bt = sampleBatch({ d, L, batchSize: 9, noiseStd: 0.1, preset: 'seed' }, rng);
      const ref = new Float64Array(9);
      forward(p, bt, ref);
      expectClose(transformerEstimator(p, bt, new Float64Array(9)), ref, 1e-12, `H=${H} L=${L} gain=${gain}`);
    }
  });

  it('kernel estimator is stable for large |w| (no overflow) and equals mu * mean(y) at w = 0', () => {
    const big = kernelEstimator(batch, [800, -800], [1, 1], new Float64Array(B));
    for (const v of big) expect(Number.isFinite(v)).toBe(true);
    const zero = kernelEstimator(batch, [0], [2], new Float64Array(B));
    const { L, E, d, z } = batch;
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let i = 0; i < L; i++) s += z[(b * L + i) * E + d]!;
      expect(zero[b]).toBeCloseTo((2 * s) / L, 12);
    }
  });

  it('debiased GD is the small-w limit of the kernel estimator: mu = ±M/2 w = ±eps gives eta = M eps', () => {
    const eps = 1e-4, M = 2 * 0.9 / (2 * eps); // eta = mu1 w1 + mu2 w2 = 2 * (M/2) * eps ... = 0.9
    const eta = (M / 2) * eps * 2;
    const k = kernelEstimator(batch, [eps, -eps], [M / 2, -M / 2], new Float64Array(B));
    const lin = debiasedGd(batch, eta, new Float64Array(B));
    expectClose(k, lin, 1e-6, 'kernel vs linearised'); // error O(M eps^2 s^2) ~ 1e-5 relative
    // and it is NOT plain one-step GD (the centring matters)
    const gd = oneStepGd(batch, eta, new Float64Array(B));
    expect(Math.max(...k.map((v, i) => Math.abs(v - gd[i]!)))).toBeGreaterThan(1e-3);
  });

  it('tuned GD uses eta* = L/(L+d+1+sigma^2/tau^2)', () => {
    const sigma2 = 5e-4;
    const out = tunedGd(batch, sigma2, 1, new Float64Array(B));
    const eta = optimalEta(fx.L, fx.d, sigma2);
    expect(eta).toBeCloseTo(40 / 46.0005, 14);
    expectClose(out, oneStepGd(batch, eta, new Float64Array(B)), 1e-14, 'tuned');
    expect(optimalEta(40, 5, 5e-4, 1 / 5)).toBeCloseTo(40 / (46 + 25e-4), 14);
    expect(bayesRidgeLambda(1e-4, 1 / 5)).toBeCloseTo(5e-4, 16);
  });

  it('ridge / OLS solve the normal equations (exact recovery, shrinkage to 0)', () => {
    // A prompt with a known exact linear relation: OLS recovers beta exactly.
    const d = 3, L = 7;
    const bt = allocBatch(2, L, d);
    const beta = [0.5, -1.25, 2];
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < L; i++) {
        let y = 0;
        for (let c = 0; c < d; c++) {
          const x = noise(1 + 3 * i + 7 * c + 11 * b) * 2;
          bt.z[(b * L + i) * (d + 1) + c] = x;
          y += beta[c]! * x;
        }
        bt.z[(b * L + i) * (d + 1) + d] = y;
      }
      bt.zq.set([1, 2, -1, 0], b * (d + 1));
    }
    const o = ols(bt, new Float64Array(2));
    expectClose(o, [0.5 - 2.5 - 2, 0.5 - 2.5 - 2], 1e-12, 'ols exact');
    // ridge shrinks toward 0, and lambda -> infinity gives 0
    const r = ridge(bt, 1e12, new Float64Array(2));
    expect(Math.abs(r[0]!)).toBeLessThan(1e-9);
  });

  it('ridge on the fixture batch: matches a direct solve, lies between OLS and 0 shrinkage', () => {
    const lam = 0.7;
    const out = ridge(batch, lam, new Float64Array(B));
    const { L, d, E, z, zq } = batch;
    for (let b = 0; b < B; b++) {
      // Gauss-Jordan on (X^T X + lam I | X^T y), written independently of the Cholesky path.
      const M = Array.from({ length: d }, () => new Array<number>(d + 1).fill(0));
      for (let i = 0; i < L; i++) {
        const row = (b * L + i) * E;
        for (let a = 0; a < d; a++) {
          for (let c = 0; c < d; c++) M[a]![c]! += z[row + a]! * z[row + c]!;
          M[a]![d]! += z[row + a]! * z[row + d]!;
        }
      }
      for (let a = 0; a < d; a++) M[a]![a]! += lam;
      for (let col = 0; col < d; col++) {
        const pv = M[col]![col]!;
        for (let c = 0; c <= d; c++) M[col]![c]! /= pv;
        for (let r = 0; r < d; r++) if (r !== col) { const f = M[r]![col]!; for (let c = 0; c <= d; c++) M[r]![c]! -= f * M[col]![c]!; }
      }
      let pred = 0;
      for (let a = 0; a < d; a++) pred += zq[b * E + a]! * M[a]![d]!;
      expect(out[b]).toBeCloseTo(pred, 10);
    }
  });

  it('OLS is NaN for L <= d (documented), finite for L > d', () => {
    const bt = allocBatch(3, 5, 5);
    for (let i = 0; i < bt.z.length; i++) bt.z[i] = noise(i);
    expect([...ols(bt, new Float64Array(3))].every(Number.isNaN)).toBe(true);
    const bt2 = allocBatch(3, 6, 5);
    for (let i = 0; i < bt2.z.length; i++) bt2.z[i] = noise(i);
    expect([...ols(bt2, new Float64Array(3))].every(Number.isFinite)).toBe(true);
  });

  it('rejects a wrong out length with the shapes in the message', () => {
    expect(() => oneStepGd(batch, 1, new Float64Array(3))).toThrow(/expected B = 6/);
    expect(() => kernelEstimator(batch, [1, 2], [1], new Float64Array(B))).toThrow(/2 heads but mu has 1/);
  });
});
