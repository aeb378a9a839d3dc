import { describe, expect, it } from 'vitest';
import { Rng } from '../src/data/rng.js';

/** Standard normal CDF (Simpson's rule on the density; ~1e-13 accurate for |x| <= 6). */
function normCdf(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  // integrate the density with composite Simpson on [0, |x|]: plenty accurate for bin edges |x| <= 6
  const a = Math.abs(x), n = 2000, h = a / n;
  let s = 0;
  for (let i = 0; i <= n; i++) {
    const t = i * h, f = Math.exp(-0.5 * t * t);
    s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * f;
  }
  const half = ((s * h) / 3) / Math.sqrt(2 * Math.PI);
  return x >= 0 ? 0.5 + half : 0.5 - half;
}

describe('xoshiro128** uniforms', () => {
  it('matches the published xoshiro128** stream for state {1, 2, 3, 4}', () => {
    const r = Rng.fromState([1, 2, 3, 4, 0, 0]);
    const got = Array.from({ length: 6 }, () => r.nextUint32());
    expect(got).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('is deterministic per seed and different across seeds', () => {
    const a = new Rng(1024), b = new Rng(1024), c = new Rng(1025);
    const sa = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(sa);
    expect(new Rng(2 ** 40 + 1).nextUint32()).not.toBe(new Rng(1).nextUint32());
  });

  it('nextDouble is uniform on [0, 1): mean and variance within 4 standard errors', () => {
    const r = new Rng(5);
    const n = 200_000;
    let s = 0, s2 = 0, mn = 1, mx = 0;
    for (let i = 0; i < n; i++) {
      const u = r.nextDouble();
      s += u; s2 += u * u; mn = Math.min(mn, u); mx = Math.max(mx, u);
    }
    expect(mn).toBeGreaterThanOrEqual(0);
    expect(mx).toBeLessThan(1);
    expect(Math.abs(s / n - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    const v = s2 / n - (s / n) ** 2;
    expect(Math.abs(v - 1 / 12)).toBeLessThan(4 * Math.sqrt(1 / 180 / n));
  });
});

describe('ziggurat normals', () => {
  const N = 2_000_000;
  const r = new Rng(20261127);
  const x = new Float64Array(N);
  r.fillNormal(x);

  it('mean, variance, skewness, excess kurtosis within 4 standard errors', () => {
    let m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (let i = 0; i < N; i++) {
      const v = x[i]!, v2 = v * v;
      m1 += v; m2 += v2; m3 += v2 * v; m4 += v2 * v2;
    }
    m1 /= N; m2 /= N; m3 /= N; m4 /= N;
    expect(Math.abs(m1)).toBeLessThan(4 * Math.sqrt(1 / N));
    expect(Math.abs(m2 - 1)).toBeLessThan(4 * Math.sqrt(2 / N));
    expect(Math.abs(m3)).toBeLessThan(4 * Math.sqrt(15 / N)); // Var(x^3) = 15
    expect(Math.abs(m4 - 3)).toBeLessThan(4 * Math.sqrt(96 / N)); // Var(x^4) = 105 - 9
  });

  it('tail probabilities P(|x| > t) within 4 standard errors, incl. beyond the ziggurat base R = 3.44', () => {
    for (const t of [1, 2, 3, 3.442619855899, 4, 4.5]) {
      let c = 0;
      for (let i = 0; i < N; i++) if (Math.abs(x[i]!) > t) c++;
      const p = 2 * (1 - normCdf(t));
      expect(Math.abs(c / N - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / N));
    }
  });

  it('histogram: chi-square over 64 bins on [-4, 4] (+ 2 tails) within 4 sd of its mean', () => {
    const edges = [-Infinity, ...Array.from({ length: 65 }, (_, i) => -4 + i * 0.125), Infinity];
    const counts = new Float64Array(edges.length - 1);
    for (let i = 0; i < N; i++) {
      const v = x[i]!;
      const k = v < -4 ? 0 : v >= 4 ? counts.length - 1 : 1 + Math.floor((v + 4) / 0.125);
      counts[k]!++;
    }
    let chi2 = 0;
    for (let k = 0; k < counts.length; k++) {
      const p = normCdf(edges[k + 1]!) - normCdf(edges[k]!);
      chi2 += (counts[k]! - N * p) ** 2 / (N * p);
    }
    const dof = counts.length - 1;
    expect(Math.abs(chi2 - dof)).toBeLessThan(4 * Math.sqrt(2 * dof));
  });

  it('fillNormal gives the same stream as repeated normal() (incl. ~5,500 wedge and ~110 tail draws)', () => {
    const a = new Rng(99), b = new Rng(99);
    const n = 200_000;
    const buf = new Float64Array(n + 20);
    a.fillNormal(buf, 10, n + 10);
    const one = Float64Array.from({ length: n }, () => b.normal());
    let firstDiff = -1;
    for (let i = 0; i < n && firstDiff < 0; i++) if (!Object.is(buf[10 + i], one[i])) firstDiff = i;
    expect(firstDiff).toBe(-1);
    expect(buf[0]).toBe(0);
    expect(buf[n + 19]).toBe(0);
    expect(a.getState()).toEqual(b.getState());
    // the tail beyond R = 3.4426 was exercised
    expect(one.filter((x) => Math.abs(x) > 3.45).length).toBeGreaterThan(50);
  });
});

describe('state', () => {
  it('a JSON round trip mid-stream continues the identical stream', () => {
    const r = new Rng(3);
    r.normal(); r.normal(); r.nextUint32(); // leaves cached layer bits behind
    const saved = JSON.parse(JSON.stringify(r.getState())) as number[];
    expect(saved).toHaveLength(6);
    const draw = (g: Rng) => {
      const b = new Float64Array(1001);
      g.fillNormal(b);
      return [...Array.from(b), g.nextUint32(), g.nextDouble(), g.normal()];
    };
    const cont = draw(r);
    expect(draw(Rng.fromState(saved))).toEqual(cont);
    const other = new Rng(77);
    other.setState(saved);
    expect(draw(other)).toEqual(cont);
  });

  it('rejects malformed states with a clear message', () => {
    const r = new Rng(1);
    expect(() => r.setState([1, 2, 3])).toThrow(/6 numbers/);
    expect(() => r.setState([0, 0, 0, 0, 0, 0])).toThrow(/zero/);
    expect(() => r.setState([1, 2, 3, 2 ** 32, 0, 0])).toThrow(/uint32/);
    expect(() => r.setState([1, 2, 3, 4, 0, 7])).toThrow(/0\.\.4/);
    expect(() => new Rng(NaN)).toThrow(/finite/);
  });
});
