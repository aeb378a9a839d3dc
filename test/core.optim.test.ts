import { describe, expect, it } from 'vitest';
import { lossAndGrad } from '../src/engine/ts/attention.js';
import { allocParams } from '../src/model/params.js';
import { createOptimizer, defaultOptimizerConfig, type OptimizerConfig } from '../src/optim/optim.js';
import { batchFromFixture, loadFixture, relErr, thetaFromFixture } from './fixtures.helpers.js';

const fx = loadFixture('adam_trajectory_H2.json');
const { d, H, L, B } = fx;
const batches = fx.batches.map((b: Record<string, unknown>) => batchFromFixture(b, B, L, d));

function cfgFor(name: string): OptimizerConfig {
  const hp = fx.optimizers[name].hyperparameters;
  const kind = name.toLowerCase() as OptimizerConfig['kind'];
  const c = defaultOptimizerConfig(kind, hp.lr);
  if (hp.betas) c.betas = [hp.betas[0], hp.betas[1]];
  if (hp.eps !== undefined) c.eps = hp.eps;
  c.weightDecay = hp.weight_decay ?? 0;
  return c;
}

describe.each(['Adam', 'AdamW', 'SGD'])('%s trajectory matches PyTorch (<=1e-9)', (name) => {
  it('losses, weights after every step' + (name === 'Adam' ? ', grads' : ''), () => {
    const exp = fx.optimizers[name];
    const theta0 = thetaFromFixture(fx.initial_weights);
    const p = allocParams(d, H, 1, Float64Array.from(theta0));
    const grad = new Float64Array(p.theta.length);
    const opt = createOptimizer(cfgFor(name), p.theta.length);
    for (let t = 0; t < fx.n_steps; t++) {
      const loss = lossAndGrad(p, batches[t], grad);
      expect(Math.abs(loss - exp.losses[t]) / exp.losses[t]).toBeLessThan(1e-9);
      if (exp.grads_at_step) expect(relErr(grad, thetaFromFixture(exp.grads_at_step[t]))).toBeLessThan(1e-9);
      opt.step(p.theta, grad);
      const want = thetaFromFixture(exp.weights_after_step[t]);
      expect(relErr(p.theta, want)).toBeLessThan(1e-9);
      // the displacement from the start (~lr per step) must match too, not just the weights' scale
      const moved = p.theta.map((x, j) => x - theta0[j]!), wantMoved = want.map((x, j) => x - theta0[j]!);
      expect(relErr(moved, wantMoved)).toBeLessThan(1e-9);
    }
  });
});

describe('optimizer formulas', () => {
  it('AdamW decays before the update; Adam weight decay is L2 on the gradient', () => {
    const theta0 = Float64Array.from([1, -2, 0.5]);
    const g = Float64Array.from([0.1, 0.2, -0.3]);
    const lr = 0.1, wd = 0.5;
    // step 1: m = 0.1 g', v = 0.001 g'^2 -> update = lr * g'/(|g'| + eps') = lr * sign(g') (almost)
    const aw = createOptimizer({ kind: 'adamw', lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: wd }, 3);
    const t1 = Float64Array.from(theta0);
    aw.step(t1, g);
    for (let j = 0; j < 3; j++) {
      const gj = g[j]!;
      const mhat = gj, vhat = gj * gj;
      expect(t1[j]).toBeCloseTo(theta0[j]! * (1 - lr * wd) - (lr * mhat) / (Math.sqrt(vhat) + 1e-8), 14);
    }
    const a = createOptimizer({ kind: 'adam', lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: wd }, 3);
    const t2 = Float64Array.from(theta0);
    a.step(t2, g);
    for (let j = 0; j < 3; j++) {
      const gj = g[j]! + wd * theta0[j]!;
      expect(t2[j]).toBeCloseTo(theta0[j]! - (lr * gj) / (Math.abs(gj) + 1e-8), 12);
    }
    const s = createOptimizer({ kind: 'sgd', lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: wd }, 3);
    const t3 = Float64Array.from(theta0);
    s.step(t3, g);
    for (let j = 0; j < 3; j++) expect(t3[j]).toBeCloseTo(theta0[j]! - lr * (g[j]! + wd * theta0[j]!), 15);
  });

  it('defaults: adamw decays 1e-3, adam and sgd 0; unknown kind is an error', () => {
    expect(defaultOptimizerConfig('adamw').weightDecay).toBe(1e-3);
    expect(defaultOptimizerConfig('adam').weightDecay).toBe(0);
    expect(defaultOptimizerConfig('sgd', 0.01)).toMatchObject({ kind: 'sgd', lr: 0.01, weightDecay: 0 });
    expect(() => defaultOptimizerConfig('rmsprop' as never)).toThrow(/sgd, adam, adamw/);
  });

  it('getState/setState resumes the identical trajectory', () => {
    const n = 5;
    const grads = Array.from({ length: 6 }, (_, t) => Float64Array.from({ length: n }, (_, j) => Math.sin(3 * t + j)));
    const a = createOptimizer(defaultOptimizerConfig('adamw', 0.01), n);
    const th = Float64Array.from({ length: n }, (_, j) => j - 2);
    for (let t = 0; t < 3; t++) a.step(th, grads[t]!);
    const saved = JSON.parse(JSON.stringify({ t: a.getState().t, buffers: Object.fromEntries(Object.entries(a.getState().buffers).map(([k, v]) => [k, Array.from(v)])) }));
    const thSaved = Float64Array.from(th);
    for (let t = 3; t < 6; t++) a.step(th, grads[t]!);
    const b = createOptimizer(defaultOptimizerConfig('adamw', 0.01), n);
    b.setState({ t: saved.t, buffers: { exp_avg: Float64Array.from(saved.buffers.exp_avg), exp_avg_sq: Float64Array.from(saved.buffers.exp_avg_sq) } });
    expect(b.getState().t).toBe(3);
    for (let t = 3; t < 6; t++) b.step(thSaved, grads[t]!);
    expect(Array.from(thSaved)).toEqual(Array.from(th));
    expect(() => b.setState({ t: 1, buffers: {} })).toThrow(/exp_avg/);
  });
});
