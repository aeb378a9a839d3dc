/**
 * issue 12, misleading output 3 (the last step was never logged: --steps 3000 stopped the logs at step
 * 2000, --steps 100 gave step 0's validation as "final") and 4 (the "final validation loss" was one
 * batch of 128 prompts): a completed run logs and snapshots its last step, and run.json records the
 * final model on 20,000 held-out prompts with a standard error. Training and resume stay exact.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { f64, readSafetensors } from '../src/io/safetensors.js';
import { parseFlags, resolveConfig, type TrainConfig } from '../src/run/config.js';
import { FINAL_VALIDATION_SAMPLES } from '../src/run/loop.js';
import { readRunJson } from '../src/run/run-dir.js';
import { resumeRuns, trainRuns } from '../src/run/runs.js';
import { tempDir } from './cli.helpers.js';

const tmp = tempDir('final-step');

function small(steps: number, extra: Record<string, string> = {}): TrainConfig {
  return resolveConfig(parseFlags({
    d: '3', contextLength: '10', batchSize: '16', steps: String(steps), dynamicsEvery: '50', qkEvery: '50', valEvery: '50',
    printEvery: '1000', lossEvery: '10', seed: '7', ...extra,
  }));
}
const quiet = { progress: 'none' as const, onLine: null, jobs: 1 };
const steps = (dir: string, file: string, key: string) => Array.from(f64(readSafetensors(join(dir, file)).tensors[key]!));
const bytes = (p: string) => readFileSync(p).toString('hex');

describe('a completed run logs its last step and a large held-out validation', () => {
  it('--steps 120 with logging every 50: val, dynamics and snapshots at 0, 50, 100 and the last step 119', async () => {
    const dir = join(tmp, 'r120');
    const [s] = await trainRuns([small(120)], { ...quiet, out: dir });
    expect(s!.status).toBe('completed');
    expect(steps(dir, 'metrics.safetensors', 'val_step')).toEqual([0, 50, 100, 119]);
    expect(steps(dir, 'metrics.safetensors', 'dyn_step')).toEqual([0, 50, 100, 119]);
    expect(steps(dir, 'snapshots.safetensors', 'snapshot_step')).toEqual([0, 50, 100, 119]);
    const r = readRunJson(dir);
    expect(r.final.val_step).toBe(119);
    expect(r.final.val_loss).toBe(steps(dir, 'metrics.safetensors', 'val_loss')[3]);
    // the last snapshot is the saved model's circuit: its qk dynamics equal the last logged ones
    const fv = r.final_validation!;
    expect(fv.samples).toBe(FINAL_VALIDATION_SAMPLES);
    expect(fv.samples).toBe(20_000);
    expect(fv.step).toBe(120);
    expect(fv.stderr).toBeGreaterThan(0);
    // 20,000 prompts: the standard error is ~1 % of the mean (one batch of 16 would be ~35 %)
    expect(fv.stderr / fv.mse).toBeLessThan(0.03);
    expect(s!.final_validation!.mse).toBe(fv.mse);
  });

  it('--steps 1 (one step): the "final" validation is that step, not absent', async () => {
    const dir = join(tmp, 'r1');
    await trainRuns([small(1)], { ...quiet, out: dir });
    expect(steps(dir, 'metrics.safetensors', 'val_step')).toEqual([0]);
    expect(readRunJson(dir).final_validation!.step).toBe(1);
  });

  it('a last step on the grid is logged once; the training data and the on-grid logs are those of a longer run', async () => {
    const a = join(tmp, 'r101');
    const b = join(tmp, 'r160');
    await trainRuns([small(101)], { ...quiet, out: a });
    await trainRuns([small(160)], { ...quiet, out: b });
    expect(steps(a, 'metrics.safetensors', 'val_step')).toEqual([0, 50, 100]);
    const la = steps(a, 'metrics.safetensors', 'val_loss');
    const lb = steps(b, 'metrics.safetensors', 'val_loss');
    expect(lb.slice(0, 3)).toEqual(la); // the extra last-step batch of r160 did not disturb the stream
    expect(steps(b, 'metrics.safetensors', 'train_loss').slice(0, 101)).toEqual(steps(a, 'metrics.safetensors', 'train_loss'));
  });

  it('resume: 120 steps then --steps 160 gives the files of 160 steps in one session (the step-119 entries are dropped, 159 logged)', async () => {
    const straight = join(tmp, 's160');
    const resumed = join(tmp, 'p160');
    await trainRuns([small(160)], { ...quiet, out: straight });
    await trainRuns([small(120)], { ...quiet, out: resumed });
    await resumeRuns(resumed, { ...quiet, steps: 160 });
    expect(steps(resumed, 'metrics.safetensors', 'val_step')).toEqual([0, 50, 100, 150, 159]);
    for (const f of ['metrics', 'snapshots', 'model', 'checkpoint']) {
      expect(bytes(join(resumed, `${f}.safetensors`)), f).toBe(bytes(join(straight, `${f}.safetensors`)));
    }
    expect(readRunJson(resumed).final_validation).toEqual(readRunJson(straight).final_validation);
  });

  it('an interrupted run has no final validation', async () => {
    const dir = join(tmp, 'stop');
    const ac = new AbortController();
    ac.abort();
    const [s] = await trainRuns([small(5000)], { ...quiet, out: dir, signal: ac.signal });
    expect(s!.status).toBe('interrupted');
    expect(readRunJson(dir).final_validation).toBeUndefined();
  });
});
