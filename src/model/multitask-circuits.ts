/**
 * Circuits of the multi-task model and the authors' statement about them (docs/PAPER_EXPERIMENTS.md §5).
 *
 *   QK^h = W_Q^h W_K^h^T / sqrt(E)   [E, E]  (E = d + N; model/circuits.ts headQK)
 *   OV^h = W_V^h W_O^h               [E, N]  (model/circuits.ts headOVMatrix): row d + k = y_k, column j = output j
 *
 * Per head and task k (block x[s_k:e_k]):
 *   qkShare[h][k] = sum_{c in block k} |QK^h[c, c]| / sum_{c < d} |QK^h[c, c]|   share of the head's x-diagonal mass
 *   ovShare[h][k] = |OV^h[d + k, k]| / sum_j |OV^h[d + j, j]|                   share of its y_k -> output k read-out
 *   qkSign[h][k]  = sign of the mean QK^h diagonal on the coordinates ONLY task k reads (on all of its
 *                   block when every coordinate is shared)
 * A head serves task k when its OV read-out y_k -> k carries weight; an "active" head has
 * sum_k |OV^h[d+k, k]| * |mean diag on block k| above a threshold.
 */
import { ovCircuit, qkCircuit } from './circuits.js';
import type { AttentionParams } from './params.js';
import type { TaskBlock } from '../data/multitask.js';

export interface MultiHeadCircuit {
  head: number;
  /** Scaled QK^h [E, E]. */
  qk: Float64Array;
  /** OV^h [E, N]. */
  ov: Float64Array;
  /** mean QK^h diagonal on each task's own block [N]. */
  wTask: number[];
  /** OV^h[d + k, k] for each task [N]. */
  muTask: number[];
  /** Shares (see the file comment), [N] each. */
  qkShare: number[];
  /** Share of the x-diagonal mass on the coordinates only task k reads, among all such coordinates [N]. */
  qkExclusive: number[];
  ovShare: number[];
  /** |mu_k w_k| summed over tasks: how much the head contributes. */
  strength: number;
}

/** Coordinates only task k reads (its block minus every other task's); its whole block if none are exclusive. */
export function exclusiveCoordinates(tasks: readonly TaskBlock[], k: number): number[] {
  const [s, e] = tasks[k]!;
  const own: number[] = [];
  for (let c = s; c < e; c++) if (!tasks.some(([s2, e2], j) => j !== k && c >= s2 && c < e2)) own.push(c);
  return own.length > 0 ? own : Array.from({ length: e - s }, (_, i) => s + i);
}

export function multitaskCircuits(p: AttentionParams, dx: number, tasks: readonly TaskBlock[]): MultiHeadCircuit[] {
  const N = tasks.length;
  if (p.nOut !== N || p.E !== dx + N) throw new RangeError(`model has E=${p.E}, n_out=${p.nOut}; the tasks need E = d + N = ${dx + N}, n_out = ${N}`);
  const E = p.E;
  const out: MultiHeadCircuit[] = [];
  for (let h = 0; h < p.H; h++) {
    const qk = qkCircuit(p, h);
    const ov = ovCircuit(p, h); // [E, N]
    let diagMass = 0;
    for (let c = 0; c < dx; c++) diagMass += Math.abs(qk[c * E + c]!);
    const qkShare: number[] = [];
    const wTask: number[] = [];
    const muTask: number[] = [];
    for (let k = 0; k < N; k++) {
      const [s, e] = tasks[k]!;
      let m = 0;
      let w = 0;
      for (let c = s; c < e; c++) {
        m += Math.abs(qk[c * E + c]!);
        w += qk[c * E + c]!;
      }
      qkShare.push(diagMass > 0 ? m / diagMass : 0);
      wTask.push(w / (e - s));
      muTask.push(ov[(dx + k) * N + k]!);
    }
    const excl = tasks.map((_, k) => exclusiveCoordinates(tasks, k).reduce((a, c) => a + Math.abs(qk[c * E + c]!), 0));
    const exclMass = excl.reduce((a, x) => a + x, 0);
    const qkExclusive = excl.map((x) => (exclMass > 0 ? x / exclMass : 0));
    const ovMass = muTask.reduce((a, x) => a + Math.abs(x), 0);
    const ovShare = muTask.map((x) => (ovMass > 0 ? Math.abs(x) / ovMass : 0));
    const strength = muTask.reduce((a, x, k) => a + Math.abs(x * wTask[k]!), 0);
    out.push({ head: h, qk, ov, wTask, muTask, qkShare, qkExclusive, ovShare, strength });
  }
  return out;
}

/** Thresholds of the multi-task read-out (report/multitask-findings.ts explains them). */
export const MT_THRESHOLDS = {
  /** sum_k |mu_k w_k| above this: the head contributes (as the single-task 0.05). */
  active: 0.05,
  /** Split-up: every active head's mixed share at most this. */
  split: 0.1,
  /** Superposition: some active head's mixed share at least this. */
  superposed: 0.2,
} as const;

/** See the file comment. */
export function mixedShare(c: MultiHeadCircuit): number {
  const main = mainTask(c);
  let m = 0;
  for (let k = 0; k < c.ovShare.length; k++) if (k !== main) m = Math.max(m, Math.min(c.ovShare[k]!, c.qkExclusive[k]!));
  return m;
}

/** Heads with sum_k |mu_k w_k| above MT_THRESHOLDS.active. */
export const activeCircuits = (cs: readonly MultiHeadCircuit[]) => cs.filter((c) => c.strength > MT_THRESHOLDS.active);

/** The task a head serves most (argmax of its read-out share). */
export const mainTask = (c: MultiHeadCircuit) => c.ovShare.indexOf(Math.max(...c.ovShare));
