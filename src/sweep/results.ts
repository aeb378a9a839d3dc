/**
 * The sweep's results table: one row per run, written as DIR/results.parquet (hyparquet-writer) and
 * DIR/results.csv. The read-out numbers are those of `icl-lab analyze RUN` (w^h, mu^h, eta_TF,
 * tuned eta*, kernel gap: analyzeTarget with its default 10,000 prompts, seed 0) and of
 * `icl-lab evaluate RUN --lengths L` (MSE +- standard error at the training L of the model, its
 * kernel estimator, one-step GD, tuned GD and ridge on one shared set of prompts, seed 0), so the
 * table can be checked against those commands run by hand. A multi-task run (--tasks) has those
 * read-out columns empty: they are single-task statistics.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { analyzeTarget } from '../analysis/analyze.js';
import { runEvaluate } from '../analysis/evaluate-models.js';
import { loadStackTarget, loadTarget } from '../analysis/targets.js';
import { DEFAULT_CHUNK } from '../analysis/evaluate.js';
import { oneStepGdRisk, riskParams, tunedGdRisk } from '../analysis/theory.js';
import { writeFileAtomic } from '../io/atomic.js';
import { csvCell, parseCsv } from '../io/csv.js';
import { f64, readSafetensors } from '../io/safetensors.js';
import { FIELDS, jsonKey, type TrainConfig } from '../run/config.js';
import { readRunJson, RUN_FILES } from '../run/run-dir.js';
import { VERSION } from '../version.js';
import { readSweepJson, sweepRuns } from './sweep-dir.js';

export interface ResultsOptions {
  /** Prompts of the kernel gap and of the MSE at the training L (default 10,000, as analyze / evaluate). */
  samples?: number;
  /** Seed of those prompts (default 0, as analyze / evaluate). */
  seed?: number;
}

export type Cell = number | string | boolean | null;
export type Row = Record<string, Cell>;

export interface ResultsTable {
  columns: { name: string; type: 'STRING' | 'DOUBLE' | 'INT64' | 'BOOLEAN' }[];
  rows: Row[];
}

/** Estimators in the table: column stem -> `evaluate` method name. */
const ESTIMATORS: [string, string][] = [['one_step_gd', 'one-step-gd'], ['tuned_gd', 'tuned-gd'], ['ridge', 'ridge']];

/** Mean of the last 10 % of the per-step training losses (at least one step). */
export function plateauLoss(trainLoss: Float64Array): number | null {
  const n = trainLoss.length;
  if (n === 0) return null;
  const k = Math.max(1, Math.ceil(n / 10));
  let s = 0;
  for (let i = n - k; i < n; i++) s += trainLoss[i]!;
  return s / k;
}

const fin = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : x);

