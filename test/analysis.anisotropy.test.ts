/** issue 12, misleading output 6: the QK x-block of a rho run against I and Sigma^-1 (analysis/anisotropy.ts). */
import { describe, expect, it } from 'vitest';
import { anisotropy, ar1Covariance, ar1Precision, optimalPreconditioner, relativeDistance } from '../src/analysis/anisotropy.js';
import type { HeadCircuit } from '../src/model/circuits.js';

function head(block: Float64Array, d: number, h = 0, mu = 0): HeadCircuit {
  const E = d + 1;
  const qk = new Float64Array(E * E);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) qk[a * E + b] = block[a * d + b]!;
  qk[E * E - 1] = 0.3; // the y entry is not part of the x-block
  return { layer: 0, head: h, qk, ov: new Float64Array(E), ovCols: 1, w: 0, mu, varDiag: 0, supOffDiag: 0, supOv: 0 };
}

describe('anisotropy read-out', () => {
  it('Sigma^-1 of the AR(1) covariance is its inverse', () => {
    for (const [d, rho] of [[1, 0.3], [2, 0.5], [5, 0.5], [6, -0.7]] as const) {
      const s = ar1Covariance(d, rho), p = ar1Precision(d, rho);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
        let x = 0;
        for (let k = 0; k < d; k++) x += s[i * d + k]! * p[k * d + j]!;
        expect(x).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    }
  });

  it('a multiple of Sigma^-1 is at distance 0 from it and closer to it than to I; a multiple of I the other way round', () => {
    const d = 5, rho = 0.5;
    const prec = ar1Precision(d, rho).map((x) => -0.2 * x);
    const eye = new Float64Array(d * d);
    for (let j = 0; j < d; j++) eye[j * d + j] = 0.14;
    const a = anisotropy([head(prec, d, 0), head(eye, d, 1)], d, rho, 40, 0.5, false);
    expect(a.heads[0]!.relToPrecision).toBeLessThan(1e-12);
    expect(a.heads[0]!.scalePrecision).toBeCloseTo(-0.2, 12);
    expect(a.heads[0]!.closer).toBe('sigma_inverse');
    expect(a.heads[0]!.relToIdentity).toBeGreaterThan(0.3);
    expect(a.heads[1]!.relToIdentity).toBeLessThan(1e-12);
    expect(a.heads[1]!.scaleIdentity).toBeCloseTo(0.14, 12);
    expect(a.heads[1]!.closer).toBe('identity');
    expect([a.heads[0]!.layer, a.heads[0]!.head, a.heads[1]!.head]).toEqual([1, 1, 2]);
    expect(a.theory).toMatch(/does not apply as such/);
    expect(a.paired).toBe(false);
    expect(a.verdict).toMatch(/^not paired: .* not read as a preconditioned GD step/);
  });

  it('a paired model whose sum_h mu^h x-block is a multiple of it reads as closest to Gamma*', () => {
    const d = 5, rho = 0.5, L = 40, s2 = 0.5;
    const g = optimalPreconditioner(ar1Covariance(d, rho), d, L, s2);
    // (Gamma* itself: test/linear.gd.test.ts)
    // two heads of opposite sign whose mu-weighted x-blocks add up to 0.9 Gamma*
    const a = anisotropy([head(g.map((x) => 0.6 * x), d, 0, 3), head(g.map((x) => -0.3 * x), d, 1, 3)], d, rho, L, s2, true);
    expect(a.relGammaStar).toBeLessThan(1e-12);
    expect(a.relSigmaInverse).toBeGreaterThan(0.03); // Gamma* is not Sigma^-1 at L = 40
    expect(a.heads.map((h) => h.closer)).toEqual(['gamma_star', 'gamma_star']);
    expect(a.paired).toBe(true);
    expect(a.verdict).toMatch(/^paired .* closest to a multiple of Gamma\*/);
    expect(a.gammaStar[2]![3]).toBeCloseTo(g[2 * d + 3]!, 15);
  });

  it('relative distance: ||A - cM|| / ||A|| with the best c', () => {
    const r = relativeDistance([1, 2, 3, 4], [1, 0, 0, 1]);
    expect(r.scale).toBeCloseTo(2.5, 12);
    expect(r.rel).toBeCloseTo(Math.sqrt(2.25 + 4 + 9 + 2.25) / Math.sqrt(30), 12);
  });
});
