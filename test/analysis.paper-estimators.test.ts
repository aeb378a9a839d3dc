/**
 * The authors' estimator comparison (docs/PAPER_EXPERIMENTS.md §2): `evaluate` with the analytic
 * estimators in the paper convention (sigma^2 = 0.1, d = 5) reproduces their printed MSE at L = 80 and
 * L = 100 (50,000 prompts each) within 3 combined standard errors.
 */
import { describe, expect, it } from 'vitest';
import { evaluateErrors } from '../src/analysis/evaluate.js';
import { etaOf, methodFromSpec, paperComparisonSpecs, parseMethodSpec } from '../src/analysis/estimator-methods.js';
import { Rng } from '../src/data/rng.js';
import { allocBatch } from '../src/data/batch.js';
import { sampleBatch } from '../src/data/task.js';
import { debiasedGd, kernelEstimator, oneStepGd, ridge } from '../src/analysis/estimators.js';

const paper = { d: 5, noiseStd: Math.sqrt(0.1), preset: 'paper' as const };

/** The authors' printed values (plots.ipynb, 50k prompts per L). */
const PRINTED: Record<string, Record<number, number>> = {
  'multi-head-kernel': { 80: 0.1759, 100: 0.1638 },
  gd: { 80: 0.1740, 100: 0.1622 },
  'debiased-gd-est': { 80: 0.1757, 100: 0.1635 },
  'single-head-kernel': { 80: 0.3016, 100: 0.2844 },
  'ridge-est': { 80: 0.1056, 100: 0.1041 },
};

describe('paper estimator comparison', () => {
  it('reproduces the printed values at L = 80 and 100 within 3 combined standard errors', () => {
    const samples = 20_000;
    const methods = paperComparisonSpecs().map((s) => methodFromSpec(s, paper));
    const r = evaluateErrors(methods, paper, [80, 100], samples, new Rng(7), { chunk: 5000 });
    for (const [name, byL] of Object.entries(PRINTED)) {
      r.lengths.forEach((L, i) => {
        const m = r.methods[name]!.mse[i]!;
        const se = r.methods[name]!.stderr[i]!;
        // their standard error: the same spread of squared errors over 50,000 prompts
        const seTheirs = se * Math.sqrt(samples / 50_000);
        const z = (m - byL[L]!) / Math.hypot(se, seTheirs);
        expect(Math.abs(z), `${name} at L = ${L}: ours ${m.toFixed(4)} ± ${se.toFixed(4)}, printed ${byL[L]}`).toBeLessThan(3);
      });
    }
    // and they are distinguishable: single-head is far above the rest, ridge far below
    expect(r.methods['single-head-kernel']!.mse[1]! - r.methods['multi-head-kernel']!.mse[1]!).toBeGreaterThan(0.1);
  });

  it('each method is the estimator its spec names (one batch, to 1e-12)', () => {
    const b = sampleBatch({ d: 5, L: 30, batchSize: 50, noiseStd: Math.sqrt(0.1), preset: 'paper' }, new Rng(3), allocBatch(50, 30, 5));
    const run = (spec: string) => { const o = new Float64Array(50); methodFromSpec(parseMethodSpec(spec)[0]!, paper).run(b, o); return o; };
    const close = (a: Float64Array, e: Float64Array) => a.forEach((x, i) => expect(Math.abs(x - e[i]!)).toBeLessThan(1e-12));
    close(run('kernel:w=0.13,-0.13:mu=3.45,-3.45'), kernelEstimator(b, [0.13, -0.13], [3.45, -3.45], new Float64Array(50)));
    close(run('gd:w=0.13,-0.13:mu=3.45,-3.45'), oneStepGd(b, 2 * 0.13 * 3.45, new Float64Array(50)));
    close(run('gd:eta=0.5'), oneStepGd(b, 0.5, new Float64Array(50)));
    close(run('debiased-gd:eta=0.897'), debiasedGd(b, 0.897, new Float64Array(50)));
    close(run('ridge'), ridge(b, 0.5, new Float64Array(50))); // lambda = sigma^2 d
    // single head: mu*(1/sqrt d) = sqrt(d) / (1 + (1 + s2)(d/L) e) at L = 40 (the authors' figure) or as given
    const muAt = (L: number) => Math.sqrt(5) / (1 + 1.1 * (5 / L) * Math.E);
    close(run('single-head'), kernelEstimator(b, [1 / Math.sqrt(5)], [muAt(40)], new Float64Array(50)));
    close(run('single-head:L=30'), kernelEstimator(b, [1 / Math.sqrt(5)], [muAt(30)], new Float64Array(50)));
    close(run('kernel:w=0.4472135954999579'), kernelEstimator(b, [1 / Math.sqrt(5)], [muAt(30)], new Float64Array(50))); // mu*(w) at the batch's L
    expect(etaOf([0.13, -0.13], [3.45, -3.45])).toBeCloseTo(0.897, 12);
  });

  it('rejects bad specs with one line naming the problem', () => {
    expect(() => parseMethodSpec('kernal:w=1')).toThrow(/unknown estimator 'kernal'; allowed: kernel/);
    expect(() => parseMethodSpec('kernel:w=0.1,x')).toThrow(/w must be a comma-separated list of numbers/);
    expect(() => parseMethodSpec('kernel:w=0.1,-0.1:mu=1')).toThrow(/w has 2 heads but mu has 1/);
    expect(() => parseMethodSpec('gd')).toThrow(/gd needs eta=X/);
    expect(() => parseMethodSpec('ridge:lambda=-1')).toThrow(/lambda must be a number >= 0/);
    expect(() => parseMethodSpec('ridge:eta=1')).toThrow(/ridge takes lambda, name, not 'eta'/);
    expect(parseMethodSpec('paper-comparison').map((m) => m.name)).toEqual(['multi-head-kernel', 'single-head-kernel', 'gd', 'debiased-gd-est', 'ridge-est']);
    expect(parseMethodSpec('kernel:w=0.1:name=k1')[0]).toEqual({ kind: 'kernel', name: 'k1', w: [0.1] });
    expect(() => parseMethodSpec('kernel:w=0.1:mu=1:L=40')).toThrow(/give mu or L, not both/);
    expect(() => parseMethodSpec('single-head:L=0')).toThrow(/L must be a positive integer/);
  });
});
