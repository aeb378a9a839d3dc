/**
 * Several runs at once: one run directory per config, trained in parallel worker threads (pool
 * size = cores, or `jobs`), one session each. The library entry points used by `icl-lab train`
 * and `icl-lab reproduce`:
 *
 *   trainRuns(configs, { out, ... })   new runs (every directory is created at step 0 first)
 *   resumeRuns(dir, { steps, ... })    continue a run directory, or every unfinished run under a parent
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { FIELD_BY_KEY, runName, varyingAcross, type TrainConfig } from './config.js';
import { autoProgressMode, ProgressDisplay, type ProgressMode } from './progress.js';
import { mergeLabels, type RunLabels } from './labels.js';
import { checkRunDirFree, isRunDir, labelsOf, makeRunDir, readRunJson, RUN_FILES, runConfig, runIsLive, writeRunJson, type RunJson } from './run-dir.js';
import { checkResumeSteps, createRun, failedRun, resumeCommand, resumeTarget, runSession, writeRunIdentity, type ProgressInfo, type RunSummary } from './run.js';
import { acquireRunLocks, describeHolder, LOCK_FILE, lockHolder, releaseRunLocks, waitAdvice } from './lock.js';
import { describeFsError } from '../io/input-file.js';
import { checkTrainMemory } from './memory.js';
import type { WorkerJob, WorkerMessage } from './worker.js';
import { defaultThreads, prefetchAvailable } from './prefetch.js';

/** A run directory to train from its checkpoint (to `steps`, with `changes` of resumable settings). */
export interface RunJob {
  dir: string;
  name: string;
  steps?: number;
  changes?: Partial<TrainConfig>;
  /** A resume's --name / --note (replace the run's) and --tag (added); absent: the run's own. */
  labels?: RunLabels;
}

export interface RunPlan {
  name: string;
  dir: string;
  config: TrainConfig;
}

export interface ExecuteOptions {
  /** Worker threads at once (default: number of cores). 1 = train one after another in this thread. */
  jobs?: number;
  /** Progress on stderr (default auto: bar on a terminal, plain lines otherwise). */
  progress?: ProgressMode | 'auto';
  /** Where the seed's "After N steps" lines go (default: stdout; null = nowhere). */
  onLine?: ((line: string) => void) | null;
  /** Abort = finish the current step of every run, checkpoint, status interrupted. */
  signal?: AbortSignal;
  /** Steps are run in chunks of this many ms between checks for stop/progress (default 100). */
  chunkMs?: number;
  /** Called with every progress report of every run (e.g. a sweep-level display; independent of `progress`). */
  onRunProgress?: (name: string, p: ProgressInfo) => void;
  /** Called when a run's session ends (completed, interrupted or failed). */
  onRunDone?: (s: RunSummary) => void;
  /** Threads per run: 2 = batches drawn on a second thread (bit-identical); default: 2 when a core is free for every run in flight. */
  threads?: 1 | 2;
}

export interface TrainRunsOptions extends ExecuteOptions {
  /** The run directory (one config, no names) or the parent of one subdirectory per run. */
  out: string;
  /** Subdirectory names (default: from the fields that vary, see config.ts runName). */
  names?: string[];
  /** Overwrite existing non-empty directories. */
  force?: boolean;
  /** Every run's name, tags and note (labels.ts); with several runs each is named `NAME/<subdirectory>`. */
  labels?: RunLabels;
}

/** Where each config goes: `out` itself for a single run, else `out/<name>`. */
export function planRuns(configs: readonly TrainConfig[], out: string, names?: readonly string[]): RunPlan[] {
  if (configs.length === 0) throw new UsageError('no runs to train');
  if (names && names.length !== configs.length) throw new RangeError(`planRuns: ${names.length} names for ${configs.length} configs`);
  if (configs.length === 1 && !names) return [{ name: basename(out), dir: out, config: configs[0]! }];
  const vary = varyingAcross(configs);
  const ns = names ? [...names] : configs.map((c) => runName(c, vary));
  const dup = ns.find((n, i) => ns.indexOf(n) !== i);
  if (dup !== undefined) throw new UsageError(`two runs would share the directory ${join(out, dup)}; give them distinct names`);
  return configs.map((config, i) => ({ name: ns[i]!, dir: join(out, ns[i]!), config }));
}

/**
 * Check every directory, then lock them and write every run's identity (run.json, status
 * creating), then create every run at step 0, then train them all. A kill or a full disk at any
 * point leaves directories that the same command (or --resume) finishes.
 */
