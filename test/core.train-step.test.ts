import { describe, expect, it } from 'vitest';
import { initParams } from '../src/model/init.js';
import { createOptimizer, defaultOptimizerConfig } from '../src/optim/optim.js';
import { Rng } from '../src/data/rng.js';
import type { TaskSpec } from '../src/data/task.js';
import { createTrainStep } from '../src/run/train-step.js';

const spec: TaskSpec = { d: 2, L: 10, batchSize: 64, noiseStd: 0.01, preset: 'seed' };

function train(seed: number, steps: number): { losses: number[]; theta: Float64Array } {
  const rng = new Rng(seed);
  const p = initParams(spec.d, 2, 'random', rng);
  const ts = createTrainStep(spec, p, createOptimizer(defaultOptimizerConfig('adam', 1e-2), p.theta.length), rng);
  const losses = Array.from({ length: steps }, () => ts.step());
  return { losses, theta: p.theta };
}

describe('train step (sample -> loss and grad -> Adam)', () => {
  it('learns: the mean loss of the last 100 of 600 steps is well below the first 100', () => {
    const { losses } = train(1, 600);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    const first = mean(losses.slice(0, 100)), last = mean(losses.slice(-100));
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(last).toBeLessThan(0.8 * first);
  });

  it('is reproducible per seed, and step() equals its three phases', () => {
    const a = train(5, 20), b = train(5, 20);
    expect(a.losses).toEqual(b.losses);
    expect(Array.from(a.theta)).toEqual(Array.from(b.theta));
    const rng = new Rng(5);
    const p = initParams(spec.d, 2, 'random', rng);
    const ts = createTrainStep(spec, p, createOptimizer(defaultOptimizerConfig('adam', 1e-2), p.theta.length), rng);
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      ts.sample();
      losses.push(ts.lossAndGrad());
      ts.update();
    }
    expect(losses).toEqual(a.losses);
  });

  it('rejects a model of another width', () => {
    const rng = new Rng(1);
    const p = initParams(3, 1, 'random', rng);
    expect(() => createTrainStep(spec, p, createOptimizer(defaultOptimizerConfig('sgd'), p.theta.length), rng)).toThrow(/d=2.*d=3/);
  });
});
