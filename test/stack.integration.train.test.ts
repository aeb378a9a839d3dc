// `icl-lab train --layers 2` (with and without --weight-tying): trains, logs per layer and head,
// resumes bit-identically, writes the seed's stack keys, and analyze / predict read the run.
// The CLI part needs `npx tsc -p tsconfig.json` first (runs bin/icl-lab).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { allocStackParams } from '../src/model/stack.js';
import { stackCircuits, stackDynamics } from '../src/model/circuits.js';
import { readModelFile } from '../src/io/model-file.js';
import { f64, readSafetensors, tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { readCheckpoint, writeCheckpoint } from '../src/run/checkpoint.js';
import { makeTrainConfig, type TrainConfig } from '../src/run/config.js';
import { createState, ensureCapacity, restoreState, resumable, runSteps } from '../src/run/loop.js';
import { bin, root, tempDir } from './cli.helpers.js';

const tmp = tempDir('stack-train');
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'engine', 'model.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` first');
});

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const mean = (a: Float64Array, from: number, to: number) => a.subarray(from, to).reduce((s, x) => s + x, 0) / (to - from);

/** d=2 (E=3), L=8, B=64, lr 0.01, 300 steps: ~0.3 s. Dynamics every 13 steps, so step 299 (the last) is logged. */
function small(weightTying: boolean, steps = 300): TrainConfig {
  return makeTrainConfig({
    layers: 2, weightTying, heads: 2, d: 2, contextLength: 8, batchSize: 64, lr: 0.01, steps, seed: 11,
    dynamicsEvery: 13, qkEvery: 50, valEvery: 50, printEvery: 1000, lossEvery: 50,
  });
}
const SMALL = ['--layers', '2', '--heads', '2', '--d', '2', '--context-length', '8', '--batch-size', '64', '--lr', '0.01', '--seed', '11',
  '--dynamics-every', '13', '--qk-every', '50', '--val-every', '50', '--print-every', '1000', '--progress', 'none'];

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

