/**
 * The web lab's HTTP API, declared once: its routes, their query parameters, the live events and
 * the shape of every response, as `icl-lab serve` (server.ts, data.ts) sends them and the web app
 * (web/src/) reads them. No node:* imports and only type imports: the browser code imports this file.
 *
 * Routes are relative (no leading '/'): the web app is served under any base path and asks
 * `api/index` from the page's folder; the server answers `/${route}`. JSON numbers that are not
 * finite (NaN, Infinity) are sent as null.
 */
import type { EvaluateOutput } from '../analysis/evaluate-models.js';
import type { VlSpec } from '../plots/theme.js';
import type { RunJson } from '../run/run-dir.js';
import type { Row } from '../sweep/results.js';

/** Where every API route lives (a request below it that names no route answers 404 with ApiError). */
export const API_PREFIX = 'api/';

export const ROUTES = {
  /** IndexResponse: runs table rows, reports, sweeps. */
  index: `${API_PREFIX}index`,
  /** RunDetail of ?path= (&smooth= the EMA of the loss chart, 0 <= smooth < 1). */
  run: `${API_PREFIX}run`,
  /** CompareResponse of ?path=&path=... (&smooth=). */
  compare: `${API_PREFIX}compare`,
  /** OverlayResponse of ?path=&path=...&metric= (&smooth=): one metric of many runs on one chart. */
  overlay: `${API_PREFIX}overlay`,
  /** ReportResponse of ?path=. */
  report: `${API_PREFIX}report`,
  /** SweepSummary of ?path=. */
  sweep: `${API_PREFIX}sweep`,
  /** ShiftedEvaluation of ?path=&shift=&value= (the run's model and the estimators on shifted prompts). */
  evaluate: `${API_PREFIX}evaluate`,
  /** text/event-stream of LIVE_EVENTS. */
  events: `${API_PREFIX}events`,
  /** files/<path>: a file below the served folder as it is (a report's report.html and figures). */
  files: 'files/',
} as const;

/** Query parameters of the routes. */
export const QUERY = { path: 'path', smooth: 'smooth', shift: 'shift', value: 'value', metric: 'metric' } as const;

/**
 * The metrics api/overlay draws: loss = train_loss (every step, one batch each; bucket means, EMA
 * with &smooth=), val_loss = the validation batches (val_every), eta = η_TF(t) = Σ_h μ^h w^h of the
 * last layer (single-task runs' dynamics).
 */
export const OVERLAY_METRICS = ['loss', 'val_loss', 'eta'] as const;
export type OverlayMetric = (typeof OVERLAY_METRICS)[number];
export const OVERLAY_METRIC_LABELS: Record<OverlayMetric, string> = { loss: 'training loss (one batch per step)', val_loss: 'validation loss (one batch per val_every)', eta: 'η_TF(t) = Σ_h μʰ wʰ' };
/** The most runs one api/overlay request may name (each distinct), as api/compare's. */
export const MAX_OVERLAY = 64;

/**
 * The shifts of api/evaluate, named as `icl-lab evaluate`'s flags (--x-scale C, --beta-scale C,
 * --noise-std X, --rho X, --query KIND), and the values each allows.
 */
export const SHIFT_KINDS = ['x-scale', 'beta-scale', 'noise-std', 'rho', 'query'] as const;
export type ShiftKind = (typeof SHIFT_KINDS)[number];
/** --query's kinds (data/shift.ts QUERY_SHIFTS). */
export const SHIFT_QUERIES = ['opposite-orthant', 'orthogonal'] as const;
export const SHIFT_VALUES: Record<ShiftKind, string> = {
  'x-scale': 'a number > 0 (every x times it)',
  'beta-scale': 'a number > 0 (beta times it)',
  'noise-std': 'a number >= 0 (the noise_std of the prompts)',
  rho: 'a number in [0, 1) (x covariance rho^|i-j|)',
  query: SHIFT_QUERIES.join(' or '),
};

const enc = encodeURIComponent;

