/** run/run-dir.ts readMetrics / readSnapshots: the readers figures and reports use. */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { readMetrics, readSnapshots } from '../src/run/run-dir.js';
import { tempDir } from './cli.helpers.js';

const tmp = tempDir('read-logs');

describe('run-dir readers', () => {
  it('readMetrics returns the tensors with their dynamics shape; undefined without the file; names a missing tensor', () => {
    const dir = join(tmp, 'a');
    expect(readMetrics(tmp)).toBeUndefined();
    writeSafetensors(join(tmp, 'metrics.safetensors'), { train_loss: tensorF64([3], [3, 2, 1]) });
    expect(() => readMetrics(tmp)).toThrow(/missing tensor 'qk_dynamics' \(has: train_loss\)/);
    const qk = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]; // [nDyn=3, layers=1, H=2]
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeSafetensors(join(dir, 'metrics.safetensors'), {
      train_loss: tensorF64([4], [4, 3, 2, 1]),
      val_loss: tensorF64([1], [2.5]), val_step: tensorF64([1], [2]),
      qk_dynamics: tensorF64([3, 1, 2], qk), ov_dynamics: tensorF64([3, 1, 2], qk.map((x) => -x)), dyn_step: tensorF64([3], [0, 1, 3]),
    });
    const m = readMetrics(dir)!;
    expect(Array.from(m.trainLoss)).toEqual([4, 3, 2, 1]);
    expect(Array.from(m.valLoss!)).toEqual([2.5]);
    expect(Array.from(m.valStep!)).toEqual([2]);
    expect(m.dynamics).toMatchObject({ nDyn: 3, layers: 1, heads: 2 });
    expect(Array.from(m.dynamics.ov)).toEqual(qk.map((x) => -x));
    expect(Array.from(m.dynamics.step)).toEqual([0, 1, 3]);
  });

  it('readSnapshots returns qk/ov with [nSnap, layers, heads, E] and checks ranks', () => {
    const dir = join(tmp, 'b');
    mkdirSync(dir);
    expect(readSnapshots(dir)).toBeUndefined();
    const E = 2;
    writeSafetensors(join(dir, 'snapshots.safetensors'), {
      qk: tensorF64([2, 1, 1, E, E], [1, 2, 3, 4, 5, 6, 7, 8]), ov: tensorF64([2, 1, 1, E], [9, 10, 11, 12]), snapshot_step: tensorF64([2], [0, 50]),
    });
    const s = readSnapshots(dir)!;
    expect([s.nSnap, s.layers, s.heads, s.E]).toEqual([2, 1, 1, 2]);
    expect(Array.from(s.qk.slice(4))).toEqual([5, 6, 7, 8]);
    expect(Array.from(s.step)).toEqual([0, 50]);
    writeSafetensors(join(dir, 'snapshots.safetensors'), { qk: tensorF64([8], [1, 2, 3, 4, 5, 6, 7, 8]) });
    expect(() => readSnapshots(dir)).toThrow(/tensor 'qk' has shape \[8\], expected rank 5/);
  });
});
