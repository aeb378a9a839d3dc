/**
 * A run directory on disk (layout in docs/CONTRACTS.md and docs/readme/train.md):
 *
 *   run.json                 config, version, seed, status, step, timings, final losses
 *   model.safetensors        float32 weights under the seed's state_dict keys
 *   metrics.safetensors      train_loss [step], val_loss/val_step [nVal], qk_dynamics/ov_dynamics
 *                            [nDyn, layers, H], dyn_step [nDyn]; a multi-task run (N tasks) also
 *                            qk_dynamics_task/ov_dynamics_task [nDyn, layers, H, N] (w^h_k, mu^h_k)
 *   snapshots.safetensors    qk [nSnap, layers, H, E, E], ov [nSnap, layers, H, E] (OV^h[:, -1]) or,
 *                            for a multi-task run, [nSnap, layers, H, E, N] (OV^h whole), snapshot_step [nSnap]
 *
 * A multi-task run of a build before issue 22 has ov [nSnap, layers, H, E] (the last output's column)
 * and no *_task dynamics: the rank of ov says which (readers take rank 4 as one column, the last),
 * and such a run resumes in its own format (TrainLogs.outputs = 1).
 *   checkpoint.safetensors   see checkpoint.ts
 *
 * Every file is written to a temporary name and renamed (io/atomic.ts). A save writes metrics,
 * snapshots, checkpoint, model, then run.json: a crash between two files leaves logs that are at
 * least as long as the checkpoint, and a resume cuts them back to the checkpoint's step.
 */
import { taskFamily, taskPoolOf } from './task-families.js';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { cliCommand, shellQuote } from '../command.js';
import { writeFileAtomic } from '../io/atomic.js';
import { makeDirs } from '../io/input-file.js';
import { describeHolder, hostName, LOCK_FILE, lockHolder, pidAlive, waitAdvice } from './lock.js';
import { FileFormatError, f64, readSafetensors, tensorF32, tensorF64, writeSafetensors, type Tensor } from '../io/safetensors.js';
import { VERSION } from '../version.js';
import { parseStreamVersion, type StreamVersion } from '../data/stream.js';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { configFromJson, configToJson, jsonKey, type FieldKey, type TrainConfig } from './config.js';
import { allocLogs, resumable, type FinalValidation, type TrainLogs, type TrainState } from './loop.js';
import { labelsFromJson, type RunLabels } from './labels.js';

export const RUN_FILES = {
  run: 'run.json',
  model: 'model.safetensors',
  metrics: 'metrics.safetensors',
  snapshots: 'snapshots.safetensors',
  checkpoint: 'checkpoint.safetensors',
  progress: 'progress.json',
  /** A pool run's tasks (`--task-pool M`): pool [M, d] F64, metadata pool_seed, preset. */
  taskPool: 'task_pool.safetensors',
} as const;

/**
 * `creating`: run.json (the run's identity) is written first, before any other file; a run still
 * `creating` was cut short while being made (a kill, a full disk) and holds nothing trained: the
 * same `train --out` command, `--resume` or `reproduce` makes it again from its config.
 */
export type RunStatus = 'creating' | 'running' | 'completed' | 'failed' | 'interrupted';

/**
 * progress.json: a heartbeat of a live run, written atomically about once a second while it trains
 * (run.json and the tensors are written at checkpoints only). Readers (the web lab) show it when it
 * is newer than run.json. {step, steps, loss, steps_per_second, updated_at}
 */
export interface RunProgress {
  step: number;
  steps: number;
  /** The training loss as the progress display shows it (refreshed every loss_every steps); null before the first step. */
  loss: number | null;
  steps_per_second: number;
  updated_at: string;
}

export function writeProgress(dir: string, p: RunProgress): void {
  writeFileAtomic(join(dir, RUN_FILES.progress), JSON.stringify(p) + '\n');
}

/**
 * Why a run failed: `diverged` (the loss; resuming would diverge again, so it is refused) or
 * `error` (an exception such as a full disk; the checkpoint is good and the run can be resumed).
 */
export interface RunFailure {
  kind: 'diverged' | 'error';
  step: number;
  reason: string;
}