/** The row of one run directory (read-out only when the run completed). */
export function resultRow(runDir: string, name: string, hash: string, config: TrainConfig, o: ResultsOptions & { maxHeads?: number } = {}): Row {
  const samples = o.samples ?? 10_000;
  const seed = o.seed ?? 0;
  const r = readRunJson(runDir);
  const row: Row = { name, config_hash: hash };
  for (const f of FIELDS) {
    const v = config[f.key];
    if (f.kind === 'pair') {
      const [a, b] = v as [number, number];
      row[`${jsonKey(f.key)}_1`] = a;
      row[`${jsonKey(f.key)}_2`] = b;
    } else row[jsonKey(f.key)] = v as Cell;
  }
  const wall = r.timings.wall_seconds;
  Object.assign(row, {
    status: r.status,
    step: r.step,
    sessions: r.timings.sessions,
    wall_seconds: wall,
    steps_per_second: wall > 0 ? r.step / wall : null,
    final_train_loss: fin(r.final.train_loss),
    plateau_train_loss: null as Cell,
    val_loss: fin(r.final.val_loss),
  });
  try {
    const m = readSafetensors(join(runDir, RUN_FILES.metrics)).tensors;
    if (m.train_loss) row.plateau_train_loss = fin(plateauLoss(f64(m.train_loss)));
  } catch {
    /* a run without metrics yet: no plateau */
  }
  const L = config.contextLength;
  const d = config.d;
  const risk = riskParams({ d, L, noiseStd: config.noiseStd, preset: config.preset });
  row.l_over_l_plus_d = L / (L + d);
  row.risk_tuned_gd = tunedGdRisk(risk);
  for (let h = 1; h <= (o.maxHeads ?? config.heads); h++) { // heads numbered from 1, as analyze shows them
    row[`w_h${h}`] = null;
    row[`mu_h${h}`] = null;
  }
  const empty = { eta_tf: null, tuned_eta: null, kernel_gap: null, risk_at_eta_tf: null, mse_model: null, mse_model_se: null, mse_kernel: null, mse_kernel_se: null };
  Object.assign(row, empty);
  for (const [stem] of ESTIMATORS) Object.assign(row, { [`mse_${stem}`]: null, [`mse_${stem}_se`]: null });
  if (r.status !== 'completed') return row;
  // a multi-task run (--tasks): w^h, mu^h, eta_TF, the kernel gap and the estimators' MSE are
  // single-task read-outs (analyze and evaluate refuse n_out > 1); its row has them empty
  if (config.task === 'multitask') return row;

  const stack = loadStackTarget(runDir);
  const target = stack ?? loadTarget(runDir);
  if (!stack) {
    const a = analyzeTarget(loadTarget(runDir), { samples, seed });
    a.layers[0]!.heads.forEach((h) => {
      row[`w_h${h.head + 1}`] = h.w;
      row[`mu_h${h.head + 1}`] = h.mu;
    });
    row.eta_tf = a.effectiveLearningRate;
    row.tuned_eta = a.reference.tunedEta;
    row.kernel_gap = fin(a.kernelGap);
    row.risk_at_eta_tf = oneStepGdRisk(a.effectiveLearningRate, risk);
  }
  const ev = runEvaluate([target], { lengths: [L], samples, seed, chunk: DEFAULT_CHUNK, kernel: !stack });
  // a pool run is measured on its pool (the first task) and on fresh tasks (the second): names then carry @tasks=...
  const inTask = (method: string, k: number): string | undefined => (ev.tasks[k]?.methods ?? []).find((n) => n.replace(/@[^/]*/, '') === method);
  const put = (stem: string, method: string, k = 0) => {
    const name = inTask(method, k);
    const m = name === undefined ? undefined : ev.methods[name];
    row[`mse_${stem}`] = fin(m?.mse[0]);
    row[`mse_${stem}_se`] = fin(m?.stderr[0]);
  };
  put('model', target.name);
  if (!stack) put('kernel', `${target.name}/kernel`);
  for (const [stem, method] of ESTIMATORS) put(stem, method);
  if (config.task === 'pool') {
    put('dmmse', 'dmmse');
    put('model_fresh', target.name, 1);
    put('ridge_fresh', 'ridge', 1);
    put('dmmse_fresh', 'dmmse', 1);
  }
  return row;
}

const CACHE_FILE = '.results-cache.json';

/** Size and modification time of a file (the model a row is read from): a truncated or replaced model misses the cache. */
function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * The table of every run of the sweep in DIR. Rows are cached in DIR/.results-cache.json under a
 * key of everything they depend on (config hash, the run's step, status and last write, the model
 * file's size and modification time, the
 * evaluation settings, the icl-lab version), so re-running a finished sweep does not evaluate
 * every model again.
 */
export function sweepResults(dir: string, o: ResultsOptions & { onRow?: (name: string) => void } = {}): ResultsTable & { cached: number } {
  const s = readSweepJson(dir);
  const runs = sweepRuns(dir, s);
  // per-head columns for heads 0..maxHeads-1 of the sweep (null where a run has fewer heads)
  const maxHeads = Math.max(0, ...runs.map((r) => r.config.heads));
  const cachePath = join(dir, CACHE_FILE);
  let cache: Record<string, { key: string; row: Row }> = {};
  try {
    const c = JSON.parse(readFileSync(cachePath, 'utf8'));
    if (c && typeof c.rows === 'object') cache = c.rows;
  } catch { /* no cache yet, or unreadable: compute everything */ }
  let cached = 0;
  const fresh: Record<string, { key: string; row: Row }> = {};
  const rows = runs.map((r) => {
    const j = readRunJson(r.dir);
    const key = JSON.stringify([r.hash, j.step, j.status, j.timings.updated_at, fileStamp(join(r.dir, RUN_FILES.model)), o.samples ?? 10_000, o.seed ?? 0, maxHeads, VERSION]);
    const hit = cache[r.name];
    let row: Row;
    if (hit && hit.key === key) {
      row = hit.row;
      cached++;
    } else {
      row = resultRow(r.dir, r.name, r.hash, r.config, { ...o, maxHeads });
    }
    fresh[r.name] = { key, row };
    o.onRow?.(r.name);
    return row;
  });
  writeFileAtomic(cachePath, JSON.stringify({ format: 1, rows: fresh }) + '\n');
  return { columns: columnsOf(rows), rows, cached };
}

