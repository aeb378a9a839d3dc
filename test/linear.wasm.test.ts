// One-layer linear attention on the WebAssembly engine (asm/linear-attention.ts via
// engine/wasm/linear-attention.ts) against the PyTorch fixtures and the TypeScript kernel (the oracle).
// Needs dist/wasm/attention.wasm (built by `npm test`; built here if missing).
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileAttentionWasm, createWasmKernel, type WasmKernel } from '../src/engine/wasm/attention.js';
import { linearWasm } from '../src/engine/wasm/linear-attention.js';
import { linearForward, linearLossAndGrad, LINEAR_NORMS, type LinearNorm } from '../src/engine/ts/linear-attention.js';
import { Rng } from '../src/data/rng.js';
import { batchFromFixture, flat, loadFixture, paramsFromFixture, randomBatch, randomParams, relErr, thetaFromFixture } from './fixtures.helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let k: WasmKernel;
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'wasm', 'attention.wasm'))) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
  k = createWasmKernel(compileAttentionWasm(readFileSync(join(root, 'dist', 'wasm', 'attention.wasm'))));
});

describe.each(['linear_attention_H1_fwd_bwd.json', 'linear_attention_H2_fwd_bwd.json'])('wasm linear kernel, fixture %s', (file) => {
  const fx = loadFixture(file);
  const { d, H, L, B } = fx;
  const p = paramsFromFixture(fx.weights, d, H);
  const batch = batchFromFixture(fx.inputs, B, L, d);
  it.each(LINEAR_NORMS)('%s: output, attention weights, loss (<=1e-10) and grads (<=1e-9) match PyTorch', (norm) => {
    const w = linearWasm(k, norm);
    const ex = fx.expected[norm];
    const out = new Float64Array(B), attn = new Float64Array(B * H * L);
    w.forward(p, batch, out, attn);
    expect(relErr(out, flat(ex.output))).toBeLessThan(1e-10);
    expect(relErr(attn, flat(ex.attn_weights))).toBeLessThan(1e-10);
    const grad = new Float64Array(p.theta.length).fill(123), out2 = new Float64Array(B);
    const loss = w.lossAndGrad(p, batch, grad, out2);
    expect(Math.abs(loss - ex.loss) / ex.loss).toBeLessThan(1e-10);
    expect(relErr(out2, flat(ex.output))).toBeLessThan(1e-10);
    const expGrad = thetaFromFixture(ex.grads), n = p.q.length;
    for (const [s, e] of [[0, n], [n, 2 * n], [2 * n, 3 * n], [3 * n, grad.length]] as const) expect(relErr(grad.subarray(s, e), expGrad.subarray(s, e))).toBeLessThan(1e-9);
  });
});

describe('wasm linear kernel == TypeScript kernel on odd shapes (to 1e-13)', () => {
  // [d, L, H, B]: odd and even E, odd H, L = 1
  const shapes: [number, number, number, number][] = [[1, 1, 1, 1], [2, 3, 3, 5], [5, 40, 2, 7], [4, 7, 5, 3], [6, 11, 1, 2], [3, 2, 8, 4], [16, 5, 2, 2], [17, 3, 3, 2]];
  it.each(LINEAR_NORMS.flatMap((n) => shapes.map((s) => [n, ...s] as [LinearNorm, number, number, number, number])))('%s d=%i L=%i H=%i B=%i', (norm, d, L, H, B) => {
    const rng = new Rng(1000 * d + 100 * L + 10 * H + B);
    const p = randomParams(d, H, rng, 0.8);
    const batch = randomBatch(B, L, d, rng);
    const w = linearWasm(k, norm);
    const o1 = new Float64Array(B), o2 = new Float64Array(B), a1 = new Float64Array(B * H * L), a2 = new Float64Array(B * H * L);
    w.forward(p, batch, o1, a1);
    linearForward(p, batch, norm, o2, a2);
    expect(relErr(o1, o2)).toBeLessThan(1e-13);
    expect(relErr(a1, a2)).toBeLessThan(1e-13);
    const g1 = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length);
    const l1 = w.lossAndGrad(p, batch, g1), l2 = linearLossAndGrad(p, batch, norm, g2);
    expect(Math.abs(l1 - l2) / l2).toBeLessThan(1e-13);
    expect(relErr(g1, g2)).toBeLessThan(1e-13);
  });

  it('reads a batch that lives in wasm memory in place (the same numbers)', () => {
    const rng = new Rng(5);
    const p = randomParams(5, 2, rng, 0.5);
    const src = randomBatch(3, 9, 5, rng);
    const inMem = k.allocBatch(3, 9, 5);
    inMem.z.set(src.z);
    inMem.zq.set(src.zq);
    inMem.yq.set(src.yq);
    const w = linearWasm(k, 'linear');
    const g1 = new Float64Array(p.theta.length), g2 = new Float64Array(p.theta.length);
    expect(w.lossAndGrad(p, inMem, g1)).toBe(w.lossAndGrad(p, src, g2));
    expect(Array.from(g1)).toEqual(Array.from(g2));
  });
});
