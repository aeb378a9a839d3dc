// Stream version 2 (src/data/normal2.ts, the TypeScript oracle; asm/sampler2.ts, the wasm build):
// the distribution (moments, tails, histogram, as test/core.rng.test.ts checks version 1) and
// TS == wasm bit for bit, batches and state.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileAttentionWasm, createWasmKernel, type WasmKernel } from '../src/engine/wasm/attention.js';
import { allocBatch } from '../src/data/batch.js';
import { NormalStream2, sampleBatch2, ZIG_R } from '../src/data/normal2.js';
import { Rng } from '../src/data/rng.js';
import { DEFAULT_TASK, type TaskSpec } from '../src/data/task.js';
import { root } from './cli.helpers.js';

const wasmPath = join(root, 'dist', 'wasm', 'attention.wasm');
let k: WasmKernel;
beforeAll(() => {
  if (!existsSync(wasmPath)) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
  k = createWasmKernel(compileAttentionWasm(readFileSync(wasmPath)));
});

const same = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** Standard normal CDF (Simpson's rule on the density; ~1e-13 accurate for |x| <= 6). */
function normCdf(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  const a = Math.abs(x), n = 2000, h = a / n;
  let s = 0;
  for (let i = 0; i <= n; i++) {
    const t = i * h, f = Math.exp(-0.5 * t * t);
    s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * f;
  }
  const half = ((s * h) / 3) / Math.sqrt(2 * Math.PI);
  return x >= 0 ? 0.5 + half : 0.5 - half;
}

describe('stream version 2: the distribution (TypeScript oracle)', () => {
  const N = 2_000_000;
  const x = new Float64Array(N);
  NormalStream2.fromRng(new Rng(20261128)).fillNormal(x);

  it('mean, variance, skewness, excess kurtosis within 4 standard errors', () => {
    let m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (let i = 0; i < N; i++) {
      const v = x[i]!, v2 = v * v;
      m1 += v; m2 += v2; m3 += v2 * v; m4 += v2 * v2;
    }
    m1 /= N; m2 /= N; m3 /= N; m4 /= N;
    expect(Math.abs(m1)).toBeLessThan(4 * Math.sqrt(1 / N));
    expect(Math.abs(m2 - 1)).toBeLessThan(4 * Math.sqrt(2 / N));
    expect(Math.abs(m3)).toBeLessThan(4 * Math.sqrt(15 / N));
    expect(Math.abs(m4 - 3)).toBeLessThan(4 * Math.sqrt(96 / N));
  });

  it('tail probabilities P(|x| > t) within 4 standard errors, incl. beyond the ziggurat base R = 3.44', () => {
    for (const t of [1, 2, 3, ZIG_R, 4, 4.5]) {
      let c = 0;
      for (let i = 0; i < N; i++) if (Math.abs(x[i]!) > t) c++;
      const p = 2 * (1 - normCdf(t));
      expect(Math.abs(c / N - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / N));
    }
    // both signs in the tail
    expect(x.some((v) => v > 4.2) && x.some((v) => v < -4.2)).toBe(true);
  });

  it('histogram: chi-square over 64 bins on [-4, 4] (+ 2 tails) within 4 sd of its mean', () => {
    const edges = [-Infinity, ...Array.from({ length: 65 }, (_, i) => -4 + i * 0.125), Infinity];
    const counts = new Float64Array(edges.length - 1);
    for (let i = 0; i < N; i++) {
      const v = x[i]!;
      const j = v < -4 ? 0 : v >= 4 ? counts.length - 1 : 1 + Math.floor((v + 4) / 0.125);
      counts[j]!++;
    }
    let chi2 = 0;
    for (let j = 0; j < counts.length; j++) {
      const p = normCdf(edges[j + 1]!) - normCdf(edges[j]!);
      chi2 += (counts[j]! - N * p) ** 2 / (N * p);
    }
    const dof = counts.length - 1;
    expect(Math.abs(chi2 - dof)).toBeLessThan(4 * Math.sqrt(2 * dof));
  });

  it('lag-1 and cross-lane correlations are within 4 standard errors of 0', () => {
    for (const lag of [1, 2, 3, 4]) {
      let s = 0;
      for (let i = 0; i + lag < N; i++) s += x[i]! * x[i + lag]!;
      expect(Math.abs(s / (N - lag))).toBeLessThan(4 / Math.sqrt(N));
    }
  });

  it('uses 52-bit uniforms: values finer than version 1\'s 2^-32 grid', () => {
    // a version-1 value is u32 * x_i / 2^32: scaled back by the layer width it is an integer; v2's mostly not
    let nonGrid = 0;
    for (let i = 0; i < 1000; i++) {
      const a = Math.abs(x[i]!) / 3.442619855899; // only meaningful for layer 1, but any non-integer shows finer resolution
      if (!Number.isInteger(a * 2 ** 32)) nonGrid++;
    }
    expect(nonGrid).toBeGreaterThan(900);
  });

  it('state round-trips (getState / fromState continue the identical stream) and bad states are refused', () => {
    const a = NormalStream2.fromRng(new Rng(3));
    const st = a.getState();
    expect(st).toHaveLength(16);
    const b = NormalStream2.fromState(st);
    const xa = new Float64Array(1001), xb = new Float64Array(1001);
    a.fillNormal(xa);
    b.fillNormal(xb);
    expect(same(xa, xb)).toBe(true);
    expect(a.getState()).toEqual(b.getState());
    expect(() => NormalStream2.fromState([1, 2, 3])).toThrow(/16 numbers/);
    expect(() => NormalStream2.fromState([0, 0, 0, 0, ...Array(12).fill(1)])).toThrow(/lane 0/);
    expect(() => NormalStream2.fromState([-1, ...Array(15).fill(1)])).toThrow(/uint32/);
  });
});

describe('stream version 2: wasm == TypeScript oracle, bit for bit', () => {
  it('the fast TypeScript fill equals the plain definition (fillDefinition) across array boundaries', () => {
    const a = NormalStream2.fromRng(new Rng(11)), b = NormalStream2.fromRng(new Rng(11));
    for (const sizes of [[1, 1, 1], [3, 5, 2], [1000, 7, 1], [2, 2, 2], [0, 9, 4], [40000, 1, 3]]) {
      const pa = sizes.map((n) => new Float64Array(n)), pb = sizes.map((n) => new Float64Array(n));
      a.fill(pa.map((x) => [x, 0, x.length] as const));
      b.fillDefinition(pb.map((x) => [x, 0, x.length] as const));
      pa.forEach((x, i) => expect(same(x, pb[i]!)).toBe(true));
      expect(a.getState()).toEqual(b.getState());
    }
  });

  it('2,000,000 normals in one batch (wedge and tail candidates included), then the state', () => {
    const task: TaskSpec = { d: 4, L: 400, batchSize: 1000, noiseStd: 0.5, preset: 'seed' };
    const a = NormalStream2.fromRng(new Rng(2024)), b = NormalStream2.fromRng(new Rng(2024));
    const ba = sampleBatch2(task, a);
    const bb = k.sampleBatch2(task, b, k.allocBatch(1000, 400, 4));
    expect(same(bb.z, ba.z)).toBe(true);
    expect(same(bb.zq, ba.zq)).toBe(true);
    expect(same(bb.yq, ba.yq)).toBe(true);
    expect(b.getState()).toEqual(a.getState());
    expect(ba.z.filter((v) => Math.abs(v) > ZIG_R).length).toBeGreaterThan(500); // tail draws happened
  });

  it.each([
    ['seed preset, default task', DEFAULT_TASK],
    ['paper preset with rho', { d: 3, L: 7, batchSize: 5, noiseStd: 0.1, preset: 'paper', rho: 0.5 } as TaskSpec],
    ['d=1 L=1 B=1 (odd sizes: leftovers cross every array)', { d: 1, L: 1, batchSize: 1, noiseStd: 0, preset: 'seed' } as TaskSpec],
    ['odd L', { d: 2, L: 5, batchSize: 3, noiseStd: 0.3, preset: 'seed' } as TaskSpec],
    ['d=17 (generic y loop)', { d: 17, L: 9, batchSize: 6, noiseStd: 0.01, preset: 'seed' } as TaskSpec],
    ['d=5 odd L, paper preset (the unrolled d = 5 y loop and its tail)', { d: 5, L: 41, batchSize: 7, noiseStd: 0.3, preset: 'paper' } as TaskSpec],
  ])('%s: 200 batches into wasm memory and into JS arrays, with betaOut', (_name, task) => {
    const { d, L, batchSize: B } = task;
    const a = NormalStream2.fromRng(new Rng(7)), b = NormalStream2.fromRng(new Rng(7)), c = NormalStream2.fromRng(new Rng(7));
    const ja = allocBatch(B, L, d), jc = allocBatch(B, L, d);
    const wb = k.allocBatch(B, L, d);
    const betaA = new Float64Array(B * d), betaB = new Float64Array(B * d);
    for (let s = 0; s < 200; s++) {
      sampleBatch2(task, a, ja, betaA);
      k.sampleBatch2(task, b, wb, betaB);
      k.sampleBatch2(task, c, jc);
      expect(same(wb.z, ja.z) && same(wb.zq, ja.zq) && same(wb.yq, ja.yq)).toBe(true);
      expect(same(jc.z, ja.z) && same(jc.zq, ja.zq) && same(jc.yq, ja.yq)).toBe(true);
      expect(same(betaB, betaA)).toBe(true);
    }
    expect(b.getState()).toEqual(a.getState());
    expect(c.getState()).toEqual(a.getState());
  });

  it('a batch is y = beta.x + sqrt(d) noiseStd eps (seed preset), the query noise-free', () => {
    const task: TaskSpec = { d: 3, L: 4, batchSize: 2, noiseStd: 0, preset: 'seed' };
    const beta = new Float64Array(6);
    const b = k.sampleBatch2(task, NormalStream2.fromRng(new Rng(1)), undefined, beta);
    for (let p = 0; p < 2; p++) {
      for (let i = 0; i < 4; i++) {
        const t = (p * 4 + i) * 4;
        expect(b.z[t + 3]).toBeCloseTo(beta[3 * p]! * b.z[t]! + beta[3 * p + 1]! * b.z[t + 1]! + beta[3 * p + 2]! * b.z[t + 2]!, 14);
      }
      expect(b.zq[4 * p + 3]).toBe(0);
      expect(b.yq[p]).toBeCloseTo(beta[3 * p]! * b.zq[4 * p]! + beta[3 * p + 1]! * b.zq[4 * p + 1]! + beta[3 * p + 2]! * b.zq[4 * p + 2]!, 14);
    }
  });
});