const INT_FIELDS = new Set(FIELDS.filter((f) => f.kind === 'int').map((f) => jsonKey(f.key)));
const STRING_COLS = new Set(['name', 'config_hash', 'status', ...FIELDS.filter((f) => f.kind === 'enum' || f.kind === 'tasks').map((f) => jsonKey(f.key))]);
const BOOL_COLS = new Set(FIELDS.filter((f) => f.kind === 'bool').map((f) => jsonKey(f.key)));

function columnsOf(rows: Row[]): ResultsTable['columns'] {
  // every column any row has, in first-seen order (a pool run adds its fresh-task and dmmse columns)
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return names.map((name) => ({
    name,
    type: STRING_COLS.has(name) ? 'STRING' : BOOL_COLS.has(name) ? 'BOOLEAN' : INT_FIELDS.has(name) || name === 'step' || name === 'sessions' ? 'INT64' : 'DOUBLE',
  }));
}

/** results.parquet bytes. */
export function toParquet(t: ResultsTable, meta: Record<string, string> = {}): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: t.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: true,
      data: t.rows.map((r) => {
        const v = r[c.name] ?? null;
        return c.type === 'INT64' && v !== null ? BigInt(v as number) : v;
      }),
    })),
    kvMetadata: Object.entries(meta).map(([key, value]) => ({ key, value })),
    createdBy: `icl-lab ${VERSION}`,
  });
}

function cellText(v: Cell): string {
  return v === null ? '' : typeof v === 'number' ? String(v) : csvCell(String(v));
}

export function toCsv(t: ResultsTable): string {
  const lines = [t.columns.map((c) => c.name).join(',')];
  for (const r of t.rows) lines.push(t.columns.map((c) => cellText(r[c.name] ?? null)).join(','));
  return lines.join('\n') + '\n';
}

/** Compute and write DIR/results.parquet and DIR/results.csv; returns the table. */
export function writeResults(dir: string, o: ResultsOptions & { onRow?: (name: string) => void } = {}): ResultsTable & { files: string[]; cached: number } {
  const t = sweepResults(dir, o);
  const meta = { icl_lab_version: VERSION, eval_samples: String(o.samples ?? 10_000), eval_seed: String(o.seed ?? 0) };
  const pq = join(dir, 'results.parquet');
  const csv = join(dir, 'results.csv');
  writeFileAtomic(pq, new Uint8Array(toParquet(t, meta)));
  writeFileAtomic(csv, toCsv(t));
  return { ...t, files: [pq, csv] };
}

/**
 * results.csv read back (the report's and the web lab's reader): the header's columns and one row per
 * line, each cell typed as toCsv wrote it: the string columns (name, config_hash, status, the enum
 * and tasks fields) as written, booleans as booleans, other cells as numbers, empty ones null. A
 * cell of another column that is not a number stays a string.
 */
export function readResultsCsv(path: string): { columns: string[]; rows: Row[] } {
  const [columns = [], ...lines] = parseCsv(readFileSync(path, 'utf8'));
  const rows = lines.map((cells) => {
    const row: Row = {};
    columns.forEach((c, i) => {
      const s = cells[i] ?? '';
      row[c] = STRING_COLS.has(c) ? s : s === '' ? null : s === 'true' ? true : s === 'false' ? false : Number.isNaN(Number(s)) ? s : Number(s);
    });
    return row;
  });
  return { columns, rows };
}