/** The URL (relative to the page) of each route, with its query. */
export const apiUrl = {
  index: (): string => ROUTES.index,
  run: (path: string, smooth: number): string => `${ROUTES.run}?${QUERY.path}=${enc(path)}&${QUERY.smooth}=${smooth}`,
  compare: (paths: readonly string[], smooth: number): string => `${ROUTES.compare}?${paths.map((p) => `${QUERY.path}=${enc(p)}`).join('&')}&${QUERY.smooth}=${smooth}`,
  overlay: (paths: readonly string[], metric: string, smooth: number): string => `${ROUTES.overlay}?${paths.map((p) => `${QUERY.path}=${enc(p)}`).join('&')}&${QUERY.metric}=${enc(metric)}&${QUERY.smooth}=${smooth}`,
  report: (path: string): string => `${ROUTES.report}?${QUERY.path}=${enc(path)}`,
  sweep: (path: string): string => `${ROUTES.sweep}?${QUERY.path}=${enc(path)}`,
  evaluate: (path: string, shift: ShiftKind, value: string): string => `${ROUTES.evaluate}?${QUERY.path}=${enc(path)}&${QUERY.shift}=${shift}&${QUERY.value}=${enc(value)}`,
  events: (): string => ROUTES.events,
  /** A file below the served folder ('/'-separated path, each part encoded). */
  file: (path: string): string => ROUTES.files + path.split('/').map(enc).join('/'),
};

/** Every response of an /api/ route that fails: 400 (bad query), 403 (outside DIR), 404, 405, 422 (a run directory icl-lab cannot read), 500. */
export interface ApiError {
  error: string;
}

// ---------------------------------------------------------------------------------------------
// Live events (GET api/events)
// ---------------------------------------------------------------------------------------------

export const LIVE_EVENTS = ['index', 'run'] as const;
export type LiveEventName = (typeof LIVE_EVENTS)[number];

/** `index`: runs appeared or vanished below DIR. */
export interface IndexEvent {
  runs: number;
}

/** `run`: a run's files changed (a save, a heartbeat). */
export interface RunEvent {
  path: string;
  step: number;
  steps: number;
  status: RunRow['status'];
  trainLoss: number | null;
}

