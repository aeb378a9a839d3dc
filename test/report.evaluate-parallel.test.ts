import { describe, expect, it } from 'vitest';
import { evaluateSweep, splitLengths, workerScript, type SweepJob } from '../src/report/evaluate-parallel.js';
import { Rng } from '../src/data/rng.js';

const model = (name: string, H: number, seed: number) => {
  const rng = new Rng(seed);
  const E = 6;
  const theta = new Float64Array(3 * H * E * E + H * E);
  for (let i = 0; i < theta.length; i++) theta[i] = 0.5 * (rng.nextDouble() - 0.5);
  return { name, d: 5, H, theta };
};

describe('the report\'s error sweep on worker threads', () => {
  it('splits the lengths into groups of about equal cost, each length once', () => {
    const lengths = [1, 2, 3, 40, 45, 500, 495, 10];
    const g = splitLengths(lengths, 2);
    expect(g.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const cost = g.map((idx) => idx.reduce((s, i) => s + lengths[i]! + 10, 0));
    expect(Math.abs(cost[0]! - cost[1]!)).toBeLessThanOrEqual(505); // at most one length apart
    expect(splitLengths([7], 4)).toEqual([[0]]);
  });

  it('gives the one-thread numbers bit for bit, in the caller\'s length order', async () => {
    expect(workerScript()).not.toBeNull(); // npm test builds dist/ first: the threads really run
    const job: SweepJob = { models: [model('a', 1, 1), model('b', 2, 2)], spec: { d: 5, preset: 'seed', noiseStd: 0.01 }, lengths: [40, 1, 13, 90, 7, 64], samples: 150, rngState: new Rng(9).getState() };
    const one = await evaluateSweep(job, { threads: 1 });
    const three = await evaluateSweep(job, { threads: 3 });
    expect(three.lengths).toEqual(job.lengths);
    expect(Object.keys(three.methods)).toEqual(Object.keys(one.methods));
    expect(Object.keys(one.methods)).toContain('b/kernel');
    for (const name of Object.keys(one.methods)) {
      expect(three.methods[name]!.mse).toEqual(one.methods[name]!.mse);
      expect(three.methods[name]!.stderr).toEqual(one.methods[name]!.stderr);
    }
    expect(one.methods.a!.mse.every((x) => Number.isFinite(x) && x > 0)).toBe(true);
  });
});