/** run.json. Keys are snake_case for Python users. */
export interface RunJson {
  icl_lab_version: string;
  format: 1;
  /** The run's display name (`train --name`; labels.ts): one line. Absent: the folder names it. */
  name?: string;
  /** Tags (`train --tag`, `sweep:<folder>`, `experiment:<name>`; labels.ts TAG_PATTERN). */
  tags?: string[];
  /** Free text (`train --note`). */
  note?: string;
  status: RunStatus;
  /** Steps done (train_loss has this many entries; the weights are after this many updates). */
  step: number;
  /** Target steps (= config.steps). */
  steps: number;
  seed: number;
  config: Record<string, unknown>;
  /** Steps done when checkpoint.safetensors was written (resume starts here). */
  checkpoint_step: number;
  timings: {
    created_at: string;
    updated_at: string;
    /** Training wall time, summed over all sessions (resumes). */
    wall_seconds: number;
    /** Steps per second of the current (last) session. */
    steps_per_second: number;
    sessions: number;
  };
  final: {
    train_loss: number | null;
    val_loss: number | null;
    val_step: number | null;
  };
  /** A completed run: the final model on a large held-out set of prompts (loop.ts heldOutValidation). */
  final_validation?: FinalValidation;
  failure?: RunFailure;
  resume_command?: string;
  /** The batch stream's version (data/stream.ts); absent in runs of earlier builds = 1. */
  stream_version?: number;
  /** Process and host that last wrote the run (a resume refuses a run another live process is training). */
  pid?: number;
  host?: string;
}

// ---------------------------------------------------------------------------------------------
// Directories
// ---------------------------------------------------------------------------------------------

/**
 * Refuse an existing non-empty directory unless `force`, and a directory another live process is
 * writing (its lock) even with `force`. A run still being created (status `creating`, nothing
 * trained) counts as free: the same command finishes it. Creates nothing.
 */
export function checkRunDirFree(dir: string, force: boolean, flag = '--out'): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir} exists and is not a directory`);
  const holder = lockHolder(dir);
  if (holder) throw new UsageError(`${flag} ${dir}: ${describeHolder(holder)} is writing this run directory (lock ${join(dir, LOCK_FILE)}); ${waitAdvice(holder)}`);
  const entries = readdirSync(dir).filter((e) => e !== LOCK_FILE && !isStaleTemp(e)); // what a killed process left
  if (entries.length === 0 || force) return;
  if (entries.includes(RUN_FILES.run) && runJsonStatus(dir) === 'creating') return;
  const what = entries.includes(RUN_FILES.run) ? 'holds a run' : `is not empty (${entries.length} entries)`;
  throw new UsageError(`${flag} ${dir} ${what}; pass --force to overwrite it, or --resume ${dir} to continue it`);
}

/**
 * A temporary file (io/atomic.ts names them `.<file>.<pid>.<hex>.tmp`) whose process is gone: left
 * by a write that a kill interrupted. Another live process's temporary file is never stale.
 */
export function isStaleTemp(name: string): boolean {
  const m = /^\.(?:run\.json|[a-z]+\.safetensors|icl-lab\.lock)\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
  return m !== null && !pidAlive(Number(m[1]));
}

/** run.json's status, or undefined when it cannot be read. */
function runJsonStatus(dir: string): string | undefined {
  try {
    return readRunJson(dir).status;
  } catch {
    return undefined;
  }
}

export function makeRunDir(dir: string, flag = '--out'): void {
  makeDirs(dir, flag);
}

export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, RUN_FILES.run));
}

/** The run directories directly below DIR, sorted (a reproduction's or a list run's folder): [] when none or unreadable. */
export function runDirsBelow(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && isRunDir(join(dir, e.name))).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/**
 * Why DIR is not a run directory, and what to do: when it holds runs (`runs/reproduce`), name them
 * and the command on them (`command` gets their paths: one, or up to 8); else how to train one there.
 */
export function notARunDirAdvice(dir: string, command: (runs: string[]) => string, many = true): string {
  const below = runDirsBelow(dir);
  if (below.length === 0) return `train one with \`${cliCommand(`train --out ${shellQuote(dir)}`)}\``;
  const names = below.length > 8 ? `${below.slice(0, 8).join(', ')}, …` : below.join(', ');
  const picked = (many ? below.slice(0, 8) : below.slice(0, 1)).map((n) => shellQuote(join(dir, n)));
  return `it holds ${below.length} run director${below.length === 1 ? 'y' : 'ies'} (${names}): give ${many ? 'them' : 'one'}, e.g. \`${cliCommand(command(picked))}\``;
}