for (const tying of [false, true]) {
  const label = tying ? 'tied weights' : 'untied';
  describe(`2-layer stack, ${label}: the training loop`, () => {
    it('learns: mean loss of the last 50 steps < 0.8 x the first 50 (predicting 0 costs E[y_q^2] = d = 2)', () => {
      const s = createState(small(tying));
      runSteps(s, 300);
      const first = mean(s.logs.trainLoss, 0, 50);
      const last = mean(s.logs.trainLoss, 250, 300);
      expect(first).toBeGreaterThan(1.4);
      expect(last).toBeLessThan(0.8 * first);
      expect(s.model.theta.length).toBe((tying ? 1 : 2) * 4 * 3 * 2 * 3 + 3);
    });

    it('logs per layer and head: w^h, mu^h = OV^h[-1,-1] (y -> y, every layer); snapshots agree with the dynamics at the same step', () => {
      const c = small(tying, 300);
      const s = createState(c);
      runSteps(s, 300);
      const { logs } = s;
      const LH = 2 * 2;
      const E = 3;
      expect([logs.nDyn, logs.nSnap]).toEqual([24, 6]);
      // the last dynamics entry is step 299 = the final weights
      const p = allocStackParams(2, 2, 2, tying, s.model.theta);
      const w = new Float64Array(LH);
      const mu = new Float64Array(LH);
      stackDynamics(p, w, mu, 'y-to-y');
      expect(Array.from(logs.qkDynamics.subarray(23 * LH, 24 * LH))).toEqual(Array.from(w));
      expect(Array.from(logs.ovDynamics.subarray(23 * LH, 24 * LH))).toEqual(Array.from(mu));
      const circ = stackCircuits(p);
      for (let l = 0; l < 2; l++) for (let h = 0; h < 2; h++) expect(mu[l * 2 + h]).toBeCloseTo(circ[l]![h]!.mu, 14);
      if (tying) expect(Array.from(w.subarray(0, 2))).toEqual(Array.from(w.subarray(2, 4)));
      // snapshot at step 0 and the dynamics at step 0 see the same weights: ov[.., E-1] = mu, mean diag(qk)[:d] = w
      for (let lh = 0; lh < LH; lh++) {
        expect(logs.ov[lh * E + E - 1]).toBeCloseTo(logs.ovDynamics[lh]!, 14);
        const qk = logs.qk.subarray(lh * E * E, (lh + 1) * E * E);
        expect((qk[0]! + qk[E + 1]!) / 2).toBeCloseTo(logs.qkDynamics[lh]!, 14);
      }
    });

    it('resume from a checkpoint on disk is bit-identical (weights, every log, RNG, optimizer)', () => {
      const c = small(tying);
      const a = createState(c);
      runSteps(a, 300);
      const b0 = createState(small(tying, 150));
      runSteps(b0, 150);
      const path = join(tmp, `ck-${tying}.safetensors`);
      writeCheckpoint(path, b0.config, resumable(b0));
      const ck = readCheckpoint(path);
      expect(ck.config).toEqual(small(tying, 150));
      // the checkpoint's weights load as a model file too (metadata n_layers / weight_tying)
      const m = readModelFile(path);
      expect(m.kind === 'stack' && [m.params.nLayers, m.params.weightTying]).toEqual([2, tying]);
      const b = restoreState(c, ck, b0.logs);
      ensureCapacity(b, 300);
      runSteps(b, 300);
      expect(bits(b.model.theta)).toBe(bits(a.model.theta));
      for (const k of ['trainLoss', 'valLoss', 'valStep', 'qkDynamics', 'ovDynamics', 'dynStep', 'qk', 'ov', 'snapStep'] as const) {
        expect(bits(b.logs[k]), k).toBe(bits(a.logs[k]));
      }
      expect(b.stream.getState()).toEqual(a.stream.getState());
      const [oa, ob] = [a.optimizer.getState(), b.optimizer.getState()];
      expect(ob.t).toBe(oa.t);
      for (const key of Object.keys(oa.buffers)) expect(bits(ob.buffers[key]!)).toBe(bits(oa.buffers[key]!));
    });
  });

  describe(`icl-lab train --layers 2${tying ? ' --weight-tying' : ''}: run directory, resume, analyze, predict`, () => {
    it('300 steps straight == 150 + --resume --steps 300 (byte-identical files); seed keys; analyze per layer = the logged dynamics', () => {
      const flags = [...SMALL, ...(tying ? ['--weight-tying'] : [])];
      const a = join(tmp, `straight-${tying}`);
      const b = join(tmp, `split-${tying}`);
      expect(cli(['train', '--out', a, '--steps', '300', ...flags]).code).toBe(0);
      expect(cli(['train', '--out', b, '--steps', '150', ...flags]).code).toBe(0);
      const rc = cli(['train', '--resume', b, '--steps', '300', '--progress', 'none']);
      expect(rc.code, rc.stderr).toBe(0);
      for (const f of ['model.safetensors', 'metrics.safetensors', 'snapshots.safetensors', 'checkpoint.safetensors']) {
        expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
      }
      // model.safetensors: the seed's MultiHeadAttentionStack keys; tied weights once + metadata
      const model = readSafetensors(join(a, 'model.safetensors'));
      const layerKeys = (l: number) => ['k', 'o', 'q', 'v'].map((n) => `attention_layers.${l}.${n}_proj.weight`);
      expect(Object.keys(model.tensors).sort()).toEqual([...layerKeys(0), ...(tying ? [] : layerKeys(1)), 'final_linear.weight']);
      expect(model.tensors['attention_layers.0.o_proj.weight']!.shape).toEqual([3, 6]);
      expect(model.tensors['attention_layers.0.q_proj.weight']!.dtype).toBe('F32');
      expect(model.metadata).toMatchObject({ icl_lab: 'model', n_layers: '2', weight_tying: String(tying), step: '300' });
      // metrics [nDyn, layers, H], snapshots [nSnap, layers, H, E, E] / [nSnap, layers, H, E]
      const m = readSafetensors(join(a, 'metrics.safetensors')).tensors;
      expect(m.qk_dynamics!.shape).toEqual([24, 2, 2]);
      expect(m.ov_dynamics!.shape).toEqual([24, 2, 2]);
      const snaps = readSafetensors(join(a, 'snapshots.safetensors')).tensors;
      // snapshots every 50 steps, plus the last step 299 (issue 12, item 3)
      expect(snaps.qk!.shape).toEqual([7, 2, 2, 3, 3]);
      expect(snaps.ov!.shape).toEqual([7, 2, 2, 3]);
      expect(Array.from(f64(snaps.snapshot_step!)).slice(-2)).toEqual([250, 299]);
      // analyze: mu^h per layer is the y -> y entry, as logged (float32 model file vs float64 log)
      const an = cli(['analyze', a, '--json']);
      expect(an.code, an.stderr).toBe(0);
      const r = JSON.parse(an.stdout);
      expect([r.kind, r.n_layers, r.weight_tying, r.layers.length]).toEqual(['stack', 2, tying, 2]);
      expect(r.run).toMatchObject({ L: 8, noise_std: 0.01, preset: 'seed', step: 300, status: 'completed' });
      const w = f64(m.qk_dynamics!).subarray(23 * 4);
      const mu = f64(m.ov_dynamics!).subarray(23 * 4);
      for (let l = 0; l < 2; l++) {
        for (let h = 0; h < 2; h++) {
          const head = r.layers[l].heads[h];
          expect(Math.abs(head.w - w[l * 2 + h]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(w[l * 2 + h]!)));
          expect(Math.abs(head.mu - mu[l * 2 + h]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(mu[l * 2 + h]!)));
          expect(head.mu_out === undefined).toBe(l === 0); // the last layer also through final_linear
        }
      }
      const text = cli(['analyze', a]);
      expect(text.stdout).toMatch(/2 layers.*run step 300 \(completed\)/);
      expect(text.stdout).toMatch(/Layer 1, Head 1/);
      // predict on the run's model: the run's own validation-style loss, finite
      const prompts = join(tmp, `prompts-${tying}.safetensors`);
      const z = new Float64Array(5 * 8 * 3).map((_, i) => Math.sin(i));
      writeSafetensors(prompts, { z: tensorF64([5, 8, 3], z), z_q: tensorF64([5, 1, 3], [0.1, 0.2, 0, 0.3, -0.4, 0, 1, 1, 0, -1, 0.5, 0, 0, 0, 0]) });
      const pr = cli(['predict', '--model', join(a, 'model.safetensors'), '--prompts', prompts, '--out', join(tmp, `pred-${tying}.safetensors`), '--attn', '--json']);
      expect(pr.code, pr.stderr).toBe(0);
      expect(JSON.parse(pr.stdout).tensors).toEqual({ output: [5, 1, 1], attn_weights: [2, 5, 2, 9, 9] });
    });
  });
}

describe('train --layers: bad combinations are usage errors', () => {
  it('--weight-tying with one layer, oppo_small_id with odd heads', () => {
    const r1 = cli(['train', '--out', join(tmp, 'x1'), '--weight-tying', '--steps', '1']);
    expect([r1.code, r1.stderr.trim()]).toEqual([2, 'icl-lab: --weight-tying ties the weights of the layers of a stack; it needs --layers > 1']);
    const r2 = cli(['train', '--out', join(tmp, 'x2'), '--layers', '3', '--heads', '3', '--init', 'oppo_small_id', '--steps', '1']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--init oppo_small_id .* --heads must be even, got 3/);
  });
});
