/**
 * The paper-convention additions: Adam on the factorised reduced loss, where a run's sign split
 * settles, mu*(w) as a measurement, the reduced-loss valley finding, the paper preset's training settings.
 */
import { describe, expect, it } from 'vitest';
import { initParams } from '../src/model/init.js';
import { allocParams } from '../src/model/params.js';
import { reducedAdam } from '../src/analysis/reduced-adam.js';
import { Rng } from '../src/data/rng.js';
import { optimalMu } from '../src/analysis/theory.js';
import { settledIndex } from '../src/report/sign-split.js';
import { reducedOptimum, compareWithPrinted } from '../src/experiments/paper-sections.js';
import { valleyFinding, valleyOmega, valleyRows, VALLEY_RATIO_TOLERANCE } from '../src/experiments/valley-finding.js';
import type { ValleyPoint } from '../src/analysis/valley-loss.js';
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

describe('mu against mu*(w) (a measurement in the report, no longer a finding)', () => {
  const task = { d: 5, L: 40, sigma2: 0.1 };
  it("the authors' trained circuit (0.13, 3.45) sits 2 % above mu*(0.13) = 3.381", () => {
    const r = reducedOptimum('authors', kernelModel([0.13, -0.13], [3.45, -3.45]), task);
    expect(r.unit).toBe('head');
    expect(r.muStar[0]).toBeCloseTo(3.3807, 3);
    expect(r.worst).toBeCloseTo(3.45 / 3.38075 - 1, 4);
  });
  it('merges the heads of one sign of w for H > 2', () => {
    const r = reducedOptimum('h4', kernelModel([0.13, 0.13, -0.13, -0.13], [1.7, 1.75, -1.7, -1.72]), task);
    expect(r.unit).toBe('sign group');
    expect(r.mu[0]).toBeCloseTo(3.45, 10);
    expect(r.worst).toBeLessThan(0.03);
    expect(reducedOptimum('bad', kernelModel([0.13, -0.13], [1.5, -1.5]), task).worst).toBeGreaterThan(0.5);
  });
});