// ---------------------------------------------------------------------------------------------
// run.json
// ---------------------------------------------------------------------------------------------

export function writeRunJson(dir: string, r: RunJson): void {
  writeFileAtomic(join(dir, RUN_FILES.run), JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n');
}

export function readRunJson(dir: string): RunJson {
  const path = join(dir, RUN_FILES.run);
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${dir} is not a run directory (no ${RUN_FILES.run})`);
    throw new FileFormatError(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`, path);
  }
  const r = obj as RunJson;
  if (typeof r !== 'object' || r === null || typeof r.status !== 'string' || !Number.isSafeInteger(r.step) || typeof r.config !== 'object') {
    throw new FileFormatError('not an icl-lab run.json (needs status, step, config)', path);
  }
  // the labels are shown by every reader (report, TensorBoard, the lab): checked here, once, for all
  const labels = labelsFromJson(r as unknown as Record<string, unknown>);
  if (typeof labels === 'string') throw new FileFormatError(labels, path);
  return r;
}

/** True when run.json says `running` and names a live process on this host other than us. */
export function runIsLive(r: RunJson): boolean {
  return r.status === 'running' && r.pid !== undefined && r.host === hostName() && r.pid !== process.pid && pidAlive(r.pid);
}

/** True when run.json says `running` but the process on this host that wrote it is gone (killed): resume it. */
export function runIsStale(r: RunJson): boolean {
  return r.status === 'running' && r.pid !== undefined && r.host === hostName() && !pidAlive(r.pid);
}

export function runConfig(r: RunJson, dir: string): TrainConfig {
  return configFromJson(r.config, `${join(dir, RUN_FILES.run)}: config`);
}

// ---------------------------------------------------------------------------------------------
// metrics.safetensors and snapshots.safetensors
// ---------------------------------------------------------------------------------------------

/** Tensors of metrics.safetensors for the first `nSteps` train losses (views, no copy). */
export function metricsTensors(c: TrainConfig, logs: TrainLogs, nSteps: number): Record<string, Tensor> {
  const LH = c.layers * c.heads;
  return {
    train_loss: tensorF64([nSteps], logs.trainLoss.subarray(0, nSteps)),
    val_loss: tensorF64([logs.nVal], logs.valLoss.subarray(0, logs.nVal)),
    val_step: tensorF64([logs.nVal], logs.valStep.subarray(0, logs.nVal)),
    qk_dynamics: tensorF64([logs.nDyn, c.layers, c.heads], logs.qkDynamics.subarray(0, logs.nDyn * LH)),
    ov_dynamics: tensorF64([logs.nDyn, c.layers, c.heads], logs.ovDynamics.subarray(0, logs.nDyn * LH)),
    dyn_step: tensorF64([logs.nDyn], logs.dynStep.subarray(0, logs.nDyn)),
    ...(logs.outputs > 1 ? {
      qk_dynamics_task: tensorF64([logs.nDyn, c.layers, c.heads, logs.outputs], logs.qkTask.subarray(0, logs.nDyn * LH * logs.outputs)),
      ov_dynamics_task: tensorF64([logs.nDyn, c.layers, c.heads, logs.outputs], logs.ovTask.subarray(0, logs.nDyn * LH * logs.outputs)),
    } : {}),
  };
}

export function snapshotTensors(c: TrainConfig, logs: TrainLogs): Record<string, Tensor> {
  const LH = c.layers * c.heads;
  const E = taskFamily(c).tokenWidth(c);
  return {
    qk: tensorF64([logs.nSnap, c.layers, c.heads, E, E], logs.qk.subarray(0, logs.nSnap * LH * E * E)),
    ov: logs.outputs > 1
      ? tensorF64([logs.nSnap, c.layers, c.heads, E, logs.outputs], logs.ov.subarray(0, logs.nSnap * LH * E * logs.outputs))
      : tensorF64([logs.nSnap, c.layers, c.heads, E], logs.ov.subarray(0, logs.nSnap * LH * E)),
    snapshot_step: tensorF64([logs.nSnap], logs.snapStep.subarray(0, logs.nSnap)),
  };
}

const META = (kind: string, step: number): Record<string, string> => ({ icl_lab: kind, format: '1', step: String(step) });

