/**
 * What the web lab's API returns (the shapes in api.ts), read through the run layer's reader of run
 * directories (run/run-dir.ts readRunDir, readMetrics, readSnapshots) and the sweep layer's reader of
 * results.csv. Read-only; every file read here is written atomically by its writer (temp file +
 * rename), so a read during training sees one whole version. Results are cached by file mtime.
 * A run directory that cannot be read (a missing or malformed field) is an error: its row in the
 * runs table says `unreadable` with the reason, and api/run or api/compare of it answers 422.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { FileFormatError } from '../io/safetensors.js';
import { basename, join, posix, relative, sep } from 'node:path';
import { analyzeTarget } from '../analysis/analyze.js';
import { loadTarget } from '../analysis/targets.js';
import { optimalEtaOf, riskParams } from '../analysis/theory.js';
import { readModelFile } from '../io/model-file.js';
import { parseTasks } from '../data/multitask.js';
import { errorVsLengthSpec } from '../plots/error-curves.js';
import { multitaskFigure } from '../plots/run-figures.js';
import { parseEvaluation } from '../plots/evaluation.js';
import type { VlSpec } from '../plots/theme.js';
import { configToJson, type TrainConfig } from '../run/config.js';
import { differences } from './differs.js';
import { mtimeOf, readMetrics, readRunDir, readSnapshots, RUN_FILES, type RunDir, type RunMetrics, type RunSnapshots } from '../run/run-dir.js';
import { readResultsCsv, type Row } from '../sweep/results.js';
import { OVERLAY_METRIC_LABELS, type Analysis, type CompareResponse, type OverlayMetric, type OverlayResponse, type ReportSummary, type RunDetail, type RunRow, type Snapshots, type SweepSummary } from './api.js';
import { compareDynamicsSpec, compareLossSpec, emaSmooth, etaSpec, etaVsRatioSpec, overlayColor, overlaySpec, parallelSpec, smoothedLossSpec, thinDynamics, thinIndices, webDynamicsSpec, webTaskDynamicsSpec, type Dynamics } from './figures.js';
import { downsampleMinMax } from '../plots/downsample.js';
import { naturalCompare } from './scan.js';

type Json = Record<string, unknown>;

export { NOT_DIFFERS } from './differs.js';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function readJson(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

const nameOf = (root: string, path: string): string => (path === '.' ? basename(root) : path);

/** One row of the runs table from a run directory read whole; a live run shows its heartbeat (progress.json). */
function rowOf(path: string, name: string, r: RunDir): RunRow {
  const { run, config: c, progress: live } = r;
  const fv = run.final_validation;
  return {
    path, name, label: run.name ?? null, tags: run.tags ? [...run.tags] : [], note: run.note ?? null,
    status: run.status, stale: r.stale,
    step: live?.step ?? run.step,
    steps: live?.steps ?? run.steps,
    stepsPerSecond: num(live?.steps_per_second ?? run.timings.steps_per_second),
    trainLoss: num(live?.loss) ?? num(run.final.train_loss),
    valLoss: num(run.final.val_loss),
    heldOut: fv && num(fv.mse) !== null ? { mse: fv.mse, stderr: fv.stderr, samples: fv.samples } : null,
    heads: c.heads, d: c.d, L: c.contextLength, layers: c.layers,
    preset: c.preset, optimizer: c.optimizer, lr: c.lr, init: c.init,
    updatedAt: run.timings.updated_at,
    failure: run.failure ? run.failure.reason : null,
    // every field stated, as this build reads it: a run.json of an earlier build that does not record a
    // later field (attention, task, task_pool, sparsity) holds its default, so it does not "differ"
    config: configToJson(c, { explicit: true }),
    differs: [],
  };
}

