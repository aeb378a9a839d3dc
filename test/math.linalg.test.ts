/** math/linalg.ts: the two dense solves against hand-computed solutions. */
import { describe, expect, it } from 'vitest';
import { choleskySolveInPlace, solveDense } from '../src/math/linalg.js';

describe('math/linalg', () => {
  // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]] (SPD), x = [1, -2, 3]  =>  b = A x = [0, -5, 7]
  const A = [4, 2, 0, 2, 5, 1, 0, 1, 3];
  const b = [0, -5, 7];
  it('choleskySolveInPlace solves an SPD system from its lower triangle and leaves the factor', () => {
    const M = Float64Array.from([4, 999, 999, 2, 5, 999, 0, 1, 3]); // upper triangle is not read
    const r = Float64Array.from(b);
    expect(choleskySolveInPlace(M, r, 3)).toBe(true);
    [1, -2, 3].forEach((x, i) => expect(r[i]).toBeCloseTo(x, 12));
    expect(M[0]).toBeCloseTo(2, 15); // L[0,0] = sqrt(4)
    expect(M[3]).toBeCloseTo(1, 15); // L[1,0] = 2 / 2
  });
  it('choleskySolveInPlace refuses a singular (not positive definite) matrix', () => {
    expect(choleskySolveInPlace(Float64Array.from([1, 1, 1, 1]), Float64Array.from([1, 1]), 2)).toBe(false);
  });
  it('solveDense pivots (zero leading entry) and returns NaNs for a singular matrix', () => {
    expect(Array.from(solveDense(Float64Array.from(A), Float64Array.from(b), 3)).map((x) => +x.toFixed(12))).toEqual([1, -2, 3]);
    // [[0, 1], [1, 0]] x = [2, 3]  =>  x = [3, 2]; needs a row swap
    expect(Array.from(solveDense(Float64Array.from([0, 1, 1, 0]), Float64Array.from([2, 3]), 2))).toEqual([3, 2]);
    expect(Array.from(solveDense(Float64Array.from([1, 2, 2, 4]), Float64Array.from([1, 1]), 2)).every(Number.isNaN)).toBe(true);
  });
});
