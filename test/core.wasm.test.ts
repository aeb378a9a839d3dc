// The WebAssembly engine (asm/attention.ts via engine/wasm/attention.ts) against the PyTorch fixtures
// and against the TypeScript kernel (the oracle). Needs dist/wasm/attention.wasm (built by `npm test`;
// built here if missing).
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as ts from '../src/engine/ts/attention.js';
import { compileAttentionWasm, createWasmKernel, type WasmKernel, type WasmModule } from '../src/engine/wasm/attention.js';
import { allocBatch } from '../src/data/batch.js';
import { initParams } from '../src/model/init.js';
import { createOptimizer, defaultOptimizerConfig } from '../src/optim/optim.js';
import { allocParams, cloneParams, type AttentionParams } from '../src/model/params.js';
import { Rng } from '../src/data/rng.js';
import { DEFAULT_TASK, sampleBatch } from '../src/data/task.js';
import { batchFromFixture, flat, loadFixture, paramsFromFixture, randomBatch, randomParams, relErr, thetaFromFixture } from './fixtures.helpers.js';
import { root } from './cli.helpers.js';

const wasmPath = join(root, 'dist', 'wasm', 'attention.wasm');
let mod: WasmModule;
let k: WasmKernel;

beforeAll(() => {
  if (!existsSync(wasmPath)) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
  mod = compileAttentionWasm(readFileSync(wasmPath));
  k = createWasmKernel(mod);
});

/** relErr per weight block (q, k, v, o), the largest */
function gradErr(p: AttentionParams, a: Float64Array, b: Float64Array): number {
  const w = p.q.length;
  const parts: [number, number][] = [[0, w], [w, 2 * w], [2 * w, 3 * w], [3 * w, a.length]];
  return Math.max(...parts.map(([s, e]) => relErr(a.subarray(s, e), b.subarray(s, e))));
}

describe.each(['single_layer_H1_fwd_bwd.json', 'single_layer_H2_fwd_bwd.json', 'single_layer_H3_fwd_bwd.json', 'single_layer_H2_d3_L7_fwd_bwd.json'])('wasm kernel, fixture %s', (file) => {
  it('output, attention weights, loss (<=1e-10) and grads per weight (<=1e-9) match PyTorch', () => {
    const fx = loadFixture(file);
    const { d, H, L, B } = fx;
    const p = paramsFromFixture(fx.weights, d, H);
    const batch = batchFromFixture(fx.inputs, B, L, d);
    const out = new Float64Array(B), attn = new Float64Array(B * H * L);
    k.forward(p, batch, out, attn);
    expect(relErr(out, flat(fx.expected.output))).toBeLessThan(1e-10);
    expect(relErr(attn, flat(fx.expected.attn_weights))).toBeLessThan(1e-10);
    const grad = new Float64Array(p.theta.length).fill(123); // must be overwritten
    const out2 = new Float64Array(B);
    const loss = k.lossAndGrad(p, batch, grad, out2);
    expect(Math.abs(loss - fx.expected.loss) / fx.expected.loss).toBeLessThan(1e-10);
    expect(relErr(out2, flat(fx.expected.output))).toBeLessThan(1e-10);
    expect(gradErr(p, grad, thetaFromFixture(fx.expected.grads))).toBeLessThan(1e-9);
  });
});

// [d, L, H, B, weight scale]
const SHAPES: [number, number, number, number, number][] = [
  [1, 1, 1, 1, 0.7], [1, 5, 2, 3, 0.7], [5, 40, 1, 16, 0.5], [5, 40, 2, 16, 0.5], [5, 40, 3, 9, 0.5],
  [5, 40, 8, 8, 0.5], [2, 1, 4, 5, 1], [3, 7, 5, 4, 1], [16, 12, 2, 3, 0.3], [15, 9, 3, 2, 0.3], [4, 64, 7, 2, 0.6],
  // H = 1 runs two prompts per vector: odd B (the last prompt alone), odd E, odd L
  [4, 7, 1, 5, 0.8], [2, 9, 1, 3, 1], [6, 40, 1, 129, 0.5],
];

