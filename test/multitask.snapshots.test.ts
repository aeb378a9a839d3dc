/**
 * A multi-task run's logs (issue 22 item 1): snapshots.safetensors holds OV^h whole, ov [T, layers,
 * H, E, N], and metrics.safetensors w^h_k / mu^h_k per task (qk_dynamics_task / ov_dynamics_task
 * [T, layers, H, N]); a resume writes the same bytes as one session; a run written by an earlier
 * build (ov [T, layers, H, E]: the last output's column, no per-task dynamics) is read by the rank of
 * its ov and resumes in its own format. Single-task runs keep ov [T, layers, H, E].
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelFile } from '../src/io/model-file.js';
import { f64, readSafetensors, tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { ovCircuit } from '../src/model/circuits.js';
import { readMetrics, readSnapshots } from '../src/run/run-dir.js';
import { bin, tempDir } from './cli.helpers.js';

const dir = tempDir('mt-snap');
const train = (out: string, ...extra: string[]) => {
  const r = spawnSync(process.execPath, [bin, 'train', '--tasks', '0:4,2:6', '--d', '6', '--heads', '3', '--context-length', '12', '--batch-size', '32',
    '--steps', '400', '--qk-every', '20', '--dynamics-every', '20', '--val-every', '100', '--progress', 'none', '--out', out, ...extra], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
};
const resume = (out: string, steps: number) => {
  const r = spawnSync(process.execPath, [bin, 'train', '--resume', out, '--steps', String(steps), '--progress', 'none'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
};
const bytes = (p: string) => readFileSync(p).toString('hex');

describe('multi-task snapshots: OV^h (E x N) whole, mu^h_k and w^h_k per task', () => {
  const full = join(dir, 'full');

  it('an H = 3, N = 2 run (d = 6, E = 8) snapshots ov [21, 1, 3, 8, 2]; the last one is the saved OV^h', () => {
    train(full);
    const t = readSafetensors(join(full, 'snapshots.safetensors')).tensors;
    expect(t['ov']!.shape).toEqual([21, 1, 3, 8, 2]);
    expect(t['qk']!.shape).toEqual([21, 1, 3, 8, 8]);
    const s = readSnapshots(full)!;
    expect(s.ovColumns).toBe(2);
    // the last snapshot (step 399) against OV^h of model.safetensors (float32 on disk)
    const m = readModelFile(join(full, 'model.safetensors'));
    if (m.kind !== 'single-layer') throw new Error('expected a one-layer model');
    const ov = f64(t['ov']!);
    let largest = 0;
    for (let h = 0; h < 3; h++) {
      const want = ovCircuit(m.params, h); // [E, N]
      const got = ov.subarray((20 * 3 + h) * 16, (20 * 3 + h + 1) * 16);
      for (let i = 0; i < 16; i++) {
        expect(got[i]).toBeCloseTo(want[i]!, 4);
        largest = Math.max(largest, Math.abs(got[i]!));
      }
      // both columns carry weight: out 1's column is not a copy of out 2's
      const col = (j: number) => Array.from({ length: 8 }, (_, a) => got[a * 2 + j]!);
      expect(col(0)).not.toEqual(col(1));
    }
    expect(largest).toBeGreaterThan(0.05);
  });

  it('logs w^h_k and mu^h_k per task: mu^h_k = OV^h[d + k, k] of the snapshot, summing to mu^h', () => {
    const m = readMetrics(full)!;
    expect(m.taskDynamics?.tasks).toBe(2);
    const t = readSafetensors(join(full, 'metrics.safetensors')).tensors;
    expect(t['ov_dynamics_task']!.shape).toEqual([21, 1, 3, 2]);
    expect(t['qk_dynamics_task']!.shape).toEqual([21, 1, 3, 2]);
    expect(t['ov_dynamics']!.shape).toEqual([21, 1, 3]);
    const s = readSnapshots(full)!;
    for (const i of [0, 10, 20]) {
      expect(m.dynamics.step[i]).toBe(s.step[i]); // dynamics_every = qk_every: the same steps
      for (let h = 0; h < 3; h++) {
        const mu = [0, 1].map((k) => m.taskDynamics!.ov[(i * 3 + h) * 2 + k]!);
        for (let k = 0; k < 2; k++) expect(mu[k]).toBe(s.ov[((i * 3 + h) * 8 + 6 + k) * 2 + k]); // row y_k, column out k
        expect(mu[0]! + mu[1]!).toBeCloseTo(m.dynamics.ov[i * 3 + h]!, 12);
        // w^h_k: mean QK^h diagonal on task k's block (x1..x4, x3..x6)
        const qk = s.qk.subarray((i * 3 + h) * 64, (i * 3 + h + 1) * 64);
        const blocks = [[0, 4], [2, 6]] as const;
        blocks.forEach(([a, b], k) => {
          let sum = 0;
          for (let c = a; c < b; c++) sum += qk[c * 8 + c]!;
          expect(m.taskDynamics!.qk[(i * 3 + h) * 2 + k]).toBeCloseTo(sum / (b - a), 12);
        });
      }
    }
  });

  it('a resumed run writes the bytes of one session', () => {
    const split = join(dir, 'split');
    train(split, '--steps', '200');
    resume(split, 400);
    for (const f of ['snapshots.safetensors', 'metrics.safetensors', 'model.safetensors']) expect(bytes(join(split, f)), f).toBe(bytes(join(full, f)));
  });

  it('reads a run of an earlier build (ov [T, 1, H, E]: the last column) by its rank, and resumes it in that format', () => {
    const old = join(dir, 'old');
    train(old, '--steps', '200');
    // what builds before issue 22 wrote: OV^h[:, out 2] only, no per-task dynamics
    const sp = join(old, 'snapshots.safetensors');
    const s = readSafetensors(sp);
    const ov = f64(s.tensors['ov']!);
    const [T] = s.tensors['ov']!.shape as number[];
    const last = Float64Array.from({ length: T! * 3 * 8 }, (_, i) => ov[i * 2 + 1]!);
    writeSafetensors(sp, { ...s.tensors, ov: tensorF64([T!, 1, 3, 8], last) }, s.metadata);
    const mp = join(old, 'metrics.safetensors');
    const m = readSafetensors(mp);
    const { qk_dynamics_task: _q, ov_dynamics_task: _o, ...rest } = m.tensors;
    writeSafetensors(mp, rest, m.metadata);
    const before = readSnapshots(old)!;
    expect(before.ovColumns).toBe(1);
    expect(readMetrics(old)!.taskDynamics).toBeUndefined();
    resume(old, 400);
    const after = readSafetensors(sp).tensors;
    expect(after['ov']!.shape).toEqual([21, 1, 3, 8]);
    expect(Object.keys(readSafetensors(mp).tensors)).not.toContain('ov_dynamics_task');
    // the same numbers as the new format's last column, the training itself unchanged
    const fullOv = f64(readSafetensors(join(full, 'snapshots.safetensors')).tensors['ov']!);
    expect(Array.from(f64(after['ov']!))).toEqual(Array.from({ length: 21 * 3 * 8 }, (_, i) => fullOv[i * 2 + 1]!));
    expect(bytes(join(old, 'model.safetensors'))).toBe(bytes(join(full, 'model.safetensors')));
  });

  it('a single-task run keeps ov [T, 1, H, E] and logs no per-task dynamics', () => {
    const one = join(dir, 'one');
    const r = spawnSync(process.execPath, [bin, 'train', '--d', '3', '--heads', '2', '--context-length', '6', '--batch-size', '16', '--steps', '40', '--qk-every', '20', '--progress', 'none', '--out', one], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readSafetensors(join(one, 'snapshots.safetensors')).tensors['ov']!.shape).toEqual([3, 1, 2, 4]);
    expect(Object.keys(readSafetensors(join(one, 'metrics.safetensors')).tensors).sort()).toEqual(['dyn_step', 'ov_dynamics', 'qk_dynamics', 'train_loss', 'val_loss', 'val_step']);
    cpSync(one, join(dir, 'one-copy'), { recursive: true });
    expect(readSnapshots(join(dir, 'one-copy'))!.ovColumns).toBe(1);
  });
});
