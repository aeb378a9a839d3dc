import { describe, expect, it } from 'vitest';
import { sampleBatch, type TaskSpec } from '../src/data/task.js';
import { allocBatch } from '../src/data/batch.js';
import { Rng } from '../src/data/rng.js';

/** Sample mean and variance. */
function stats(xs: number[]): { mean: number; var: number; n: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, var: v, n };
}

/** Gaussian with variance s2: mean within 4 SE, variance within 4 SE (SE of s^2 = s2 sqrt(2/n)). */
function expectGaussianMoments(xs: number[], s2: number): void {
  const s = stats(xs);
  expect(Math.abs(s.mean)).toBeLessThan(4 * Math.sqrt(s2 / s.n));
  expect(Math.abs(s.var - s2)).toBeLessThan(4 * s2 * Math.sqrt(2 / s.n));
}

function draw(spec: TaskSpec, seed: number) {
  const rng = new Rng(seed);
  const beta = new Float64Array(spec.batchSize * spec.d);
  const batch = sampleBatch(spec, rng, undefined, beta);
  const { d, L, batchSize: B } = spec;
  const E = d + 1;
  const x: number[][] = Array.from({ length: d }, () => []);
  const xq: number[][] = Array.from({ length: d }, () => []);
  const betas: number[] = [], noise: number[] = [], y: number[] = [], qNoise: number[] = [], zqLast: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < d; j++) betas.push(beta[b * d + j]!);
    for (let i = 0; i < L; i++) {
      const t = (b * L + i) * E;
      let f = 0;
      for (let j = 0; j < d; j++) {
        x[j]!.push(batch.z[t + j]!);
        f += beta[b * d + j]! * batch.z[t + j]!;
      }
      y.push(batch.z[t + d]!);
      noise.push(batch.z[t + d]! - f);
    }
    let fq = 0;
    for (let j = 0; j < d; j++) {
      xq[j]!.push(batch.zq[b * E + j]!);
      fq += beta[b * d + j]! * batch.zq[b * E + j]!;
    }
    qNoise.push(batch.yq[b]! - fq);
    zqLast.push(batch.zq[b * E + d]!);
  }
  return { batch, x, xq, betas, noise, y, qNoise, zqLast };
}

describe('seed preset (the notebook)', () => {
  const spec: TaskSpec = { d: 3, L: 20, batchSize: 2000, noiseStd: 0.4, preset: 'seed' };
  const r = draw(spec, 11);
  it('x_i and x_q ~ N(0, 1) per coordinate', () => {
    for (let j = 0; j < spec.d; j++) {
      expectGaussianMoments(r.x[j]!, 1);
      expectGaussianMoments(r.xq[j]!, 1);
    }
  });
  it('beta ~ N(0, I_d)', () => expectGaussianMoments(r.betas, 1));
  it('context noise has variance d * noiseStd^2', () => expectGaussianMoments(r.noise, spec.d * spec.noiseStd ** 2));
  it('y_i has variance d + d * noiseStd^2', () => {
    // y = beta.x + noise: variance d + d sigma^2, but not Gaussian; SE of the variance from its 4th moment
    const y0 = r.y.filter((_, k) => k % spec.L === 0); // one token per prompt: independent draws
    const s = stats(y0);
    const m4 = y0.reduce((a, v) => a + v ** 4, 0) / s.n;
    const want = spec.d * (1 + spec.noiseStd ** 2);
    expect(Math.abs(s.var - want)).toBeLessThan(4 * Math.sqrt((m4 - s.var ** 2) / s.n));
    expect(Math.abs(s.mean)).toBeLessThan(4 * Math.sqrt(want / s.n));
  });
  it('y_q = beta . x_q exactly (noise-free) and z_q = [x_q, 0]', () => {
    expect(Math.max(...r.qNoise.map(Math.abs))).toBeLessThan(1e-12);
    expect(r.zqLast.every((v) => v === 0)).toBe(true);
  });
});

describe('paper preset', () => {
  const spec: TaskSpec = { d: 4, L: 10, batchSize: 3000, noiseStd: 0.3, preset: 'paper' };
  const r = draw(spec, 12);
  it('beta ~ N(0, I/d)', () => expectGaussianMoments(r.betas, 1 / spec.d));
  it('x ~ N(0, 1)', () => expectGaussianMoments(r.x[2]!, 1));
  it('y_i has variance 1 + noiseStd^2 (E|beta|^2 = 1)', () => {
    const y0 = r.y.filter((_, k) => k % spec.L === 0); // one token per prompt: independent draws
    const s = stats(y0);
    const m4 = y0.reduce((a, v) => a + v ** 4, 0) / s.n;
    expect(Math.abs(s.var - (1 + spec.noiseStd ** 2))).toBeLessThan(4 * Math.sqrt((m4 - s.var ** 2) / s.n));
  });
  it('noise std noiseStd on the context and on the query', () => {
    expectGaussianMoments(r.noise, spec.noiseStd ** 2);
    expectGaussianMoments(r.qNoise, spec.noiseStd ** 2);
    expect(r.zqLast.every((v) => v === 0)).toBe(true);
  });
});

