/**
 * Circuits read out of a trained attention layer, in the seed's `calculate_statistics` convention
 * (test/fixtures/estimators.json → `convention`):
 *
 *   W_Q^h = q_proj.weight[h*E:(h+1)*E, :]^T          (E_in, E_head), W_K^h likewise
 *   QK^h  = W_Q^h (W_K^h)^T / sqrt(E)                 (E, E); row a = query coordinate, column b = key
 *                                                      coordinate, so the head's score is z_q QK^h z_i^T
 *   W_V^h = v_proj.weight[h*E:(h+1)*E, :]^T,  W_O^h = o_proj.weight[:, h*E:(h+1)*E]^T
 *   OV^h  = W_V^h W_O^h (E, nOut), times final_linear^T for the last layer of a stack; we keep its
 *           last column OV^h[:, -1] (the y read-out; n_out = 1 for the single-layer model)
 *
 *   w^h   = mean(diag(QK^h)[:d])        var = population variance of diag(QK^h)[:d] (np.var)
 *   supOffDiag = max |QK^h[a, b]|, a != b < d
 *   mu^h  = OV^h[-1, -1]                 supOv = max |OV^h[:d, -1]|
 *
 * With QK^h ≈ w^h I on the x-block and OV^h ≈ mu^h e_y, the model is the kernel regressor
 * sum_h mu^h sum_i y_i softmax_i(w^h <x_q, x_i>) (estimators.ts `kernelEstimator`).
 */
import type { AttentionParams } from './params.js';

/** The read-out of one head. */
export interface HeadCircuit {
  readonly layer: number;
  readonly head: number;
  /** Scaled QK^h, row-major [E, E]. */
  readonly qk: Float64Array;
  /** OV^h[:, -1], [E]. */
  readonly ov: Float64Array;
  readonly w: number;
  readonly mu: number;
  /** Population variance of the first d diagonal entries of QK^h. */
  readonly varDiag: number;
  /** Sup-norm of the off-diagonal entries of the d×d block of QK^h. */
  readonly supOffDiag: number;
  /** Sup-norm of OV^h[:d, -1] (x coordinates leaking into the output). */
  readonly supOv: number;
}

/** Scaled QK^h = W_Q^h W_K^h^T / sqrt(E) of head h, row-major [E, E]. */
export function headQK(p: AttentionParams, h: number, out = new Float64Array(p.E * p.E)): Float64Array {
  checkHead(p, h);
  const E = p.E;
  const scale = 1 / Math.sqrt(E);
  // QK[a, b] = sum_c q[hE + c, a] k[hE + c, b] / sqrt(E)
  for (let a = 0; a < E; a++) {
    for (let b = 0; b < E; b++) {
      let s = 0;
      for (let c = 0; c < E; c++) s += p.q[(h * E + c) * E + a]! * p.k[(h * E + c) * E + b]!;
      out[a * E + b] = s * scale;
    }
  }
  return out; // [E, E]
}

/**
 * OV^h = W_V^h W_O^h as a full [E, nOut] matrix (row-major); with `outWeight` ([nOut2, nOut],
 * a stack's final_linear) it is W_V^h W_O^h outWeight^T, [E, nOut2].
 */
export function headOVMatrix(p: AttentionParams, h: number, outWeight?: { weight: Float64Array; rows: number }): { ov: Float64Array; cols: number } {
  checkHead(p, h);
  const { E, nOut, H } = p;
  // OV[a, j] = sum_c v[hE + c, a] o[j, hE + c]
  const ov = new Float64Array(E * nOut); // [E, nOut]
  for (let a = 0; a < E; a++) {
    for (let j = 0; j < nOut; j++) {
      let s = 0;
      for (let c = 0; c < E; c++) s += p.v[(h * E + c) * E + a]! * p.o[j * E * H + h * E + c]!;
      ov[a * nOut + j] = s;
    }
  }
  if (!outWeight) return { ov, cols: nOut };
  const r = outWeight.rows;
  if (outWeight.weight.length !== r * nOut) {
    throw new RangeError(`final_linear has ${outWeight.weight.length} values, expected [${r}, ${nOut}]`);
  }
  const res = new Float64Array(E * r); // [E, r]
  for (let a = 0; a < E; a++) {
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let j = 0; j < nOut; j++) s += ov[a * nOut + j]! * outWeight.weight[k * nOut + j]!;
      res[a * r + k] = s;
    }
  }
  return { ov: res, cols: r };
}

/** OV^h[:, -1] (the column that feeds the last output), [E]. */
export function headOV(p: AttentionParams, h: number, outWeight?: { weight: Float64Array; rows: number }): Float64Array {
  const { ov, cols } = headOVMatrix(p, h, outWeight);
  const E = p.E;
  const col = new Float64Array(E); // [E]
  for (let a = 0; a < E; a++) col[a] = ov[a * cols + cols - 1]!;
  return col;
}

