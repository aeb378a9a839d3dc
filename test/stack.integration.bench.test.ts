// bench/stack.ts: the stack's training steps/s at the seed configuration (a short run; the number itself is machine-dependent).
import { describe, expect, it } from 'vitest';
import { benchStack } from '../src/bench/stack.js';

describe('benchStack', () => {
  it('runs the seed configuration (d=5, L=40, B=128) with 2 layers x 2 heads by default and reports consistent rates', () => {
    const r = benchStack({ seconds: 0.15, warmupSeconds: 0 });
    expect([r.layers, r.heads, r.weightTying]).toEqual([2, 2, false]);
    expect(r.steps % 20).toBe(0);
    expect(r.steps).toBeGreaterThanOrEqual(20);
    expect(r.msPerStep * r.stepsPerSecond).toBeCloseTo(1000, 6);
    expect(r.bestStepsPerSecond).toBeGreaterThanOrEqual(r.stepsPerSecond * 0.999);
    expect(Number.isFinite(r.lastLoss) && r.lastLoss > 0).toBe(true);
  });

  it('tied weights and a small task', () => {
    const r = benchStack({ layers: 3, heads: 1, weightTying: true, seconds: 0.05, warmupSeconds: 0, task: { d: 2, L: 6, batchSize: 8, noiseStd: 0, preset: 'seed' } });
    expect([r.layers, r.heads, r.weightTying]).toEqual([3, 1, true]);
    expect(Number.isFinite(r.lastLoss)).toBe(true);
  });
});