describe('reduced-loss-valley finding', () => {
  /** A valley point with the given rises (the rest is not judged). */
  const point = (omega: number, reducedRise: number, exactRise: number, exactRiseSe: number): ValleyPoint => ({
    omega, muStar: 3.38, reduced: 0.221, reducedRise, exact: 0.243, exactSe: 1e-4, exactRise, exactRiseSe, exactRiseSeIndependent: 20 * exactRiseSe, muExact: 3.39, exactMin: 0.243, exactMinRise: exactRise, exactMinRiseSe: exactRiseSe,
  });
  const valley = (points: ValleyPoint[]) => ({ prompts: 500_000, seed: 1, limit: { eta0: 0.879, reduced: 0.2209, exact: 0.2428, exactSe: 2e-4, closedForm: 0.24286, etaExact: 0.879, exactMin: 0.2428 }, points, argmin: { exact: 0.07, reduced: 0 } });

  it("valleyOmega: (w+ - w-)/2 of the sign groups; none without an active head of each sign", () => {
    expect(valleyOmega(kernelModel([0.13, -0.13], [3.4, -3.4]))).toBeCloseTo(0.13, 10);
    expect(valleyOmega(kernelModel([0.14, -0.12], [3.4, -3.4]))).toBeCloseTo(0.13, 10);
    // H > 2: the mu-weighted w of each sign group (a dummy head counts with its small mu, as in the two-head equivalent)
    expect(valleyOmega(kernelModel([0.13, 0.13, -0.13, 0.01], [1.7, 1.7, -3.4, 0.1]))).toBeCloseTo(((2 * 0.13 * 1.7 + 0.01 * 0.1) / 3.5 + 0.13) / 2, 10);
    expect(valleyOmega(kernelModel([0.5], [1.5]))).toBeUndefined(); // H = 1: no valley
    expect(valleyOmega(kernelModel([0.45, 0.44], [0.8, 0.8]))).toBeUndefined(); // unsplit: both on one side
    expect(valleyOmega(kernelModel([0.13, -0.13], [3.4, -0.1]))).toBeUndefined(); // the w < 0 head is a dummy (|mu w| < 0.05)
  });

  it('passes when both losses rise to the trained omega by amounts within the tolerance, and says so per check', () => {
    const models = [{ name: 'h2', params: kernelModel([0.13, -0.13], [3.4, -3.4]) }, { name: 'h1', params: kernelModel([0.5], [1.5]) }];
    const omega = valleyOmega(models[0]!.params)!; // the report puts each model's own omega on the valley
    const rows = valleyRows(models, valley([point(0.05, 2.8e-6, -2.8e-5, 2e-6), point(omega, 1.27e-4, 1.3e-4, 1.8e-5)]));
    expect(rows.map((r) => r.name)).toEqual(['h2']); // h1 has no valley
    const f = valleyFinding(rows, { prompts: 500_000 });
    expect(f.id).toBe('reduced-loss-valley');
    expect(f.result).toBe('pass');
    expect(f.threshold_source).toBe('icl-lab runs');
    expect(f.checks).toHaveLength(2);
    expect(f.value).toBeCloseTo(1.27 / 1.3, 12); // the headline: reduced rise / exact rise
    expect(f.threshold).toBe(`within 1 ± ${(VALLEY_RATIO_TOLERANCE + 3 * (1.27 / 1.3) * (1.8e-5 / 1.3e-4)).toFixed(2)}`);
    expect(f.checks[1]!.value).toBeCloseTo(1.3e-4 / 1.8e-5, 10);
    expect(f.checks[0]!.name).toMatch(/h2: reduced rise \/ exact rise from ω → 0 to ω = 0\.1300/);
    expect(f.checks[1]!.name).toMatch(/500,000 shared prompts; independent prompts would give s\.e\. 3\.60e-4/);
  });

  it('fails a reduced rise off the exact one by more than the band (either way), an exact rise within 3 s.e. of zero, and a falling reduced loss', () => {
    const row = (reducedRise: number, exactRise: number, se: number) => ({ name: 'h2', heads: 2, omega: 0.13, point: point(0.13, reducedRise, exactRise, se) });
    const short = valleyFinding([row(1.27e-4, 4e-4, 2e-5)], { prompts: 500_000 });
    expect(short.result).toBe('FAIL');
    expect(short.value).toBeCloseTo(1.27 / 4, 12);
    expect(short.threshold).toBe('within 1 ± 0.55'); // 0.5 + 3 x 0.3175 x 0.05
    expect(valleyFinding([row(1.27e-4, 2.6e-4, 2e-5)], { prompts: 500_000 }).result).toBe('pass'); // ratio 0.49, inside 1 ± 0.61 (0.5 + 3 x 0.49 x 0.077)
    const steep = valleyFinding([row(3e-4, 1.27e-4, 1e-5)], { prompts: 500_000 });
    expect(steep.result).toBe('FAIL');
    expect(steep.value).toBeCloseTo(3 / 1.27, 12);
    const flat = valleyFinding([row(1.27e-4, 5e-5, 2e-5)], { prompts: 500_000 });
    expect(flat.result).toBe('FAIL');
    expect(flat.value).toBeCloseTo(2.5, 10); // z = 5e-5 / 2e-5 < 3 (the ratio, 2.54 ± 1.0, is inside its wide band)
    const falling = valleyFinding([row(-2e-5, 5e-5, 1e-5)], { prompts: 500_000 });
    expect(falling.result).toBe('FAIL');
    expect(falling.value).toBeCloseTo(-0.4, 12);
    expect(falling.checks[1]!.pass).toBe(true); // the exact rise is resolved (z = 5): the ratio check alone fails a falling reduced loss
  });

  it('is n/a without a ± pair', () => {
    const f = valleyFinding([], { prompts: 500_000 });
    expect(f.result).toBe('n/a');
    expect(f.why).toMatch(/^Not applicable: it needs a model with an active head of each sign of w/);
  });
});

describe('estimator comparison', () => {
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