/** Logs read back from disk (all entries stored; `step` = train_loss length). */
export function readLogs(dir: string, c: TrainConfig): { logs: TrainLogs; step: number } {
  const m = readSafetensors(join(dir, RUN_FILES.metrics)).tensors;
  const s = readSafetensors(join(dir, RUN_FILES.snapshots)).tensors;
  const need = (t: Record<string, Tensor>, k: string, file: string): Float64Array => {
    const x = t[k];
    if (!x) throw new FileFormatError(`missing tensor ${k}`, join(dir, file));
    return f64(x);
  };
  const trainLoss = need(m, 'train_loss', RUN_FILES.metrics);
  // the format the run was written in: ov [.., E, N] with per-task dynamics, or [.., E] (one column)
  const ovShape = s['ov']?.shape ?? [];
  const outputs = ovShape.length === 5 ? ovShape[4]! : 1;
  if (outputs > 1 && outputs !== taskFamily(c).outputs(c)) throw new FileFormatError(`ov has shape [${ovShape.join(', ')}]: ${outputs} columns, but the run has ${taskFamily(c).outputs(c)} outputs`, join(dir, RUN_FILES.snapshots));
  const logs = allocLogs(c, trainLoss.length, outputs);
  logs.trainLoss.set(trainLoss);
  const LH = c.layers * c.heads;
  const E = taskFamily(c).tokenWidth(c);
  const fill = (dst: Float64Array, src: Float64Array, file: string, k: string): void => {
    if (src.length > dst.length) throw new FileFormatError(`${k} has ${src.length} values, more than ${trainLoss.length} training steps allow (${dst.length})`, join(dir, file));
    dst.set(src);
  };
  const valStep = need(m, 'val_step', RUN_FILES.metrics);
  logs.nVal = valStep.length;
  fill(logs.valStep, valStep, RUN_FILES.metrics, 'val_step');
  fill(logs.valLoss, need(m, 'val_loss', RUN_FILES.metrics), RUN_FILES.metrics, 'val_loss');
  const dynStep = need(m, 'dyn_step', RUN_FILES.metrics);
  logs.nDyn = dynStep.length;
  fill(logs.dynStep, dynStep, RUN_FILES.metrics, 'dyn_step');
  fill(logs.qkDynamics, need(m, 'qk_dynamics', RUN_FILES.metrics), RUN_FILES.metrics, 'qk_dynamics');
  fill(logs.ovDynamics, need(m, 'ov_dynamics', RUN_FILES.metrics), RUN_FILES.metrics, 'ov_dynamics');
  if (outputs > 1) {
    fill(logs.qkTask, need(m, 'qk_dynamics_task', RUN_FILES.metrics), RUN_FILES.metrics, 'qk_dynamics_task');
    fill(logs.ovTask, need(m, 'ov_dynamics_task', RUN_FILES.metrics), RUN_FILES.metrics, 'ov_dynamics_task');
  }
  const snapStep = need(s, 'snapshot_step', RUN_FILES.snapshots);
  logs.nSnap = snapStep.length;
  fill(logs.snapStep, snapStep, RUN_FILES.snapshots, 'snapshot_step');
  fill(logs.qk, need(s, 'qk', RUN_FILES.snapshots), RUN_FILES.snapshots, 'qk');
  fill(logs.ov, need(s, 'ov', RUN_FILES.snapshots), RUN_FILES.snapshots, 'ov');
  if (logs.qkDynamics.length < logs.nDyn * LH || logs.qk.length < logs.nSnap * LH * E * E) {
    throw new FileFormatError('logs do not match the config', dir);
  }
  return { logs, step: trainLoss.length };
}

// ---------------------------------------------------------------------------------------------
// Reading a run's logs for figures and reports (no config needed; a file not yet written is undefined)
// ---------------------------------------------------------------------------------------------

/** metrics.safetensors: train_loss [step], val_loss/val_step [nVal] (optional), dynamics [nDyn, layers, H]. */
export interface RunMetrics {
  readonly path: string;
  readonly trainLoss: Float64Array;
  readonly valLoss?: Float64Array;
  readonly valStep?: Float64Array;
  /** w^h (qk) and mu^h (ov) per logged step, layer and head, [nDyn, layers, heads] each; steps [nDyn]. */
  readonly dynamics: { readonly step: Float64Array; readonly qk: Float64Array; readonly ov: Float64Array; readonly nDyn: number; readonly layers: number; readonly heads: number };
  /** A multi-task run (written since issue 22): w^h_k (qk) and mu^h_k (ov) per task k, [nDyn, layers, heads, tasks] each. */
  readonly taskDynamics?: { readonly qk: Float64Array; readonly ov: Float64Array; readonly tasks: number };
}