/** Statistics of one head from its QK^h [E, E] and OV^h[:, -1] [E]. */
export function headStatistics(qk: Float64Array, ov: Float64Array, d: number): Pick<HeadCircuit, 'w' | 'mu' | 'varDiag' | 'supOffDiag' | 'supOv'> {
  const E = d + 1;
  if (qk.length !== E * E || ov.length !== E) {
    throw new RangeError(`QK has ${qk.length} values and OV ${ov.length}, expected ${E}x${E} and ${E} for d=${d}`);
  }
  let w = 0;
  for (let a = 0; a < d; a++) w += qk[a * E + a]!;
  w /= d;
  let varDiag = 0;
  for (let a = 0; a < d; a++) varDiag += (qk[a * E + a]! - w) ** 2;
  varDiag /= d; // np.var, ddof = 0
  let supOffDiag = 0;
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) if (a !== b) supOffDiag = Math.max(supOffDiag, Math.abs(qk[a * E + b]!));
  // np.max of an empty array raises; with d = 1 there is no off-diagonal entry: report NaN.
  if (d === 1) supOffDiag = NaN;
  let supOv = 0;
  for (let a = 0; a < d; a++) supOv = Math.max(supOv, Math.abs(ov[a]!));
  return { w, mu: ov[E - 1]!, varDiag, supOffDiag, supOv };
}

/**
 * Every head of one layer. `outWeight` is a stack's final_linear [rows, nOut], applied only to its
 * last layer (as the seed's `calculate_statistics` does); leave it out for the single-layer model.
 */
export function layerCircuits(p: AttentionParams, layer = 0, outWeight?: { weight: Float64Array; rows: number }): HeadCircuit[] {
  const heads: HeadCircuit[] = [];
  for (let h = 0; h < p.H; h++) {
    const qk = headQK(p, h);
    const ov = headOV(p, h, outWeight);
    heads.push({ layer, head: h, qk, ov, ...headStatistics(qk, ov, p.d) });
  }
  return heads;
}

/**
 * The seed's training-log scalar `QK_dyn_stack` per head: sum(diag(W_Q W_K^T)[:d]) / (d sqrt(d+1))
 * (= w^h up to rounding), [H].
 */
export function qkDynamics(p: AttentionParams): Float64Array {
  const { E, H, d } = p;
  const out = new Float64Array(H); // [H]
  for (let h = 0; h < H; h++) {
    let s = 0;
    for (let a = 0; a < d; a++) for (let c = 0; c < E; c++) s += p.q[(h * E + c) * E + a]! * p.k[(h * E + c) * E + a]!;
    out[h] = s / (d * Math.sqrt(d + 1));
  }
  return out;
}

/** The seed's training-log scalar `OV_dyn_stack` per head: (W_V^h W_O^h)[-1, 0] (= mu^h when nOut = 1), [H]. */
export function ovDynamics(p: AttentionParams): Float64Array {
  const out = new Float64Array(p.H); // [H]
  for (let h = 0; h < p.H; h++) {
    const { ov, cols } = headOVMatrix(p, h);
    out[h] = ov[(p.E - 1) * cols]!;
  }
  return out;
}

/** eta_TF = sum_h mu^h w^h, the learning rate of the one-step GD the kernel linearises to (THEORY.md). */
export function effectiveLearningRate(w: ArrayLike<number>, mu: ArrayLike<number>): number {
  checkSameLength(w, mu);
  let s = 0;
  for (let h = 0; h < w.length; h++) s += mu[h]! * w[h]!;
  return s;
}

/** Default |mu^h w^h| below which a head counts as a dummy (contributes < 0.05 to eta_TF ≈ 0.9). */
export const ACTIVE_HEAD_THRESHOLD = 0.05;

/** One sign group of w: its heads, total mu, eta contribution and the mu-weighted w of one equivalent head. */
export interface SignGroup {
  readonly sign: 1 | -1;
  readonly heads: number[];
  /** sum of mu^h over the group. */
  readonly totalMu: number;
  /** sum of mu^h w^h over the group (its share of eta_TF). */
  readonly eta: number;
  /** w of the single head that replaces the group: eta / totalMu (keeps both sums); NaN if totalMu = 0. */
  readonly w: number;
}

export interface HeadGrouping {
  readonly threshold: number;
  /** Heads with |mu^h w^h| > threshold. */
  readonly active: number[];
  /** The others. */
  readonly dummy: number[];
  /** Sign groups of w over ALL heads (w >= 0 counts as +), positive first; empty groups left out. */
  readonly signGroups: SignGroup[];
  /**
   * The equivalent two-head model: one head per sign group, (w, mu) = (group w, group totalMu). It has
   * the same eta_TF = sum mu w and the same sum mu as the full model, so the same linearised kernel.
   */
  readonly twoHead: { w: number[]; mu: number[] };
}

