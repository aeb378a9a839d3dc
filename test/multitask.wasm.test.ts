// The multi-task kernel on the WebAssembly engine (asm/multitask.ts via engine/wasm/multitask.ts)
// against the TypeScript multi-task kernel (the oracle), the PyTorch fixture, and in training.
// Needs dist/wasm/attention.wasm (built by `npm test`; built here if missing).
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileAttentionWasm, createWasmKernel, type WasmKernel } from '../src/engine/wasm/attention.js';
import { allocMultiTaskBatchWasm, multitaskWasm, sampleMultiTaskWasm, type MultitaskWasm } from '../src/engine/wasm/multitask.js';
import { forwardMulti, lossAndGradMulti } from '../src/engine/ts/multitask.js';
import { allocParams, type AttentionParams } from '../src/model/params.js';
import { Rng } from '../src/data/rng.js';
import { allocMultiTaskBatch, sampleMultiTask, type TaskBlock } from '../src/data/multitask.js';
import { nodeKernels, wasmAvailable } from '../src/io/wasm.js';
import { parseFlags, resolveConfig } from '../src/run/config.js';
import { createState, runSteps } from '../src/run/loop.js';
import { relErr } from './fixtures.helpers.js';
import { root } from './cli.helpers.js';

let k: WasmKernel;
let mt: MultitaskWasm;

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'wasm', 'attention.wasm'))) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
  k = createWasmKernel(compileAttentionWasm(readFileSync(join(root, 'dist', 'wasm', 'attention.wasm'))));
  mt = multitaskWasm(k);
});

/** relErr (max |a - b| / max |b|) per weight block q, k, v, o: the largest */
function gradErr(p: AttentionParams, a: Float64Array, b: Float64Array): number {
  const w = p.q.length;
  const parts: [number, number][] = [[0, w], [w, 2 * w], [2 * w, 3 * w], [3 * w, a.length]];
  return Math.max(...parts.map(([s, e]) => relErr(a.subarray(s, e), b.subarray(s, e))));
}

function randomModel(d: number, tasks: readonly TaskBlock[], H: number, L: number, B: number, seed: number, scale = 0.5) {
  const rng = new Rng(seed);
  const batch = sampleMultiTask({ d, L, batchSize: B, noiseStd: 0.3, tasks }, rng);
  const p = allocParams(batch.E - 1, H, tasks.length);
  rng.fillNormal(p.theta);
  for (let i = 0; i < p.theta.length; i++) p.theta[i] *= scale;
  return { p, batch };
}

const layouts: [string, number, TaskBlock[]][] = [
  ['N = 1 (one block)', 4, [[1, 4]]],
  ["N = 2 (the authors' 0:4,2:6)", 6, [[0, 4], [2, 6]]],
  ['N = 3 (disjoint blocks)', 5, [[0, 2], [2, 3], [3, 5]]],
  ['N = 3 (overlapping, odd E = 8)', 5, [[0, 3], [1, 5], [2, 4]]],
  ['N = 2 (nested, E = 5)', 3, [[0, 3], [1, 2]]],
];

describe.each(layouts)('wasm multi-task kernel vs the TypeScript kernel: %s', (_label, d, tasks) => {
  it.each([1, 2, 3, 4, 8])('H = %i: outputs, attention, loss to 1e-12 relative; every gradient entry to 1e-12 of its block', (H) => {
    for (const L of [1, 7, 12]) {
      const { p, batch } = randomModel(d, tasks, H, L, 5, 100 * H + L);
      const N = tasks.length, B = batch.B;
      const oT = new Float64Array(B * N), oW = new Float64Array(B * N);
      const aT = new Float64Array(B * H * L), aW = new Float64Array(B * H * L);
      const lT = forwardMulti(p, batch, oT, aT);
      const lW = mt.forward(p, batch, oW, aW);
      expect(relErr(oW, oT)).toBeLessThan(1e-12);
      expect(relErr(aW, aT)).toBeLessThan(1e-12);
      expect(Math.abs(lW - lT) / lT).toBeLessThan(1e-12);
      const gT = new Float64Array(p.theta.length), gW = new Float64Array(p.theta.length);
      const oG = new Float64Array(B * N);
      const gl = lossAndGradMulti(p, batch, gT);
      const wl = mt.lossAndGrad(p, batch, gW, oG);
      expect(Math.abs(wl - gl) / gl).toBeLessThan(1e-12);
      expect(relErr(oG, oT)).toBeLessThan(1e-12);
      expect(gradErr(p, gW, gT)).toBeLessThan(1e-12);
      expect(gW.some((g) => g !== 0)).toBe(true);
    }
  });
});