describe('rho: AR(1) covariance of x', () => {
  it.each([0.6, -0.5])('Sigma_jk = rho^|j-k| (rho = %d)', (rho) => {
    const spec: TaskSpec = { d: 4, L: 10, batchSize: 1000, noiseStd: 0.01, preset: 'seed', rho };
    const r = draw(spec, 13);
    for (const xs of [r.x, r.xq]) {
      const n = xs[0]!.length;
      for (let j = 0; j < spec.d; j++) {
        for (let k = j; k < spec.d; k++) {
          let c = 0;
          for (let i = 0; i < n; i++) c += xs[j]![i]! * xs[k]![i]!;
          c /= n;
          const want = rho ** (k - j);
          // Var(x_j x_k) = 1 + Sigma_jk^2 for a zero-mean Gaussian pair with unit variances
          expect(Math.abs(c - want)).toBeLessThan(4 * Math.sqrt((1 + want * want) / n));
        }
      }
    }
    // y stays consistent with the correlated x
    expect(Math.max(...r.qNoise.map(Math.abs))).toBeLessThan(1e-12);
  });
});

describe('edge shapes and buffers', () => {
  it('d = 1, L = 1, B = 1 works', () => {
    const rng = new Rng(1);
    const b = sampleBatch({ d: 1, L: 1, batchSize: 1, noiseStd: 0, preset: 'seed' }, rng);
    expect(b.z).toHaveLength(2);
    expect(b.zq).toHaveLength(2);
    expect(b.zq[1]).toBe(0);
    // noise-free: y / x = beta = y_q / x_q
    expect(b.z[1]! / b.z[0]!).toBeCloseTo(b.yq[0]! / b.zq[0]!, 10);
  });
  it.each([1, 5, 16, 17])('y_i = beta . x_i + sigma eps_i exactly, d = %i (unrolled for d <= 16, generic above)', (d) => {
    const spec: TaskSpec = { d, L: 3, batchSize: 4, noiseStd: 0, preset: 'seed' };
    const beta = new Float64Array(4 * d);
    const b = sampleBatch(spec, new Rng(d), undefined, beta);
    for (let p = 0; p < 4; p++)
      for (let i = 0; i < 3; i++) {
        const t = (p * 3 + i) * (d + 1);
        let y = 0;
        for (let j = 0; j < d; j++) y += beta[p * d + j]! * b.z[t + j]!;
        expect(b.z[t + d]).toBe(y);
      }
    // with noise, the residual is the noise: same draws as without (the y slot held eps)
    const noisy = sampleBatch({ ...spec, noiseStd: 0.5 }, new Rng(d));
    const eps = (noisy.z[d]! - b.z[d]!) / (Math.sqrt(d) * 0.5);
    expect(Number.isFinite(eps) && eps !== 0).toBe(true);
    expect(Array.from(noisy.z.filter((_, k) => k % (d + 1) !== d))).toEqual(Array.from(b.z.filter((_, k) => k % (d + 1) !== d)));
  });
  it('reuses the given buffer, is reproducible, and rejects a mismatched one', () => {
    const spec: TaskSpec = { d: 5, L: 40, batchSize: 8, noiseStd: 0.01, preset: 'seed' };
    const buf = allocBatch(8, 40, 5);
    expect(sampleBatch(spec, new Rng(4), buf)).toBe(buf);
    const again = sampleBatch(spec, new Rng(4));
    expect(Array.from(again.z)).toEqual(Array.from(buf.z));
    expect(() => sampleBatch(spec, new Rng(4), allocBatch(8, 39, 5))).toThrow(/L=39.*L=40/);
  });
  it('rejects bad specs', () => {
    const ok: TaskSpec = { d: 5, L: 40, batchSize: 8, noiseStd: 0.01, preset: 'seed' };
    expect(() => sampleBatch({ ...ok, d: 0 }, new Rng(1))).toThrow(/d must be a positive integer/);
    expect(() => sampleBatch({ ...ok, rho: 1 }, new Rng(1))).toThrow(/rho/);
    expect(() => sampleBatch({ ...ok, noiseStd: -1 }, new Rng(1))).toThrow(/noiseStd/);
    expect(() => sampleBatch({ ...ok, preset: 'x' as never }, new Rng(1))).toThrow(/seed, paper/);
  });
});
