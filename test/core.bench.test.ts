// Runs the compiled CLI (dist/, built by `npm test` / `npx tsc -p tsconfig.json`).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'icl-lab');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('icl-lab bench', () => {
  it('--json prints one row per head count with the time split', () => {
    const r = run('bench', '--heads', '1,3', '--seconds', '0.2', '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    // single-layer rows (layers 1) per head count, then the default 2-layer H=2 stack row
    expect(j.rows.map((x: { heads: number; layers: number }) => [x.layers, x.heads])).toEqual([[1, 1], [1, 3], [2, 2]]);
    // How the numbers are computed (phases, means, fastest chunk) is checked on a fake clock in
    // bench.timing.test.ts; here: every row was measured and trained.
    for (const row of j.rows) {
      expect(row.steps_per_second).toBeGreaterThan(0);
      expect(row.ms_per_step).toBeCloseTo(1000 / row.steps_per_second, 6);
      // the three phases are timed inside the step, so they add up to at most the whole step
      const parts = row.sampling_ms + row.forward_backward_ms + row.optimizer_ms;
      expect(parts).toBeGreaterThan(0);
      expect(parts).toBeLessThanOrEqual(row.ms_per_step * 1.0001);
      expect(Number.isFinite(row.last_loss)).toBe(true);
      // the fastest chunk is at least as fast as the average
      expect(row.best_steps_per_second).toBeGreaterThanOrEqual(row.steps_per_second * 0.999);
    }
    expect(j.task).toMatchObject({ d: 5, L: 40, batch_size: 128 });
  });

  it('prints a table by default', () => {
    const r = run('bench', '--heads', '2', '--seconds', '0.1');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/heads\s+steps\/s\s+best\/s\s+ms\/step\s+sampling\s+fwd\+bwd\s+optimizer/);
    expect(r.stdout).toMatch(/^\s+2\s+\d+\s+\d+\s+\d+\.\d{3}/m);
  });

  it('--no-stack drops the stack row; --layers picks the depths', () => {
    const a = JSON.parse(run('bench', '--heads', '2', '--seconds', '0.05', '--no-stack', '--json').stdout);
    expect(a.rows.map((x: { layers: number }) => x.layers)).toEqual([1]);
    const b = JSON.parse(run('bench', '--heads', '1', '--seconds', '0.05', '--layers', '3', '--json').stdout);
    expect(b.rows.map((x: { layers: number; heads: number }) => [x.layers, x.heads])).toEqual([[1, 1], [3, 2]]);
    expect(b.rows[1].forward_backward_ms).toBeGreaterThan(b.rows[0].forward_backward_ms); // 3 layers, causal: far more work
    const c = run('bench', '--layers', '1');
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/--layers: expected a comma-separated list of stack depths in 2\.\.16/);
  });

  it('--engine both measures each head count on ts then wasm; every row names its engine', () => {
    const j = JSON.parse(run('bench', '--heads', '2', '--seconds', '0.1', '--engine', 'both', '--no-stack', '--json').stdout);
    expect(j.rows.map((x: { engine: string; heads: number }) => [x.heads, x.engine])).toEqual([[2, 'ts'], [2, 'wasm']]);
    for (const r of j.rows) expect(Number.isFinite(r.last_loss) && r.steps_per_second > 0).toBe(true);
    const d = JSON.parse(run('bench', '--heads', '1', '--seconds', '0.05', '--no-stack', '--json').stdout);
    expect(d.rows[0].engine).toBe('wasm'); // default when dist/wasm/attention.wasm is built
    const e = run('bench', '--engine', 'gpu');
    expect(e.status).toBe(2);
    expect(e.stderr).toMatch(/--engine: expected ts, wasm or both/);
  });

  it('rejects bad --heads and --seconds with exit code 2', () => {
    const a = run('bench', '--heads', '2,x');
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--heads: expected a comma-separated list/);
    const b = run('bench', '--seconds', '0');
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--seconds/);
  });
});
