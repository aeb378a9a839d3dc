/**
 * One training session of one run directory: load the checkpoint, train to the target step in
 * chunks (yielding to the event loop between chunks so signals and worker messages get through),
 * save periodically, and finish with status completed / interrupted / failed.
 *
 * A new run is created on disk at step 0 first (`createRun`), so every session, fresh or resumed,
 * starts from a checkpoint: "resume" and "start" are the same code path.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { cliCommand, shellQuote } from '../command.js';
import { nodeKernels } from '../io/wasm.js';
import { FileFormatError } from '../io/safetensors.js';
import { FIELD_BY_KEY, flagName, incompatibleFields, type TrainConfig } from './config.js';
import { createState, defaultStreamVersion, ensureCapacity, heldOutValidation, logFinalStep, restoreState, runSteps, type TrainState } from './loop.js';
import { startPrefetch, type Prefetch } from './prefetch.js';
import { mergeLabels, type RunLabels } from './labels.js';
import { isStaleTemp, labelsOf, makeRunDir, markInterrupted, readRunForResume, readRunJson, RUN_FILES, runConfig, runJsonOf, saveFailure, saveState, writeProgress, writeRunJson, type RunFailure, type RunJson, type RunStatus, type SaveInfo } from './run-dir.js';
import { LOCK_FILE } from './lock.js';

export interface ProgressInfo {
  step: number;
  total: number;
  /** Step this session started from. */
  startStep: number;
  /** Training loss as the progress display shows it (refreshed every loss_every steps). */
  loss: number;
  stepsPerSecond: number;
}

export interface RunHooks {
  /** The seed's printed lines (`After N steps, ...`). */
  onLine?(line: string): void;
  /** Called after every chunk (about every `chunkMs`). */
  onProgress?(p: ProgressInfo): void;
  /** Polled after every chunk; true = checkpoint now and stop with status interrupted. */
  shouldStop?(): boolean;
  /** Length of a chunk of steps between two yields (ms, default 100). */
  chunkMs?: number;
  /** 2 = draw the batches on a second thread while the step computes (prefetch.ts; bit-identical); default 1. */
  threads?: 1 | 2;
  /**
   * Polled after every chunk: the threads wanted from now on (a pool whose other runs finished
   * gives the last ones a second thread); switching is bit-identical. Absent = `threads` throughout.
   */
  threadsNow?(): 1 | 2;
}

/** What a session reports (also the `--json` summary of one run). */
export interface RunSummary {
  name: string;
  dir: string;
  status: RunStatus;
  step: number;
  steps: number;
  final_train_loss: number | null;
  final_val_loss: number | null;
  /** Completed runs: the final model on FINAL_VALIDATION_SAMPLES held-out prompts (run.json final_validation). */
  final_validation?: { samples: number; mse: number; stderr: number };
  wall_seconds: number;
  steps_per_second: number;
  failure?: RunFailure;
  resume_command?: string;
  /** Set when nothing was trained (a completed run resumed without a larger --steps). */
  note?: string;
  /** Threads this session trained with (2: batches drawn on a second thread). */
  threads?: 1 | 2;
}

export function resumeCommand(dir: string): string {
  return cliCommand(`train --resume ${shellQuote(dir)}`);
}

/**
 * Create a run directory at step 0 (initial weights, empty logs) with the given status.
 * The caller has checked that the directory is free (run-dir.ts `checkRunDirFree`).
 * `ownFilesOnly`: remove only what a run writes (its files and temporaries), never anything else in
 * `dir` (a run remade after it was cut short while `creating`, a sweep's run); otherwise (train
 * --force, whose directory the user gave up) everything but run.json and the lock goes.
 */
export function createRun(dir: string, config: TrainConfig, status: RunStatus = 'interrupted', ownFilesOnly = false, labels: RunLabels = {}): void {
  makeRunDir(dir);
  writeRunIdentity(dir, config, labels);
  removeLeftovers(dir, ownFilesOnly);
  const s = createState(config, nodeKernels());
  const now = new Date().toISOString();
  saveState(dir, s, { status, createdAt: now, wallSeconds: 0, stepsPerSecond: 0, sessions: 0, resumeCommand: resumeCommand(dir), labels });
}

/**
 * The run's identity: run.json at step 0 with status `creating`, written (atomically) before any
 * other file, so a run directory always holds run.json: a kill or a full disk while the rest is
 * written leaves a run that `train --out` (the same command), `--resume` and `reproduce` make again.
 */
export function writeRunIdentity(dir: string, config: TrainConfig, labels: RunLabels = {}): void {
  const s = { step: 0, config, lastLoss: NaN, lastVal: NaN, lastValStep: -1, stream: { version: defaultStreamVersion(config) } } as TrainState;
  const now = new Date().toISOString();
  writeRunJson(dir, runJsonOf(s, { status: 'creating', createdAt: now, wallSeconds: 0, stepsPerSecond: 0, sessions: 0, resumeCommand: resumeCommand(dir), labels }, 0));
}