/** One row of the runs table from DIR/path (status `unreadable`, with the reason, when it cannot be read). */
export function runRow(root: string, path: string): RunRow {
  const name = nameOf(root, path);
  try {
    return rowOf(path, name, readRunDir(join(root, path)));
  } catch (e) {
    return {
      path, name, label: null, tags: [], note: null, status: 'unreadable', stale: false, step: 0, steps: 0, stepsPerSecond: null, trainLoss: null, valLoss: null, heldOut: null,
      heads: null, d: null, L: null, layers: null, preset: null, optimizer: null, lr: null, init: null, updatedAt: null, failure: null,
      config: {}, differs: [], error: (e as Error).message,
    };
  }
}

/** Fill each row's `differs` with the config fields whose values are not the same for every row (differs.ts). */
export function markDifferences(rows: RunRow[]): RunRow[] {
  const d = differences(rows.map((r) => r.config));
  rows.forEach((r, i) => (r.differs = d[i]!));
  return rows;
}

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

const cache = new Map<string, { mtime: number; value: unknown }>();
function cached<T>(key: string, mtime: number, make: () => T): T {
  const hit = cache.get(key);
  if (hit && hit.mtime === mtime && mtime !== 0) return hit.value as T;
  const value = make();
  cache.set(key, { mtime, value });
  if (cache.size > 64) cache.delete(cache.keys().next().value!);
  return value;
}

/**
 * The largest metrics.safetensors the lab reads: it is read whole on the event loop, so a bigger one
 * (a hand-made or damaged file; 500,001 logged steps take ~5 MB, 16 million ~130 MB) would stall every
 * other request for seconds. Such a run answers 422 with the size and the limit.
 */
export const MAX_SERVED_METRICS_BYTES = 256 * 2 ** 20;

/** DIR/metrics.safetensors (run-dir.ts readMetrics), cached; undefined before the run has written it. */
function metricsOf(dir: string): RunMetrics | undefined {
  const path = join(dir, RUN_FILES.metrics);
  return cached(`metrics:${path}`, mtimeOf(path), () => {
    const size = existsSync(path) ? statSync(path).size : 0;
    if (size > MAX_SERVED_METRICS_BYTES) {
      throw new FileFormatError(`${(size / 2 ** 20).toFixed(0)} MiB, more than the ${MAX_SERVED_METRICS_BYTES / 2 ** 20} MiB the lab reads (it reads a metrics file whole while every other request waits); plot it with icl-lab plot instead`, path);
    }
    return readMetrics(dir);
  });
}

/** The logged w^h / mu^h dynamics of a run, or null when none is logged yet. */
function dynamicsOf(m: RunMetrics | undefined): Dynamics | null {
  return m && m.dynamics.nDyn > 0 ? m.dynamics : null;
}

const r6 = (v: number): number | null => (Number.isFinite(v) ? Number(v.toPrecision(6)) : null);

/** At most `max` snapshots (evenly spaced, last kept) of QK^h and OV^h (its ovColumns columns), rounded to 6 digits. */
export function thinSnapshots(s: RunSnapshots, max: number, outputs: number): Snapshots | null {
  const { nSnap: n, layers, heads, E, ovColumns } = s;
  if (n === 0) return null;
  const bq = layers * heads * E * E;
  const bo = layers * heads * E * ovColumns;
  const out: Snapshots = { step: [], layers, heads, E, qk: [], ov: [], outputs: outputs < E ? outputs : 1, ovColumns };
  for (const i of thinIndices(n, max)) {
    out.step.push(s.step[i]!);
    for (let k = 0; k < bq; k++) out.qk.push(r6(s.qk[i * bq + k]!));
    for (let k = 0; k < bo; k++) out.ov.push(r6(s.ov[i * bo + k]!));
  }
  return out;
}

/** DIR's snapshots for the page (at most `max`), cached; null before the run has written any. */
function snapshotsOf(dir: string, c: TrainConfig, max: number): Snapshots | null {
  const path = join(dir, RUN_FILES.snapshots);
  return cached(`snap:${path}:${max}:${c.nOut}`, mtimeOf(path), () => {
    const s = readSnapshots(dir);
    return s ? thinSnapshots(s, max, c.nOut) : null;
  });
}