export async function trainRuns(configs: readonly TrainConfig[], opts: TrainRunsOptions): Promise<RunSummary[]> {
  const plans = planRuns(configs, opts.out, opts.names);
  const force = opts.force ?? false;
  const flag = plans.length === 1 && plans[0]!.dir === opts.out ? '--out' : 'run directory';
  const nested = plans[0]!.dir !== opts.out;
  if (nested) checkParentNotRun(opts.out, force);
  for (const p of plans) checkTrainMemory(p.config, plans.length > 1 ? p.name : undefined);
  for (const p of plans) checkRunDirFree(p.dir, force, flag);
  const locked: string[] = [];
  try {
    if (nested && isRunDir(opts.out)) {
      // --force: the run in --out becomes the parent of the new runs (its own files go)
      locked.push(...acquireRunLocks([opts.out]));
      clearRunFiles(opts.out);
    }
    for (const p of plans) {
      makeRunDir(p.dir, '--out');
      locked.push(...acquireRunLocks([p.dir]));
      checkRunDirFree(p.dir, force, flag); // again under the lock: another process may have made it meanwhile
    }
    const labels = (p: RunPlan): RunLabels => {
      const l = opts.labels ?? {};
      return nested && l.name !== undefined ? { ...l, name: `${l.name}/${p.name}` } : l;
    };
    for (const p of plans) writeRunIdentity(p.dir, p.config, labels(p));
    for (const p of plans) createRun(p.dir, p.config, 'interrupted', false, labels(p));
  } catch (err) {
    releaseRunLocks(locked);
    throw explainWriteError(err, opts.out, plans.length > 1);
  }
  try {
    return await executeRuns(plans.map((p) => ({ dir: p.dir, name: p.name })), opts, locked);
  } catch (err) {
    throw explainWriteError(err, opts.out, plans.length > 1, false); // a full disk while training: the checkpoint is good
  } finally {
    releaseRunLocks(locked);
  }
}

/** A list of runs goes into a parent directory; that must not be a run itself (its --resume would ignore them). */
function checkParentNotRun(out: string, force: boolean): void {
  if (!existsSync(out) || !isRunDir(out)) return;
  const holder = lockHolder(out);
  if (holder) throw new UsageError(`--out ${out}: ${describeHolder(holder)} is writing this run directory; ${waitAdvice(holder)}`);
  if (!force) {
    throw new UsageError(`--out ${out} holds a run (run.json); a list of runs needs a parent directory that is not a run: choose another --out, or pass --force to replace that run by the new runs`);
  }
}

/** Remove a run's own files from `dir` (run.json first, so it is never a run with missing files). */
function clearRunFiles(dir: string): void {
  rmSync(join(dir, RUN_FILES.run), { force: true });
  for (const f of Object.values(RUN_FILES)) rmSync(join(dir, f), { force: true });
}

/** A system error while creating runs as one line that says what to do (a full disk, no permission). */
function explainWriteError(err: unknown, out: string, many: boolean, creating = true): unknown {
  if (err instanceof UsageError) return err;
  const path = (err as NodeJS.ErrnoException).path ?? out; // a write(2) error names no path: the run directory
  const msg = describeFsError(err, path, 'write');
  if (!msg) return err;
  const again = creating
    ? `; the same command finishes the run${many ? 's' : ''} in ${out} (or ${resumeCommand(out)})`
    : `; the last checkpoint is kept: continue with ${resumeCommand(out)}`;
  return new UsageError((err as NodeJS.ErrnoException).code === 'ENOSPC' ? msg.replace(/; free some space.*$/, `; free some space${again}`) : msg, (err as NodeJS.ErrnoException).code === 'ENOSPC' ? 1 : 2);
}

