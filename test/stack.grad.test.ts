// Analytic backward of the causal stack vs central finite differences (with and without weight
// tying, 1-3 layers, odd shapes), and the fast kernel vs the loop-by-loop reference.
import { describe, expect, it } from 'vitest';
import type { Batch } from '../src/data/batch.js';
import { allocStackParams, type StackParams } from '../src/model/stack.js';
import { stackForward, stackLossAndGrad } from '../src/engine/ts/stack.js';
import { stackForwardReference, stackLossAndGradReference } from '../src/engine/reference/stack.js';
import { randomBatch, randomStack, relErr, TestRng } from './stack.helpers.js';

function loss(p: StackParams, batch: Batch): number {
  const out = new Float64Array(batch.B);
  stackForward(p, batch, out);
  let s = 0;
  for (let b = 0; b < batch.B; b++) s += (out[b]! - batch.yq[b]!) ** 2;
  return s / batch.B;
}

/** Central differences of the loss w.r.t. every entry of theta. */
function fdGrad(p: StackParams, batch: Batch, h = 1e-5): Float64Array {
  const g = new Float64Array(p.theta.length);
  for (let i = 0; i < p.theta.length; i++) {
    const t0 = p.theta[i]!;
    p.theta[i] = t0 + h;
    const lp = loss(p, batch);
    p.theta[i] = t0 - h;
    const lm = loss(p, batch);
    p.theta[i] = t0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

// [d, H, L, layers] -- odd shapes included (d=1, L=1, H=1 and H=3); L >= layers so the query
// output depends on every layer (see below for L < layers).
const SHAPES: [number, number, number, number][] = [
  [2, 2, 4, 1], [2, 2, 4, 2], [2, 2, 4, 3],
  [1, 1, 1, 1], [1, 3, 3, 2], [1, 3, 3, 3],
  [3, 1, 5, 3], [2, 3, 2, 2],
  [6, 2, 4, 2], // E=7: the 6-wide block plus a remainder coordinate
];

describe('analytic gradient == central finite differences', () => {
  for (const tying of [false, true]) {
    for (const [d, H, L, nLayers] of SHAPES) {
      it(`d=${d} H=${H} L=${L} layers=${nLayers} weight_tying=${tying}`, () => {
        const rng = new TestRng(7 + d * 1000 + H * 100 + L * 10 + nLayers + (tying ? 50000 : 0));
        const p = randomStack(d, H, nLayers, tying, rng, 0.7);
        const batch = randomBatch(3, L, d, rng);
        const grad = new Float64Array(p.theta.length);
        const l0 = stackLossAndGrad(p, batch, grad);
        expect(l0).toBeCloseTo(loss(p, batch), 12);
        const fd = fdGrad(p, batch);
        // the gradient must be non-trivial, and match FD to ~1e-7 relative (FD truncation ~h^2)
        expect(Math.max(...Array.from(grad, Math.abs))).toBeGreaterThan(1e-3);
        expect(relErr(grad, fd)).toBeLessThan(1e-7);
        const scale = Math.max(...Array.from(fd, Math.abs));
        for (let i = 0; i < grad.length; i++) expect(Math.abs(grad[i]! - fd[i]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd[i]!)) + 1e-8 * scale);
      });
    }
  }
});

describe('fast kernel == loop-by-loop reference to 1e-12', () => {
  const cases: [number, number, number, number, boolean, number][] = [
    ...SHAPES.map(([d, H, L, n]) => [d, H, L, n, false, 3] as [number, number, number, number, boolean, number]),
    ...SHAPES.map(([d, H, L, n]) => [d, H, L, n, true, 3] as [number, number, number, number, boolean, number]),
    [5, 2, 40, 2, false, 4], // seed configuration with 2 layers
    [5, 2, 40, 3, true, 2],
    [8, 2, 6, 2, true, 2], // E=9: 6-wide + 3-wide blocks
    [7, 3, 5, 2, false, 2], // E=8: 6-wide block + 2 single coordinates
    [4, 2, 2, 3, false, 2], // L < layers: the query output is identically zero
  ];
  for (const [d, H, L, nLayers, tying, B] of cases) {
    it(`d=${d} H=${H} L=${L} layers=${nLayers} weight_tying=${tying} B=${B}`, () => {
      const rng = new TestRng(31 + d * 1000 + H * 100 + L * 10 + nLayers + (tying ? 7 : 0));
      const p = randomStack(d, H, nLayers, tying, rng, 0.6);
      const batch = randomBatch(B, L, d, rng);
      const T = L + 1;
      const E = d + 1;
      const gFast = new Float64Array(p.theta.length);
      const out = new Float64Array(B);
      const lFast = stackLossAndGrad(p, batch, gFast, out);
      const gRef = new Float64Array(p.theta.length);
      const ref = stackLossAndGradReference(p, batch, gRef);
      if (L < nLayers) {
        // strictly causal without residuals: after n layers tokens 0..n-1 are zero, so the query
        // (position L < n) outputs 0 and every gradient vanishes
        expect(Array.from(out)).toEqual(new Array(B).fill(0));
        expect(Array.from(ref.output)).toEqual(new Array(B).fill(0));
        expect(Math.max(...Array.from(gFast, Math.abs))).toBe(0);
        expect(Math.max(...Array.from(gRef, Math.abs))).toBe(0);
        return;
      }
      expect(Math.abs(lFast - ref.loss) / ref.loss).toBeLessThan(1e-12);
      expect(relErr(out, ref.output)).toBeLessThan(1e-12);
      expect(relErr(gFast, gRef)).toBeLessThan(1e-12);
      // hidden states and attention weights of every layer
      const hidden = new Float64Array(nLayers * B * T * E);
      const attn = new Float64Array(nLayers * B * H * T * T);
      stackForward(p, batch, new Float64Array(B), { hidden, attn });
      const fr = stackForwardReference(p, batch);
      for (let l = 0; l < nLayers; l++) {
        expect(relErr(hidden.subarray(l * B * T * E, (l + 1) * B * T * E), fr.hidden[l]!)).toBeLessThan(1e-12);
        expect(relErr(attn.subarray(l * B * H * T * T, (l + 1) * B * H * T * T), fr.attn[l]!)).toBeLessThan(1e-12);
      }
    });
  }
});

describe('weight tying', () => {
  it('tied gradient == sum over layers of the untied gradient at identical layer weights', () => {
    const rng = new TestRng(99);
    const [d, H, L, n] = [3, 2, 6, 3];
    const tied = randomStack(d, H, n, true, rng, 0.6);
    const untied = allocStackParams(d, H, n, false);
    for (let l = 0; l < n; l++) for (const k of ['q', 'k', 'v', 'o'] as const) untied.layers[l]![k].set(tied.layers[0]![k]);
    untied.finalLinear.set(tied.finalLinear);
    const batch = randomBatch(4, L, d, rng);
    const gT = new Float64Array(tied.theta.length);
    const gU = new Float64Array(untied.theta.length);
    const lT = stackLossAndGrad(tied, batch, gT);
    const lU = stackLossAndGrad(untied, batch, gU);
    expect(lT).toBe(lU);
    const gu = allocStackParams(d, H, n, false, gU);
    const summed = allocStackParams(d, H, n, true);
    for (let l = 0; l < n; l++) {
      for (const k of ['q', 'k', 'v', 'o'] as const) {
        const dst = summed.layers[0]![k];
        const src = gu.layers[l]![k];
        for (let i = 0; i < dst.length; i++) dst[i]! += src[i]!;
      }
    }
    summed.finalLinear.set(gu.finalLinear);
    expect(relErr(gT, summed.theta)).toBeLessThan(1e-13);
    // and layers really contribute differently (the sum is not n times one layer's gradient)
    expect(relErr(gu.layers[0]!.q, gu.layers[n - 1]!.q)).toBeGreaterThan(0.1);
  });

  it('workspace reuse: repeated calls and shape switches give identical results', () => {
    const rng = new TestRng(5);
    const a = randomStack(2, 2, 2, false, rng);
    const ba = randomBatch(3, 5, 2, rng);
    const b = randomStack(3, 1, 3, true, rng);
    const bb = randomBatch(2, 4, 3, rng);
    const g1 = new Float64Array(a.theta.length);
    const g2 = new Float64Array(a.theta.length);
    const l1 = stackLossAndGrad(a, ba, g1);
    stackLossAndGrad(b, bb, new Float64Array(b.theta.length));
    g2.fill(123); // overwritten, not accumulated
    const l2 = stackLossAndGrad(a, ba, g2);
    expect(l2).toBe(l1);
    expect(Array.from(g2)).toEqual(Array.from(g1));
  });
});

