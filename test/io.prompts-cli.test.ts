/**
 * issue 12, misleading output 10: `predict` could not be used without writing a prompts file by hand.
 * `icl-lab prompts` writes one for any task/preset/L/B/seed (or a run's task), and `predict --json`
 * prints the outputs without `--out`. Through the compiled CLI (run `npx tsc -p tsconfig.json` first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { f64, readSafetensors } from '../src/io/safetensors.js';
import { Rng } from '../src/data/rng.js';
import { sampleBatch } from '../src/data/task.js';
import { bin, root, tempDir } from './cli.helpers.js';

const tmp = tempDir('prompts-cli');
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, cwd: tmp });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const run = join(tmp, 'run');

beforeAll(() => {
  const r = cli(['train', '--out', run, '--d', '3', '--context-length', '9', '--batch-size', '16', '--steps', '50', '--rho', '0.4', '--noise-std', '0.05', '--progress', 'none']);
  if (r.code !== 0) throw new Error(r.stderr);
}, 120_000);

describe('icl-lab prompts + predict --json', () => {
  it('writes z, z_q, y_q, beta of the asked task: exactly sampleBatch(task, new Rng(seed)), and the same file for the same seed', () => {
    const f = join(tmp, 'p.safetensors');
    const r = cli(['prompts', '--out', f, '--d', '4', '--context-length', '7', '--batch-size', '5', '--preset', 'paper', '--noise-std', '0.2', '--rho', '0.3', '--seed', '9', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ d: 4, context_length: 7, batch_size: 5, preset: 'paper', noise_std: 0.2, rho: 0.3, seed: 9 });
    const { tensors, metadata } = readSafetensors(f);
    expect([tensors.z!.shape, tensors.z_q!.shape, tensors.y_q!.shape, tensors.beta!.shape]).toEqual([[5, 7, 5], [5, 1, 5], [5, 1, 1], [5, 4]]);
    expect(metadata).toMatchObject({ icl_lab: 'prompts', preset: 'paper', rho: '0.3', seed: '9', context_length: '7' });
    const want = sampleBatch({ d: 4, L: 7, batchSize: 5, noiseStd: 0.2, preset: 'paper', rho: 0.3 }, new Rng(9));
    expect(Array.from(f64(tensors.z!))).toEqual(Array.from(want.z));
    expect(Array.from(f64(tensors.y_q!))).toEqual(Array.from(want.yq));
    const g = join(tmp, 'p2.safetensors');
    cli(['prompts', '--out', g, '--d', '4', '--context-length', '7', '--batch-size', '5', '--preset', 'paper', '--noise-std', '0.2', '--rho', '0.3', '--seed', '9']);
    expect(readFileSync(g).equals(readFileSync(f))).toBe(true);
  });

  it('--run takes the task from a run directory; predict --json prints the outputs and the loss without --out', () => {
    const f = join(tmp, 'run-prompts.safetensors');
    const r = cli(['prompts', '--run', run, '--batch-size', '6', '--out', f]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('B=6, L=9, d=3, preset seed, noise_std 0.05, rho 0.4, seed 0');
    const p = cli(['predict', '--model', run, '--prompts', f, '--json']);
    expect(p.code, p.stderr).toBe(0);
    const j = JSON.parse(p.stdout);
    expect(j.out).toBeNull();
    expect(j.output).toHaveLength(6);
    const yq = Array.from(f64(readSafetensors(f).tensors.y_q!));
    const mse = j.output.reduce((s: number, o: number, b: number) => s + (o - yq[b]!) ** 2, 0) / 6;
    expect(j.loss).toBeCloseTo(mse, 12);
    // with --out the same numbers are written to the file
    const out = join(tmp, 'res.safetensors');
    expect(cli(['predict', '--model', run, '--prompts', f, '--out', out]).code).toBe(0);
    expect(Array.from(f64(readSafetensors(out).tensors.output!))).toEqual(j.output);
  });

  it('bad input: predict with neither --out nor --json, prompts too large, a missing directory: exit 2, one line', () => {
    const f = join(tmp, 'x.safetensors');
    cli(['prompts', '--out', f, '--batch-size', '2']);
    const a = cli(['predict', '--model', run, '--prompts', f]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/give --out FILE.safetensors to write the result, or --json/);
    const b = cli(['prompts', '--out', f, '--batch-size', '1000000', '--context-length', '100000']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/lower --batch-size or --context-length/);
    const c = cli(['prompts', '--out', join(tmp, 'no', 'such', 'p.safetensors')]);
    expect(c.code).toBe(2);
    expect(existsSync(join(tmp, 'no'))).toBe(false);
    expect(cli(['prompts', '--help']).stdout).toMatch(/--context-length <n>\s+\[int\]/);
  });
});