/** snapshots.safetensors: qk [nSnap, layers, heads, E, E], ov [nSnap, layers, heads, E, ovColumns], step [nSnap]. */
export interface RunSnapshots {
  readonly path: string;
  readonly step: Float64Array;
  readonly qk: Float64Array;
  readonly ov: Float64Array;
  /**
   * OV^h columns stored: 1 = OV^h[:, -1] (tensor rank 4: single-task runs, and multi-task runs of
   * builds before issue 22, whose one column is the last output's); N = a multi-task run's whole OV^h (rank 5).
   */
  readonly ovColumns: number;
  readonly nSnap: number;
  readonly layers: number;
  readonly heads: number;
  readonly E: number;
}

/** Tensor `name` of `tensors` with the given rank, or a FileFormatError naming `source`. */
function logTensor(tensors: Record<string, Tensor>, name: string, rank: number, source: string): Tensor {
  const t = tensors[name];
  if (!t) throw new FileFormatError(`missing tensor '${name}' (has: ${Object.keys(tensors).join(', ') || 'none'})`, source);
  if (t.shape.length !== rank) throw new FileFormatError(`tensor '${name}' has shape [${t.shape.join(', ')}], expected rank ${rank}`, source);
  return t;
}

/** DIR/metrics.safetensors, or undefined when the run has not written it. */
export function readMetrics(dir: string): RunMetrics | undefined {
  const path = join(dir, RUN_FILES.metrics);
  if (!existsSync(path)) return undefined;
  const m = readSafetensors(path).tensors;
  const trainLoss = f64(logTensor(m, 'train_loss', 1, path));
  const valLoss = m['val_loss'] ? f64(logTensor(m, 'val_loss', 1, path)) : undefined;
  const valStep = m['val_step'] ? f64(logTensor(m, 'val_step', 1, path)) : undefined;
  const qk = logTensor(m, 'qk_dynamics', 3, path);
  const [nDyn, layers, heads] = qk.shape as [number, number, number];
  const ov = f64(logTensor(m, 'ov_dynamics', 3, path));
  const step = f64(logTensor(m, 'dyn_step', 1, path));
  let taskDynamics: RunMetrics['taskDynamics'];
  if (m['ov_dynamics_task']) {
    const tq = logTensor(m, 'qk_dynamics_task', 4, path);
    const to = logTensor(m, 'ov_dynamics_task', 4, path);
    const tasks = tq.shape[3]!;
    if (to.shape.join() !== tq.shape.join() || tq.shape.slice(0, 3).join() !== qk.shape.join()) {
      throw new FileFormatError(`qk_dynamics_task [${tq.shape.join(', ')}] and ov_dynamics_task [${to.shape.join(', ')}] should both be [${qk.shape.join(', ')}, tasks]`, path);
    }
    taskDynamics = { qk: f64(tq), ov: f64(to), tasks };
  }
  return { path, trainLoss, ...(valLoss ? { valLoss } : {}), ...(valStep ? { valStep } : {}), dynamics: { step, qk: f64(qk), ov, nDyn, layers, heads }, ...(taskDynamics ? { taskDynamics } : {}) };
}

/** DIR/snapshots.safetensors, or undefined when the run has not written it. */
export function readSnapshots(dir: string): RunSnapshots | undefined {
  const path = join(dir, RUN_FILES.snapshots);
  if (!existsSync(path)) return undefined;
  const s = readSafetensors(path).tensors;
  const qk = logTensor(s, 'qk', 5, path);
  const ov = s['ov']?.shape.length === 5 ? logTensor(s, 'ov', 5, path) : logTensor(s, 'ov', 4, path);
  const step = f64(logTensor(s, 'snapshot_step', 1, path));
  const [nSnap, layers, heads, E] = qk.shape as [number, number, number, number];
  const ovColumns = ov.shape[4] ?? 1;
  if (ov.shape.slice(0, 4).join() !== [nSnap, layers, heads, E].join()) {
    throw new FileFormatError(`tensor 'ov' has shape [${ov.shape.join(', ')}], expected [${nSnap}, ${layers}, ${heads}, ${E}] or [${nSnap}, ${layers}, ${heads}, ${E}, N]`, path);
  }
  return { path, step, qk: f64(qk), ov: f64(ov), ovColumns, nSnap, layers, heads, E };
}

