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
import type { AttentionParams, LayerWeights } from './params.js';


import type { StackParams } from './stack.js';


/** Layer l of a causal stack as LayerWeights (views, no copy). */
export function stackLayer(p: StackParams, l: number): LayerWeights {
  if (!Number.isInteger(l) || l < 0 || l >= p.nLayers) throw new RangeError(`layer must be in 0..${p.nLayers - 1}, got ${l}`);
  return { d: p.d, E: p.E, H: p.H, nOut: p.E, ...p.layers[l]! };
}

/**
 * THE circuit read-out: QK^h = W_Q^h W_K^h^T / sqrt(E), row-major [E, E] (row = query coordinate,
 * column = key coordinate; the head's score is z_q QK^h z_i^T). Every consumer (the kernels'
 * preparation, dynamics snapshots, analyze, plots, report) forms QK^h here.
 */
export function qkCircuit(p: LayerWeights, h: number, out = new Float64Array(p.E * p.E)): Float64Array {
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
 * THE circuit read-out: OV^h = W_V^h W_O^h, row-major [E, nOut] (row = coordinate of the attended
 * token, column = output written). For the seed's model (nOut = 1) it is the column OV^h[:, -1].
 */
export function ovCircuit(p: LayerWeights, h: number, out = new Float64Array(p.E * p.nOut)): Float64Array {
  checkHead(p, h);
  const { E, nOut, H } = p;
  // OV[a, j] = sum_c v[hE + c, a] o[j, hE + c]
  for (let a = 0; a < E; a++) {
    for (let j = 0; j < nOut; j++) {
      let s = 0;
      for (let c = 0; c < E; c++) s += p.v[(h * E + c) * E + a]! * p.o[j * E * H + h * E + c]!;
      out[a * nOut + j] = s;
    }
  }
  return out; // [E, nOut]
}

/** m [rows, cols] times wᵀ (w [r, cols]): [rows, r]; e.g. OV^h of a stack's last layer through final_linear. */
function timesTransposed(m: Float64Array, rows: number, cols: number, w: Float64Array, r: number): Float64Array {
  if (w.length !== r * cols) throw new RangeError(`final_linear has ${w.length} values, expected [${r}, ${cols}]`);
  const res = new Float64Array(rows * r); // [rows, r]
  for (let a = 0; a < rows; a++) {
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += m[a * cols + j]! * w[k * cols + j]!;
      res[a * r + k] = s;
    }
  }
  return res;
}

/** The last column of a row-major [rows, cols] matrix, [rows]. */
export function lastColumn(m: Float64Array, cols: number): Float64Array {
  const rows = m.length / cols;
  const col = new Float64Array(rows); // [rows]
  for (let a = 0; a < rows; a++) col[a] = m[a * cols + cols - 1]!;
  return col;
}

/**
 * The read-out of one head: its circuits and their statistics (seed convention). `ov` is the whole
 * OV^h [E, ovCols]: the column OV^h[:, -1] for the seed's model (ovCols = 1), E x E in a stack.
 * w, mu and the statistics read the column that feeds y (the last one): mu = OV^h[-1, -1].
 */
export interface HeadCircuit {
  /** 0-based, as stored; shown 1-based. */
  readonly layer: number;
  readonly head: number;
  /** Scaled QK^h, row-major [E, E]. */
  readonly qk: Float64Array;
  /** OV^h, row-major [E, ovCols]. */
  readonly ov: Float64Array;
  readonly ovCols: number;
  readonly w: number;
  readonly mu: number;
  /** Population variance of the first d diagonal entries of QK^h. */
  readonly varDiag: number;
  /** Sup-norm of the off-diagonal entries of the d×d block of QK^h. */
  readonly supOffDiag: number;
  /** Sup-norm of OV^h[:d, -1] (x coordinates leaking into the output). */
  readonly supOv: number;
  /** A stack's last layer only: OV^h through final_linear, [E] (ovOut = OV^h final_linearᵀ), and its y entry. */
  readonly ovOut?: Float64Array;
  readonly muOut?: number;
}

/** Statistics of one head from its QK^h [E, E] and OV^h [E, cols] (cols = ov.length / E; the last column feeds y). */
export function headStatistics(qk: Float64Array, ov: Float64Array, d: number): Pick<HeadCircuit, 'w' | 'mu' | 'varDiag' | 'supOffDiag' | 'supOv'> {
  const E = d + 1;
  const cols = ov.length / E;
  if (qk.length !== E * E || !Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`QK has ${qk.length} values and OV ${ov.length}, expected ${E}x${E} and ${E}xN for d=${d}`);
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
  for (let a = 0; a < d; a++) supOv = Math.max(supOv, Math.abs(ov[a * cols + cols - 1]!));
  return { w, mu: ov[E * cols - 1]!, varDiag, supOffDiag, supOv };
}

