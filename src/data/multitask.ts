/**
 * Multi-task in-context linear regression (the authors' icl_linear_multitask.ipynb; docs/PAPER_EXPERIMENTS.md §5;
 * reference/seed_ref.py `MultiTaskLinearReg`). N tasks read coordinate blocks of one input x:
 *
 *   x_i, x_q ~ N(0, I_d);  task k reads x[s_k : e_k]  (dx_k = e_k - s_k; blocks may overlap)
 *   beta_k ~ N(0, I_{dx_k})                                    (not / d)
 *   y_ik = beta_k . x_i[s_k:e_k] + sqrt(dx_k) * noiseStd * eps_ik    (context)
 *   y_qk = beta_k . x_q[s_k:e_k]                                     (query: noise-free)
 *
 * Tokens z_i = [x_i, y_i1, ..., y_iN] (width E = d + N), query z_q = [x_q, 0, ..., 0]; targets
 * yq [B, N]. RNG order per batch (the reference's): x [B, L, d], x_q [B, d], beta_1 [B, dx_1], ...,
 * beta_N [B, dx_N], eps_1 [B, L], ..., eps_N [B, L].
 *
 * The batch is a data/batch.ts `Batch` whose `d` is E - 1 (so the one-output code paths that only
 * need E keep working) plus the task layout: `dx` = the input dimension, `N` outputs, `yq` [B, N].
 */
import type { Batch } from './batch.js';
import type { Rng } from './rng.js';

/** Task k reads x[start, end). */
export type TaskBlock = readonly [start: number, end: number];

export interface MultiTaskSpec {
  /** Input dimension (x has d coordinates). */
  d: number;
  L: number;
  batchSize: number;
  noiseStd: number;
  tasks: readonly TaskBlock[];
}

export interface MultiTaskBatch extends Batch {
  /** Input dimension of x (the batch's `d` is the token width minus one, E - 1). */
  readonly dx: number;
  /** Number of tasks = outputs. */
  readonly N: number;
  readonly tasks: readonly TaskBlock[];
}

/** The authors' layout: d = 6, task 1 on x[0:4], task 2 on x[2:6]. */
export const AUTHORS_TASKS: readonly TaskBlock[] = [[0, 4], [2, 6]];

/** Parse "0:4,2:6" (half-open coordinate blocks); throws RangeError naming the problem and what is allowed. */
export function parseTasks(text: string, d?: number): TaskBlock[] {
  const parts = text.split(',').map((s) => s.trim());
  const out: TaskBlock[] = parts.map((p) => {
    const m = /^(\d+):(\d+)$/.exec(p);
    if (!m) throw new RangeError(`tasks: '${p}' is not START:END (coordinate block x[START:END), e.g. 0:4,2:6)`);
    return [Number(m[1]), Number(m[2])] as const;
  });
  validateTasks(out, d);
  return out;
}

export function validateTasks(tasks: readonly TaskBlock[], d?: number): void {
  if (tasks.length < 1) throw new RangeError('tasks: need at least one task block START:END');
  for (const [s, e] of tasks) {
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e <= s) throw new RangeError(`tasks: block ${s}:${e} must satisfy 0 <= START < END (x[START:END) is the task's input)`);
    if (d !== undefined && e > d) throw new RangeError(`tasks: block ${s}:${e} reaches past x's ${d} coordinates (d = ${d})`);
  }
}

/** Blocks as text, "0:4,2:6". */
export function formatTasks(tasks: readonly TaskBlock[]): string {
  return tasks.map(([s, e]) => `${s}:${e}`).join(',');
}

export function allocMultiTaskBatch(B: number, L: number, d: number, tasks: readonly TaskBlock[]): MultiTaskBatch {
  const N = tasks.length;
  const E = d + N;
  return { B, L, d: E - 1, E, dx: d, N, tasks, z: new Float64Array(B * L * E), zq: new Float64Array(B * E), yq: new Float64Array(B * N) };
}

/** Scratch (grown on demand). */
let xs = new Float64Array(0);
let xq = new Float64Array(0);
let eps = new Float64Array(0);

/** Draw a batch (allocated if absent). `betaOut`, if given, receives beta_k for every prompt: [N][B, dx_k]. */
export function sampleMultiTask(spec: MultiTaskSpec, rng: Rng, out?: MultiTaskBatch, betaOut?: Float64Array[]): MultiTaskBatch {
  const { d, L, batchSize: B, tasks } = spec;
  validateTasks(tasks, d);
  const N = tasks.length;
  const E = d + N;
  const batch = out ?? allocMultiTaskBatch(B, L, d, tasks);
  if (batch.B !== B || batch.L !== L || batch.dx !== d || batch.N !== N) throw new RangeError(`batch buffer is B=${batch.B}, L=${batch.L}, d=${batch.dx}, N=${batch.N}; the task needs B=${B}, L=${L}, d=${d}, N=${N}`);
  if (xs.length < B * L * d) xs = new Float64Array(B * L * d);
  if (xq.length < B * d) xq = new Float64Array(B * d);
  if (eps.length < B * L) eps = new Float64Array(B * L);
  rng.fillNormal(xs, 0, B * L * d); // x [B, L, d]
  rng.fillNormal(xq, 0, B * d); // x_q [B, d]
  const betas = tasks.map(([s, e], k) => {
    const dxk = e - s;
    const beta = betaOut?.[k] ?? new Float64Array(B * dxk);
    if (beta.length !== B * dxk) throw new RangeError(`betaOut[${k}] has ${beta.length} values, expected B*dx_k = ${B}*${dxk}`);
    rng.fillNormal(beta, 0, B * dxk); // beta_k [B, dx_k]
    return beta;
  });
  const { z, zq, yq } = batch;
  // x into the tokens' first d entries (index loops: no subarray per token)
  for (let t = 0; t < B * L; t++) {
    const src = t * d, dst = t * E;
    for (let j = 0; j < d; j++) z[dst + j] = xs[src + j]!;
  }
  for (let b = 0; b < B; b++) for (let j = 0; j < d; j++) zq[b * E + j] = xq[b * d + j]!;
  tasks.forEach(([s, e], k) => {
    const dxk = e - s;
    const beta = betas[k]!;
    const sigma = Math.sqrt(dxk) * spec.noiseStd;
    rng.fillNormal(eps, 0, B * L); // eps_k [B, L]
    for (let b = 0; b < B; b++) {
      const bo = b * dxk;
      for (let i = 0; i < L; i++) {
        const t = (b * L + i) * E;
        let y = 0;
        for (let j = 0; j < dxk; j++) y += beta[bo + j]! * z[t + s + j]!;
        z[t + d + k] = y + sigma * eps[b * L + i]!;
      }
      let y = 0;
      for (let j = 0; j < dxk; j++) y += beta[bo + j]! * zq[b * E + s + j]!;
      yq[b * N + k] = y;
      zq[b * E + d + k] = 0;
    }
  });
  return batch;
}