// ---------------------------------------------------------------------------------------------
// The whole run directory, as readers (the web lab) see it
// ---------------------------------------------------------------------------------------------

/** mtime in ms of a file, or 0 when it is missing. */
export function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** A number field of run.json (writeRunJson writes a non-finite number as "NaN", "Infinity"): the number, NaN for those. */
function jsonNumber(v: unknown, key: string, path: string, nullable = false): number | null {
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
  if (nullable && v === null) return null;
  throw new FileFormatError(`${key} is ${v === undefined ? 'missing' : JSON.stringify(v)}; expected a number${nullable ? ' or null' : ''}`, path);
}

/** The fields of run.json that RunJson declares but readRunJson does not check: steps, timings, final, failure, pid, host. */
function checkRunJson(r: RunJson, path: string): void {
  if (!Number.isSafeInteger(r.steps)) throw new FileFormatError(`steps is ${JSON.stringify(r.steps)}; expected an integer`, path);
  const t = r.timings as unknown as Record<string, unknown> | undefined;
  if (typeof t !== 'object' || t === null) throw new FileFormatError('timings is missing', path);
  for (const k of ['created_at', 'updated_at']) if (typeof t[k] !== 'string') throw new FileFormatError(`timings.${k} is ${JSON.stringify(t[k])}; expected a date string`, path);
  for (const k of ['wall_seconds', 'steps_per_second', 'sessions']) jsonNumber(t[k], `timings.${k}`, path);
  const f = r.final as unknown as Record<string, unknown> | undefined;
  if (typeof f !== 'object' || f === null) throw new FileFormatError('final is missing', path);
  for (const k of ['train_loss', 'val_loss', 'val_step']) jsonNumber(f[k], `final.${k}`, path, true);
  if (r.failure !== undefined && (typeof r.failure !== 'object' || r.failure === null || typeof r.failure.reason !== 'string')) {
    throw new FileFormatError('failure needs a reason (a string)', path);
  }
  if (r.pid !== undefined && !Number.isSafeInteger(r.pid)) throw new FileFormatError(`pid is ${JSON.stringify(r.pid)}; expected an integer`, path);
  if (r.host !== undefined && typeof r.host !== 'string') throw new FileFormatError(`host is ${JSON.stringify(r.host)}; expected a string`, path);
}

/** run.json's name, tags and note (labels.ts), as recorded (none in runs of builds before issue 22). */
export function labelsOf(r: RunJson): RunLabels {
  return { ...(r.name !== undefined ? { name: r.name } : {}), ...(r.tags !== undefined ? { tags: [...r.tags] } : {}), ...(r.note !== undefined ? { note: r.note } : {}) };
}

/**
 * The config fields of run.json's format 1: every run.json ever written holds them, so a missing one
 * is an error, not a default. A field added since (tasks, engine, diverge_loss, ...) is absent in
 * runs of earlier builds and reads as configFromJson documents for them.
 */
const FORMAT_1_FIELDS: readonly FieldKey[] = [
  'layers', 'heads', 'd', 'contextLength', 'nOut', 'weightTying', 'preset', 'noiseStd', 'rho', 'init', 'optimizer', 'lr', 'betas', 'eps',
  'weightDecay', 'batchSize', 'steps', 'seed', 'dynamicsEvery', 'qkEvery', 'lossEvery', 'valEvery', 'valSamples', 'printEvery',
  'checkpointEvery', 'checkpointSecs',
];

