import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { forward, lossAndGrad } from '../src/engine/ts/attention.js';
import { ovDynamics, qkDynamics } from '../src/model/circuits.js';
import { initParams } from '../src/model/init.js';
import { createOptimizer } from '../src/optim/optim.js';
import { Rng } from '../src/data/rng.js';
import { sampleBatch as sampleBatchV1, type TaskSpec } from '../src/data/task.js';
import { allocBatch, type Batch } from '../src/data/batch.js';
import { NormalStream2, sampleBatch2 } from '../src/data/normal2.js';
import { allocParams } from '../src/model/params.js';
import { parseFlags, resolveConfig, type TrainConfig } from '../src/run/config.js';
import { readCheckpoint, writeCheckpoint } from '../src/run/checkpoint.js';
import { createState, ensureCapacity, restoreState, resumable, runSteps, seedLine, taskSpecs } from '../src/run/loop.js';
import { tempDir } from './cli.helpers.js';

const tmp = tempDir('train-loop');

/** A small, fast config (d=3, L=10, B=16) logging every 10 steps. */
function small(extra: Record<string, string> = {}): TrainConfig {
  return resolveConfig(parseFlags({
    d: '3', contextLength: '10', batchSize: '16', steps: '300', dynamicsEvery: '10', qkEvery: '20', valEvery: '10',
    printEvery: '100', lossEvery: '10', seed: '7', ...extra,
  }));
}

const paramsOf = (s: { config: TrainConfig; model: { theta: Float64Array } }) => allocParams(s.config.d, s.config.heads, 1, s.model.theta);
const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('train loop: the seed run_experiment order defines the RNG stream', () => {
  it.each([1, 2] as const)('stream version %i: equals a hand-written replay: sample, loss+grad, update, (dynamics), validation batch from the same stream', (version) => {
    const c = small({ steps: '40', valSamples: '24' });
    const s = createState(c, {}, version);
    expect(s.stream.version).toBe(version);
    runSteps(s, 40);
    // replay: init from Rng(seed), then version 1 continues the Rng, version 2 is seeded from it
    const rng = new Rng(c.seed);
    const p = initParams(c.d, c.heads, c.init, rng);
    const s2 = NormalStream2.fromRng(rng.clone());
    const sampleBatch = (t: TaskSpec, r: Rng, out: Batch) => (version === 1 ? sampleBatchV1(t, r, out) : sampleBatch2(t, s2, out));
    const opt = createOptimizer({ kind: 'adam', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }, p.theta.length);
    const { task, valTask } = taskSpecs(c);
    const batch = allocBatch(16, 10, 3);
    const vb = allocBatch(24, 10, 3);
    const grad = new Float64Array(p.theta.length);
    const vout = new Float64Array(24);
    const losses: number[] = [];
    const vals: number[] = [];
    const w: number[] = [];
    for (let step = 0; step < 40; step++) {
      sampleBatch(task, rng, batch);
      losses.push(lossAndGrad(p, batch, grad));
      opt.step(p.theta, grad);
      if (step % 10 === 0) w.push(...qkDynamics(p));
      if (step % 10 === 0) {
        sampleBatch(valTask, rng, vb);
        forward(p, vb, vout);
        let m = 0;
        for (let b = 0; b < 24; b++) m += (vout[b]! - vb.yq[b]!) ** 2;
        vals.push(m / 24);
      }
    }
    expect(Array.from(s.logs.trainLoss.subarray(0, 40))).toEqual(losses);
    expect(Array.from(s.logs.valLoss.subarray(0, s.logs.nVal))).toEqual(vals);
    expect(Array.from(s.logs.valStep.subarray(0, s.logs.nVal))).toEqual([0, 10, 20, 30]);
    expect(Array.from(s.logs.qkDynamics.subarray(0, s.logs.nDyn * 2))).toEqual(w);
    expect(bits(s.model.theta)).toBe(bits(p.theta));
  });

  it('learns: the mean training loss of the last 50 of 300 steps is well below that of the first 50', () => {
    const s = createState(small({ batchSize: '64', lr: '0.01' }));
    runSteps(s, 300);
    const mean = (a: number, b: number) => Array.from(s.logs.trainLoss.subarray(a, b)).reduce((x, y) => x + y) / (b - a);
    expect(mean(250, 300)).toBeLessThan(0.7 * mean(0, 50)); // measured: about 0.45x across seeds
  });

  it('logs dynamics after the update, snapshots QK^h scaled by 1/sqrt(E) and OV^h[:, -1]', () => {
    const c = small({ steps: '21', heads: '3' });
    const s = createState(c);
    runSteps(s, 1);
    const E = c.d + 1;
    expect(Array.from(s.logs.qkDynamics.subarray(0, 3))).toEqual(Array.from(qkDynamics(paramsOf(s))));
    expect(Array.from(s.logs.ovDynamics.subarray(0, 3))).toEqual(Array.from(ovDynamics(paramsOf(s))));
    // QK^0[a][b] = sum_c q[c, a] k[c, b] / sqrt(E)
    const { q, k, v, o } = paramsOf(s);
    for (const [a, b] of [[0, 0], [1, 2], [3, 3]] as const) {
      let x = 0;
      for (let r = 0; r < E; r++) x += q[r * E + a]! * k[r * E + b]!;
      expect(s.logs.qk[a * E + b]).toBeCloseTo(x / Math.sqrt(E), 14);
    }
    // OV^1[:, -1][a] = sum_r v[(E + r) * E + a] o[E + r]
    let ov = 0;
    for (let r = 0; r < E; r++) ov += v[(E + r) * E + 2]! * o[E + r]!;
    expect(s.logs.ov[1 * E + 2]).toBeCloseTo(ov, 14);
    runSteps(s, 21);
    expect([s.logs.nDyn, s.logs.nVal, s.logs.nSnap]).toEqual([3, 3, 2]);
    expect(Array.from(s.logs.snapStep.subarray(0, 2))).toEqual([0, 20]);
  });

  it("prints the seed's line at validation steps that are multiples of print_every", () => {
    const c = small({ steps: '201' });
    const lines: string[] = [];
    const s = createState(c);
    runSteps(s, 201, Infinity, { onPrint: (l) => lines.push(l) });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^After 0 steps, Training Loss: \d+\.\d{4}, Validation Loss: \d+\.\d{4}$/);
    expect(lines[2]).toBe(seedLine(200, s.logs.trainLoss[200]!, s.logs.valLoss[20]!));
    expect(seedLine(5, 1.23456, NaN)).toBe('After 5 steps, Training Loss: 1.2346, Validation Loss: nan');
  });
});

