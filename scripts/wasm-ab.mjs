#!/usr/bin/env node
// A/B timing of two builds of the wasm kernel in one process (the machine's speed drifts too much
// for two separate runs to compare): the same batch and weights on both, the builds alternating,
// means of the rounds after two warm-up rounds, and whether the two builds give the same doubles.
//
//   npm run build:wasm && cp dist/wasm/attention.wasm /tmp/a.wasm     # before the change
//   npx asc asm/attention.ts -O3 --enable simd --runtime stub --noAssert -o /tmp/b.wasm   # after
//   taskset -c 1 node scripts/wasm-ab.mjs /tmp/a.wasm /tmp/b.wasm [H=2] [--stack]
//
// Both builds are driven by this checkout's dist/ (the JS side must fit both).
import { readFileSync } from 'node:fs';
import { compileAttentionWasm, createWasmKernel } from '../dist/engine/wasm/attention.js';
import { NormalStream2 } from '../dist/data/normal2.js';
import { Rng } from '../dist/data/rng.js';
import { initParams } from '../dist/model/init.js';
import { initStackParams } from '../dist/model/stack-init.js';

const args = process.argv.slice(2);
const stack = args.includes('--stack');
const [fa, fb, hArg] = args.filter((a) => a !== '--stack');
if (!fa || !fb) {
  console.error('usage: node scripts/wasm-ab.mjs A.wasm B.wasm [H] [--stack]');
  process.exit(2);
}
const H = Number(hArg ?? 2);
const spec = { d: 5, L: 40, batchSize: 128, preset: 'seed', noiseStd: 0.01 };
const make = (file) => {
  const k = createWasmKernel(compileAttentionWasm(readFileSync(file)));
  const batch = k.allocBatch(128, 40, 5);
  const stream = NormalStream2.fromRng(new Rng(1));
  k.sampleBatch2(spec, stream, batch);
  const p = stack ? initStackParams(5, H, 2, false, 'random', new Rng(2)) : initParams(5, H, 'random', new Rng(2));
  return { k, batch, stream, p, grad: new Float64Array(p.theta.length) };
};
const A = make(fa), B = make(fb);
const n = stack ? 20 : 400;
const time = (f) => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - t0) / n / 1000;
};
const res = { sA: [], sB: [], gA: [], gB: [] };
for (let r = 0; r < 12; r++) {
  for (const [X, s, g] of [[A, 'sA', 'gA'], [B, 'sB', 'gB']]) {
    if (!stack) res[s].push(time(() => X.k.sampleBatch2(spec, X.stream, X.batch)));
    res[g].push(time(() => (stack ? X.k.stackLossAndGrad(X.p, X.batch, X.grad) : X.k.lossAndGrad(X.p, X.batch, X.grad))));
  }
}
const mean = (a) => a.slice(2).reduce((x, y) => x + y, 0) / (a.length - 2);
const la = stack ? A.k.stackLossAndGrad(A.p, A.batch, A.grad) : A.k.lossAndGrad(A.p, A.batch, A.grad);
const lb = stack ? B.k.stackLossAndGrad(B.p, B.batch, B.grad) : B.k.lossAndGrad(B.p, B.batch, B.grad);
let rel = 0;
for (let i = 0; i < A.grad.length; i++) rel = Math.max(rel, Math.abs(A.grad[i] - B.grad[i]) / (Math.abs(A.grad[i]) + 1e-300));
const fmt = (x) => x.toFixed(1);
console.log(`${stack ? 'stack ' : ''}H=${H}` +
  (stack ? '' : ` | sampleBatch2 A ${fmt(mean(res.sA))} B ${fmt(mean(res.sB))} µs, same batch: ${A.batch.z.every((v, i) => v === B.batch.z[i])}`) +
  ` | lossAndGrad A ${fmt(mean(res.gA))} B ${fmt(mean(res.gB))} µs, same loss: ${la === lb}, largest relative gradient difference ${rel.toExponential(1)}`);
