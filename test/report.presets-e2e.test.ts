/**
 * `reproduce --experiment paper` and `--preset multitask`, tiny, end to end: the runs get the authors'
 * settings, the reports carry the extra sections, figures and findings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reproduce } from '../src/experiments/reproduce.js';
import { tempDir } from './cli.helpers.js';

const dir = tempDir('presets');

describe('reproduce presets (tiny) end to end', () => {
  it('paper: four runs in the paper convention, finding 6 (reduced-loss-valley), the valley table, the estimator comparison and the printed values', async () => {
    const out = join(dir, 'paper');
    const res = await reproduce({ out, experiment: 'paper', steps: 200, evalSamples: 60, samples: 400, lengths: [10, 40], jobs: 1, progress: 'none', onLine: null });
    if ('interrupted' in res) throw new Error('interrupted');
    const cfg = JSON.parse(readFileSync(join(out, 'h2', 'run.json'), 'utf8')).config;
    expect([cfg.preset, cfg.batch_size, cfg.seed, cfg.noise_std]).toEqual(['paper', 256, 1029, Math.sqrt(0.1)]);
    const ids = res.report.findings.map((f) => f.id);
    expect(ids).toEqual(['kernel-regressor', 'two-heads-pair', 'one-step-gd', 'more-heads-act-like-two', 'multi-head-beats-single-head', 'reduced-loss-valley', 'gd-gap', 'two-head-equivalent', 'zero-sum']);
    // two checks per model with a ± pair (n/a when none has split in 200 steps)
    const valley = res.report.findings[5]!;
    expect(valley.checks.length % 2).toBe(0);
    expect(valley.result === 'n/a').toBe(valley.checks.length === 0);
    expect(res.report.pngs.some((p) => p.endsWith('estimator_comparison.png'))).toBe(true);
    const md = readFileSync(res.report.files.md, 'utf8');
    expect(md).toMatch(/## Paper convention: estimator comparison, the reduced loss along the valley, mu\*\(w\)/);
    // the valley on 25 x 400 = 10,000 shared prompts: the grid's five points at least, the limit's closed form
    expect(md).toMatch(/on the same 10,000 prompts for every ω/);
    expect(md).toMatch(/\| 0\.1000 \| 4\.395 \| 0\.22092 \| 4\.43e-5 \| 0\.2[0-9]+ ± 0\.00[0-9]+ \| /);
    expect(md).toMatch(/closed form 0\.24286/);
    expect(md).toMatch(/mu against the reduced loss's optimum .*a measurement, not a finding/);
    expect(md).toMatch(/\| multi-head kernel \(w = ±0\.13, mu = ±3\.45\) \| 100 \| [0-9.]+ ± [0-9.]+ \| 0\.1638 \|/);
    expect(md).toMatch(/authors' w\^h/);
  }, 300_000);

  it('multitask: four multi-task runs, the split-up / superposition findings and one circuits figure per run', async () => {
    const out = join(dir, 'mt');
    const res = await reproduce({ out, experiment: 'multitask', steps: 40, evalSamples: 10, samples: 200, jobs: 1, progress: 'none', onLine: null });
    if ('interrupted' in res) throw new Error('interrupted');
    expect(res.runs.map((r) => r.name)).toEqual(['h3', 'h4', 'h2', 'h8']);
    const cfg = JSON.parse(readFileSync(join(out, 'h3', 'run.json'), 'utf8')).config;
    expect([cfg.tasks, cfg.n_out, cfg.d, cfg.context_length, cfg.batch_size, cfg.engine]).toEqual(['0:4,2:6', 2, 6, 48, 256, 'wasm']);
    expect(res.report.findings.map((f) => f.id)).toEqual(['multitask-split-up', 'multitask-superposition', 'multitask-more-heads']);
    expect(res.report.findings[2]!.result).toBe('n/a'); // h8 trained 40 steps: not converged
    for (const h of ['h2', 'h3', 'h4', 'h8']) expect(existsSync(join(out, 'report', 'figures', h, 'circuits.png'))).toBe(true);
    const md = readFileSync(res.report.files.md, 'utf8');
    expect(md).toMatch(/\| per-task ridge \| [0-9.]+ ± [0-9.]+ \|/);
    const f = JSON.parse(readFileSync(res.report.files.findings, 'utf8'));
    expect(f.heads.h4).toHaveLength(4);
    expect(f.heads.h4[0].ov_share).toHaveLength(2);
  }, 300_000);
});
