/**
 * A multi-task sweep's results table read back by every reader equals what was written, quoted
 * cells included: a real tiny sweep (one `--tasks 0:4,2:6` run and one single-task run, 300 steps)
 * through the compiled CLI; its results.csv quotes the tasks cell "0:4,2:6". Read back by the report
 * layer's reader (sweep/results.ts readResultsCsv, what `icl-lab report SWEEP_DIR` uses) and by the
 * web lab's API (GET api/sweep of a real server), the rows equal the writer's (the table the sweep
 * computed, and results.parquet read by an independent reader, parquet-wasm). Before one CSV reader,
 * the report's reader split the quoted cell on its comma and shifted every later column.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readResultsCsv, sweepResults, type Row } from '../src/sweep/results.js';
import { apiUrl, type SweepSummary } from '../src/serve/api.js';
import { startServer, type LabServer } from '../src/serve/server.js';
import { cli, requireDist } from './cli.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-sweep-mt-'));
const dir = join(tmp, 'sweep');
let server: LabServer | undefined;
/** The table as the sweep wrote it (its rows cached in DIR/.results-cache.json, under the same key). */
let written: Row[] = [];

beforeAll(() => {
  requireDist();
  writeFileSync(join(tmp, 'spec.yaml'), `# one multi-task run, one single-task run
base:
  d: 6
  heads: 2
  context_length: 12
  batch_size: 16
  steps: 300
  qk_every: 100
grid:
  tasks: ["0:4,2:6", ""]
`);
  const r = cli(['sweep', join(tmp, 'spec.yaml'), '--out', dir, '--jobs', '1', '--progress', 'none', '--eval-samples', '200']);
  if (r.code !== 0) throw new Error(r.stderr);
  const t = sweepResults(dir, { samples: 200 });
  expect(t.cached).toBe(2); // the rows the sweep wrote, not new ones
  written = t.rows;
}, 120_000);
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('a multi-task sweep\'s results table', () => {
  it('is written with the tasks cell quoted, and the multi-task run\'s single-task read-outs empty', () => {
    const csv = readFileSync(join(dir, 'results.csv'), 'utf8');
    expect(csv).toContain(',"0:4,2:6",');
    expect(written.map((r) => [r.name, r.tasks, r.n_out, r.status])).toEqual([['tasks0_4_2_6', '0:4,2:6', 2, 'completed'], ['tasks', '', 1, 'completed']]);
    expect(written[0]!.eta_tf).toBeNull();
    expect(typeof written[1]!.eta_tf).toBe('number');
    // the parquet file (an independent reader) holds the same table
    const pq = tableFromIPC(readParquet(new Uint8Array(readFileSync(join(dir, 'results.parquet')))).intoIPCStream());
    const back = pq.toArray().map((r) => Object.fromEntries(Object.entries(r.toJSON() as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
    expect(back).toEqual(written);
  });

  it('reads back equal by the report layer\'s reader (readResultsCsv)', () => {
    const t = readResultsCsv(join(dir, 'results.csv'));
    expect(t.columns).toEqual(Object.keys(written[0]!));
    expect(t.rows).toEqual(written);
    expect(t.rows[0]!.tasks).toBe('0:4,2:6');
    expect(t.rows[0]!.weight_tying).toBe(false); // the column after tasks, not its second half
  });

  it('reads back equal by the web lab\'s API (GET api/sweep)', async () => {
    server = await startServer({ root: tmp, port: 0, host: '127.0.0.1', assets: null });
    const res = await fetch(server.url + apiUrl.sweep('sweep'));
    expect(res.status).toBe(200);
    const s = (await res.json()) as SweepSummary;
    // the table's columns (name, the swept tasks, the metrics, the rest that varies) and the constants: every column once
    expect(s.columns.slice(0, 2)).toEqual(['name', 'tasks']);
    expect([...s.columns, ...Object.keys(s.constants)].sort()).toEqual(Object.keys(written[0]!).sort());
    for (const [k, v] of Object.entries(s.constants)) expect(written.map((r) => r[k]), k).toEqual(written.map(() => v));
    expect(s.rows).toEqual(written);
    expect(s.runs).toEqual(['sweep/runs/tasks', 'sweep/runs/tasks0_4_2_6']);
  });
});