const OWN_FILES: ReadonlySet<string> = new Set(Object.values(RUN_FILES));

/**
 * What an earlier run (with --force) or creation left: everything in `dir` but run.json and the
 * lock, or with `ownFilesOnly` only the files a run writes (and their stale temporaries).
 */
function removeLeftovers(dir: string, ownFilesOnly: boolean): void {
  for (const f of readdirSync(dir)) {
    if (f === RUN_FILES.run || f === LOCK_FILE) continue;
    if (ownFilesOnly && !OWN_FILES.has(f) && !isStaleTemp(f)) continue;
    rmSync(join(dir, f), { recursive: true, force: true });
  }
}

/**
 * Temporary files left by a write that a crash interrupted (io/atomic.ts names them
 * `.<file>.<pid>.<hex>.tmp`); only those whose process is gone (another live process may be
 * writing them right now).
 */
function removeStaleTemps(dir: string): void {
  for (const f of readdirSync(dir)) if (isStaleTemp(f)) rmSync(join(dir, f), { force: true });
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Train the run in `dir` from its checkpoint to `steps` total steps (default: its config's steps).
 * `changes`: new values of settings that do not change the trajectory (FIELDS with `resumable`:
 * print / loss / checkpoint intervals, diverge_loss); they are saved in run.json.
 * Throws UsageError for a run that cannot be continued (failed, or --steps below its step).
 */
/** A run that failed (diverged) cannot be continued: why, or null (a crash, kind 'error', can). */
export function failedRun(run: RunJson): { message: string; why: string } | null {
  if (run.status !== 'failed' || run.failure?.kind === 'error') return null;
  const why = run.failure ? ` at step ${run.failure.step}: ${run.failure.reason}` : '';
  return { why, message: `the run failed${why}; nothing to resume (start a new run with other settings)` };
}

/** The total steps a resume trains to (`steps`, default the run's own); UsageError when out of range or below the steps done. */
export function resumeTarget(dir: string, steps: number | undefined, ownSteps: number, done: number): number {
  checkResumeSteps(steps);
  const target = steps ?? ownSteps;
  if (target < done) throw new UsageError(`--steps ${target} is below the ${done} steps the run in ${dir} has already done`);
  return target;
}

/** --steps of a resume: an integer in the steps field's range. */
export function checkResumeSteps(steps: number | undefined): void {
  const max = FIELD_BY_KEY.get('steps')!.max!;
  if (steps !== undefined && (!Number.isSafeInteger(steps) || steps < 1 || steps > max)) {
    throw new UsageError(`--steps must be an integer >= 1 and <= ${max}, got ${steps}`);
  }
}

/**
 * `labels`: a resume's new --name / --note (they replace the run's) and --tag (added to its tags);
 * the run's own labels are kept otherwise.
 */
export async function runSession(dir: string, name: string, steps: number | undefined, hooks: RunHooks = {}, changes: Partial<TrainConfig> = {}, labels: RunLabels = {}): Promise<RunSummary> {
  for (const k of Object.keys(changes) as (keyof TrainConfig)[]) {
    if (!FIELD_BY_KEY.get(k)?.resumable) throw new UsageError(`${flagName(k)} cannot be changed when resuming (it changes the trajectory)`);
  }
  removeStaleTemps(dir);
  const identity = readRunJson(dir);
  if (identity.status === 'creating') createRun(dir, runConfig(identity, dir), 'interrupted', true, labelsOf(identity)); // cut short while being made: make it again (its own files only)
  const { run, config: saved, checkpoint, logs } = readRunForResume(dir);
  const failed = failedRun(run);
  if (failed) throw new UsageError(`${dir}: ${failed.message}`);
  const target = resumeTarget(dir, steps, saved.steps, checkpoint.step);
  const config: TrainConfig = { ...saved, ...changes, steps: target };
  const diff = incompatibleFields(checkpoint.config, config);
  if (diff.length > 0) {
    throw new FileFormatError(`run.json and the checkpoint disagree on ${diff.map(flagName).join(', ')}`, dir);
  }
  const s = restoreState(config, checkpoint, logs, nodeKernels());
  ensureCapacity(s, target);
  return trainState(dir, name, s, target, run.timings.created_at, run.timings.wall_seconds, run.timings.sessions + 1, hooks, mergeLabels(labelsOf(run), labels));
}

async function trainState(
  dir: string, name: string, s: TrainState, target: number,
  createdAt: string, priorWall: number, sessions: number, hooks: RunHooks, labels: RunLabels,
): Promise<RunSummary> {
  const c = s.config;
  const startStep = s.step;
  const t0 = performance.now();
  const chunkMs = hooks.chunkMs ?? 100;
  let lastSave = t0;
  let checkpointStep = startStep;
  const info = (status: RunStatus, extra: Partial<SaveInfo> = {}): SaveInfo => {
    const wall = (performance.now() - t0) / 1000;
    return {
      status, createdAt, wallSeconds: priorWall + wall, sessions, labels,
      stepsPerSecond: wall > 0 ? (s.step - startStep) / wall : 0, ...extra,
    };
  };
  const summary = (status: RunStatus, extra: Partial<RunSummary> = {}): RunSummary => {
    const i = info(status);
    return {
      name, dir, status, step: s.step, steps: target,
      final_train_loss: Number.isFinite(s.lastLoss) ? s.lastLoss : null,
      final_val_loss: Number.isFinite(s.lastVal) ? s.lastVal : null,
      ...(s.finalValidation ? { final_validation: { samples: s.finalValidation.samples, mse: s.finalValidation.mse, stderr: s.finalValidation.stderr } } : {}),
      wall_seconds: Math.round(i.wallSeconds * 1000) / 1000,
      steps_per_second: Math.round(i.stepsPerSecond * 10) / 10,
      threads: usedTwo ? 2 : 1,
      ...extra,
    };
  };
  let lastBeat = -Infinity;
  const progress = (): void => {
    const now = performance.now();
    const wall = (now - t0) / 1000;
    const stepsPerSecond = wall > 0 ? (s.step - startStep) / wall : 0;
    hooks.onProgress?.({ step: s.step, total: target, startStep, loss: s.shownLoss, stepsPerSecond });
    if (now - lastBeat >= 1000) { // the live heartbeat (progress.json), about once a second
      lastBeat = now;
      writeProgress(dir, { step: s.step, steps: target, loss: Number.isFinite(s.shownLoss) ? s.shownLoss : null, steps_per_second: Math.round(stepsPerSecond * 10) / 10, updated_at: new Date().toISOString() });
    }
  };

  saveState(dir, s, info('running'));
  progress();
  const printHook = hooks.onLine ? { onPrint: hooks.onLine } : {};
  let prefetch: Prefetch | null = null;
  let usedTwo = false;
  const unprefetch = (): void => {
    if (prefetch) s.stream = prefetch.close();
    prefetch = null;
  };
  // the sampling thread draws the single-task batches of data/task.ts; a multi-task model (--tasks)
  // draws its own (data/multitask.ts), so it trains on one thread whatever --threads says
  const canPrefetch = (s.model.outputs ?? 1) === 1 && !s.model.valSampler;
  /** start or stop the sampling thread at this step boundary (the stream state carries over exactly) */
  const setThreads = (n: 1 | 2): void => {
    if (n === 2 && canPrefetch && !prefetch && s.step < target) {
      const kernel = s.model.wasmKernel?.();
      prefetch = startPrefetch(s.stream, { task: s.task, valTask: s.valTask, valEvery: c.valEvery, startStep: s.step, ...(kernel ? { kernel } : {}) });
      s.stream = prefetch.stream;
      usedTwo = true;
    } else if (n === 1) unprefetch();
  };
  try {
    setThreads(hooks.threads ?? 1);
    while (s.step < target) {
      if (hooks.threadsNow) setThreads(hooks.threadsNow());
      const nextByStep = c.checkpointEvery > 0 ? (Math.floor(s.step / c.checkpointEvery) + 1) * c.checkpointEvery : Infinity;
      const bad = runSteps(s, Math.min(target, nextByStep), performance.now() + chunkMs, printHook);
      if (bad) {
        unprefetch();
        const failure: RunFailure = { kind: 'diverged', step: bad.step, reason: bad.reason };
        s.lastLoss = bad.loss;
        saveFailure(dir, s, info('failed', { failure }), bad.step + 1, checkpointStep);
        return summary('failed', { failure });
      }
      progress();
      if (s.step >= target) break;
      const stop = hooks.shouldStop?.() ?? false;
      const due = s.step === nextByStep || (c.checkpointSecs > 0 && performance.now() - lastSave >= c.checkpointSecs * 1000);
      if (stop) {
        unprefetch();
        const cmd = resumeCommand(dir);
        saveState(dir, s, info('interrupted', { resumeCommand: cmd }));
        return summary('interrupted', { resume_command: cmd });
      }
      if (due) {
        saveState(dir, s, info('running'));
        checkpointStep = s.step;
        lastSave = performance.now();
      }
      await yieldToEventLoop();
    }
  } catch (err) {
    unprefetch();
    if (err instanceof UsageError) {
      try {
        markInterrupted(dir, resumeCommand(dir));
      } catch {
        /* the original error matters more */
      }
      throw err;
    }
    const reason = `error: ${err instanceof Error ? err.message : String(err)}`;
    try {
      saveFailure(dir, s, info('failed', { failure: { kind: 'error', step: s.step, reason } }), s.step, checkpointStep);
    } catch {
      /* the original error matters more */
    }
    throw err;
  }
  unprefetch();
  // the last step is always logged, and the final model measured on a large held-out set
  logFinalStep(s);
  s.finalValidation = heldOutValidation(s);
  saveState(dir, s, info('completed'));
  return summary('completed');
}
