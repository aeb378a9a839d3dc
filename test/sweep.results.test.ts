/** Pieces of the sweep's table and display: plateau loss, CSV, Parquet types, the progress line. */
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';
import { describe, expect, it } from 'vitest';
import { SweepProgress } from '../src/sweep/progress.js';
import { plateauLoss, toCsv, toParquet, type ResultsTable } from '../src/sweep/results.js';

describe('results table pieces', () => {
  it('plateau loss = mean of the last 10 % of steps (at least one)', () => {
    const x = Float64Array.from({ length: 100 }, (_, i) => i);
    expect(plateauLoss(x)).toBe((90 + 99) / 2);
    expect(plateauLoss(Float64Array.of(3, 5))).toBe(5);
    expect(plateauLoss(new Float64Array(0))).toBeNull();
  });

  it('CSV quotes what needs quoting and leaves nulls empty; Parquet keeps types and nulls', () => {
    const t: ResultsTable = {
      columns: [{ name: 'name', type: 'STRING' }, { name: 'seed', type: 'INT64' }, { name: 'x', type: 'DOUBLE' }, { name: 'ok', type: 'BOOLEAN' }],
      rows: [{ name: 'a,"b"', seed: 4_294_967_295, x: 0.1 + 0.2, ok: true }, { name: 'c', seed: 0, x: null, ok: false }],
    };
    expect(toCsv(t)).toBe('name,seed,x,ok\n"a,""b""",4294967295,0.30000000000000004,true\nc,0,,false\n');
    const back = tableFromIPC(readParquet(new Uint8Array(toParquet(t, { k: 'v' }))).intoIPCStream());
    expect(back.toArray().map((r) => r.toJSON())).toEqual([
      { name: 'a,"b"', seed: 4_294_967_295n, x: 0.30000000000000004, ok: true },
      { name: 'c', seed: 0n, x: null, ok: false },
    ]);
  });

  it('sweep progress: done / running / queued, aggregate steps/s and ETA over the whole sweep', () => {
    const lines: string[] = [];
    const p = new SweepProgress('lines', [
      { name: 'a', step: 0, total: 1000, state: 'queued' },
      { name: 'b', step: 0, total: 1000, state: 'queued' },
      { name: 'c', step: 1000, total: 1000, state: 'done' },
    ], (s) => lines.push(s), 0);
    p.update('a', { step: 500, total: 1000, stepsPerSecond: 100 });
    expect(p.counts()).toMatchObject({ done: 1, running: 1, queued: 1, step: 1500, steps: 3000, stepsPerSecond: 100, etaSeconds: 15 });
    expect(lines.at(-1)).toBe('sweep: runs 1/3 done, 1 running, 1 queued; 50% of steps; 100 steps/s; ETA 15s\n');
    p.finish('a', 'done', 1000);
    p.finish('b', 'failed', 10);
    expect(p.line()).toBe('sweep: runs 3/3 done (1 failed), 0 running, 0 queued; 100% of steps; 0 steps/s; ETA 0s');
  });
});