/** L/(L+d) and tuned one-step GD's η* of a run's task. */
function theoryOf(c: TrainConfig): { ratio: number; etaStar: number } {
  const { d, contextLength: L, noiseStd, preset } = c;
  return { ratio: L / (L + d), etaStar: optimalEtaOf(riskParams({ d, L, noiseStd, preset })) };
}

const isMultitask = (c: TrainConfig): boolean => c.nOut > 1 || c.tasks !== '';

/** A multi-task run's task blocks as the figures name them ('x1..x4'). */
function taskNamesOf(c: TrainConfig): string[] {
  try {
    return parseTasks(c.tasks).map(([s, e]) => `x${s + 1}..x${e}`);
  } catch {
    return [];
  }
}

/**
 * Statistics, η_TF, head groups and the kernel gap (2,000 prompts at the training L, seed 0) of the
 * run's saved model (analysis/analyze.ts analyzeTarget, as `icl-lab analyze`); null before it has saved one.
 */
export function analyseRun(dir: string, c: TrainConfig): Analysis | null {
  const path = join(dir, RUN_FILES.model);
  if (!existsSync(path)) return null;
  return cached(`analysis:${path}`, mtimeOf(path), (): Analysis => {
    const theory = theoryOf(c);
    const model = readModelFile(path);
    const stepMeta = Number(model.metadata['step']);
    const step = Number.isFinite(stepMeta) ? stepMeta : null;
    const none = { step, heads: [], etaTF: null, ...theory, groups: { active: [], dummy: [], signGroups: [] }, kernelGap: null };
    if (model.kind !== 'single-layer') {
      return { ...none, note: `${model.params.nLayers}-layer stack: statistics are for one-layer models (see icl-lab analyze)` };
    }
    if (model.params.nOut > 1 || c.tasks !== '') {
      return { ...none, note: `multi-task model (tasks ${c.tasks || '?'}, n_out = ${model.params.nOut}): η_TF, head groups and the kernel gap are single-task statistics; its circuits are drawn above (icl-lab analyze gives every head's task shares)` };
    }
    // the read-out of `icl-lab analyze RUN --samples 2000 --seed 0`
    const a = analyzeTarget(loadTarget(dir), { samples: 2000, seed: 0 });
    const k = a.kernelGapDetail;
    const g = a.grouping;
    return {
      step,
      heads: a.layers[0]!.heads.map((h) => ({ head: h.head, w: h.w, mu: h.mu, varDiag: h.varDiag, supOffDiag: h.supOffDiag, supOv: h.supOv })),
      etaTF: num(a.effectiveLearningRate),
      ...theory,
      groups: { active: [...g.active], dummy: [...g.dummy], signGroups: g.signGroups.map((s) => ({ ...s, heads: [...s.heads] })) },
      kernelGap: { L: k.L, samples: k.samples, seed: 0, relative: k.relative, relativeToModelError: k.relativeToModelError, modelMse: k.modelMse, modelStderr: k.modelStderr, kernelMse: k.kernelMse, kernelStderr: k.kernelStderr },
    };
  });
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

/** The context lengths of the evaluation the run page draws (null: none), and the run's training L: the x axis api/evaluate measures on. */
export function evaluatedLengths(root: string, path: string, found: { reports: string[]; runs: string[] }): { lengths: number[] | null; trainL: number } {
  const trainL = readRunDir(join(root, path)).config.contextLength;
  const ev = evaluationFor(root, path, found.reports, found.runs);
  try {
    return { lengths: ev ? parseEvaluation(readJson(ev.file), ev.file).lengths : null, trainL };
  } catch {
    return { lengths: null, trainL };
  }
}

/** Everything the run page shows of DIR/path (throws when the run directory cannot be read). */
export function runDetail(root: string, path: string, smooth: number, found: { reports: string[]; runs: string[] } = { reports: [], runs: [] }): RunDetail {
  const dir = join(root, path);
  const r = readRunDir(dir);
  const c = r.config;
  const logs = metricsOf(dir);
  const valLoss = logs?.valLoss ?? new Float64Array(0);
  const valStep = logs?.valStep ?? new Float64Array(0);
  const loss = logs && (logs.trainLoss.length > 0 || valLoss.length > 0) ? smoothedLossSpec({ trainLoss: logs.trainLoss, valLoss, valStep }, { smooth }) : null;
  let evaluation: VlSpec | null = null;
  const evWhere = evaluationFor(root, path, found.reports, found.runs);
  if (evWhere) {
    try {
      const ev = parseEvaluation(readJson(evWhere.file), evWhere.file);
      const source = relative(root, evWhere.file).split(sep).join('/');
      evaluation = errorVsLengthSpec(ev, { ...(evWhere.methods ? { methods: evWhere.methods } : {}), trainL: c.contextLength, width: 560, height: 300, subtitle: `${source}; lines: MSE; bands: ± one standard error; dashed: reference estimators` });
    } catch {
      evaluation = null;
    }
  }
  const nVal = valLoss.length;
  const multi = isMultitask(c);
  const dyn = dynamicsOf(logs);
  const modelPath = join(dir, RUN_FILES.model);
  return {
    row: rowOf(path, nameOf(root, path), r),
    run: r.run,
    loss,
    dynamics: dyn ? (multi && logs?.taskDynamics ? webTaskDynamicsSpec({ ...dyn, ...logs.taskDynamics }, taskNamesOf(c)) : webDynamicsSpec(dyn, { multitask: multi })) : null,
    dynamicsPerTask: multi && dyn !== null && logs?.taskDynamics !== undefined,
    eta: dyn && !multi ? etaSpec(dyn, theoryOf(c)) : null, // η_TF against L/(L+d): the single task's theory
    snapshots: snapshotsOf(dir, c, 400),
    multitask: multi ? cached(`mt:${modelPath}`, mtimeOf(modelPath), () => multitaskFigure(modelPath)) : null,
    analysis: analyseRun(dir, c),
    evaluation,
    lastVal: nVal > 0 ? { step: valStep[nVal - 1]!, loss: valLoss[nVal - 1]! } : null,
  };
}

/** Overlaid curves of several runs, and their snapshots for side-by-side circuits (throws when one cannot be read). */
export function compareRuns(root: string, paths: string[], smooth: number): CompareResponse {
  const loaded = paths.map((p) => ({ path: p, run: readRunDir(join(root, p)), logs: metricsOf(join(root, p)) }));
  const withLoss = loaded.filter((x) => x.logs && x.logs.trainLoss.length > 0);
  const withDyn = loaded.flatMap((x) => {
    const dyn = dynamicsOf(x.logs);
    return dyn ? [{ name: x.path, dyn, multitask: isMultitask(x.run.config) }] : [];
  });
  const rows = markDifferences(loaded.map((x) => rowOf(x.path, nameOf(root, x.path), x.run)));
  return {
    loss: withLoss.length > 0 ? compareLossSpec(withLoss.map((x) => ({ name: x.path, trainLoss: x.logs!.trainLoss })), { smooth }) : null,
    dynamics: withDyn.length > 0 ? compareDynamicsSpec(withDyn) : null,
    runs: loaded.map((x, i) => ({ path: x.path, row: rows[i]!, snapshots: snapshotsOf(join(root, x.path), x.run.config, 200) })),
  };
}

/** Legend entries of runs: run.json's name, else the path; a name two runs share gets its path beside it. */
export function overlayLabels(rows: readonly RunRow[]): string[] {
  const base = rows.map((r) => r.label ?? r.path);
  return base.map((b, i) => (base.indexOf(b) !== base.lastIndexOf(b) && rows[i]!.label !== null ? `${b} (${rows[i]!.path})` : b));
}

/** The metric's points of one run: steps and values (empty with the reason when it has none). */
function overlaySeries(logs: RunMetrics | undefined, c: TrainConfig, metric: OverlayMetric, smooth: number): { step: ArrayLike<number>; value: ArrayLike<number>; why?: string } {
  const none = (why: string) => ({ step: [], value: [], why });
  if (!logs) return none('no metrics.safetensors yet');
  if (metric === 'loss') {
    if (logs.trainLoss.length === 0) return none('no training loss logged yet');
    const b = downsampleMinMax(smooth > 0 ? emaSmooth(logs.trainLoss, smooth) : logs.trainLoss, OVERLAY_BUCKETS, undefined, true);
    return { step: b.map((x) => x.x), value: b.map((x) => x.mean) };
  }
  if (metric === 'val_loss') {
    const v = logs.valLoss ?? new Float64Array(0);
    if (v.length === 0) return none('no validation loss logged yet');
    const idx = thinIndices(v.length, OVERLAY_BUCKETS);
    return { step: idx.map((i) => logs.valStep![i]!), value: idx.map((i) => v[i]!) };
  }
  if (isMultitask(c)) return none('multi-task run: η_TF is a single-task statistic');
  const dyn = dynamicsOf(logs);
  if (!dyn) return none('no dynamics logged yet');
  const d = thinDynamics(dyn, OVERLAY_BUCKETS);
  const value = Array.from(d.step, (_, t) => {
    let eta = 0;
    for (let h = 0; h < d.heads; h++) {
      const i = (t * d.layers + d.layers - 1) * d.heads + h;
      eta += d.qk[i]! * d.ov[i]!;
    }
    return eta;
  });
  return { step: d.step, value };
}

/** Points per run of api/overlay (bucket means of the loss; thinned validation and dynamics). */
export const OVERLAY_BUCKETS = 400;

/** `metric` of several runs on one chart, one colour per run (throws when one cannot be read). */
export function overlayRuns(root: string, paths: string[], metric: OverlayMetric, smooth: number): OverlayResponse {
  const loaded = paths.map((p) => ({ path: p, run: readRunDir(join(root, p)), logs: metricsOf(join(root, p)) }));
  const rows = markDifferences(loaded.map((x) => rowOf(x.path, nameOf(root, x.path), x.run)));
  const labels = overlayLabels(rows);
  const series = loaded.map((x, i) => ({ ...overlaySeries(x.logs, x.run.config, metric, metric === 'loss' ? smooth : 0), label: labels[i]!, color: overlayColor(i, loaded.length) }));
  const drawn = series.filter((s) => s.step.length > 0);
  const log = metric !== 'eta';
  const subtitle = metric === 'loss'
    ? `mean of each of ≤ ${OVERLAY_BUCKETS} buckets of steps${smooth > 0 ? `, EMA ${smooth}` : ''}; one batch per step (the held-out loss is in the table)`
    : metric === 'val_loss' ? 'one validation batch (val_samples prompts) every val_every steps' : 'last layer, from the logged wʰ and μʰ';
  return {
    metric,
    chart: drawn.length > 0 ? overlaySpec(drawn, { title: OVERLAY_METRIC_LABELS[metric], subtitle, yTitle: metric === 'eta' ? 'η_TF' : 'Loss (MSE, log scale)', log }) : null,
    runs: series.map((s, i) => {
      let last: number | null = null;
      for (let k = s.value.length - 1; k >= 0 && last === null; k--) last = num(s.value[k]);
      return { path: loaded[i]!.path, label: s.label, color: s.color, row: rows[i]!, points: s.step.length, last, ...(s.why ? { why: s.why } : {}) };
    }),
  };
}

/**
 * η_TF vs L/(L+d) over runs (their last logged dynamics, last layer), or null when none has
 * dynamics. A run that cannot be read is left out (the runs table says why).
 */
export function etaScatter(root: string, paths: string[]): VlSpec | null {
  const points = [];
  for (const p of paths) {
    let r: RunDir;
    try {
      r = readRunDir(join(root, p));
    } catch {
      continue;
    }
    const dyn = dynamicsOf(metricsOf(join(root, p)));
    if (!dyn) continue;
    const { d, contextLength: L } = r.config;
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
      id: String(x['id']), claim: String(x['claim'] ?? ''), value: num(x['value']), threshold: String(x['threshold'] ?? ''), pass: x['pass'] === true,
      result: x['result'] === 'n/a' ? 'n/a' as const : x['pass'] === true ? 'pass' as const : 'FAIL' as const,
      thresholdSource: str(x['threshold_source']) ?? null, why: str(x['why']) ?? '',
    }));
    const runs = ((f['runs'] ?? []) as unknown[]).map(String);
    // findings.json's run_dirs (relative to the report) say where each run is; older reports name them only
    const dirs = Array.isArray(f['run_dirs']) && f['run_dirs'].length === runs.length ? (f['run_dirs'] as unknown[]).map(String) : null;
    const at = (i: number): string | null => {
      if (dirs) {
        const p = posix.normalize(posix.join(path, dirs[i]!));
        if (runPaths.includes(p)) return p;
      }
      return findRun(runs[i]!, path, runPaths);
    };
    return { path, findings, runs, runPaths: runs.map((_, i) => at(i)), passed: findings.filter((x) => x.pass).length, total: findings.length, applicable: findings.filter((x) => x.result !== 'n/a').length };
  } catch (e) {
    return { path, findings: [], runs: [], runPaths: [], passed: 0, total: 0, applicable: 0, error: (e as Error).message };
  }
}

