// The PyTorch float64 fixtures (test/fixtures/*.json) as params and batches, relative errors, random params and batches.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocParams, type AttentionParams } from '../src/model/params.js';
import { allocBatch, batchFromArrays, type Batch } from '../src/data/batch.js';
import type { Rng } from '../src/data/rng.js';

const here = dirname(fileURLToPath(import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadFixture(name: string): any {
  return JSON.parse(readFileSync(join(here, 'fixtures', name), 'utf8'));
}

export function flat(x: unknown): Float64Array {
  const out: number[] = [];
  const rec = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(rec);
    else out.push(v as number);
  };
  rec(x);
  return Float64Array.from(out);
}

/** Weights {q_proj, k_proj, v_proj, o_proj} (nested lists, PyTorch layout) as AttentionParams. */
export function paramsFromFixture(w: Record<string, unknown>, d: number, H: number): AttentionParams {
  const p = allocParams(d, H);
  p.q.set(flat(w['q_proj']));
  p.k.set(flat(w['k_proj']));
  p.v.set(flat(w['v_proj']));
  p.o.set(flat(w['o_proj']));
  return p;
}

export function thetaFromFixture(w: Record<string, unknown>): Float64Array {
  const parts = ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((k) => flat(w[k]));
  const t = new Float64Array(parts.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of parts) {
    t.set(a, o);
    o += a.length;
  }
  return t;
}

export function batchFromFixture(inp: Record<string, unknown>, B: number, L: number, d: number): Batch {
  return batchFromArrays(B, L, d, flat(inp['z']), flat(inp['z_q']), flat(inp['y_q']));
}

/** max_i |a_i - b_i| / max(|b|_inf, tiny): error relative to the scale of the expected array. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-300);
}

/** Largest elementwise relative error |a-b| / |b| (with an absolute floor for entries near 0). */
export function maxElemRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-12): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor));
  return e;
}

/** Random weights with entries ~ scale * N(0, 1). */
export function randomParams(d: number, H: number, rng: Rng, scale: number): AttentionParams {
  const p = allocParams(d, H);
  for (let i = 0; i < p.theta.length; i++) p.theta[i] = scale * rng.normal();
  return p;
}

/** Random tokens ~ N(0, 1) (query y entry 0) and targets ~ N(0, 1): for comparing kernels, not a task. */
export function randomBatch(B: number, L: number, d: number, rng: Rng): Batch {
  const b = allocBatch(B, L, d);
  rng.fillNormal(b.z);
  rng.fillNormal(b.zq);
  for (let i = 0; i < B; i++) b.zq[i * (d + 1) + d] = 0;
  rng.fillNormal(b.yq);
  return b;
}
