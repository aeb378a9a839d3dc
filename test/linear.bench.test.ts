// `icl-lab bench --attention linear`: the linear attention rows and their roofline floor. Runs the
// compiled CLI (dist/, built by `npm test` / `npx tsc -p tsconfig.json`).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stepCounts } from '../src/bench/roofline.js';
import { DEFAULT_TASK } from '../src/data/task.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'icl-lab');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('icl-lab bench --attention', () => {
  it('linear: one row per head count and engine, marked, no stack rows; the floor counts no exponentials', () => {
    const r = run('bench', '--attention', 'linear', '--heads', '1,2', '--engine', 'both', '--seconds', '0.1', '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rows.map((x: { heads: number; engine: string; attention: string; layers: number }) => [x.heads, x.engine, x.attention, x.layers])).toEqual([[1, 'ts', 'linear', 1], [1, 'wasm', 'linear', 1], [2, 'ts', 'linear', 1], [2, 'wasm', 'linear', 1]]);
    for (const row of j.rows) expect(Number.isFinite(row.last_loss)).toBe(true);
    if (j.roofline) expect(j.roofline.floors[0].counts.exps).toBe(0);
  });
  it('the linear step counts: the moment pass per prompt and 4E^2 + E per head, the softmax counts unchanged', () => {
    const { d, L, batchSize: B } = DEFAULT_TASK;
    const E = d + 1;
    const c = stepCounts(DEFAULT_TASK, 2, 'linear-sum');
    expect(c.multiplyAdds).toBe(B * ((L * E * (E + 1)) / 2 + 2 * (4 * E * E + E)) + 4 * 2 * E * E * E + B * L * d + B * d);
    expect(c.exps).toBe(0);
    expect(stepCounts(DEFAULT_TASK, 2)).toEqual(stepCounts(DEFAULT_TASK, 2, 'softmax'));
    expect(stepCounts(DEFAULT_TASK, 2).exps).toBe(B * 2 * L);
  });
  it('refuses an unknown attention with one line', () => {
    const r = run('bench', '--attention', 'cosine');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('icl-lab: --attention: expected one of softmax, linear, linear-sum, got "cosine"');
  });
});
