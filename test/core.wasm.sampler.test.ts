// The ziggurat in wasm (asm/ziggurat.ts via src/engine/wasm/sampler.ts and kernel.sampleBatch) against
// data/rng.ts and data/task.ts: the same normals, batches and RNG state, bit for bit.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileAttentionWasm, createWasmKernel, type WasmKernel } from '../src/engine/wasm/attention.js';
import { allocBatch } from '../src/data/batch.js';
import { Rng } from '../src/data/rng.js';
import { DEFAULT_TASK, sampleBatch, type TaskSpec } from '../src/data/task.js';
import { root } from './cli.helpers.js';

const wasmPath = join(root, 'dist', 'wasm', 'attention.wasm');
let k: WasmKernel;
beforeAll(() => {
  if (!existsSync(wasmPath)) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
  k = createWasmKernel(compileAttentionWasm(readFileSync(wasmPath)));
});

const same = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

describe('wasm ziggurat = Rng.fillNormal', () => {
  it('2,000,000 normals (wedge and tail draws included) and the state afterwards are identical', () => {
    // through sampleBatch: a task whose z holds 2M normals (B=1000, L=400, d=4)
    const task: TaskSpec = { d: 4, L: 400, batchSize: 1000, noiseStd: 0.5, preset: 'seed' };
    const a = new Rng(2024), b = new Rng(2024);
    const ba = sampleBatch(task, a);
    const bb = k.sampleBatch(task, b, k.allocBatch(1000, 400, 4));
    expect(same(bb.z, ba.z)).toBe(true);
    expect(same(bb.zq, ba.zq)).toBe(true);
    expect(same(bb.yq, ba.yq)).toBe(true);
    expect(b.getState()).toEqual(a.getState());
    // the rare paths were exercised: tails beyond R = 3.4426 and wedge-region values
    expect(ba.z.some((x) => Math.abs(x) > 3.45)).toBe(true);
    expect(ba.z.filter((x) => Math.abs(x) > 4).length).toBeGreaterThan(50);
    // and the streams continue identically
    expect(a.nextUint32()).toBe(b.nextUint32());
  });

  it.each([
    ['seed preset, default task', DEFAULT_TASK],
    ['paper preset with rho', { d: 3, L: 7, batchSize: 5, noiseStd: 0.1, preset: 'paper', rho: 0.5 } as TaskSpec],
    ['d=1 L=1 B=1', { d: 1, L: 1, batchSize: 1, noiseStd: 0, preset: 'seed' } as TaskSpec],
    ['d=17 (generic y loop)', { d: 17, L: 9, batchSize: 6, noiseStd: 0.01, preset: 'seed' } as TaskSpec],
  ])('%s: 30 batches into wasm memory and into JS arrays, with betaOut, equal sampleBatch', (_name, task) => {
    const { d, L, batchSize: B } = task;
    const a = new Rng(7), b = new Rng(7), c = new Rng(7);
    const ja = allocBatch(B, L, d), jc = allocBatch(B, L, d);
    const wb = k.allocBatch(B, L, d);
    const betaA = new Float64Array(B * d), betaB = new Float64Array(B * d);
    for (let s = 0; s < 30; s++) {
      sampleBatch(task, a, ja, betaA);
      k.sampleBatch(task, b, wb, betaB); // batch in wasm memory, betaOut in JS memory
      k.sampleBatch(task, c, jc); // everything in JS memory (copied through wasm scratch)
      expect(same(wb.z, ja.z) && same(wb.zq, ja.zq) && same(wb.yq, ja.yq)).toBe(true);
      expect(same(jc.z, ja.z) && same(jc.yq, ja.yq)).toBe(true);
      expect(same(betaB, betaA)).toBe(true);
    }
    expect(b.getState()).toEqual(a.getState());
    expect(c.getState()).toEqual(a.getState());
  });

  it('the kernel keeps working on a batch after sampling grew its memory', () => {
    const kk = k;
    const rng = new Rng(1), ref = new Rng(1);
    const wb = kk.allocBatch(8, 5, 2);
    kk.sampleBatch({ d: 2, L: 5, batchSize: 8, noiseStd: 0, preset: 'seed' }, rng, wb);
    const big = { d: 9, L: 300, batchSize: 400, noiseStd: 0, preset: 'seed' } as TaskSpec;
    kk.sampleBatch(big, rng, allocBatch(400, 300, 9)); // grows the memory (JS batch: scratch)
    const r = sampleBatch({ d: 2, L: 5, batchSize: 8, noiseStd: 0, preset: 'seed' }, ref);
    expect(same(wb.z, r.z)).toBe(true); // the pinned batch's new views show the same data
  });
});
