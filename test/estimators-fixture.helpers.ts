/** Shared loader for test/fixtures/estimators.json (PyTorch float64 ground truth). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocParams, type AttentionParams } from '../src/model/params.js';
import { batchFromArrays, type Batch } from '../src/data/batch.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface PerHead {
  w_h: number; var_diag: number; sup_offdiag_dxd: number; mu_h: number; sup_OV_x_to_out: number;
  QK: number[][]; OV: number[];
}
export interface WeightSet {
  weights: { q_proj: number[][]; k_proj: number[][]; v_proj: number[][]; o_proj: number[][] };
  statistics: { w_h: number[]; mu_h: number[]; per_head: PerHead[] };
  QK_dyn_stack: number[];
  OV_dyn_stack: number[];
  transformer_output: number[][];
  kernel_estimator_output_from_statistics: number[][];
  mse_vs_y_q: { transformer: number; kernel_estimator_from_statistics: number };
}
export interface EstimatorsFixture {
  d: number; E: number; L: number; B: number; H: number;
  inputs: { z: number[][][]; z_q: number[][][]; y_q: number[][][] };
  one_step_gd_output: number[][];
  kernel_estimator_params: { w_h: number[]; mu_h: number[] };
  kernel_estimator_output: number[][];
  mse_vs_y_q: { one_step_gd: number; kernel_estimator: number };
  weight_sets: Record<'random' | 'structured', WeightSet>;
}

export const fx: EstimatorsFixture = JSON.parse(readFileSync(join(here, 'fixtures', 'estimators.json'), 'utf8'));

export const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);

export function fixtureBatch(): Batch {
  const { B, L, d } = fx;
  return batchFromArrays(B, L, d, Float64Array.from(flat(fx.inputs.z)), Float64Array.from(flat(fx.inputs.z_q)), Float64Array.from(flat(fx.inputs.y_q)));
}

export function fixtureParams(set: WeightSet): AttentionParams {
  const p = allocParams(fx.d, fx.H);
  p.q.set(flat(set.weights.q_proj));
  p.k.set(flat(set.weights.k_proj));
  p.v.set(flat(set.weights.v_proj));
  p.o.set(flat(set.weights.o_proj));
  return p;
}

/** |a - b| <= tol * max(1, |b|) elementwise, with a message naming the first offender. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) throw new Error(`${what}[${i}]: got ${a}, expected ${e} (tol ${tol})`);
  }
}

export function mse(out: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (out[i]! - y[i]!) ** 2;
  return s / y.length;
}
