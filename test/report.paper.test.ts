/**
 * The paper-convention additions: Adam on the factorised reduced loss, where a run's sign split
 * settles, the reduced-loss optimum finding, the paper preset's training settings.
 */
import { describe, expect, it } from 'vitest';
import { initParams } from '../src/model/init.js';
import { allocParams } from '../src/model/params.js';
import { reducedAdam } from '../src/analysis/reduced-adam.js';
import { Rng } from '../src/data/rng.js';
import { optimalMu } from '../src/analysis/theory.js';
import { settledIndex } from '../src/report/sign-split.js';
import { reducedOptimum, reducedOptimumFinding, compareWithPrinted } from '../src/experiments/paper-sections.js';
import { paperExperiment } from '../src/experiments/paper.js';
import { seedExperiment } from '../src/experiments/seed.js';
import { multitaskConfig } from '../src/experiments/multitask.js';

/** A one-layer model whose heads are exactly QK = w I (x block), OV = mu e_y. */
function kernelModel(w: number[], mu: number[]) {
  const d = 5, H = w.length, E = d + 1;
  const p = allocParams(d, H);
  for (let h = 0; h < H; h++) {
    const a = Math.sqrt(Math.abs(w[h]!) * Math.sqrt(E));
    for (let c = 0; c < d; c++) { p.q[(h * E + c) * E + c] = a * Math.sign(w[h]!); p.k[(h * E + c) * E + c] = a; }
    p.v[(h * E + d) * E + d] = 1;
    p.o[h * E + d] = mu[h]!;
  }
  return p;
}

describe('reduced Adam on the factorised parameters', () => {
  it("from the paper run's init (seed 1029, H = 2) both heads go to the single-head point w = 1/sqrt(d), total mu = mu*(w)", () => {
    const init = initParams(5, 2, 'random', new Rng(1029));
    const t = reducedAdam({ init, d: 5, L: 40, sigma2: 0.1, steps: 3000, lr: 1e-3, recordEvery: 3000 });
    const n = t.step.length;
    expect(t.step[n - 1]).toBe(3000);
    // starts at the model's own (w, mu) read-out
    const w0 = Array.from(t.w.subarray(0, 2));
    expect(w0[0]).toBeCloseTo(-0.0186, 3);
    const w = Array.from(t.w.subarray((n - 1) * 2));
    const mu = Array.from(t.mu.subarray((n - 1) * 2));
    for (const x of w) expect(Math.abs(x - 1 / Math.sqrt(5))).toBeLessThan(0.005);
    expect(mu[0]! + mu[1]!).toBeCloseTo(optimalMu([1 / Math.sqrt(5)], { d: 5, L: 40, sigma2: 0.1 })[0]!, 2);
    expect(t.loss[n - 1]).toBeLessThan(t.loss[0]!);
  });

  it('batch noise needs an rng and a theta-length noise vector', () => {
    const init = initParams(5, 2, 'random', new Rng(1));
    expect(() => reducedAdam({ init, d: 5, L: 40, sigma2: 0.1, steps: 1, lr: 1e-3, noise: new Float64Array(3), rng: new Rng(1) })).toThrow(/noise has 3 values/);
    expect(() => reducedAdam({ init, d: 5, L: 40, sigma2: 0.1, steps: 1, lr: 1e-3, noise: new Float64Array(init.theta.length) })).toThrow(/noise needs an rng/);
  });
});

describe('settledIndex', () => {
  it('is the first logged point after which every active head keeps its final signs', () => {
    // [n = 5, H = 2]: head 2 flips mu at index 2 and w at index 3; inactive tail ignored
    const w = [0.1, 0.1, 0.45, 0.44, 0.3, -0.1, 0.3, -0.2, 0.13, -0.13];
    const mu = [0.1, 0.1, 0.8, 0.5, 1.5, -0.1, 3, -2, 3.4, -3.4];
    expect(settledIndex(w, mu, 2)).toBe(2);
    expect(settledIndex([0.1, 0.2], [1, 2], 1)).toBe(0);
  });
});

describe('reduced-loss optimum finding', () => {
  const task = { d: 5, L: 40, sigma2: 0.1 };
  it("the authors' trained circuit (0.13, 3.45) sits 2 % above mu*(0.13) = 3.381 and passes", () => {
    const r = reducedOptimum('authors', kernelModel([0.13, -0.13], [3.45, -3.45]), task);
    expect(r.unit).toBe('head');
    expect(r.muStar[0]).toBeCloseTo(3.3807, 3);
    expect(r.worst).toBeCloseTo(3.45 / 3.38075 - 1, 4);
    expect(reducedOptimumFinding([r]).pass).toBe(true);
  });
  it('merges the heads of one sign of w for H > 2, and fails a mu far from the optimum', () => {
    const r = reducedOptimum('h4', kernelModel([0.13, 0.13, -0.13, -0.13], [1.7, 1.75, -1.7, -1.72]), task);
    expect(r.unit).toBe('sign group');
    expect(r.mu[0]).toBeCloseTo(3.45, 10);
    expect(r.worst).toBeLessThan(0.03);
    const bad = reducedOptimum('bad', kernelModel([0.13, -0.13], [1.5, -1.5]), task);
    expect(bad.worst).toBeGreaterThan(0.5);
    const f = reducedOptimumFinding([r, bad]);
    expect(f.pass).toBe(false);
    expect(f.value).toBe(bad.worst);
  });
  it('compareWithPrinted puts our numbers beside the printed ones with a z-score', () => {
    const ev = { lengths: [80, 100], samples: 50_000, methods: { gd: { mse: [0.1740, 0.1700], stderr: [0.001, 0.001] } } };
    const rows = compareWithPrinted(ev, [80, 100]);
    expect(rows.map((r) => r.printed)).toEqual([0.1740, 0.1622]);
    expect(rows[0]!.z).toBeCloseTo(0, 10);
    expect(rows[1]!.z).toBeCloseTo((0.17 - 0.1622) / Math.hypot(0.001, 0.001), 6);
  });
});

describe('presets', () => {
  it("paper: the authors' convention, batch 256, seed 1029", () => {
    const c = paperExperiment.config(2, 80_000);
    expect({ preset: c.preset, noiseStd: c.noiseStd, batchSize: c.batchSize, valSamples: c.valSamples, seed: c.seed, lr: c.lr }).toEqual({ preset: 'paper', noiseStd: Math.sqrt(0.1), batchSize: 256, valSamples: 256, seed: 1029, lr: 1e-3 });
    expect(seedExperiment.config(2, 20_000).preset).toBe('seed');
  });
  it("multitask: the authors' two tasks, L = 48, batch 256, seed 1029, the wasm engine (ts on request)", () => {
    const c = multitaskConfig(3, 15_000);
    expect({ tasks: c.tasks, nOut: c.nOut, d: c.d, L: c.contextLength, B: c.batchSize, seed: c.seed, engine: c.engine }).toEqual({ tasks: '0:4,2:6', nOut: 2, d: 6, L: 48, B: 256, seed: 1029, engine: 'wasm' });
    expect(multitaskConfig(3, 15_000, 'ts').engine).toBe('ts');
  });
});