describe('wasm multi-task kernel', () => {
  it('large scores (softmax near one-hot) and a batch in wasm memory: same as the TS kernel', () => {
    const tasks: TaskBlock[] = [[0, 4], [2, 6]];
    const { p, batch } = randomModel(6, tasks, 3, 48, 64, 5, 1.5);
    const inMem = allocMultiTaskBatchWasm(k, 64, 48, 6, tasks);
    inMem.z.set(batch.z); inMem.zq.set(batch.zq); inMem.yq.set(batch.yq);
    const gT = new Float64Array(p.theta.length), gW = new Float64Array(p.theta.length);
    const lT = lossAndGradMulti(p, batch, gT);
    const lW = mt.lossAndGrad(p, inMem, gW);
    expect(Math.abs(lW - lT) / lT).toBeLessThan(1e-12);
    expect(gradErr(p, gW, gT)).toBeLessThan(1e-12);
  });

  it('the PyTorch fixture (H = 3, n_out = 2, E = 8): forward, loss, attention to 1e-10; gradients to 1e-9', () => {
    const fx = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'multitask_H3_fwd_bwd.json'), 'utf8'));
    const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);
    const E = fx.E as number, H = fx.H as number, N = fx.n_out as number, B = fx.B as number, L = fx.L as number;
    expect([E, H, N]).toEqual([8, 3, 2]);
    const p = allocParams(E - 1, H, N);
    p.q.set(flat(fx.weights.q_proj)); p.k.set(flat(fx.weights.k_proj)); p.v.set(flat(fx.weights.v_proj)); p.o.set(flat(fx.weights.o_proj));
    const batch = { B, L, d: E - 1, E, z: Float64Array.from(flat(fx.inputs.z)), zq: Float64Array.from(flat(fx.inputs.z_q)), yq: Float64Array.from(flat(fx.inputs.y_q)) };
    const out = new Float64Array(B * N), attn = new Float64Array(B * H * L);
    const loss = mt.forward(p, batch, out, attn);
    const maxAbs = (a: ArrayLike<number>, b: number[]) => Math.max(...b.map((v, i) => Math.abs(a[i]! - v)));
    expect(maxAbs(out, flat(fx.expected.output))).toBeLessThan(1e-10);
    expect(maxAbs(attn, flat(fx.expected.attn_weights))).toBeLessThan(1e-10);
    expect(Math.abs(loss - fx.expected.loss)).toBeLessThan(1e-10);
    const grad = new Float64Array(p.theta.length);
    expect(Math.abs(mt.lossAndGrad(p, batch, grad) - fx.expected.loss)).toBeLessThan(1e-10);
    const w3 = p.q.length;
    const parts: [string, number, number][] = [['q_proj', 0, w3], ['k_proj', w3, 2 * w3], ['v_proj', 2 * w3, 3 * w3], ['o_proj', 3 * w3, p.theta.length]];
    for (const [name, a, b] of parts) expect(maxAbs(grad.subarray(a, b), flat(fx.expected.grads[name])), name).toBeLessThan(1e-9);
  });

  it('the shared-memory build (attention-shared.wasm) carries the kernel too', () => {
    const shared = createWasmKernel(compileAttentionWasm(readFileSync(join(root, 'dist', 'wasm', 'attention-shared.wasm'))));
    expect(shared.shared).toBe(true);
    const { p, batch } = randomModel(6, [[0, 4], [2, 6]], 4, 9, 3, 9);
    const gT = new Float64Array(p.theta.length), gW = new Float64Array(p.theta.length);
    const lT = lossAndGradMulti(p, batch, gT);
    expect(Math.abs(multitaskWasm(shared).lossAndGrad(p, batch, gW) - lT) / lT).toBeLessThan(1e-12);
    expect(gradErr(p, gW, gT)).toBeLessThan(1e-12);
  });

  it('sampling with the wasm ziggurat: the same batches and Rng state, bit for bit', () => {
    const spec = { d: 6, L: 20, batchSize: 32, noiseStd: 0.1, tasks: [[0, 4], [2, 6]] as TaskBlock[] };
    const a = new Rng(42), b = new Rng(42);
    const ta = allocMultiTaskBatch(32, 20, 6, spec.tasks), tb = allocMultiTaskBatchWasm(k, 32, 20, 6, spec.tasks);
    for (let i = 0; i < 3; i++) {
      sampleMultiTask(spec, a, ta);
      sampleMultiTaskWasm(k, spec, b, tb);
      expect(Array.from(tb.z)).toEqual(Array.from(ta.z));
      expect(Array.from(tb.zq)).toEqual(Array.from(ta.zq));
      expect(Array.from(tb.yq)).toEqual(Array.from(ta.yq));
      expect(b.getState()).toEqual(a.getState());
    }
  });

  it('rejects a model whose n_out does not match the batch, naming both', () => {
    const batch = allocMultiTaskBatch(2, 3, 6, [[0, 4], [2, 6]]);
    const p = allocParams(batch.E - 1, 2, 1);
    expect(() => mt.forward(p, batch, new Float64Array(4))).toThrow(/n_out = 1 outputs, the batch has 2 targets/);
  });
});

describe('training a multi-task model on the wasm engine', () => {
  it("200 steps at the authors' setting (H = 3, B = 64): the ts engine's losses to 1e-9", () => {
    expect(wasmAvailable()).toBe(true);
    const cfg = (engine: string) => resolveConfig(parseFlags({
      tasks: '0:4,2:6', d: '6', heads: '3', contextLength: '48', batchSize: '64', steps: '200', lossEvery: '1', valEvery: '50',
      valSamples: '256', dynamicsEvery: '50', qkEvery: '100', printEvery: '1000', seed: '1029', engine,
    }), new Set(), { wasmAvailable: true });
    const a = createState(cfg('ts'), nodeKernels());
    const b = createState(cfg('wasm'), nodeKernels());
    expect(b.config.engine).toBe('wasm');
    runSteps(a, 200);
    runSteps(b, 200);
    expect(b.logs.trainLoss[199]).toBeGreaterThan(0);
    expect(relErr(b.logs.trainLoss.subarray(0, 200), a.logs.trainLoss.subarray(0, 200))).toBeLessThan(1e-9);
    expect(relErr(b.logs.valLoss.subarray(0, b.logs.nVal), a.logs.valLoss.subarray(0, a.logs.nVal))).toBeLessThan(1e-9);
    expect(relErr(b.model.theta, a.model.theta)).toBeLessThan(1e-9);
  });

  it('the default engine is wasm for --tasks when the module loads', () => {
    expect(resolveConfig(parseFlags({ tasks: '0:4,2:6', d: '6' }), new Set(), { wasmAvailable: true }).engine).toBe('wasm');
    expect(resolveConfig(parseFlags({ tasks: '0:4,2:6', d: '6' }), new Set(), { wasmAvailable: false }).engine).toBe('ts');
  });
});
