// Helpers for the causal-stack tests: fixture loading, a tiny seeded RNG stand-in, comparisons.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocBatch, type Batch } from '../src/data/batch.js';
import { allocStackParams, type StackParams } from '../src/model/stack.js';

const here = dirname(fileURLToPath(import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadStackFixture(): any {
  return JSON.parse(readFileSync(join(here, 'fixtures', 'causal_stack_2layer.json'), 'utf8'));
}

/** Nested lists flattened row-major (the core tests' helper under the name the stack tests use). */
export { flat as flatten } from './fixtures.helpers.js';

/** max |a - b| / max |b|: error relative to the scale of the expected array. */
export { relErr } from './fixtures.helpers.js';

/** Seeded stand-in for data/rng.ts (mulberry32 uniforms, Box-Muller normals). */
export class TestRng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  nextDouble(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = 1 - this.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.nextDouble());
  }
}

/** Random params with entries ~ scale * N(0,1). */
export function randomStack(d: number, H: number, nLayers: number, tying: boolean, rng: TestRng, scale = 0.5): StackParams {
  const p = allocStackParams(d, H, nLayers, tying);
  for (let i = 0; i < p.theta.length; i++) p.theta[i] = scale * rng.normal();
  return p;
}

/** A random regression batch in the seed's layout (y_q = beta.x_q, context y with small noise). */
export function randomBatch(B: number, L: number, d: number, rng: TestRng): Batch {
  const batch = allocBatch(B, L, d);
  const E = d + 1;
  for (let b = 0; b < B; b++) {
    const beta = Array.from({ length: d }, () => rng.normal());
    for (let i = 0; i < L; i++) {
      let y = 0;
      for (let a = 0; a < d; a++) {
        const x = rng.normal();
        batch.z[(b * L + i) * E + a] = x;
        y += beta[a]! * x;
      }
      batch.z[(b * L + i) * E + d] = y + 0.01 * rng.normal();
    }
    let yq = 0;
    for (let a = 0; a < d; a++) {
      const x = rng.normal();
      batch.zq[b * E + a] = x;
      yq += beta[a]! * x;
    }
    batch.yq[b] = yq;
  }
  return batch;
}