/** The metrics of results.csv the sweep page leads with (after the swept axes). */
export const SWEEP_METRICS: readonly string[] = ['mse_model', 'mse_model_se', 'eta_tf', 'kernel_gap', 'val_loss'];

/** The fields sweep.json's runs vary (their `vary` keys, snake_case as in results.csv), in first-seen order. */
function sweptAxes(sweep: Json | null): string[] {
  const keys: string[] = [];
  const runs = Array.isArray(sweep?.['runs']) ? (sweep!['runs'] as Json[]) : [];
  for (const r of runs) {
    const v = r && typeof r === 'object' ? r['vary'] : null;
    if (v && typeof v === 'object') for (const k of Object.keys(v)) if (!keys.includes(k)) keys.push(k);
  }
  return keys;
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
  const { columns: all, rows } = mtimeOf(join(dir, 'results.csv')) > 0 ? readResultsCsv(join(dir, 'results.csv')) : { columns: [], rows: [] as Row[] };
  // the table: the name, the swept axes, the chosen metrics, then every other column that varies; the constants apart
  const swept = sweptAxes(sweep).filter((k) => all.includes(k));
  const varies = (k: string) => new Set(rows.map((r) => r[k])).size > 1;
  const metrics = SWEEP_METRICS.filter((k) => all.includes(k));
  const first = ['name', ...swept, ...metrics].filter((k, i, a) => all.includes(k) && a.indexOf(k) === i);
  const columns = [...first, ...all.filter((k) => !first.includes(k) && varies(k))];
  const constants = Object.fromEntries(all.filter((k) => !columns.includes(k) && rows.length > 0).map((k) => [k, rows[0]![k] ?? null]));
  // parallel coordinates: the swept numeric axes and the metrics, coloured by the model's MSE
  const numeric = (k: string) => rows.length > 0 && rows.every((r) => typeof r[k] === 'number');
  const axes = [...swept.filter((k) => numeric(k) && varies(k)), ...metrics.filter(numeric)];
  return {
    path, sweep, columns, constants, rows, runs,
    parallel: axes.length >= 2 ? parallelSpec(rows, axes, numeric('mse_model') ? 'mse_model' : undefined) : null,
    eta: etaScatter(root, runs),
    ...(error ? { error } : {}),
  };
}
