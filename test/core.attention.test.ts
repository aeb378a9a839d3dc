import { describe, expect, it } from 'vitest';
import * as fast from '../src/engine/ts/attention.js';
import * as ref from '../src/engine/reference/attention.js';
import { allocParams } from '../src/model/params.js';
import { allocBatch } from '../src/data/batch.js';
import { Rng } from '../src/data/rng.js';
import { batchFromFixture, flat, loadFixture, paramsFromFixture, randomBatch, randomParams, relErr, thetaFromFixture } from './fixtures.helpers.js';

const FIXTURES = [
  'single_layer_H1_fwd_bwd.json',
  'single_layer_H2_fwd_bwd.json',
  'single_layer_H3_fwd_bwd.json',
  'single_layer_H2_d3_L7_fwd_bwd.json',
];
const generic = { forward: fast.forwardGeneric, lossAndGrad: fast.lossAndGradGeneric };
const impls = { fast, generic, reference: ref } as const;

describe.each(FIXTURES)('fixture %s', (file) => {
  const fx = loadFixture(file);
  const { d, H, L, B } = fx;
  const p = paramsFromFixture(fx.weights, d, H);
  const batch = batchFromFixture(fx.inputs, B, L, d);
  const expOut = flat(fx.expected.output);
  const expAttn = flat(fx.expected.attn_weights);
  const expGrad = thetaFromFixture(fx.expected.grads);

  it.each(Object.keys(impls))('%s: output, attention weights, loss (<=1e-10) and grads (<=1e-9) match PyTorch', (name) => {
    const m = impls[name as keyof typeof impls];
    const out = new Float64Array(B), attn = new Float64Array(B * H * L);
    m.forward(p, batch, out, attn);
    expect(relErr(out, expOut)).toBeLessThan(1e-10);
    expect(relErr(attn, expAttn)).toBeLessThan(1e-10);
    const grad = new Float64Array(p.theta.length).fill(123); // must be overwritten
    const out2 = new Float64Array(B);
    const loss = m.lossAndGrad(p, batch, grad, out2);
    expect(Math.abs(loss - fx.expected.loss) / fx.expected.loss).toBeLessThan(1e-10);
    expect(relErr(out2, expOut)).toBeLessThan(1e-10);
    // per weight, relative to that weight's gradient scale
    const w = 3 * p.E * p.H * p.E;
    const parts: [number, number][] = [[0, p.q.length], [p.q.length, 2 * p.q.length], [2 * p.q.length, w], [w, grad.length]];
    for (const [s, e] of parts) expect(relErr(grad.subarray(s, e), expGrad.subarray(s, e))).toBeLessThan(1e-9);
  });
});

// [d, L, H, B]
const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1], [16, 3, 2, 2], [17, 3, 2, 2], [1, 5, 2, 3], [2, 3, 3, 5], [5, 40, 2, 7], [3, 7, 8, 4], [4, 2, 5, 3], [7, 11, 1, 2], [5, 1, 4, 6],
];

describe('fast kernel == loop-by-loop reference', () => {
  it.each(SHAPES)('d=%i L=%i H=%i B=%i (to 1e-12)', (d, L, H, B) => {
    const rng = new Rng(1000 * d + 100 * L + 10 * H + B);
    const p = randomParams(d, H, rng, 0.8); // large enough for peaked softmax
    const batch = randomBatch(B, L, d, rng);
    const o1 = new Float64Array(B), o2 = new Float64Array(B), a1 = new Float64Array(B * H * L), a2 = new Float64Array(B * H * L);
    fast.forward(p, batch, o1, a1);
    ref.forward(p, batch, o2, a2);
    expect(relErr(o1, o2)).toBeLessThan(1e-12);
    expect(relErr(a1, a2)).toBeLessThan(1e-12);
    const g1 = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length), g3 = new Float64Array(p.theta.length);
    const l1 = fast.lossAndGrad(p, batch, g1), l2 = ref.lossAndGrad(p, batch, g2), l3 = fast.lossAndGradGeneric(p, batch, g3);
    expect(Math.abs(l1 - l2) / l2).toBeLessThan(1e-12);
    expect(relErr(g1, g2)).toBeLessThan(1e-12);
    // the unrolled (specialised) and generic loops agree to rounding
    expect(Math.abs(l3 - l1) / l1).toBeLessThan(1e-14);
    expect(relErr(g3, g1)).toBeLessThan(1e-13);
    const o3 = new Float64Array(B), a3 = new Float64Array(B * H * L);
    fast.forwardGeneric(p, batch, o3, a3);
    expect(relErr(o3, o1)).toBeLessThan(1e-14);
    expect(relErr(a3, a1)).toBeLessThan(1e-14);
    // attention weights are a distribution per (b, h)
    for (let r = 0; r < B * H; r++) {
      let s = 0;
      for (let i = 0; i < L; i++) s += a1[r * L + i]!;
      expect(s).toBeCloseTo(1, 14);
    }
  });

  it('stays finite for huge scores (stable softmax)', () => {
    const rng = new Rng(7);
    const p = randomParams(3, 2, rng, 30);
    const batch = randomBatch(4, 9, 3, rng);
    const out = new Float64Array(4), g = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length);
    const loss = fast.lossAndGrad(p, batch, g, out);
    expect(Number.isFinite(loss)).toBe(true);
    expect(g.every(Number.isFinite)).toBe(true);
    ref.lossAndGrad(p, batch, g2);
    expect(relErr(g, g2)).toBeLessThan(1e-10);
  });

  it('rejects a batch of the wrong width', () => {
    const p = allocParams(5, 2);
    expect(() => fast.forward(p, allocBatch(2, 3, 4), new Float64Array(2))).toThrow(/E=6.*E=5/);
  });
});

describe('central finite differences', () => {
  const cases: [string, number, number, number, number][] = [
    ['H=1', 3, 6, 1, 4], ['H=2', 3, 6, 2, 4], ['H=3', 2, 5, 3, 3], ['H=8', 2, 4, 8, 2], ['d=1 L=1 B=1', 1, 1, 2, 1], ['d=1 L=1 B=1 H=1', 1, 1, 1, 1],
  ];
  it.each(cases)('%s', (_n, d, L, H, B) => {
    const rng = new Rng(31 * d + 7 * H + L);
    const p = randomParams(d, H, rng, 0.7);
    const batch = randomBatch(B, L, d, rng);
    const g = new Float64Array(p.theta.length);
    fast.lossAndGrad(p, batch, g);
    const scratch = new Float64Array(p.theta.length);
    const eps = 1e-5;
    let maxErr = 0, scale = 0;
    for (let j = 0; j < p.theta.length; j++) {
      const t = p.theta[j]!;
      p.theta[j] = t + eps;
      const lp = fast.lossAndGrad(p, batch, scratch);
      p.theta[j] = t - eps;
      const lm = fast.lossAndGrad(p, batch, scratch);
      p.theta[j] = t;
      const fd = (lp - lm) / (2 * eps);
      maxErr = Math.max(maxErr, Math.abs(fd - g[j]!));
      scale = Math.max(scale, Math.abs(g[j]!));
    }
    expect(scale).toBeGreaterThan(1e-3);
    expect(maxErr / scale).toBeLessThan(1e-7);
  });
});