/**
 * Head grouping: active vs dummy heads by |mu^h w^h| (threshold, default 0.05), sign groups of w
 * with their total mu, and the equivalent two-head model.
 */
export function groupHeads(w: ArrayLike<number>, mu: ArrayLike<number>, threshold = ACTIVE_HEAD_THRESHOLD): HeadGrouping {
  checkSameLength(w, mu);
  if (!(threshold >= 0)) throw new RangeError(`threshold must be >= 0, got ${threshold}`);
  const active: number[] = [];
  const dummy: number[] = [];
  for (let h = 0; h < w.length; h++) (Math.abs(mu[h]! * w[h]!) > threshold ? active : dummy).push(h);
  const signGroups: SignGroup[] = [];
  for (const sign of [1, -1] as const) {
    const heads: number[] = [];
    let totalMu = 0;
    let eta = 0;
    for (let h = 0; h < w.length; h++) {
      if ((w[h]! >= 0 ? 1 : -1) !== sign) continue;
      heads.push(h);
      totalMu += mu[h]!;
      eta += mu[h]! * w[h]!;
    }
    if (heads.length > 0) signGroups.push({ sign, heads, totalMu, eta, w: totalMu === 0 ? NaN : eta / totalMu });
  }
  return {
    threshold, active, dummy, signGroups,
    twoHead: { w: signGroups.map((g) => g.w), mu: signGroups.map((g) => g.totalMu) },
  };
}

/**
 * Format like Python's f"{x:.{digits}f}" (round half to even on the exact binary value; `nan`,
 * `inf`). JavaScript's toFixed rounds exact ties away from zero (0.03125 → "0.0313", Python "0.0312").
 */
export function formatFixed(x: number, digits = 4): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  let s = x.toFixed(digits);
  if (isExactTie(Math.abs(x), digits)) {
    // toFixed went away from zero; Python goes to the even neighbour.
    const scaled = BigInt(Math.abs(x).toFixed(digits).replace('.', ''));
    if (scaled % 2n === 1n) {
      const down = (scaled - 1n).toString().padStart(digits + 1, '0');
      const body = digits > 0 ? `${down.slice(0, -digits)}.${down.slice(-digits)}` : down;
      s = (x < 0 ? '-' : '') + body;
    }
  }
  return s;
}

/** Whether |x| * 10^digits is exactly an integer + 1/2 (checked on the exact binary value). */
function isExactTie(ax: number, digits: number): boolean {
  if (ax === 0 || ax >= 1e21) return false;
  // ax = m * 2^e exactly, with integer m.
  let e = 0;
  let m = ax;
  while (!Number.isInteger(m)) { m *= 2; e--; }
  // ax * 10^k = m * 10^k / 2^-e ; a tie iff 2 * m * 10^k / 2^-e is an odd integer.
  const num = 2n * BigInt(m) * 10n ** BigInt(digits);
  const den = 1n << BigInt(-e);
  return num % den === 0n && (num / den) % 2n === 1n;
}

/**
 * The lines the seed's `calculate_statistics` prints (same wording, 4 decimals). The seed numbers
 * heads in the summary over all layers in order ("Head i").
 */
export function statisticsLines(heads: readonly HeadCircuit[], d: number): string[] {
  const f = (x: number) => formatFixed(x, 4);
  const lines: string[] = [];
  for (const c of heads) {
    lines.push(`Layer ${c.layer}, Head ${c.head}: w^h = ${f(c.w)}, variance of first ${d} diagonal elements = ${f(c.varDiag)}, sup-norm of rest of d x d block entries = ${f(c.supOffDiag)}`);
    lines.push(`Layer ${c.layer}, Head ${c.head}: mu^h = ${f(c.mu)}, sup-norm of rest of OV entries = ${f(c.supOv)}`);
  }
  lines.push('');
  lines.push('Summary of w^h and mu^h for each head:');
  heads.forEach((c, i) => lines.push(`Head ${i}: mu^h = ${f(c.mu)}, w^h = ${f(c.w)}`));
  lines.push('');
  lines.push(`Hypothesized value of w^h: 1/sqrt(d) = ${f(1 / Math.sqrt(d))}`);
  return lines;
}

function checkHead(p: AttentionParams, h: number): void {
  if (!Number.isInteger(h) || h < 0 || h >= p.H) throw new RangeError(`head ${h} out of range 0..${p.H - 1}`);
}

function checkSameLength(w: ArrayLike<number>, mu: ArrayLike<number>): void {
  if (w.length !== mu.length) throw new RangeError(`w has ${w.length} heads but mu has ${mu.length}`);
}
