import { describe, expect, it } from 'vitest';
import { initParams, type InitName } from '../src/model/init.js';
import { Rng } from '../src/data/rng.js';

/** Head blocks of a (E*H, E) weight equal scale(h) * I. */
function expectHeadIdentities(w: Float64Array, E: number, H: number, scale: (h: number) => number): void {
  for (let h = 0; h < H; h++)
    for (let r = 0; r < E; r++)
      for (let c = 0; c < E; c++) expect(w[(h * E + r) * E + c]).toBe(r === c ? scale(h) : 0);
}

/** Uniform on (-bound, bound): inside the bound, mean 0 and variance bound^2/3 within 4 SE. */
function expectUniform(w: Float64Array, bound: number): void {
  const n = w.length;
  let s = 0, s2 = 0;
  for (const v of w) {
    expect(Math.abs(v)).toBeLessThan(bound);
    s += v;
    s2 += v * v;
  }
  expect(Math.abs(s / n)).toBeLessThan(4 * bound * Math.sqrt(1 / 3 / n));
  // Var(w^2) for U(-b, b) = b^4 (1/5 - 1/9)
  expect(Math.abs(s2 / n - (bound * bound) / 3)).toBeLessThan(4 * bound * bound * Math.sqrt((1 / 5 - 1 / 9) / n));
}

describe('initParams (the seed MultiHeadAttention.__init__, n_out = 1)', () => {
  it('random: U(+-1/sqrt(E)) for q, k, v and U(+-1/sqrt(E*H)) for o', () => {
    const d = 9, H = 8, E = 10;
    const p = initParams(d, H, 'random', new Rng(1));
    expect(p.theta).toHaveLength(3 * E * H * E + E * H);
    for (const w of [p.q, p.k, p.v]) expectUniform(w, 1 / Math.sqrt(E));
    const o = initParams(d, H, 'random', new Rng(2)).o;
    // o is small (80 values): pool several draws for the variance check
    const pooled = new Float64Array(o.length * 20);
    for (let s = 0; s < 20; s++) pooled.set(initParams(d, H, 'random', new Rng(100 + s)).o, s * o.length);
    expectUniform(pooled, 1 / Math.sqrt(E * H));
  });

  it('small_id: q, k, v = 1e-6 I per head; o stays random', () => {
    const p = initParams(5, 2, 'small_id', new Rng(3));
    for (const w of [p.q, p.k, p.v]) expectHeadIdentities(w, 6, 2, () => 1e-6);
    expect(p.o.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    expect(Math.max(...p.o.map(Math.abs))).toBeLessThan(1 / Math.sqrt(12));
  });

  it('small_id_qk: q, k = 1e-4 I per head; v, o random', () => {
    const p = initParams(5, 3, 'small_id_qk', new Rng(4));
    for (const w of [p.q, p.k]) expectHeadIdentities(w, 6, 3, () => 1e-4);
    expectUniform(p.v, 1 / Math.sqrt(6));
  });

  it('oppo_small_id: Q = -1e-6 I for the second half of the heads, K = +1e-6 I, v/o random', () => {
    const p = initParams(5, 4, 'oppo_small_id', new Rng(5));
    expectHeadIdentities(p.q, 6, 4, (h) => (h < 2 ? 1e-6 : -1e-6));
    expectHeadIdentities(p.k, 6, 4, () => 1e-6);
    expect(p.v.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });

  it('oppo_small_id with an odd head count is a RangeError naming the rule', () => {
    expect(() => initParams(5, 3, 'oppo_small_id', new Rng(6))).toThrow(RangeError);
    expect(() => initParams(5, 3, 'oppo_small_id', new Rng(6))).toThrow(/even number of heads.*H=3/);
    expect(() => initParams(5, 2, 'xavier' as InitName, new Rng(6))).toThrow(/random, small_id, small_id_qk, oppo_small_id/);
  });

  it('is reproducible per seed', () => {
    const a = initParams(5, 2, 'random', new Rng(7)), b = initParams(5, 2, 'random', new Rng(7));
    expect(Array.from(a.theta)).toEqual(Array.from(b.theta));
    expect(Array.from(initParams(5, 2, 'random', new Rng(8)).theta)).not.toEqual(Array.from(a.theta));
  });
});
