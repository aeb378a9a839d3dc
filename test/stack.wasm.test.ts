// The causal stack in WebAssembly (asm/stack.ts via kernel.stackLossAndGrad / stackForward) against
// the TypeScript stack kernel (src/engine/ts/stack.ts) to 1e-12 and against PyTorch float64
// (fixtures/causal_stack_2layer.json), with and without weight tying; and a wasm stack run.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileAttentionWasm, createWasmKernel, type WasmKernel } from '../src/engine/wasm/attention.js';
import { batchFromArrays } from '../src/data/batch.js';
import { Rng } from '../src/data/rng.js';
import { allocStackParams, type StackParams } from '../src/model/stack.js';
import { stackForward, stackLossAndGrad } from '../src/engine/ts/stack.js';
import { initStackParams } from '../src/model/stack-init.js';
import { sampleBatch, type TaskSpec } from '../src/data/task.js';
import { nodeKernels } from '../src/io/wasm.js';
import { parseFlags, resolveConfig } from '../src/run/config.js';
import { createState, runSteps } from '../src/run/loop.js';
import { flatten, loadStackFixture, relErr } from './stack.helpers.js';
import { root } from './cli.helpers.js';

const wasmPath = join(root, 'dist', 'wasm', 'attention.wasm');
let k: WasmKernel;
beforeAll(() => {
  if (!existsSync(wasmPath)) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
  k = createWasmKernel(compileAttentionWasm(readFileSync(wasmPath)));
});

/** max |a - b| / max |b| (0 when both are 0) */
function scaledErr(a: Float64Array, b: Float64Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return m === 0 ? d : d / m;
}

describe('wasm stack == TypeScript stack to 1e-12', () => {
  const cases: [string, number, number, number, boolean, number][] = [
    ['seed config d=5 L=40 H=2, 2 layers', 5, 40, 2, false, 2],
    ['weight tying, 2 layers', 5, 40, 2, true, 2],
    ['3 layers H=3 d=3 L=9 (odd sizes)', 3, 9, 3, false, 3],
    ['4 tied layers H=1 d=2 L=6', 2, 6, 1, true, 4],
    ['d=7 (E=8, the generic paths) L=5', 7, 5, 2, false, 2],
    ['L=1', 4, 1, 2, false, 2],
  ];
  it.each(cases)('%s: loss, gradient, outputs and the plain forward', (_n, d, L, H, tying, layers) => {
    const rng = new Rng(d * 100 + L);
    const p = initStackParams(d, H, layers, tying, 'random', rng);
    for (let i = 0; i < p.theta.length; i++) p.theta[i]! *= 3; // sharper attention than the init
    const task: TaskSpec = { d, L, batchSize: 24, noiseStd: 0.1, preset: 'seed' };
    const batch = sampleBatch(task, rng);
    const g1 = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length);
    const o1 = new Float64Array(24), o2 = new Float64Array(24);
    const l1 = stackLossAndGrad(p, batch, g1, o1);
    const l2 = k.stackLossAndGrad(p, batch, g2, o2);
    expect(Math.abs(l2 - l1) / l1).toBeLessThan(1e-12);
    expect(scaledErr(g2, g1)).toBeLessThan(1e-12);
    expect(scaledErr(o2, o1)).toBeLessThan(1e-12);
    if (L > 1) expect(g1.some((x) => x !== 0)).toBe(true);
    const f1 = new Float64Array(24), f2 = new Float64Array(24);
    stackForward(p, batch, f1);
    k.stackForward(p, batch, f2);
    expect(scaledErr(f2, f1)).toBeLessThan(1e-12);
  });
});

describe('wasm stack vs PyTorch fixture (corrected causal stack, 2 layers)', () => {
  const fx = loadStackFixture();
  const { d, H, L, B, n_layers: nLayers } = fx as { d: number; H: number; L: number; B: number; n_layers: number };
  const batch = batchFromArrays(B, L, d, flatten(fx.inputs.z), flatten(fx.inputs.z_q), flatten(fx.inputs.y_q));
  function fixtureParams(): StackParams {
    const p = allocStackParams(d, H, nLayers, false);
    for (let l = 0; l < nLayers; l++) {
      const w = fx.weights.layers[l];
      p.layers[l]!.q.set(flatten(w.q_proj));
      p.layers[l]!.k.set(flatten(w.k_proj));
      p.layers[l]!.v.set(flatten(w.v_proj));
      p.layers[l]!.o.set(flatten(w.o_proj));
    }
    p.finalLinear.set(flatten(fx.weights.final_linear));
    return p;
  }
  it('output, loss and gradient to 1e-10 / 1e-9 (as the TS kernel is held)', () => {
    const p = fixtureParams();
    const out = new Float64Array(B);
    k.stackForward(p, batch, out);
    expect(relErr(out, flatten(fx.corrected.output))).toBeLessThan(1e-10);
    const g = allocStackParams(d, H, nLayers, false);
    for (let l = 0; l < nLayers; l++) {
      const w = fx.corrected.grads[l];
      g.layers[l]!.q.set(flatten(w.q_proj));
      g.layers[l]!.k.set(flatten(w.k_proj));
      g.layers[l]!.v.set(flatten(w.v_proj));
      g.layers[l]!.o.set(flatten(w.o_proj));
    }
    g.finalLinear.set(flatten(fx.corrected.grad_final_linear));
    const grad = new Float64Array(p.theta.length);
    const loss = k.stackLossAndGrad(p, batch, grad);
    expect(Math.abs(loss - fx.corrected.loss) / fx.corrected.loss).toBeLessThan(1e-10);
    expect(relErr(grad, g.theta)).toBeLessThan(1e-9);
  });
});

describe('a stack run on the wasm engine', () => {
  it('trains (the loss falls) and stays within 1e-9 of the ts engine after 60 steps', () => {
    const cfg = (engine: string) => resolveConfig(parseFlags({ layers: '2', d: '3', contextLength: '10', batchSize: '32', steps: '60', lr: '0.01', seed: '3', engine }));
    const w = createState(cfg('wasm'), nodeKernels()), t = createState(cfg('ts'));
    expect(w.config.engine).toBe('wasm');
    runSteps(w, 60);
    runSteps(t, 60);
    expect(scaledErr(w.model.theta, t.model.theta)).toBeLessThan(1e-9);
    const first = w.logs.trainLoss.subarray(0, 10).reduce((a, b) => a + b) / 10, last = w.logs.trainLoss.subarray(50, 60).reduce((a, b) => a + b) / 10;
    expect(last).toBeLessThan(first);
  });
});
