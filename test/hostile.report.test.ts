/**
 * Issue 12, item 8: `report` writes its folder as one unit. SIGTERM while it is made leaves the old
 * report exactly as it was (never a new evaluation.json beside an old report.md), and no staging
 * folder behind; a finished report replaces the old files and keeps the user's own.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, requireDist, sleep, start, tempDir } from './cli.helpers.js';

const tmp = tempDir('hostile-report');
beforeAll(() => {
  requireDist();
  const r = cli(['train', '--out', join(tmp, 'runs'), '--heads', '1,2', '--steps', '40', '--d', '3', '--context-length', '10', '--batch-size', '16', '--progress', 'none', '--jobs', '1']);
  expect(r.code, r.stderr).toBe(0);
});

const OLD = ['evaluation.json', 'findings.json', 'report.md', 'report.html'];
const ARGS = (out: string) => ['report', join(tmp, 'runs', 'h1'), join(tmp, 'runs', 'h2'), '--out', out, '--lengths', '5,10', '--eval-samples', '50', '--samples', '200'];

describe('item 8: report is written as one unit', () => {
  it('SIGTERM after the new evaluation is computed leaves the old folder untouched; a full run replaces it, keeping other files', async () => {
    const out = join(tmp, 'rep');
    mkdirSync(out);
    for (const f of OLD) writeFileSync(join(out, f), `old ${f}\n`);
    writeFileSync(join(out, 'notes.txt'), 'mine\n');
    const p = start(ARGS(out));
    const staged = () => readdirSync(tmp).some((e) => e.startsWith('.rep.new-') && existsSync(join(tmp, e, 'evaluation.json')));
    const changed = () => readFileSync(join(out, 'evaluation.json'), 'utf8') !== 'old evaluation.json\n';
    let sent = false;
    for (let i = 0; i < 6000 && p.child.exitCode === null; i++) {
      if (staged() || changed()) {
        p.child.kill('SIGTERM');
        sent = true;
        break;
      }
      await sleep(10);
    }
    await p.done;
    expect(sent, `report ended before its evaluation was written: ${p.err()}`).toBe(true);
    for (const f of OLD) expect(readFileSync(join(out, f), 'utf8'), f).toBe(`old ${f}\n`);
    expect(readdirSync(tmp).filter((e) => e.startsWith('.rep.')), 'staging folders left behind').toEqual([]);

    const r = cli(ARGS(out), { timeout: 180_000 });
    expect(r.code === 0 || r.code === 1, r.stderr).toBe(true); // 1: findings fail on 40-step runs
    for (const f of OLD) expect(readFileSync(join(out, f), 'utf8'), f).not.toBe(`old ${f}\n`);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine\n');
    expect(existsSync(join(out, 'figures'))).toBe(true);
    // --out outside the working directory (the repository): printed absolute, not as ../../tmp/...
    expect(r.stdout).toContain(`report: ${join(out, 'report.html')}\n`);
    expect(r.stdout).not.toContain('.rep.new-');
    expect(readdirSync(tmp).filter((e) => e.startsWith('.rep.'))).toEqual([]);
  }, 240_000);
});

describe('item 1: reproduce over runs whose creation was cut short', () => {
  it('one run left at status creating, the others never made: reproduce makes them all', async () => {
    const { reproduce } = await import('../src/experiments/reproduce.js');
    const { seedExperiment } = await import('../src/experiments/seed.js');
    const { writeRunIdentity } = await import('../src/run/run.js');
    const out = join(tmp, 'repro');
    mkdirSync(join(out, 'h2'), { recursive: true });
    writeRunIdentity(join(out, 'h2'), seedExperiment.config(2, 20)); // what a kill right after the first identity leaves
    const res = await reproduce({ out, steps: 20, evalSamples: 20, samples: 100, lengths: [5, 10], jobs: 1, progress: 'none', onLine: null });
    expect('interrupted' in res).toBe(false);
    for (const h of ['h1', 'h2', 'h4', 'h8']) expect(JSON.parse(readFileSync(join(out, h, 'run.json'), 'utf8')).status, h).toBe('completed');
    expect(existsSync(join(out, 'report', 'report.md'))).toBe(true);
  }, 240_000);
});