/** DIR/progress.json, or undefined when the run has not written one. */
export function readProgress(dir: string): RunProgress | undefined {
  const path = join(dir, RUN_FILES.progress);
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FileFormatError(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`, path);
  }
  if (typeof obj !== 'object' || obj === null) throw new FileFormatError('not an icl-lab progress.json', path);
  const int = (k: string): number => {
    if (!Number.isSafeInteger(obj[k])) throw new FileFormatError(`${k} is ${JSON.stringify(obj[k])}; expected an integer`, path);
    return obj[k] as number;
  };
  const step = int('step');
  const steps = int('steps');
  const sps = jsonNumber(obj['steps_per_second'], 'steps_per_second', path)!;
  const loss = jsonNumber(obj['loss'], 'loss', path, true);
  if (typeof obj['updated_at'] !== 'string') throw new FileFormatError(`updated_at is ${JSON.stringify(obj['updated_at'])}; expected a date string`, path);
  return { step, steps, loss, steps_per_second: sps, updated_at: obj['updated_at'] };
}

/** A run directory read whole: run.json checked field by field, its config parsed, what it is doing now. */
export interface RunDir {
  readonly dir: string;
  readonly run: RunJson;
  readonly config: TrainConfig;
  /** run.json says running, but the process of this host that wrote it is gone (killed): resume it. */
  readonly stale: boolean;
  /** progress.json of a live run: present when run.json says running and the heartbeat is newer than run.json. */
  readonly progress?: RunProgress;
  /** metrics.safetensors (when asked for and written). */
  readonly metrics?: RunMetrics;
  /** snapshots.safetensors (when asked for and written). */
  readonly snapshots?: RunSnapshots;
}

/**
 * Read the run directory DIR: run.json (every field RunJson declares, its config through
 * configFromJson), progress.json of a live run, and metrics and snapshots when asked for. A missing
 * or malformed field is an error (UsageError: not a run directory; FileFormatError: a bad file), never
 * a default.
 */
export function readRunDir(dir: string, read: { metrics?: boolean; snapshots?: boolean } = {}): RunDir {
  const run = readRunJson(dir);
  const path = join(dir, RUN_FILES.run);
  checkRunJson(run, path);
  const missing = FORMAT_1_FIELDS.map(jsonKey).filter((k) => !(k in run.config));
  if (missing.length > 0) throw new FileFormatError(`config lacks ${missing.map((k) => `"${k}"`).join(', ')}`, path);
  let config: TrainConfig;
  try {
    config = runConfig(run, dir);
  } catch (err) {
    throw new FileFormatError((err as Error).message.replace(`${path}: `, ''), path);
  }
  const progress = run.status === 'running' && mtimeOf(join(dir, RUN_FILES.progress)) > mtimeOf(path) ? readProgress(dir) : undefined;
  const metrics = read.metrics ? readMetrics(dir) : undefined;
  const snapshots = read.snapshots ? readSnapshots(dir) : undefined;
  return { dir, run, config, stale: runIsStale(run), ...(progress ? { progress } : {}), ...(metrics ? { metrics } : {}), ...(snapshots ? { snapshots } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Saving a state
// ---------------------------------------------------------------------------------------------

export interface SaveInfo {
  status: RunStatus;
  createdAt: string;
  wallSeconds: number;
  stepsPerSecond: number;
  sessions: number;
  failure?: RunFailure;
  resumeCommand?: string;
  /** The run's name, tags and note (kept by every save and resume). */
  labels?: RunLabels;
}

export function runJsonOf(s: TrainState, info: SaveInfo, checkpointStep: number): RunJson {
  const fin = (x: number) => (Number.isFinite(x) ? x : null);
  const r: RunJson = {
    icl_lab_version: VERSION,
    format: 1,
    ...(info.labels?.name !== undefined ? { name: info.labels.name } : {}),
    ...(info.labels?.tags !== undefined && info.labels.tags.length > 0 ? { tags: [...info.labels.tags] } : {}),
    ...(info.labels?.note !== undefined ? { note: info.labels.note } : {}),
    status: info.status,
    step: s.step,
    steps: s.config.steps,
    seed: s.config.seed,
    config: configToJson(s.config, { explicit: true }),
    checkpoint_step: checkpointStep,
    stream_version: s.stream.version,
    timings: {
      created_at: info.createdAt,
      updated_at: new Date().toISOString(),
      wall_seconds: round(info.wallSeconds, 3),
      steps_per_second: round(info.stepsPerSecond, 1),
      sessions: info.sessions,
    },
    final: { train_loss: fin(s.lastLoss), val_loss: fin(s.lastVal), val_step: s.lastValStep >= 0 ? s.lastValStep : null },
  };
  if (s.finalValidation && info.status === 'completed') r.final_validation = s.finalValidation;
  r.pid = process.pid;
  r.host = hostName();
  if (info.failure) r.failure = info.failure;
  if (info.resumeCommand) r.resume_command = info.resumeCommand;
  return r;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Write the whole state at its current (exact) step boundary: metrics, snapshots, checkpoint,
 * model, run.json, each atomically.
 */
export function saveState(dir: string, s: TrainState, info: SaveInfo): void {
  const c = s.config;
  writeSafetensors(join(dir, RUN_FILES.metrics), metricsTensors(c, s.logs, s.step), META('metrics', s.step));
  writeSafetensors(join(dir, RUN_FILES.snapshots), snapshotTensors(c, s.logs), META('snapshots', s.step));
  writeCheckpoint(join(dir, RUN_FILES.checkpoint), c, resumable(s));
  writeTaskPool(dir, c);
  const weights = Object.fromEntries(s.model.stateDict().map((e) => [e.key, tensorF32(e.shape, e.data)]));
  writeSafetensors(join(dir, RUN_FILES.model), weights, { icl_lab: 'model', ...s.model.metadata(), step: String(s.step) });
  writeRunJson(dir, runJsonOf(s, info, s.step));
}

/** A pool run's tasks beside its model, once (they follow from the config: the same bytes every time). */
function writeTaskPool(dir: string, c: TrainConfig): void {
  const path = join(dir, RUN_FILES.taskPool);
  if (c.task !== 'pool' || existsSync(path)) return;
  writeSafetensors(path, { pool: tensorF64([c.taskPool, c.d], taskPoolOf(c)) }, { icl_lab: 'task_pool', format: '1', pool_seed: String(c.poolSeed), preset: c.preset, d: String(c.d) });
}

/** A pool run's tasks [M, d] as saved (undefined: not a pool run, or the file is missing). */
export function readTaskPool(dir: string): Float64Array | undefined {
  const path = join(dir, RUN_FILES.taskPool);
  if (!existsSync(path)) return undefined;
  const t = readSafetensors(path).tensors['pool'];
  if (!t || t.shape.length !== 2) throw new FileFormatError('expected a tensor pool [M, d]', path);
  return Float64Array.from(f64(t));
}

/**
 * A failed (diverged) run: the logs go up to and including the bad step (`nSteps` train losses),
 * run.json says failed; checkpoint and model keep the last good save.
 */
export function saveFailure(dir: string, s: TrainState, info: SaveInfo, nSteps: number, checkpointStep: number): void {
  const c = s.config;
  writeSafetensors(join(dir, RUN_FILES.metrics), metricsTensors(c, s.logs, nSteps), META('metrics', nSteps));
  writeSafetensors(join(dir, RUN_FILES.snapshots), snapshotTensors(c, s.logs), META('snapshots', s.step));
  writeRunJson(dir, runJsonOf(s, info, checkpointStep));
}

/**
 * A session stopped by a UsageError raised while training (e.g. a batch too large for the wasm
 * engine's memory): the files on disk are the last checkpoint's, whole; only run.json's `running`
 * becomes `interrupted` with its resume command, so no reader takes a dead process for a live one.
 */
export function markInterrupted(dir: string, resumeCommand: string): void {
  const r = readRunJson(dir);
  if (r.status !== 'running') return;
  writeRunJson(dir, { ...r, status: 'interrupted', resume_command: resumeCommand, timings: { ...r.timings, updated_at: new Date().toISOString() } });
}

/** Read what a resume needs: run.json, the checkpoint, and the logs. */
export function readRunForResume(dir: string): { run: RunJson; config: TrainConfig; checkpoint: Checkpoint; logs: TrainLogs } {
  const run = readRunJson(dir);
  const config = runConfig(run, dir);
  const checkpoint = readCheckpoint(join(dir, RUN_FILES.checkpoint));
  let recorded: StreamVersion;
  try {
    recorded = parseStreamVersion(run.stream_version, 'run.json');
  } catch (err) {
    throw new FileFormatError(err instanceof Error ? err.message : String(err), join(dir, RUN_FILES.run));
  }
  if (recorded !== checkpoint.streamVersion) {
    throw new FileFormatError(`run.json says stream_version ${recorded} but the checkpoint says ${checkpoint.streamVersion}`, dir);
  }
  const { logs, step } = readLogs(dir, config);
  if (step < checkpoint.step) {
    throw new FileFormatError(`metrics hold ${step} steps but the checkpoint is at step ${checkpoint.step}`, dir);
  }
  return { run, config, checkpoint, logs };
}