/** The run directories under `dir`: `dir` itself if it holds run.json, else each subdirectory that does. */
export function findRuns(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--resume ${dir}: no such directory`);
  if (isRunDir(dir)) return [dir];
  const subs = readdirSync(dir).sort().map((n) => join(dir, n)).filter((p) => statSync(p).isDirectory() && isRunDir(p));
  if (subs.length === 0) throw new UsageError(`--resume ${dir}: not a run directory (no run.json) and no runs below it`);
  return subs;
}

/**
 * Continue `dir` (a run, or a parent of runs) to `steps` total steps (default: each run's own).
 * Completed runs asked for no more steps, and (below a parent) failed runs, are reported as they
 * are, files untouched. A single failed run, or --steps below a run's step, is a UsageError.
 */
export async function resumeRuns(dir: string, opts: ExecuteOptions & { steps?: number; force?: boolean; changes?: Partial<TrainConfig>; labels?: RunLabels } = {}): Promise<RunSummary[]> {
  const dirs = findRuns(dir);
  checkResumeSteps(opts.steps);
  const notes = new Map<string, string>();
  for (const d of dirs) {
    const holder = lockHolder(d);
    if (holder) throw new UsageError(`${d}: ${describeHolder(holder)} is training this run right now (lock ${join(d, LOCK_FILE)}); ${waitAdvice(holder)}`);
    const r = readRunJson(d);
    const failed = failedRun(r);
    if (failed) {
      if (dirs.length === 1) throw new UsageError(`${d}: ${failed.message}`);
      notes.set(d, `failed earlier${failed.why}; not resumed`);
      continue;
    }
    if (!opts.force && runIsLive(r)) {
      throw new UsageError(`${d}: process ${r.pid} is training this run right now (run.json says running); stop it first, or pass --force if that process is not icl-lab`);
    }
    const target = resumeTarget(d, opts.steps, r.steps, r.checkpoint_step);
    checkTrainMemory({ ...runConfig(r, d), steps: Math.max(target, r.steps) }, dirs.length > 1 ? basename(d) : undefined);
    if (r.status === 'completed' && target === r.step) {
      const relabel = opts.labels && (opts.labels.name !== undefined || opts.labels.note !== undefined || (opts.labels.tags?.length ?? 0) > 0);
      if (relabel) relabelRun(d, r, opts.labels!);
      notes.set(d, `already completed; nothing to do${relabel ? ' (its name, tags and note updated in run.json)' : ''} (pass --steps N to train longer)`);
    }
  }
  const jobs: RunJob[] = dirs.filter((d) => !notes.has(d)).map((d) => ({
    dir: d, name: basename(d), ...(opts.steps !== undefined ? { steps: opts.steps } : {}), ...(opts.changes ? { changes: opts.changes } : {}), ...(opts.labels ? { labels: opts.labels } : {}),
  }));
  let trained: RunSummary[] = [];
  try {
    if (jobs.length > 0) trained = await executeRuns(jobs, opts);
  } catch (err) {
    throw explainWriteError(err, dir, dirs.length > 1, false);
  }
  return dirs.map((d) => trained.find((s) => s.dir === d) ?? { ...summaryFromDisk(d, basename(d)), note: notes.get(d)! });
}

/** A completed run's labels changed in place (run.json rewritten under the run's lock, nothing else touched). */
function relabelRun(dir: string, r: RunJson, changes: RunLabels): void {
  const locked = acquireRunLocks([dir]);
  try {
    const l = mergeLabels(labelsOf(r), changes);
    const { icl_lab_version, format, name: _n, tags: _t, note: _o, ...rest } = r;
    writeRunJson(dir, { icl_lab_version, format, ...l, ...rest });
  } finally {
    releaseRunLocks(locked);
  }
}

function workerScript(): string | null {
  const path = fileURLToPath(new URL('./worker.js', import.meta.url));
  return existsSync(path) ? path : null; // absent when running from the .ts sources (tests): train inline
}

/**
 * Relative cost of training a run, to start the longest first: steps x B L E x (4 + layers x heads)
 * (a step's sampling costs about what four heads' forward + backward cost, measured at the seed
 * configuration; bench/roofline.ts).
 */
function runCost(dir: string, steps?: number): number {
  try {
    const r = readRunJson(dir);
    const c = r.config as Record<string, number>;
    return ((steps ?? r.steps) - r.step) * (c.d! + 1) * c.context_length! * c.batch_size! * (4 + (c.layers ?? 1) * c.heads!);
  } catch {
    return 0;
  }
}

/**
 * Train run directories from their checkpoints: inline for one job, else in a worker pool. Every
 * directory is locked first (a second writer is refused, naming the first one's pid).
 */
export async function executeRuns(jobs: readonly RunJob[], opts: ExecuteOptions = {}, lockedByCaller: readonly string[] = []): Promise<RunSummary[]> {
  const locked = acquireRunLocks(jobs.map((j) => j.dir).filter((d) => !lockedByCaller.includes(d)));
  const mode = opts.progress === undefined || opts.progress === 'auto' ? autoProgressMode() : opts.progress;
  const display = new ProgressDisplay(mode);
  const many = jobs.length > 1;
  const tag = (name: string) => (many ? `[${name}] ` : '');
  const printLine = opts.onLine === null ? () => {} : (opts.onLine ?? ((l: string) => display.line(l)));
  const pool = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), jobs.length));
  const script = workerScript();
  const threads = opts.threads ?? defaultThreads(script === null ? 1 : pool);
  try {
    if (pool === 1 || script === null) {
      const out: RunSummary[] = [];
      for (const job of jobs) {
        if (opts.signal?.aborted) {
          out.push(summaryFromDisk(job.dir, job.name));
          continue;
        }
        const s = await runSession(job.dir, job.name, job.steps, {
          chunkMs: opts.chunkMs,
          threads,
          shouldStop: () => opts.signal?.aborted ?? false,
          onLine: (l) => printLine(tag(job.name) + l),
          onProgress: (p) => {
            display.update(many ? job.name : '', p);
            opts.onRunProgress?.(job.name, p);
          },
        }, job.changes ?? {}, job.labels ?? {});
        opts.onRunDone?.(s);
        display.done(many ? job.name : '');
        if (many) display.note(`[${job.name}] ${s.status} at step ${s.step}`);
        out.push(s);
      }
      return out;
    }
    // longest first (LPT), so the pool finishes together; results keep the caller's order
    const order = jobs.map((j, i) => ({ i, cost: runCost(j.dir, j.steps) })).sort((a, b) => b.cost - a.cost || a.i - b.i).map((x) => x.i);
    const sorted = await runPool(order.map((i) => jobs[i]!), pool, script, { ...opts, threads }, opts.threads === undefined && prefetchAvailable(), display, (name, l) => printLine(tag(name) + l));
    const out: RunSummary[] = new Array(jobs.length);
    order.forEach((i, k) => (out[i] = sorted[k]!));
    return out;
  } finally {
    display.stop();
    releaseRunLocks(locked);
  }
}

/** What a run directory says about its last session, as a RunSummary (nothing trained). */
export function summaryFromDisk(dir: string, name: string): RunSummary {
  const r = readRunJson(dir);
  return {
    name, dir, status: r.status, step: r.step, steps: r.steps,
    final_train_loss: r.final.train_loss, final_val_loss: r.final.val_loss,
    ...(r.final_validation ? { final_validation: { samples: r.final_validation.samples, mse: r.final_validation.mse, stderr: r.final_validation.stderr } } : {}),
    wall_seconds: r.timings.wall_seconds, steps_per_second: 0,
    ...(r.failure ? { failure: r.failure } : {}),
    ...(r.status === 'interrupted' ? { resume_command: resumeCommand(dir) } : {}),
  };
}

function runPool(
  jobs: readonly RunJob[], size: number, script: string,
  opts: ExecuteOptions, dynamicThreads: boolean, display: ProgressDisplay, line: (name: string, text: string) => void,
): Promise<RunSummary[]> {
  return new Promise((resolve, reject) => {
    const results: (RunSummary | undefined)[] = new Array(jobs.length);
    const errors: string[] = [];
    const codes: string[] = [];
    const active = new Set<Worker>();
    let next = 0;
    const finish = (): void => {
      for (let i = 0; i < jobs.length; i++) {
        if (!results[i]) {
          try {
            results[i] = summaryFromDisk(jobs[i]!.dir, jobs[i]!.name);
          } catch (err) {
            errors.push(`${jobs[i]!.name}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      }
      // a system error of the runs (a full disk first) keeps its code, so the caller can say what to do in one line
      const code = codes.includes('ENOSPC') ? 'ENOSPC' : codes[0];
      if (errors.length > 0) reject(Object.assign(new Error(errors.join('\n')), code ? { code } : {}));
      else resolve(results as RunSummary[]);
    };
    const start = (): void => {
      while (active.size < size && next < jobs.length && !opts.signal?.aborted) {
        const i = next++;
        const job = jobs[i]!;
        const data: WorkerJob = { ...job, ...(opts.chunkMs ? { chunkMs: opts.chunkMs } : {}), ...(opts.threads ? { threads: opts.threads } : {}) };
        const w = new Worker(script, { workerData: data });
        active.add(w);
        w.on('message', (m: WorkerMessage) => {
          if (m.type === 'progress') {
            display.update(m.name, m);
            opts.onRunProgress?.(m.name, m);
          }
          else if (m.type === 'line') line(m.name, m.text);
          else if (m.type === 'done') {
            results[i] = m.summary;
            opts.onRunDone?.(m.summary);
            display.done(m.name);
            display.note(`[${m.name}] ${m.summary.status} at step ${m.summary.step}`);
          } else if (m.type === 'error') {
            errors.push(`${m.name}: ${m.message}`);
            if (m.code) codes.push(m.code);
          }
        });
        w.on('error', (err: Error) => errors.push(`${job.name}: ${err.message}`));
        w.on('exit', () => {
          active.delete(w);
          start();
          // nothing left to start: cores the finished runs leave free go to the runs still training
          // (a second thread each for their batches), so the slowest run does not finish alone
          if (next >= jobs.length && dynamicThreads) {
            const free = availableParallelism() - active.size;
            if (free >= active.size) for (const a of active) a.postMessage({ type: 'threads', threads: 2 });
          }
          if (active.size === 0 && (next >= jobs.length || opts.signal?.aborted)) finish();
        });
      }
    };
    opts.signal?.addEventListener('abort', () => {
      for (const w of active) w.postMessage({ type: 'stop' });
    });
    start();
    if (active.size === 0) finish();
  });
}
