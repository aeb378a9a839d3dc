/**
 * The multi-task model (n_out = N) against PyTorch float64 (fixtures/multitask_H3_fwd_bwd.json, the
 * authors' setting: d = 6, tasks x[0:4] and x[2:6], E = 8, H = 3, L = 12, B = 4) and finite differences.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allocParams } from '../src/model/params.js';
import { batchFromArrays } from '../src/data/batch.js';
import { Rng } from '../src/data/rng.js';
import { forwardMulti, lossAndGradMulti } from '../src/engine/ts/multitask.js';
import { allocMultiTaskBatch, sampleMultiTask } from '../src/data/multitask.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/multitask_H3_fwd_bwd.json', import.meta.url), 'utf8'));
const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);

export function fixtureModel() {
  const E = fx.E as number, H = fx.H as number, N = fx.n_out as number;
  const p = allocParams(E - 1, H, N);
  p.q.set(flat(fx.weights.q_proj)); p.k.set(flat(fx.weights.k_proj)); p.v.set(flat(fx.weights.v_proj)); p.o.set(flat(fx.weights.o_proj));
  const B = fx.B as number, L = fx.L as number;
  const batch = batchFromArraysMulti(B, L, E, N, flat(fx.inputs.z), flat(fx.inputs.z_q), flat(fx.inputs.y_q));
  return { p, batch, E, H, N, B, L };
}

function batchFromArraysMulti(B: number, L: number, E: number, N: number, z: number[], zq: number[], yq: number[]) {
  const b = batchFromArrays(B, L, E - 1, Float64Array.from(z), Float64Array.from(zq), new Float64Array(B));
  return { ...b, yq: Float64Array.from(yq) };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };

describe('multi-task attention vs PyTorch float64', () => {
  it('forward, loss and attention weights to 1e-10; gradients to 1e-9', () => {
    const { p, batch, H, N, B, L } = fixtureModel();
    const out = new Float64Array(B * N);
    const attn = new Float64Array(B * H * L);
    const loss = forwardMulti(p, batch, out, attn);
    expect(maxAbs(out, flat(fx.expected.output))).toBeLessThan(1e-10);
    expect(Math.abs(loss - fx.expected.loss)).toBeLessThan(1e-10);
    expect(maxAbs(attn, flat(fx.expected.attn_weights))).toBeLessThan(1e-10);
    const grad = new Float64Array(p.theta.length);
    const loss2 = lossAndGradMulti(p, batch, grad);
    expect(Math.abs(loss2 - fx.expected.loss)).toBeLessThan(1e-10);
    const w3 = p.q.length;
    const parts: [string, number, number][] = [['q_proj', 0, w3], ['k_proj', w3, 2 * w3], ['v_proj', 2 * w3, 3 * w3], ['o_proj', 3 * w3, p.theta.length]];
    for (const [name, a, b] of parts) expect(maxAbs(grad.subarray(a, b), flat(fx.expected.grads[name])), name).toBeLessThan(1e-9);
  });

  for (const [label, d, tasks, H] of [['the authors\' layout, n_out = 2', 6, [[0, 4], [2, 6]], 3], ['three disjoint tasks, n_out = 3', 5, [[0, 2], [2, 3], [3, 5]], 2], ['one task (n_out = 1)', 4, [[1, 4]], 2]] as const) {
    it(`finite differences: ${label}`, () => {
      const rng = new Rng(11);
      const batch = sampleMultiTask({ d, L: 7, batchSize: 3, noiseStd: 0.3, tasks }, rng);
      const p = allocParams(batch.E - 1, H, tasks.length);
      rng.fillNormal(p.theta);
      for (let i = 0; i < p.theta.length; i++) p.theta[i] *= 0.4;
      const grad = new Float64Array(p.theta.length);
      lossAndGradMulti(p, batch, grad);
      const out = new Float64Array(batch.B * tasks.length);
      let worst = 0;
      for (let i = 0; i < p.theta.length; i++) {
        const x = p.theta[i]!;
        const h = 1e-5;
        p.theta[i] = x + h; const lp = forwardMulti(p, batch, out);
        p.theta[i] = x - h; const lm = forwardMulti(p, batch, out);
        p.theta[i] = x;
        const fd = (lp - lm) / (2 * h);
        worst = Math.max(worst, Math.abs(fd - grad[i]!) / Math.max(1, Math.abs(fd)));
      }
      expect(worst).toBeLessThan(1e-7);
    });
  }

  it('rejects a model whose n_out does not match the batch', () => {
    const batch = allocMultiTaskBatch(2, 3, 6, [[0, 4], [2, 6]]);
    const p = allocParams(batch.E - 1, 2, 1);
    expect(() => forwardMulti(p, batch, new Float64Array(4))).toThrow(/n_out = 1 outputs, the batch has 2 targets/);
  });
});

describe('multi-task attention vs the loop-by-loop reference (engine/reference/attention.ts with n_out = N)', () => {
  it('the fixture through the reference, and the fast kernel against it for N = 2, 3 to 1e-12', async () => {
    const ref = await import('../src/engine/reference/attention.js');
    const { p, batch, H, N, B, L } = fixtureModel();
    const out = new Float64Array(B * N), attn = new Float64Array(B * H * L);
    ref.forward(p, batch, out, attn);
    expect(maxAbs(out, flat(fx.expected.output))).toBeLessThan(1e-10);
    expect(maxAbs(attn, flat(fx.expected.attn_weights))).toBeLessThan(1e-10);
    const g = new Float64Array(p.theta.length);
    expect(Math.abs(ref.lossAndGrad(p, batch, g) - fx.expected.loss)).toBeLessThan(1e-10);
    const w3 = p.q.length;
    expect(maxAbs(g.subarray(3 * w3), flat(fx.expected.grads.o_proj))).toBeLessThan(1e-9);
    expect(maxAbs(g.subarray(0, w3), flat(fx.expected.grads.q_proj))).toBeLessThan(1e-9);
    for (const tasks of [[[0, 4], [2, 6]], [[0, 2], [2, 3], [3, 6]]] as const) {
      const rng = new Rng(3);
      const b = sampleMultiTask({ d: 6, L: 9, batchSize: 5, noiseStd: 0.3, tasks }, rng);
      const q = allocParams(b.E - 1, 3, tasks.length);
      rng.fillNormal(q.theta);
      for (let i = 0; i < q.theta.length; i++) q.theta[i] *= 0.5;
      const g1 = new Float64Array(q.theta.length), g2 = new Float64Array(q.theta.length);
      const l1 = lossAndGradMulti(q, b, g1), l2 = ref.lossAndGrad(q, b, g2);
      expect(Math.abs(l1 - l2)).toBeLessThan(1e-12);
      expect(maxAbs(g1, g2)).toBeLessThan(1e-12);
    }
  });
});