export interface LiveEvents {
  index: IndexEvent;
  run: RunEvent;
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/** One row of the runs table. */
export interface RunRow {
  path: string;
  /** The run's folder below DIR (its path; DIR's own name for '.'). */
  name: string;
  /** run.json's name (`train --name`), or null: the folder names it. */
  label: string | null;
  /** run.json's tags (`train --tag`, `sweep:<folder>`, `experiment:<name>`). */
  tags: string[];
  /** run.json's note (`train --note`), or null. */
  note: string | null;
  /** run.json's status; `unreadable` when the run directory cannot be read (see error). */
  status: RunJson['status'] | 'unreadable';
  /** run.json says running but no live process writes it (the trainer was killed). */
  stale: boolean;
  step: number;
  steps: number;
  stepsPerSecond: number | null;
  /** The last training batch's loss (batch_size prompts: noisy). */
  trainLoss: number | null;
  /** The last validation batch's loss (val_samples prompts). */
  valLoss: number | null;
  /** A completed run's final model on `samples` held-out prompts (run.json final_validation), or null. */
  heldOut: { mse: number; stderr: number; samples: number } | null;
  heads: number | null;
  d: number | null;
  L: number | null;
  layers: number | null;
  preset: string | null;
  optimizer: string | null;
  lr: number | null;
  init: string | null;
  updatedAt: string | null;
  failure: string | null;
  /** run.json's config with every field stated, as configFromJson reads it (a field an earlier build did not record at its default; {} when unreadable). */
  config: Record<string, unknown>;
  /** key=value of the config fields that differ between the runs listed together. */
  differs: string[];
  /** Why the run directory could not be read (status `unreadable`). */
  error?: string;
}

/** GET api/index */
export interface IndexResponse {
  /** The served folder (absolute). */
  root: string;
  runs: RunRow[];
  reports: ReportSummary[];
  sweeps: { path: string }[];
}

/** QK^h and OV^h snapshots of a run, thinned for the page. */
export interface Snapshots {
  step: number[];
  layers: number;
  heads: number;
  E: number;
  /** [nSnap, layers, H, E, E], rounded to 6 significant digits (null: not finite) */
  qk: (number | null)[];
  /**
   * [nSnap, layers, H, E, ovColumns]: OV^h[:, -1] (ovColumns 1: a single-task run; a multi-task run
   * of a build before issue 22, whose one column is its last output's) or a multi-task run's whole
   * OV^h (ovColumns = outputs, column j = output j + 1).
   */
  ov: (number | null)[];
  /** Outputs per token: 1, or a multi-task run's N (tokens [x1..xd, y1..yN], d = E - N). */
  outputs: number;
  /** Columns of OV^h in `ov` (1, or `outputs`). */
  ovColumns: number;
}

/** The statistics of a run's saved one-layer model (heads numbered from 0). */
export interface Analysis {
  heads: { head: number; w: number; mu: number; varDiag: number; supOffDiag: number; supOv: number }[];
  /** null: not finite, or a model the statistics are not for (see note). */
  etaTF: number | null;
  ratio: number;
  etaStar: number;
  groups: { active: number[]; dummy: number[]; signGroups: { sign: number; heads: number[]; totalMu: number; eta: number; w: number }[] };
  kernelGap: { L: number; samples: number; seed: number; relative: number; relativeToModelError: number; modelMse: number; modelStderr: number; kernelMse: number; kernelStderr: number } | null;
  /** Why there are no statistics (a stack, a multi-task model). */
  note?: string;
  /** Training step of the weights read (model.safetensors metadata), or null. */
  step: number | null;
}

/** GET api/run */
export interface RunDetail {
  row: RunRow;
  run: RunJson;
  loss: VlSpec | null;
  /**
   * w^h(t) and μ^h(t) per head; a multi-task run: w^h_k(t) and μ^h_k(t) = OV^h[y_k, out k] per task k
   * (one row of panels per task), or, for a run of a build before issue 22, the sums over its tasks (titled so).
   */
  dynamics: VlSpec | null;
  /** True when `dynamics` is per task (a multi-task run with qk_dynamics_task / ov_dynamics_task). */
  dynamicsPerTask: boolean;
  eta: VlSpec | null;
  snapshots: Snapshots | null;
  /** A multi-task run: QK^h (E x E) and OV^h (E x N) of every head, from model.safetensors; else null. */
  multitask: VlSpec | null;
  /** null before the run has saved a model. */
  analysis: Analysis | null;
  evaluation: VlSpec | null;
  /** The last validation point. */
  lastVal: { step: number; loss: number } | null;
}

/** GET api/overlay: `metric` of every run on one chart, one colour per run (the legend names each). */
export interface OverlayResponse {
  metric: OverlayMetric;
  /** null when no run has logged the metric yet. */
  chart: VlSpec | null;
  runs: {
    path: string;
    /** The legend's entry: run.json's name, else the path (with the path beside a name two runs share). */
    label: string;
    color: string;
    row: RunRow;
    /** Points drawn (0: the run has not logged this metric; see `why`). */
    points: number;
    /** The metric's last logged value, or null. */
    last: number | null;
    why?: string;
  }[];
}

/** GET api/compare */
export interface CompareResponse {
  loss: VlSpec | null;
  dynamics: VlSpec | null;
  runs: { path: string; row: RunRow; snapshots: Snapshots | null }[];
}

export interface Finding {
  id: string;
  claim: string;
  value: number | null;
  threshold: string;
  pass: boolean;
  /** pass / FAIL / n/a (findings.json `result`; a report of an older build without it: from `pass`). */
  result: 'pass' | 'FAIL' | 'n/a';
  /** Where the threshold was set from (findings.json `threshold_source`; null in older reports). */
  thresholdSource: string | null;
  why: string;
}

/** A report folder (findings.json + report.html). */
export interface ReportSummary {
  path: string;
  /** The served path of each run of `runs` (null when it is not below DIR). */
  runPaths: (string | null)[];
  findings: Finding[];
  runs: string[];
  passed: number;
  total: number;
  /** Findings the runs can test (total less the n/a ones). */
  applicable: number;
  /** Why findings.json could not be read. */
  error?: string;
}

/** GET api/report */
export interface ReportResponse extends ReportSummary {
  /** η_TF against L/(L+d) of the report's runs (null when none has dynamics). */
  eta: VlSpec | null;
}

/** GET api/sweep: sweep.json, results.csv (as sweep/results.ts readResultsCsv reads it) and the sweep's runs. */
export interface SweepSummary {
  path: string;
  sweep: Record<string, unknown> | null;
  /** results.csv's columns the table shows: name, the swept axes, the chosen metrics, then the others that vary. */
  columns: string[];
  /** The columns with one value in every row: name -> that value. */
  constants: Record<string, unknown>;
  rows: Row[];
  runs: string[];
  parallel: VlSpec | null;
  eta: VlSpec | null;
  /** Why sweep.json could not be read. */
  error?: string;
}

/** GET api/evaluate: `icl-lab evaluate RUN --<shift> <value> --samples S --seed 0 --context-length LENGTHS --json`, and its figure. */
export interface ShiftedEvaluation {
  shift: ShiftKind;
  /** The value as evaluate is given it (a number's shortest form, or the query kind). */
  value: string;
  /** The shift in words, e.g. "x ×2" or "noise_std 0.5". */
  label: string;
  /** The evaluate command that prints the same numbers (run from the served folder). */
  command: string;
  /** evaluate's JSON: lengths, samples, seed, tasks, models (with out_of_distribution), methods. */
  result: EvaluateOutput;
  /** Error against L of every method, out-of-distribution models so marked in the legend. */
  evaluation: VlSpec;
}
