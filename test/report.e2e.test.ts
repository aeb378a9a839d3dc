import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reproduce } from '../src/experiments/reproduce.js';
import { seedExperiment } from '../src/experiments/seed.js';
import { tempDir } from './cli.helpers.js';

const dir = tempDir('report');

describe('reproduce (tiny) end to end', () => {
  it('trains four runs, writes a self-contained report, findings.json and figures, and re-running only redraws', async () => {
    const out = join(dir, 'rep');
    const opts = { out, steps: 300, evalSamples: 100, samples: 500, lengths: [5, 40, 120], jobs: 1, progress: 'none' as const, onLine: null };
    const res = await reproduce(opts);
    if ('interrupted' in res) throw new Error('interrupted');
    expect(res.runs.map((r) => [r.name, r.status, r.step])).toEqual([['h2', 'completed', 300], ['h1', 'completed', 300], ['h4', 'completed', 300], ['h8', 'completed', 300]]);
    const findings = JSON.parse(readFileSync(join(out, 'report', 'findings.json'), 'utf8'));
    expect(findings.findings.map((f: { id: string }) => f.id)).toEqual(['kernel-regressor', 'two-heads-pair', 'one-step-gd', 'more-heads-act-like-two', 'multi-head-beats-single-head', 'gd-gap', 'two-head-equivalent', 'zero-sum']);
    for (const f of findings.findings) {
      expect(typeof f.value).toBe('number');
      expect(typeof f.pass).toBe('boolean');
      expect(f.threshold).toMatch(/^(<=|>=|<|>) /);
    }
    const html = readFileSync(res.report.files.html, 'utf8');
    expect(html).not.toMatch(/<img[^>]+src="(?!data:image\/png;base64,)/); // every image inline
    // every figure inline as SVG (sharp at any zoom), a table of contents, under 3 MB (issue 12, figures)
    expect((html.match(/<svg role="img"/g) ?? []).length).toBe(res.report.pngs.length);
    expect(html).toContain('<nav class="toc" id="contents">');
    expect(Buffer.byteLength(html)).toBeLessThan(3 * 1024 * 1024);
    expect(res.report.pngs.length).toBeGreaterThanOrEqual(10);
    for (const p of res.report.pngs) expect(existsSync(p)).toBe(true);
    const ev = JSON.parse(readFileSync(res.report.files.evaluation, 'utf8'));
    expect(ev.lengths).toEqual([5, 40, 120]);
    expect(Object.keys(ev.methods)).toEqual(expect.arrayContaining(['h1', 'h2', 'h4', 'h8', 'h2/kernel', 'one-step-gd', 'tuned-gd', 'ridge']));

    // Same out, same steps: nothing is trained again, the report is redrawn.
    const again = await reproduce(opts);
    if ('interrupted' in again) throw new Error('interrupted');
    expect(again.runs).toEqual([]);
    expect(again.report.findings).toEqual(res.report.findings);
  }, 180_000);

  it('uses the seed configuration with finer logging for short runs', () => {
    const c = seedExperiment.config(4, 20_000);
    expect([c.heads, c.d, c.contextLength, c.batchSize, c.lr, c.optimizer, c.noiseStd, c.seed, c.steps]).toEqual([4, 5, 40, 128, 1e-3, 'adam', 0.01, 1024, 20_000]);
    expect(c.dynamicsEvery).toBe(200);
    expect(seedExperiment.config(2, 500_001).dynamicsEvery).toBe(1000);
  });
});