/** The read-out of head h of a layer (`layer` is only its label). */
export function headCircuit(p: LayerWeights, h: number, layer = 0): HeadCircuit {
  const qk = qkCircuit(p, h);
  const ov = ovCircuit(p, h);
  return { layer, head: h, qk, ov, ovCols: p.nOut, ...headStatistics(qk, ov, p.d) };
}

/**
 * Every head of one layer. `outWeight` is a stack's final_linear [rows, nOut]: OV^h is then read
 * through it (as the seed's `calculate_statistics` does for the last layer).
 */
export function layerCircuits(p: LayerWeights, layer = 0, outWeight?: { weight: Float64Array; rows: number }): HeadCircuit[] {
  const heads: HeadCircuit[] = [];
  for (let h = 0; h < p.H; h++) {
    const c = headCircuit(p, h, layer);
    if (!outWeight) heads.push(c);
    else {
      const ov = timesTransposed(c.ov, p.E, p.nOut, outWeight.weight, outWeight.rows);
      heads.push({ ...c, ov, ovCols: outWeight.rows, ...headStatistics(c.qk, ov, p.d) });
    }
  }
  return heads;
}

/**
 * Every head of every layer of a causal stack: result[l][h]. ov = OV^h (E x E); mu = OV^h[-1, -1]
 * (the y -> y channel) with the SAME meaning for every layer; the last layer also carries ovOut =
 * OV^h final_linearᵀ [E] and muOut = ovOut[-1] (the seed's last-layer mu; for a 1-layer stack the
 * mu of the equivalent single-layer model). The seed's `OV_dyn_stack` multiplies every layer by
 * final_linear and its statistics only the last (SEED_NOTES #6); here mu is always y -> y.
 */
export function stackCircuits(p: StackParams): HeadCircuit[][] {
  const res: HeadCircuit[][] = [];
  for (let l = 0; l < p.nLayers; l++) {
    const layer = stackLayer(p, l);
    const row = layerCircuits(layer, l);
    if (l === p.nLayers - 1) {
      res.push(row.map((c) => {
        const ovOut = timesTransposed(c.ov, p.E, p.E, p.finalLinear, 1);
        return { ...c, ovOut, muOut: ovOut[p.E - 1]! };
      }));
    } else res.push(row);
  }
  return res;
}

/**
 * The run directory's snapshot tensors, allocation-free apart from one OV^h: `qk` [layers, H, E, E]
 * (scaled QK^h) and `ov` [layers, H, E] (OV^h[:, -1], the column written into y; its last entry is mu^h).
 */
export function snapshotCircuits(layers: readonly LayerWeights[], qk: Float64Array, ov: Float64Array): void {
  const { E, H } = layers[0]!;
  const n = layers.length;
  if (qk.length !== n * H * E * E || ov.length !== n * H * E) {
    throw new RangeError(`snapshot buffers have ${qk.length} / ${ov.length} values, expected [layers,H,E,E] = ${n * H * E * E} / [layers,H,E] = ${n * H * E}`);
  }
  for (let l = 0; l < n; l++) {
    const p = layers[l]!;
    const full = new Float64Array(E * p.nOut);
    for (let h = 0; h < H; h++) {
      const lh = l * H + h;
      qkCircuit(p, h, qk.subarray(lh * E * E, (lh + 1) * E * E) as Float64Array<ArrayBuffer>); // [E, E]
      ovCircuit(p, h, full);
      for (let a = 0; a < E; a++) ov[lh * E + a] = full[a * p.nOut + p.nOut - 1]!; // [E]
    }
  }
}

/** Snapshot tensors of a stack (snapshotCircuits over its layers). */
export function stackSnapshot(p: StackParams, qk: Float64Array, ov: Float64Array): void {
  snapshotCircuits(Array.from({ length: p.nLayers }, (_, l) => stackLayer(p, l)), qk, ov);
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
    out[h] = ovCircuit(p, h)[(p.E - 1) * p.nOut]!;
  }
  return out;
}

