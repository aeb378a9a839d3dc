import { describe, expect, it } from 'vitest';
import { linearForward, linearLossAndGrad, LINEAR_NORMS, type LinearNorm } from '../src/engine/ts/linear-attention.js';
import { Rng } from '../src/data/rng.js';
import { batchFromFixture, flat, loadFixture, paramsFromFixture, randomBatch, randomParams, relErr, thetaFromFixture } from './fixtures.helpers.js';

const FIXTURES = ['linear_attention_H1_fwd_bwd.json', 'linear_attention_H2_fwd_bwd.json'];

describe.each(FIXTURES)('fixture %s', (file) => {
  const fx = loadFixture(file);
  const { d, H, L, B } = fx;
  const p = paramsFromFixture(fx.weights, d, H);
  const batch = batchFromFixture(fx.inputs, B, L, d);
  it.each(LINEAR_NORMS)('%s: output, attention weights, loss (<=1e-10) and grads (<=1e-9) match PyTorch', (norm) => {
    const ex = fx.expected[norm];
    const expOut = flat(ex.output), expGrad = thetaFromFixture(ex.grads);
    const out = new Float64Array(B), attn = new Float64Array(B * H * L);
    linearForward(p, batch, norm, out, attn);
    expect(relErr(out, expOut)).toBeLessThan(1e-10);
    expect(relErr(attn, flat(ex.attn_weights))).toBeLessThan(1e-10);
    const grad = new Float64Array(p.theta.length).fill(123);
    const out2 = new Float64Array(B);
    const loss = linearLossAndGrad(p, batch, norm, grad, out2);
    expect(Math.abs(loss - ex.loss) / ex.loss).toBeLessThan(1e-10);
    expect(relErr(out2, expOut)).toBeLessThan(1e-10);
    const w = p.q.length;
    const parts: [number, number][] = [[0, w], [w, 2 * w], [2 * w, 3 * w], [3 * w, grad.length]];
    for (const [s, e] of parts) expect(relErr(grad.subarray(s, e), expGrad.subarray(s, e))).toBeLessThan(1e-9);
  });
});

describe('the GD construction (fixture gd_construction)', () => {
  const fx = loadFixture('linear_attention_H1_fwd_bwd.json');
  const g = fx.gd_construction;
  const { d, L, B } = fx;
  it("'linear' with QK x-block w I and OV y-entry mu outputs one-step GD with eta = w mu (<= 1e-12)", () => {
    expect(g.w * g.mu).toBeCloseTo(g.eta, 14);
    const p = paramsFromFixture(g.weights, d, 1);
    const batch = batchFromFixture(g.inputs, B, L, d);
    const out = new Float64Array(B);
    linearForward(p, batch, 'linear', out);
    expect(relErr(out, flat(g.one_step_gd_output))).toBeLessThan(1e-12);
    expect(relErr(out, flat(g.output))).toBeLessThan(1e-12);
    // one-step GD by hand: (eta / L) sum_i y_i <x_i, x_q>
    const E = d + 1;
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let i = 0; i < L; i++) {
        const t = (b * L + i) * E;
        let xx = 0;
        for (let e = 0; e < d; e++) xx += batch.z[t + e]! * batch.zq[b * E + e]!;
        s += batch.z[t + d]! * xx;
      }
      expect(Math.abs(out[b]! - (g.eta / L) * s)).toBeLessThan(1e-12 * Math.max(1, Math.abs(out[b]!)));
    }
  });
});

describe('central finite differences on odd shapes', () => {
  // [d, L, H, B]
  const cases: [number, number, number, number][] = [[1, 1, 1, 1], [3, 6, 1, 4], [2, 5, 3, 3], [4, 7, 2, 5], [2, 3, 8, 2], [6, 11, 1, 3]];
  it.each(LINEAR_NORMS.flatMap((n) => cases.map((c) => [n, ...c] as [LinearNorm, number, number, number, number])))('%s d=%i L=%i H=%i B=%i', (norm, d, L, H, B) => {
    const rng = new Rng(97 * d + 13 * L + 5 * H + B);
    const p = randomParams(d, H, rng, 0.7);
    const batch = randomBatch(B, L, d, rng);
    const g = new Float64Array(p.theta.length), scratch = new Float64Array(p.theta.length);
    const loss = linearLossAndGrad(p, batch, norm, g);
    const out = new Float64Array(B);
    linearForward(p, batch, norm, out);
    let sse = 0;
    for (let b = 0; b < B; b++) sse += (out[b]! - batch.yq[b]!) ** 2;
    expect(Math.abs(loss - sse / B) / loss).toBeLessThan(1e-13);
    const eps = 1e-5;
    let maxErr = 0, scale = 0;
    for (let j = 0; j < p.theta.length; j++) {
      const t = p.theta[j]!;
      p.theta[j] = t + eps;
      const lp = linearLossAndGrad(p, batch, norm, scratch);
      p.theta[j] = t - eps;
      const lm = linearLossAndGrad(p, batch, norm, scratch);
      p.theta[j] = t;
      maxErr = Math.max(maxErr, Math.abs((lp - lm) / (2 * eps) - g[j]!));
      scale = Math.max(scale, Math.abs(g[j]!));
    }
    expect(scale).toBeGreaterThan(1e-3);
    expect(maxErr / scale).toBeLessThan(1e-7);
  });

  it('rejects an unknown normalisation', () => {
    const rng = new Rng(1);
    const p = randomParams(2, 1, rng, 1);
    expect(() => linearForward(p, randomBatch(1, 2, 2, rng), 'cosine' as LinearNorm, new Float64Array(1))).toThrow(/unknown linear attention 'cosine'/);
  });
});
