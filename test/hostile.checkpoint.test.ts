/**
 * Damaged checkpoints on resume (issue 24 item 20): a missing optimizer buffer, a NaN in theta, or
 * theta disagreeing with the model keys is one line naming checkpoint.safetensors, exit 2, and the
 * run is not marked failed (it did not diverge).
 */
import { copyFileSync, cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f64, readSafetensors, tensorF64, writeSafetensors, type Tensor } from '../src/io/safetensors.js';
import { cli, oneLine, requireDist, runJson, tempDir, TINY } from './cli.helpers.js';

const tmp = tempDir('checkpoint');
const base = join(tmp, 'base');

beforeAll(() => {
  requireDist();
  const r = cli(['train', '--out', base, ...TINY, '--steps', '60', '--checkpoint-every', '30']);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function damaged(name: string, edit: (t: Record<string, Tensor>) => void): string {
  const dir = join(tmp, name);
  cpSync(base, dir, { recursive: true });
  const path = join(dir, 'checkpoint.safetensors');
  const { tensors, metadata } = readSafetensors(path);
  edit(tensors);
  writeSafetensors(path, tensors, metadata);
  return dir;
}

describe('item 20: a damaged checkpoint is named on resume', () => {
  const cases: [string, (t: Record<string, Tensor>) => void, RegExp][] = [
    ['no-exp-avg', (t) => void delete t['optimizer.exp_avg'], /missing tensor optimizer\.exp_avg \(the adam state\)/],
    ['nan-theta', (t) => {
      const th = Float64Array.from(f64(t.theta!));
      th[3] = NaN;
      t.theta = tensorF64([th.length], th);
    }, /tensor theta holds NaN at index 3; the checkpoint is damaged/],
    ['theta-differs', (t) => {
      const th = Float64Array.from(f64(t.theta!));
      th[0] += 0.5;
      t.theta = tensorF64([th.length], th);
    }, /the weights .* and theta disagree/],
  ];
  for (const [name, edit, pattern] of cases) {
    it(`${name}: one line naming the file, exit 2, the run not marked failed`, () => {
      const dir = damaged(name, edit);
      const r = cli(['train', '--resume', dir, '--steps', '90', '--progress', 'none']);
      expect(r.code, r.stderr).toBe(2);
      expect(oneLine(r.stderr), r.stderr).toBe(true);
      expect(r.stderr).toContain(join(dir, 'checkpoint.safetensors'));
      expect(r.stderr).toMatch(pattern);
      expect(runJson(dir).status).not.toBe('failed');
      // the undamaged copy resumes
      copyFileSync(join(base, 'checkpoint.safetensors'), join(dir, 'checkpoint.safetensors'));
      const ok = cli(['train', '--resume', dir, '--steps', '90', '--progress', 'none']);
      expect(ok.code, ok.stderr).toBe(0);
    });
  }
});
