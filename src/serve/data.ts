/**
 * What the web lab's API returns, read from the files `icl-lab train`, `reproduce`, `report` and
 * `sweep` write. Read-only; every file read here is written atomically by its writer (temp file +
 * rename), so a read during training sees one whole version. Results are cached by file mtime.
 */
import { readFileSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { effectiveLearningRate, groupHeads, layerCircuits } from '../model/circuits.js';
import { kernelGap } from '../analysis/kernel-gap.js';
import { Rng } from '../data/rng.js';
import { optimalEtaOf, riskParams } from '../analysis/theory.js';
import { readModelFile } from '../io/model-file.js';
import { f64, readSafetensors, type Tensor } from '../io/safetensors.js';
import { errorVsLengthSpec } from '../plots/error-curves.js';
import { multitaskFigure } from '../plots/run-figures.js';
import { parseEvaluation } from '../plots/evaluation.js';
import type { VlSpec } from '../plots/theme.js';
import { compareDynamicsSpec, compareLossSpec, etaSpec, etaVsRatioSpec, parallelSpec, smoothedLossSpec, thinIndices, webDynamicsSpec, type Dynamics } from './figures.js';
import { mtimeOf, naturalCompare } from './scan.js';
import { hostName } from '../run/lock.js';

type Json = Record<string, unknown>;
import type { RunRow } from './rows.js';

/** Config keys that say how a run logs, not what it trains: left out of "what differs". */
const BOOKKEEPING = new Set(['print_every', 'checkpoint_every', 'checkpoint_secs', 'loss_every', 'diverge_loss', 'steps', 'engine', 'val_samples']);

export type { RunRow } from './rows.js';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function pidAlive(pid: unknown): boolean {
  if (typeof pid !== 'number') return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readJson(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

/** One row of the runs table from DIR/path/run.json. */
/** A live run's heartbeat (run/run-dir.ts RunProgress) when it is newer than its run.json, else null. */
function liveProgress(dir: string): { step: number; steps: number; loss: number | null; steps_per_second: number } | null {
  const p = join(dir, 'progress.json');
  if (mtimeOf(p) <= mtimeOf(join(dir, 'run.json'))) return null;
  try {
    const j = readJson(p);
    const step = num(j['step']), steps = num(j['steps']), sps = num(j['steps_per_second']);
    if (step === null || steps === null || sps === null) return null;
    return { step, steps, loss: num(j['loss']), steps_per_second: sps };
  } catch {
    return null; // a heartbeat being replaced: the next poll reads it
  }
}

export function runRow(root: string, path: string): RunRow {
  const dir = join(root, path);
  const name = path === '.' ? basename(root) : path;
  try {
    const r = readJson(join(dir, 'run.json'));
    const c = (r['config'] ?? {}) as Json;
    const timings = (r['timings'] ?? {}) as Json;
    const fin = (r['final'] ?? {}) as Json;
    const failure = r['failure'] as Json | undefined;
    const status = str(r['status']) ?? 'unknown';
    const live = status === 'running' ? liveProgress(dir) : null; // progress.json: newer than run.json while training
    return {
      path, name, status,
      stale: status === 'running' && typeof r['pid'] === 'number' && r['host'] === hostName() && !pidAlive(r['pid']),
      step: live?.step ?? num(r['step']) ?? 0,
      steps: live?.steps ?? num(r['steps']) ?? 0,
      stepsPerSecond: live?.steps_per_second ?? num(timings['steps_per_second']),
      trainLoss: live?.loss ?? num(fin['train_loss']),
      valLoss: num(fin['val_loss']),
      heads: num(c['heads']), d: num(c['d']), L: num(c['context_length']), layers: num(c['layers']),
      preset: str(c['preset']), optimizer: str(c['optimizer']), lr: num(c['lr']), init: str(c['init']),
      updatedAt: str(timings['updated_at']),
      failure: failure ? String(failure['reason'] ?? '') : null,
      config: c,
      differs: [],
    };
  } catch (e) {
    return {
      path, name, status: 'unreadable', stale: false, step: 0, steps: 0, stepsPerSecond: null, trainLoss: null, valLoss: null,
      heads: null, d: null, L: null, layers: null, preset: null, optimizer: null, lr: null, init: null, updatedAt: null, failure: null,
      config: {}, differs: [], error: (e as Error).message,
    };
  }
}

/** Fill each row's `differs` with the config fields whose values are not the same for every row. */
export function markDifferences(rows: RunRow[]): RunRow[] {
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.config)) if (!BOOKKEEPING.has(k)) keys.add(k);
  const varying = [...keys].filter((k) => new Set(rows.map((r) => JSON.stringify(r.config[k]))).size > 1).sort();
  for (const r of rows) r.differs = varying.map((k) => `${k}=${JSON.stringify(r.config[k] ?? null)}`);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

interface Logs {
  trainLoss: Float64Array;
  valLoss: Float64Array;
  valStep: Float64Array;
  dyn: Dynamics | null;
}

interface Snapshots {
  step: number[];
  layers: number;
  heads: number;
  E: number;
  /** [nSnap, layers, H, E, E], rounded to 6 significant digits */
  qk: number[];
  /** [nSnap, layers, H, E]: OV^h[:, -1] (a multi-task run: the column of its last output) */
  ov: number[];
  /** Outputs per token: 1, or a multi-task run's N (tokens [x1..xd, y1..yN], d = E - N). */
  outputs: number;
}

/** Outputs per token of a run config: n_out (a multi-task run's N), else 1. */
function outputsOf(c: Json): number {
  const n = num(c['n_out']);
  return n !== null && Number.isInteger(n) && n >= 1 ? n : 1;
}

/** A run directory's config (run.json), or {} when unreadable. */
function configOf(dir: string): Json {
  try {
    return (readJson(join(dir, 'run.json'))['config'] ?? {}) as Json;
  } catch {
    return {};
  }
}

const cache = new Map<string, { mtime: number; value: unknown }>();
function cached<T>(key: string, mtime: number, make: () => T): T {
  const hit = cache.get(key);
  if (hit && hit.mtime === mtime && mtime !== 0) return hit.value as T;
  const value = make();
  cache.set(key, { mtime, value });
  if (cache.size > 64) cache.delete(cache.keys().next().value!);
  return value;
}

const tensor = (t: Record<string, Tensor>, k: string): Float64Array | null => (t[k] ? f64(t[k]) : null);

function readLogsOf(dir: string): Logs | null {
  const path = join(dir, 'metrics.safetensors');
  return cached(`logs:${path}`, mtimeOf(path), () => {
    let m: Record<string, Tensor>;
    try {
      m = readSafetensors(path).tensors;
    } catch {
      return null;
    }
    const qk = m['qk_dynamics'];
    const ov = tensor(m, 'ov_dynamics');
    const step = tensor(m, 'dyn_step');
    const dyn = qk && ov && step && qk.shape.length === 3 && qk.shape[0]! > 0
      ? { step, qk: f64(qk), ov, layers: qk.shape[1]!, heads: qk.shape[2]! }
      : null;
    return {
      trainLoss: tensor(m, 'train_loss') ?? new Float64Array(0),
      valLoss: tensor(m, 'val_loss') ?? new Float64Array(0),
      valStep: tensor(m, 'val_step') ?? new Float64Array(0),
      dyn,
    };
  });
}

const r6 = (v: number): number | null => (Number.isFinite(v) ? Number(v.toPrecision(6)) : null);

/** Snapshots (at most `max`, evenly spaced, last kept) of QK^h and OV^h[:, -1]. */
export function readSnapshots(dir: string, max = 400, outputs = outputsOf(configOf(dir))): Snapshots | null {
  const path = join(dir, 'snapshots.safetensors');
  return cached(`snap:${path}:${max}:${outputs}`, mtimeOf(path), () => {
    let s: Record<string, Tensor>;
    try {
      s = readSafetensors(path).tensors;
    } catch {
      return null;
    }
    const qkT = s['qk'];
    const ovT = s['ov'];
    const stepT = s['snapshot_step'];
    if (!qkT || !ovT || !stepT || qkT.shape.length !== 5 || qkT.shape[0] === 0) return null;
    const [n, layers, heads, E] = qkT.shape as [number, number, number, number];
    const qk = f64(qkT);
    const ov = f64(ovT);
    const steps = f64(stepT);
    const idx = thinIndices(n, max);
    const bq = layers * heads * E * E;
    const bo = layers * heads * E;
    const out: Snapshots = { step: [], layers, heads, E, qk: [], ov: [], outputs: outputs < E ? outputs : 1 };
    for (const i of idx) {
      out.step.push(steps[i]!);
      for (let k = 0; k < bq; k++) out.qk.push(r6(qk[i * bq + k]!) as number);
      for (let k = 0; k < bo; k++) out.ov.push(r6(ov[i * bo + k]!) as number);
    }
    return out;
  });
}

export interface Analysis {
  heads: { head: number; w: number; mu: number; varDiag: number; supOffDiag: number; supOv: number }[];
  etaTF: number;
  ratio: number;
  etaStar: number;
  groups: { active: number[]; dummy: number[]; signGroups: { sign: number; heads: number[]; totalMu: number; eta: number; w: number }[] };
  kernelGap: { L: number; samples: number; relative: number; relativeToModelError: number; modelMse: number; kernelMse: number } | null;
  note?: string;
  /** Training step of the weights read (model.safetensors metadata), or null. */
  step: number | null;
}

/** Statistics, η_TF, head groups and the kernel gap (2,000 prompts at the training L, seed 0) of the run's model. */
export function analyseRun(dir: string, c: Json): Analysis | null {
  const path = join(dir, 'model.safetensors');
  return cached(`analysis:${path}`, mtimeOf(path), () => {
    const d = num(c['d']) ?? 5;
    const L = num(c['context_length']) ?? 40;
    const noiseStd = num(c['noise_std']) ?? 0.01;
    const preset = (str(c['preset']) ?? 'seed') as 'seed' | 'paper';
    const theory = { ratio: L / (L + d), etaStar: optimalEtaOf(riskParams({ d, L, noiseStd, preset })) };
    let model;
    try {
      model = readModelFile(path);
    } catch {
      return null;
    }
    const stepMeta = Number(model.metadata['step']);
    const step = Number.isFinite(stepMeta) ? stepMeta : null;
    if (model.kind !== 'single-layer') {
      return { step, heads: [], etaTF: NaN, ...theory, groups: { active: [], dummy: [], signGroups: [] }, kernelGap: null, note: `${model.params.nLayers}-layer stack: statistics are for one-layer models (see icl-lab analyze)` };
    }
    if (model.params.nOut > 1 || str(c['tasks'])) {
      return { step, heads: [], etaTF: NaN, ...theory, groups: { active: [], dummy: [], signGroups: [] }, kernelGap: null, note: `multi-task model (tasks ${str(c['tasks']) ?? '?'}, n_out = ${model.params.nOut}): η_TF, head groups and the kernel gap are single-task statistics; its circuits are drawn above (icl-lab analyze gives every head's task shares)` };
    }
    const heads = layerCircuits(model.params);
    const w = heads.map((h) => h.w);
    const mu = heads.map((h) => h.mu);
    const g = groupHeads(w, mu);
    let gap: Analysis['kernelGap'] = null;
    try {
      const rho = num(c['rho']) ?? 0;
      const k = kernelGap(model.params, w, mu, { d, noiseStd, preset, ...(rho ? { rho } : {}) }, L, 2000, new Rng(0));
      gap = { L: k.L, samples: k.samples, relative: k.relative, relativeToModelError: k.relativeToModelError, modelMse: k.modelMse, kernelMse: k.kernelMse };
    } catch {
      gap = null;
    }
    return {
      step,
      heads: heads.map((h) => ({ head: h.head, w: h.w, mu: h.mu, varDiag: h.varDiag, supOffDiag: h.supOffDiag, supOv: h.supOv })),
      etaTF: effectiveLearningRate(w, mu),
      ...theory,
      groups: { active: g.active, dummy: g.dummy, signGroups: g.signGroups.map((s) => ({ ...s, heads: [...s.heads] })) },
      kernelGap: gap,
    };
  });
}

export interface RunDetail {
  row: RunRow;
  run: Json | null;
  loss: VlSpec | null;
  dynamics: VlSpec | null;
  eta: VlSpec | null;
  snapshots: Snapshots | null;
  /** A multi-task run: QK^h (E x E) and OV^h (E x N) of every head, from model.safetensors (plots/multitask.ts); else null. */
  multitask: VlSpec | null;
  analysis: Analysis | null;
  evaluation: VlSpec | null;
  /** Validation points (step, loss), for the page's own table. */
  lastVal: { step: number; loss: number } | null;
}

/**
 * The evaluation that covers a run: RUN/evaluation.json (all its methods), else the evaluation.json of
 * a report over it (e.g. a reproduction's report/), cut to this run, its kernel estimator and the estimators.
 */
function evaluationFor(root: string, path: string, reports: string[], runPaths: string[]): { file: string; methods?: string[] } | null {
  const own = join(root, path, 'evaluation.json');
  if (mtimeOf(own) > 0) return { file: own };
  for (const rp of reports) {
    const r = reportSummary(root, rp, runPaths);
    const i = r.runPaths.indexOf(path);
    const file = join(root, rp, 'evaluation.json');
    if (i < 0 || mtimeOf(file) === 0) continue;
    const name = r.runs[i]!;
    const others = new Set(r.runs.flatMap((n) => (n === name ? [] : [n, `${n}/kernel`])));
    try {
      const ev = readJson(file) as { methods?: Record<string, unknown> };
      return { file, methods: Object.keys(ev.methods ?? {}).filter((m) => !others.has(m)) };
    } catch {
      return null;
    }
  }
  return null;
}

export function runDetail(root: string, path: string, smooth: number, found: { reports: string[]; runs: string[] } = { reports: [], runs: [] }): RunDetail {
  const dir = join(root, path);
  const row = runRow(root, path);
  let run: Json | null = null;
  try {
    run = readJson(join(dir, 'run.json'));
  } catch {
    run = null;
  }
  const c = (run?.['config'] ?? {}) as Json;
  const logs = readLogsOf(dir);
  const d = num(c['d']) ?? 5;
  const L = num(c['context_length']) ?? 40;
  const theory = { ratio: L / (L + d), etaStar: optimalEtaOf(riskParams({ d, L, noiseStd: num(c['noise_std']) ?? 0.01, preset: (str(c['preset']) ?? 'seed') as 'seed' | 'paper' })) };
  const loss = logs && (logs.trainLoss.length > 0 || logs.valLoss.length > 0)
    ? smoothedLossSpec({ trainLoss: logs.trainLoss, valLoss: logs.valLoss, valStep: logs.valStep }, { smooth })
    : null;
  let evaluation: VlSpec | null = null;
  const evWhere = evaluationFor(root, path, found.reports, found.runs);
  if (evWhere) {
    try {
      const ev = parseEvaluation(readJson(evWhere.file), evWhere.file);
      const source = relative(root, evWhere.file).split(sep).join('/');
      evaluation = errorVsLengthSpec(ev, { ...(evWhere.methods ? { methods: evWhere.methods } : {}), trainL: L, width: 560, height: 300, subtitle: `${source}; lines: MSE; bands: ± one standard error; dashed: reference estimators` });
    } catch {
      evaluation = null;
    }
  }
  const nVal = logs?.valLoss.length ?? 0;
  const multi = outputsOf(c) > 1 || Boolean(str(c['tasks']));
  const modelPath = join(dir, 'model.safetensors');
  return {
    row, run, loss,
    dynamics: logs?.dyn ? webDynamicsSpec(logs.dyn) : null,
    eta: logs?.dyn && !multi ? etaSpec(logs.dyn, theory) : null, // η_TF against L/(L+d): the single task's theory
    snapshots: readSnapshots(dir, 400, outputsOf(c)),
    multitask: multi ? cached(`mt:${modelPath}`, mtimeOf(modelPath), () => multitaskFigure(modelPath)) : null,
    analysis: analyseRun(dir, c),
    evaluation,
    lastVal: nVal > 0 ? { step: logs!.valStep[nVal - 1]!, loss: logs!.valLoss[nVal - 1]! } : null,
  };
}

/** Overlaid curves of several runs, and their snapshots for side-by-side circuits. */
export function compareRuns(root: string, paths: string[], smooth: number): { loss: VlSpec | null; dynamics: VlSpec | null; runs: { path: string; row: RunRow; snapshots: Snapshots | null }[] } {
  const loaded = paths.map((p) => ({ path: p, logs: readLogsOf(join(root, p)) }));
  const withLoss = loaded.filter((x) => x.logs && x.logs.trainLoss.length > 0);
  const withDyn = loaded.filter((x) => x.logs?.dyn);
  return {
    loss: withLoss.length > 0 ? compareLossSpec(withLoss.map((x) => ({ name: x.path, trainLoss: x.logs!.trainLoss })), { smooth }) : null,
    dynamics: withDyn.length > 0 ? compareDynamicsSpec(withDyn.map((x) => ({ name: x.path, dyn: x.logs!.dyn! }))) : null,
    runs: (() => {
      const rows = markDifferences(paths.map((p) => runRow(root, p)));
      return paths.map((p, i) => ({ path: p, row: rows[i]!, snapshots: readSnapshots(join(root, p), 200) }));
    })(),
  };
}

/** η_TF vs L/(L+d) over runs (their last logged dynamics, last layer), or null when none has dynamics. */
export function etaScatter(root: string, paths: string[]): VlSpec | null {
  const points = [];
  for (const p of paths) {
    const logs = readLogsOf(join(root, p));
    const dyn = logs?.dyn;
    if (!dyn) continue;
    let c: Json;
    try {
      c = (readJson(join(root, p, 'run.json'))['config'] ?? {}) as Json;
    } catch {
      continue;
    }
    const d = num(c['d']);
    const L = num(c['context_length']);
    if (d === null || L === null) continue;
    const n = dyn.step.length - 1;
    let eta = 0;
    for (let h = 0; h < dyn.heads; h++) {
      const i = (n * dyn.layers + dyn.layers - 1) * dyn.heads + h;
      eta += dyn.qk[i]! * dyn.ov[i]!;
    }
    if (Number.isFinite(eta)) points.push({ run: p, ratio: L / (L + d), eta, heads: dyn.heads });
  }
  return points.length > 0 ? etaVsRatioSpec(points) : null;
}

// ---------------------------------------------------------------------------------------------
// Reports and sweeps
// ---------------------------------------------------------------------------------------------

export interface ReportSummary {
  path: string;
  /** η_TF against L/(L+d) of the report's runs (only in /api/report). */
  eta?: VlSpec | null;
  /** The served path of each run of `runs` (null when it is not below DIR). */
  runPaths: (string | null)[];
  findings: { id: string; claim: string; value: number | null; threshold: string; pass: boolean; why?: string }[];
  runs: string[];
  passed: number;
  total: number;
  error?: string;
}

/** The run a report names `name`: its sibling `parent/name`, else the only run whose last part is `name`. */
function findRun(name: string, reportPath: string, runPaths: string[]): string | null {
  const parent = reportPath.includes('/') ? reportPath.slice(0, reportPath.lastIndexOf('/')) : '';
  const sibling = parent ? `${parent}/${name}` : name;
  if (runPaths.includes(sibling)) return sibling;
  const hits = runPaths.filter((p) => p === name || p.endsWith(`/${name}`));
  return hits.length === 1 ? hits[0]! : null;
}

export function reportSummary(root: string, path: string, runPaths: string[] = []): ReportSummary {
  try {
    const f = readJson(join(root, path, 'findings.json'));
    const findings = ((f['findings'] ?? []) as Json[]).map((x) => ({
      id: String(x['id']), claim: String(x['claim'] ?? ''), value: num(x['value']), threshold: String(x['threshold'] ?? ''), pass: x['pass'] === true, why: str(x['why']) ?? '',
    }));
    const runs = ((f['runs'] ?? []) as unknown[]).map(String);
    return { path, findings, runs, runPaths: runs.map((n) => findRun(n, path, runPaths)), passed: findings.filter((x) => x.pass).length, total: findings.length };
  } catch (e) {
    return { path, findings: [], runs: [], runPaths: [], passed: 0, total: 0, error: (e as Error).message };
  }
}

/** RFC 4180-ish CSV (quotes, doubled quotes, commas and newlines inside quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (q) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') q = false;
      else cell += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      cell = '';
      if (row.some((c) => c !== '')) rows.push(row);
      row = [];
    } else cell += ch;
  }
  row.push(cell);
  if (row.some((c) => c !== '')) rows.push(row);
  return rows;
}

export interface SweepSummary {
  path: string;
  sweep: Json | null;
  columns: string[];
  rows: Record<string, string | number>[];
  runs: string[];
  parallel: VlSpec | null;
  eta: VlSpec | null;
  error?: string;
}

/** A sweep folder: sweep.json, results.csv (when written) and its runs (runs/<name>/). */
export function sweepSummary(root: string, path: string, runPaths: string[]): SweepSummary {
  const dir = join(root, path);
  const prefix = path === '.' ? '' : `${path}/`;
  const runs = runPaths.filter((p) => p.startsWith(prefix)).sort(naturalCompare);
  let sweep: Json | null = null;
  let error: string | undefined;
  try {
    sweep = readJson(join(dir, 'sweep.json'));
  } catch (e) {
    error = `sweep.json: ${(e as Error).message}`;
  }
  let columns: string[] = [];
  let rows: Record<string, string | number>[] = [];
  if (mtimeOf(join(dir, 'results.csv')) > 0) {
    const csv = parseCsv(readFileSync(join(dir, 'results.csv'), 'utf8'));
    columns = csv[0] ?? [];
    rows = csv.slice(1).map((cells) => Object.fromEntries(columns.map((k, i) => {
      const v = cells[i] ?? '';
      const n = Number(v);
      return [k, v !== '' && Number.isFinite(n) ? n : v];
    })));
  }
  const numeric = columns.filter((k) => rows.length > 0 && rows.every((r) => typeof r[k] === 'number') && new Set(rows.map((r) => r[k])).size > 1);
  const outcome = numeric.find((k) => /loss|mse|eta/i.test(k));
  return {
    path, sweep, columns, rows, runs,
    parallel: numeric.length >= 2 ? parallelSpec(rows, numeric, outcome) : null,
    eta: etaScatter(root, runs),
    ...(error ? { error } : {}),
  };
}