/**
 * The run directory's per-step dynamics for a stack: w^h into `w` [nLayers*H] and mu^h into `mu`
 * [nLayers*H], layer-major. Allocates nothing. `convention`:
 *   'y-to-y' (default)   mu = OV^h[-1,-1] for every layer (`stackCircuits`' mu);
 *   'seed-statistics'    the same, except the LAST layer's mu goes through final_linear
 *                        (`stackCircuits`' muOut), as the seed's `calculate_statistics` does.
 * (The seed's `OV_dyn_stack` multiplies every layer by final_linear; SEED_NOTES #6.)
 */
export function stackDynamics(p: StackParams, w: Float64Array, mu: Float64Array, convention: 'y-to-y' | 'seed-statistics' = 'y-to-y'): void {
  const { d, E, H, nLayers } = p;
  const EH = E * H;
  const sc = 1 / Math.sqrt(E);
  const f = p.finalLinear;
  for (let l = 0; l < nLayers; l++) {
    const { q, k, v, o } = p.layers[l]!;
    const throughFinal = convention === 'seed-statistics' && l === nLayers - 1;
    for (let h = 0; h < H; h++) {
      let sw = 0;
      for (let a = 0; a < d; a++) {
        for (let e = 0; e < E; e++) sw += q[(h * E + e) * E + a]! * k[(h * E + e) * E + a]!;
      }
      let sm = 0;
      for (let e = 0; e < E; e++) {
        // (W_O^h f^T)[e] or W_O^h[e, -1]
        let oe = 0;
        if (throughFinal) for (let c = 0; c < E; c++) oe += o[c * EH + h * E + e]! * f[c]!;
        else oe = o[(E - 1) * EH + h * E + e]!;
        sm += v[(h * E + e) * E + E - 1]! * oe;
      }
      w[l * H + h] = (sw * sc) / d;
      mu[l * H + h] = sm;
    }
  }
}

/** eta_TF = sum_h mu^h w^h, the learning rate of the one-step GD the kernel linearises to (docs/THEORY.md). */
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
/**
 * The lines the seed's `calculate_statistics` prints, with layers and heads numbered from 1 (as
 * everything icl-lab shows). `outLayer`: the layer (0-based) whose OV is read through a stack's
 * final_linear; its mu is labelled mu_out^h there, as `analyze` names that value. `seedNumbering`:
 * the seed's own printout byte for byte (numbered from 0, one summary list; for checks against it).
 */
export function statisticsLines(heads: readonly HeadCircuit[], d: number, opts: { outLayer?: number; seedNumbering?: boolean } = {}): string[] {
  const f = (x: number) => formatFixed(x, 4);
  const seed = opts.seedNumbering === true;
  const n = seed ? 0 : 1;
  const mu = (c: HeadCircuit) => (!seed && c.layer === opts.outLayer ? 'mu_out^h' : 'mu^h');
  const lines: string[] = [];
  for (const c of heads) {
    lines.push(`Layer ${c.layer + n}, Head ${c.head + n}: w^h = ${f(c.w)}, variance of first ${d} diagonal elements = ${f(c.varDiag)}, sup-norm of rest of d x d block entries = ${f(c.supOffDiag)}`);
    lines.push(`Layer ${c.layer + n}, Head ${c.head + n}: ${mu(c)} = ${f(c.mu)}, sup-norm of rest of OV entries = ${f(c.supOv)}`);
  }
  lines.push('');
  lines.push('Summary of w^h and mu^h for each head:');
  const layers = new Set(heads.map((c) => c.layer)).size;
  heads.forEach((c, i) => lines.push(seed ? `Head ${i}: mu^h = ${f(c.mu)}, w^h = ${f(c.w)}` : `${layers > 1 ? `Layer ${c.layer + 1}, ` : ''}Head ${c.head + 1}: ${mu(c)} = ${f(c.mu)}, w^h = ${f(c.w)}`));
  lines.push('');
  lines.push(`Hypothesized value of w^h: 1/sqrt(d) = ${f(1 / Math.sqrt(d))}`);
  return lines;
}

function checkHead(p: LayerWeights, h: number): void {
  if (!Number.isInteger(h) || h < 0 || h >= p.H) throw new RangeError(`head ${h} out of range 0..${p.H - 1}`);
}

function checkSameLength(w: ArrayLike<number>, mu: ArrayLike<number>): void {
  if (w.length !== mu.length) throw new RangeError(`w has ${w.length} heads but mu has ${mu.length}`);
}

/** Whether the heads have split into a +/- pair: an active head (|mu^h w^h| above the threshold) in each sign group of w. */
export function isPairedGrouping(g: HeadGrouping): boolean {
  return g.signGroups.filter((s) => s.heads.some((h) => g.active.includes(h))).length >= 2;
}