describe('wasm kernel = TypeScript kernel', () => {
  it.each(SHAPES)('d=%i L=%i H=%i B=%i: forward bit-identical, loss and grads to 1e-12', (d, L, H, B, scale) => {
    const rng = new Rng(1000 * d + 10 * L + H);
    const p = randomParams(d, H, rng, scale);
    const batch = randomBatch(B, L, d, rng);
    const o1 = new Float64Array(B), o2 = new Float64Array(B), a1 = new Float64Array(B * H * L), a2 = new Float64Array(B * H * L);
    ts.forward(p, batch, o1, a1);
    k.forward(p, batch, o2, a2);
    // same operations in the same order, and the vector exp is expNeg's arithmetic: identical doubles
    expect(o2).toEqual(o1);
    expect(a2).toEqual(a1);
    const g1 = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length).fill(NaN);
    const l1 = ts.lossAndGrad(p, batch, g1, o1);
    const l2 = k.lossAndGrad(p, batch, g2, o2);
    expect(Math.abs(l2 - l1) / l1).toBeLessThan(1e-12);
    expect(relErr(o2, o1)).toBeLessThan(1e-12);
    expect(gradErr(p, g2, g1)).toBeLessThan(1e-12);
  });

  it('H = 1 (two prompts per vector): outputs bit-identical to the TS forward, loss and grads to 1e-12, also with extreme scores', () => {
    for (const [d, L, B, scale] of [[5, 40, 128, 0.5], [4, 7, 5, 0.8], [5, 40, 3, 6]] as const) {
      const rng = new Rng(31 * B + L);
      const p = randomParams(d, 1, rng, scale);
      const batch = randomBatch(B, L, d, rng);
      const o1 = new Float64Array(B), o2 = new Float64Array(B);
      const g1 = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length);
      const l1 = ts.lossAndGrad(p, batch, g1);
      const l2 = k.lossAndGrad(p, batch, g2, o2);
      ts.forward(p, batch, o1);
      expect(o2).toEqual(o1); // each lane: the forward's operations for its prompt
      let sse = 0;
      for (let b = 0; b < B; b++) sse += (o1[b]! - batch.yq[b]!) ** 2;
      expect(l2).toBe(sse / B);
      expect(Math.abs(l2 - l1) / l1).toBeLessThan(1e-12);
      expect(gradErr(p, g2, g1)).toBeLessThan(1e-12);
    }
  });

  it('extreme scores (softmax arguments below -708: the scalar exp path) agree with the TS kernel', () => {
    const rng = new Rng(7);
    const p = randomParams(5, 3, rng, 6); // scores of order 1e3
    const batch = randomBatch(4, 40, 5, rng);
    const o1 = new Float64Array(4), o2 = new Float64Array(4), a1 = new Float64Array(4 * 3 * 40), a2 = new Float64Array(4 * 3 * 40);
    ts.forward(p, batch, o1, a1);
    k.forward(p, batch, o2, a2);
    expect(a1.some((a) => a > 0 && a < 1e-300)).toBe(true); // the rare path was taken
    expect(relErr(o2, o1)).toBeLessThan(1e-12);
    expect(relErr(a2, a1)).toBeLessThan(1e-12);
    const g1 = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length);
    expect(Math.abs(k.lossAndGrad(p, batch, g2) / ts.lossAndGrad(p, batch, g1) - 1)).toBeLessThan(1e-12);
    expect(gradErr(p, g2, g1)).toBeLessThan(1e-12);
  });

  it('a batch in wasm memory (allocBatch) gives the same doubles as a copied one, and survives memory growth', () => {
    const kk = createWasmKernel(mod);
    const rng = new Rng(3);
    const p = randomParams(5, 2, rng, 0.5);
    const src = randomBatch(32, 40, 5, rng);
    const inside = kk.allocBatch(32, 40, 5);
    inside.z.set(src.z);
    inside.zq.set(src.zq);
    inside.yq.set(src.yq);
    const g1 = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length);
    const l1 = kk.lossAndGrad(p, src, g1);
    const l2 = kk.lossAndGrad(p, inside, g2);
    expect(l2).toBe(l1);
    expect(g2).toEqual(g1);
    // a much larger call grows the memory (detaching old views); the pinned batch keeps its data
    const big = randomBatch(512, 100, 9, rng);
    const pb = randomParams(9, 8, rng, 0.3);
    kk.lossAndGrad(pb, big, new Float64Array(pb.theta.length));
    expect(inside.z.length).toBe(32 * 40 * 6);
    expect(Array.from(inside.z.subarray(0, 10))).toEqual(Array.from(src.z.subarray(0, 10)));
    expect(kk.lossAndGrad(p, inside, g2)).toBe(l1);
  });

  it('rejects mismatched shapes like the TS kernel', () => {
    const p = allocParams(5, 2);
    const b = allocBatch(4, 3, 4);
    expect(() => k.lossAndGrad(p, b, new Float64Array(p.theta.length))).toThrow(/E=6.*E=5/);
    expect(() => k.lossAndGrad(p, allocBatch(4, 3, 5), new Float64Array(3))).toThrow(/grad has 3 values/);
  });

  it('50 Adam steps at the seed config: the wasm trajectory stays within 1e-10 of the TS one', () => {
    const task = { ...DEFAULT_TASK, batchSize: 32 };
    const run = (engine: 'ts' | 'wasm') => {
      const rng = new Rng(11);
      const p = initParams(task.d, 2, 'random', rng);
      const opt = createOptimizer(defaultOptimizerConfig('adam', 1e-3), p.theta.length);
      const kk = createWasmKernel(mod);
      const batch = engine === 'wasm' ? kk.allocBatch(task.batchSize, task.L, task.d) : allocBatch(task.batchSize, task.L, task.d);
      const grad = new Float64Array(p.theta.length);
      const losses: number[] = [];
      for (let s = 0; s < 50; s++) {
        sampleBatch(task, rng, batch);
        losses.push(engine === 'wasm' ? kk.lossAndGrad(p, batch, grad) : ts.lossAndGrad(p, batch, grad));
        opt.step(p.theta, grad);
      }
      return { losses, p: cloneParams(p) };
    };
    const a = run('ts'), b = run('wasm');
    expect(relErr(b.losses, a.losses)).toBeLessThan(1e-10);
    expect(relErr(b.p.theta, a.p.theta)).toBeLessThan(1e-10);
    const init = initParams(task.d, 2, 'random', new Rng(11));
    expect(relErr(b.p.theta, init.theta)).toBeGreaterThan(1e-3); // the weights did move (50 steps of lr 1e-3)
  });
});
