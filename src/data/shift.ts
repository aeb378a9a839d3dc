/**
 * Prompts shifted away from the training distribution (Garg et al. 2022's eval set; issue 19), made
 * from a drawn batch that kept its beta, with the same noise draws:
 *
 *   xScale c     every x (context and query) times c;
 *   betaScale c  beta times c;
 *   query        'opposite-orthant': the query x_q moved into the orthant opposite to the context's
 *                first token (each coordinate's sign flipped to minus that of x_1);
 *                'orthogonal': x_q projected onto the orthogonal complement of the span of the
 *                context x's and rescaled to its own length (needs L < d: zero where the context spans R^d).
 *
 * y_i = beta . x_i + sigma eps_i becomes beta' . x_i' + sigma eps_i (the same eps_i: y_i + beta'.x_i' -
 * beta.x_i), and y_q likewise. Pure.
 */
import { batchFromArrays, type Batch } from './batch.js';

export type QueryShift = 'opposite-orthant' | 'orthogonal';
export const QUERY_SHIFTS: readonly QueryShift[] = ['opposite-orthant', 'orthogonal'];

export interface PromptShift {
  xScale?: number;
  betaScale?: number;
  query?: QueryShift;
}

export function isShifted(s: PromptShift | undefined): boolean {
  return s !== undefined && ((s.xScale ?? 1) !== 1 || (s.betaScale ?? 1) !== 1 || s.query !== undefined);
}

/** The shift in words (for headers): "x x2, beta x0.5, queries orthogonal". */
export function shiftWords(s: PromptShift): string {
  return [(s.xScale ?? 1) !== 1 ? `x ×${s.xScale}` : '', (s.betaScale ?? 1) !== 1 ? `beta ×${s.betaScale}` : '', s.query ? `queries ${s.query}` : ''].filter(Boolean).join(', ');
}

/** The orthogonal complement part of v [d] against the rows x [n, d] (Gram-Schmidt, modified, twice). */
function orthogonalPart(rows: Float64Array[], v: Float64Array): Float64Array {
  const d = v.length;
  const basis: Float64Array[] = [];
  for (const r of rows) {
    const u = Float64Array.from(r);
    for (let pass = 0; pass < 2; pass++) for (const b of basis) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += u[j]! * b[j]!;
      for (let j = 0; j < d; j++) u[j] -= dot * b[j]!;
    }
    let n = 0;
    for (let j = 0; j < d; j++) n += u[j]! * u[j]!;
    n = Math.sqrt(n);
    if (n > 1e-10) {
      for (let j = 0; j < d; j++) u[j] /= n;
      basis.push(u);
    }
    if (basis.length === d) break;
  }
  const w = Float64Array.from(v);
  for (let pass = 0; pass < 2; pass++) for (const b of basis) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += w[j]! * b[j]!;
    for (let j = 0; j < d; j++) w[j] -= dot * b[j]!;
  }
  return w;
}

/** The shifted copy of `batch` (which must carry its beta). */
export function shiftPrompts(batch: Batch, s: PromptShift): Batch {
  const { B, L, d, E } = batch;
  const beta = batch.beta;
  if (!beta) throw new RangeError('shiftPrompts needs the batch\'s beta');
  const cx = s.xScale ?? 1, cb = s.betaScale ?? 1;
  const z = Float64Array.from(batch.z), zq = Float64Array.from(batch.zq), yq = Float64Array.from(batch.yq);
  const beta2 = Float64Array.from(beta, (x) => x * cb);
  const dot = (a: Float64Array, ao: number, b: Float64Array, bo: number) => {
    let y = 0;
    for (let j = 0; j < d; j++) y += a[ao + j]! * b[bo + j]!;
    return y;
  };
  for (let p = 0; p < B; p++) {
    const bo = p * d;
    for (let i = 0; i < L; i++) {
      const t = (p * L + i) * E;
      const before = dot(beta, bo, z, t);
      for (let j = 0; j < d; j++) z[t + j] *= cx;
      z[t + d] = z[t + d]! - before + dot(beta2, bo, z, t);
    }
    const q = p * E;
    const before = dot(beta, bo, zq, q);
    if (s.query === 'opposite-orthant') {
      for (let j = 0; j < d; j++) zq[q + j] = -Math.sign(z[p * L * E + j]! || 1) * Math.abs(zq[q + j]!);
    } else if (s.query === 'orthogonal') {
      const rows = Array.from({ length: L }, (_, i) => z.slice((p * L + i) * E, (p * L + i) * E + d));
      const v = zq.slice(q, q + d);
      const w = orthogonalPart(rows, v);
      let nv = 0, nw = 0;
      for (let j = 0; j < d; j++) { nv += v[j]! * v[j]!; nw += w[j]! * w[j]!; }
      const k = nw > 1e-20 ? Math.sqrt(nv / nw) : 0;
      for (let j = 0; j < d; j++) zq[q + j] = w[j]! * k;
    }
    for (let j = 0; j < d; j++) zq[q + j] *= cx;
    yq[p] = yq[p]! - before + dot(beta2, bo, zq, q);
  }
  return { ...batchFromArrays(B, L, d, z, zq, yq), beta: beta2 };
}
