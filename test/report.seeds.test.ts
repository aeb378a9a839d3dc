/** Findings judged across seeds (experiments/seeds.ts; reproduce --seeds, issue 26). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeAcrossSeeds, seedTally, withSeed } from '../src/experiments/seeds.js';
import type { Finding } from '../src/report/findings.js';
import { makeTrainConfig } from '../src/run/config.js';
import { cli, tempDir } from './cli.helpers.js';

const f = (id: string, result: Finding['result'], value: number): Finding => ({ id, claim: `claim ${id}`, value, threshold: '<= 0.1', pass: result === 'pass', result, why: 'because', threshold_source: 'icl-lab runs', checks: [] });

describe('judgeAcrossSeeds', () => {
  it('a finding passes when it passes on >= 90 % of the seeds where it applies; n/a seeds are left out, never FAIL', () => {
    const seeds = Array.from({ length: 10 }, (_, i) => i);
    const per = seeds.map((s) => [f('a', s === 3 ? 'FAIL' : 'pass', s / 100), f('b', s < 2 ? 'FAIL' : 'pass', 0), f('c', s < 5 ? 'n/a' : 'pass', 0), f('d', 'n/a', NaN)]);
    const [a, b, c, d] = judgeAcrossSeeds(seeds, per);
    expect([a!.result, seedTally(a!), a!.pass_fraction]).toEqual(['pass', '9/10', 0.9]);
    expect([b!.result, seedTally(b!)]).toEqual(['FAIL', '8/10']);
    expect([c!.result, seedTally(c!), c!.applicable_seeds]).toEqual(['pass', '5/5', 5]);
    expect([d!.result, seedTally(d!), d!.pass_fraction]).toEqual(['n/a', 'n/a', null]);
    expect(a!.per_seed[3]).toEqual({ seed: 3, value: 0.03, result: 'FAIL' });
    expect(a!.checks.map((x) => x.pass).filter((p) => !p)).toHaveLength(1);
  });

  it('withSeed moves the pool seed with the seed when it followed it, and keeps a pool seed given apart', () => {
    expect(withSeed(makeTrainConfig({ taskPool: 4 }), 7)).toMatchObject({ seed: 7, poolSeed: 7 });
    expect(withSeed(makeTrainConfig({ taskPool: 4, poolSeed: 3 }), 7)).toMatchObject({ seed: 7, poolSeed: 3 });
  });
});

describe('reproduce --seeds (tiny)', () => {
  it('trains every run per seed, writes a report per seed and findings.json with per_seed and pass_fraction', () => {
    const tmp = tempDir('seeds');
    const out = join(tmp, 'r');
    const r = cli(['reproduce', '--seeds', '2', '--steps', '30', '--eval-samples', '20', '--samples', '200', '--context-length', '10,40', '--out', out, '--progress', 'none', '--json'], { timeout: 240_000 });
    expect([0, 1]).toContain(r.code); // 1: findings fail on 30-step runs
    for (const s of [1024, 1025]) {
      for (const h of [1, 2, 4, 8]) expect(existsSync(join(out, `h${h}-seed${s}`, 'model.safetensors'))).toBe(true);
      expect(existsSync(join(out, 'report', `seed-${s}`, 'report.md'))).toBe(true);
    }
    const j = JSON.parse(readFileSync(join(out, 'report', 'findings.json'), 'utf8'));
    expect(j.seeds).toEqual([1024, 1025]);
    expect(j.findings.map((x: { id: string }) => x.id)).toEqual(['kernel-regressor', 'two-heads-pair', 'one-step-gd', 'more-heads-act-like-two', 'multi-head-beats-single-head', 'gd-gap', 'two-head-equivalent', 'zero-sum']);
    for (const x of j.findings) {
      expect(x.per_seed.map((p: { seed: number }) => p.seed)).toEqual([1024, 1025]);
      expect(x.pass_fraction === null || (x.pass_fraction >= 0 && x.pass_fraction <= 1)).toBe(true);
    }
    // each seed's value is that seed's own report's
    const own = JSON.parse(readFileSync(join(out, 'report', 'seed-1025', 'findings.json'), 'utf8'));
    expect(j.findings[0].per_seed[1].value).toBe(own.findings[0].value);
    expect(readFileSync(join(out, 'report', 'report.md'), 'utf8')).toMatch(/\| 1 \| kernel-regressor \| [0-2]\/2 \|/);
    expect(readFileSync(join(out, 'report', 'report.md'), 'utf8')).toContain("## The heads' +/- split");
    expect(readFileSync(join(out, 'report', 'report.md'), 'utf8')).toMatch(/## The heads' \+\/- split\n\n(No run has split its heads|The logged step from which)/);
  }, 300_000);
});
