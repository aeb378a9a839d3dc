import { describe, expect, it } from 'vitest';
import { expNeg } from '../src/math/exp.js';
import { Rng } from '../src/data/rng.js';

describe('expNeg (softmax exponential for arguments <= 0)', () => {
  it('agrees with Math.exp to 1e-15 relative over the normal range', () => {
    const rng = new Rng(42);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = -rng.nextDouble() * (i % 4 === 0 ? 708 : 30);
      const e = Math.abs(expNeg(x) - Math.exp(x)) / Math.exp(x);
      worst = Math.max(worst, e);
    }
    expect(worst).toBeLessThan(1e-15);
  });
  it('handles the edges: 0, -0, tiny, subnormal range, underflow, -Infinity, positive and NaN', () => {
    expect(expNeg(0)).toBe(1);
    expect(expNeg(-0)).toBe(1);
    expect(expNeg(-1e-300)).toBe(1);
    expect(expNeg(-740)).toBe(Math.exp(-740));
    expect(expNeg(-800)).toBe(0);
    expect(expNeg(-Infinity)).toBe(0);
    expect(expNeg(1)).toBe(Math.E);
    expect(expNeg(NaN)).toBeNaN();
  });
});
