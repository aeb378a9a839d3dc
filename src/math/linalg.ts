/**
 * Dense linear solves for the small systems of the analysis (n = d for the ridge / OLS estimators,
 * n = H for the reduced loss's optimal mu). Two methods for two kinds of matrix, in one place:
 *
 *   choleskySolveInPlace  symmetric positive definite A (X^T X + lambda I): Cholesky, in place;
 *                         reports "not positive definite" (e.g. OLS with L <= d) instead of solving
 *   solveDense            any square A: Gaussian elimination with partial pivoting; NaNs if a pivot
 *                         is exactly zero
 */

/**
 * Solve A x = r for symmetric positive definite A given by its lower triangle (row-major [n, n]),
 * in place: A becomes its Cholesky factor, r the solution. Returns false if A is not positive
 * definite (to working precision).
 */
export function choleskySolveInPlace(A: Float64Array, r: Float64Array, n: number): boolean {
  let scale = 0;
  for (let a = 0; a < n; a++) scale = Math.max(scale, A[a * n + a]!);
  const tiny = scale * 1e-13;
  for (let j = 0; j < n; j++) {
    let s = A[j * n + j]!;
    for (let k = 0; k < j; k++) s -= A[j * n + k]! ** 2;
    if (!(s > tiny)) return false;
    const ljj = Math.sqrt(s);
    A[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let t = A[i * n + j]!;
      for (let k = 0; k < j; k++) t -= A[i * n + k]! * A[j * n + k]!;
      A[i * n + j] = t / ljj;
    }
  }
  for (let i = 0; i < n; i++) { // L u = r
    let t = r[i]!;
    for (let k = 0; k < i; k++) t -= A[i * n + k]! * r[k]!;
    r[i] = t / A[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) { // L^T x = u
    let t = r[i]!;
    for (let k = i + 1; k < n; k++) t -= A[k * n + i]! * r[k]!;
    r[i] = t / A[i * n + i]!;
  }
  return true;
}

/** Solve A x = b (A [n, n] row-major) by Gaussian elimination with partial pivoting; NaNs if singular. */
export function solveDense(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r * n + col]!) > Math.abs(M[piv * n + col]!)) piv = r;
    if (M[piv * n + col] === 0) return x.fill(NaN);
    if (piv !== col) {
      for (let c = 0; c < n; c++) { const tmpv = M[col * n + c]!; M[col * n + c] = M[piv * n + c]!; M[piv * n + c] = tmpv; }
      const tb = x[col]!; x[col] = x[piv]!; x[piv] = tb;
    }
    for (let r = col + 1; r < n; r++) {
      const f = M[r * n + col]! / M[col * n + col]!;
      for (let c = col; c < n; c++) M[r * n + c] -= f * M[col * n + c]!;
      x[r] -= f * x[col]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let c = r + 1; c < n; c++) s -= M[r * n + c]! * x[c]!;
    x[r] = s / M[r * n + r]!;
  }
  return x;
}