describe('train loop: resume is bit-identical', () => {
  it('300 steps straight == 150 steps, checkpoint to disk and back, 150 more (weights, every log, RNG, optimizer)', () => {
    for (const extra of [{}, { optimizer: 'sgd', lr: '0.01' }, { optimizer: 'adamw', heads: '4', init: 'oppo_small_id' }] as Record<string, string>[]) {
      const c = small(extra);
      const a = createState(c);
      runSteps(a, 300);

      const b0 = createState({ ...c, steps: 150 });
      runSteps(b0, 150);
      const path = join(tmp, 'ck.safetensors');
      writeCheckpoint(path, b0.config, resumable(b0));
      const ck = readCheckpoint(path);
      expect(ck.step).toBe(150);
      expect(ck.config).toEqual({ ...c, steps: 150 });
      const b = restoreState(c, ck, b0.logs);
      ensureCapacity(b, 300);
      runSteps(b, 300);

      expect(bits(b.model.theta)).toBe(bits(a.model.theta));
      expect(bits(b.logs.trainLoss)).toBe(bits(a.logs.trainLoss));
      for (const k of ['valLoss', 'valStep', 'qkDynamics', 'ovDynamics', 'dynStep', 'qk', 'ov', 'snapStep'] as const) {
        expect(bits(b.logs[k]), k).toBe(bits(a.logs[k]));
      }
      expect([b.logs.nVal, b.logs.nDyn, b.logs.nSnap]).toEqual([a.logs.nVal, a.logs.nDyn, a.logs.nSnap]);
      expect(b.stream.getState()).toEqual(a.stream.getState());
      const oa = a.optimizer.getState();
      const ob = b.optimizer.getState();
      expect(ob.t).toBe(oa.t);
      for (const key of Object.keys(oa.buffers)) expect(bits(ob.buffers[key]!)).toBe(bits(oa.buffers[key]!));
    }
  });

  it('a deadline stops between steps, and continuing gives the same result', () => {
    const c = small({ steps: '120' });
    const a = createState(c);
    runSteps(a, 120);
    const b = createState(c);
    let t = 0;
    const now = () => t++;
    while (b.step < 120) runSteps(b, 120, t + 7, { now }); // stops every 7 "ms" (one per step)
    expect(bits(b.model.theta)).toBe(bits(a.model.theta));
    expect(bits(b.logs.trainLoss)).toBe(bits(a.logs.trainLoss));
  });
});

describe('train loop: divergence', () => {
  for (const [limit, re] of [['0', /training loss is (NaN|Infinity) at step/], ['1e8', /training loss is \d\.\d{3}e\+\d+, above --diverge-loss 100000000 at step/]] as const) {
  it(`--diverge-loss ${limit}: stops before the update, reports step and reason, leaves the state at the last good step`, () => {
    const c = small({ optimizer: 'sgd', lr: '1000', steps: '300', divergeLoss: limit });
    const s = createState(c);
    let before = Float64Array.from(s.model.theta);
    let bad = null;
    while (s.step < 300 && !bad) {
      before = Float64Array.from(s.model.theta);
      bad = runSteps(s, s.step + 1);
    }
    expect(bad).not.toBeNull();
    expect(bad!.step).toBe(s.step);
    expect(bad!.step).toBeGreaterThan(0);
    expect(Number.isFinite(bad!.loss)).toBe(limit === '1e8');
    expect(bad!.reason).toMatch(re);
    expect(bad!.reason).toContain(`at step ${bad!.step} `);
    expect(bits(s.model.theta)).toBe(bits(before));
    expect(Number.isFinite(s.logs.trainLoss[bad!.step - 1]!)).toBe(true);
  });
  }
});

describe('train loop: no I/O', () => {
  it('loop.ts and everything it imports use no node:* module (it can run in a browser worker)', () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/^import\s[^;]*?from\s+'([^']+)'/gm)) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || !spec.startsWith('.')) bad.push(`${file}: ${spec}`);
        else visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    };
    visit(join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'run', 'loop.ts'));
    expect(bad).toEqual([]);
    expect(seen.size).toBeGreaterThan(8);
  });
});
