import { describe, expect, it } from 'vitest';
import { Rng } from '../src/data/rng.js';
import type { TaskSpec } from '../src/data/task.js';
import { singleLayerModel } from '../src/engine/model.js';
import { initParams } from '../src/model/init.js';
import { createOptimizer, defaultOptimizerConfig } from '../src/optim/optim.js';
import { createTrainStep } from '../src/run/step.js';
import { createStream } from '../src/data/stream.js';
import { benchConfig, phasedTrainStep } from '../src/bench/bench.js';
import { createState, runSteps } from '../src/run/loop.js';
import { nodeKernels } from '../src/io/wasm.js';

const spec: TaskSpec = { d: 2, L: 10, batchSize: 64, noiseStd: 0.01, preset: 'seed' };

function train(seed: number, steps: number): { losses: number[]; theta: Float64Array } {
  const rng = new Rng(seed);
  const p = initParams(spec.d, 2, 'random', rng);
  const ts = createTrainStep(singleLayerModel(p), createOptimizer(defaultOptimizerConfig('adam', 1e-2), p.theta.length), spec, { stream: createStream(2, rng) });
  const losses = Array.from({ length: steps }, () => {
    ts.sample();
    const loss = ts.lossAndGrad();
    ts.update();
    return loss;
  });
  return { losses, theta: p.theta };
}

describe('the training step (run/step.ts: sample -> loss and grad -> Adam)', () => {
  it('learns: the mean loss of the last 100 of 600 steps is well below the first 100', () => {
    const { losses } = train(1, 600);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    const first = mean(losses.slice(0, 100)), last = mean(losses.slice(-100));
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(last).toBeLessThan(0.8 * first);
  });

  it('is reproducible per seed', () => {
    const a = train(5, 20), b = train(5, 20);
    expect(a.losses).toEqual(b.losses);
    expect(Array.from(a.theta)).toEqual(Array.from(b.theta));
  });

  it('rejects a model of another width', () => {
    const rng = new Rng(1);
    const p = initParams(3, 1, 'random', rng);
    expect(() => createTrainStep(singleLayerModel(p), createOptimizer(defaultOptimizerConfig('sgd'), p.theta.length), spec, { stream: createStream(2, rng) })).toThrow(/d=2.*d=3/);
  });

  it.each(['ts', 'wasm'] as const)('bench times the step train runs (%s): same first loss and same weights after one update as the training loop', (engine) => {
    const task = { d: 3, L: 8, batchSize: 16, noiseStd: 0.01, preset: 'seed' as const };
    const config = { ...benchConfig(task, { heads: 2, seed: 7, engine }), steps: 1 };
    const s = createState(config, nodeKernels());
    expect(runSteps(s, 1)).toBeNull();
    const bench = createState(config, nodeKernels()); // what phasedTrainStep(config) wraps
    const step = phasedTrainStep(config);
    expect(typeof step.sample).toBe('function');
    bench.trainStep.sample();
    const loss = bench.trainStep.lossAndGrad();
    bench.trainStep.update();
    expect(loss).toBe(s.logs.trainLoss[0]);
    expect(Array.from(bench.model.theta)).toEqual(Array.from(s.model.theta));
    expect(Array.from(bench.model.theta)).not.toEqual(Array.from(createState(config, nodeKernels()).model.theta)); // the update moved the weights
  });
});
