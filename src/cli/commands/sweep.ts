/**
 * `icl-lab sweep SPEC --out DIR`: a grid of training runs (src/sweep/), on this machine's cores or
 * through a BullMQ + Redis queue (`--queue URL`), with one results table and the sweep's report.
 * `icl-lab sweep status DIR|--queue URL`: where a sweep stands.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { describeFsError } from '../../io/input-file.js';
import { FileFormatError } from '../../io/safetensors.js';
import { addRunOptions, parseJobs, parseProgress, parseThreads } from '../options.js';
import { onInterrupt } from '../signals.js';
import { cliCommand, shellQuote } from '../../command.js';
import { FIELDS, fieldHelp, flagName, parseFlags, type FieldKey } from '../../run/config.js';
import { autoProgressMode, formatDuration, type ProgressMode } from '../../run/progress.js';
import { runLocalSweep } from '../../sweep/local.js';
import { isLiveState, liveTasks, readSubmissions, runSlurmTask, slurmSeconds, squeueStates, submitSlurmSweep, type SlurmOptions } from '../../sweep/slurm.js';
import { readProgress } from '../../run/run-dir.js';
import { describeHolder, LOCK_FILE, lockHolder } from '../../run/lock.js';
import { SHOWN_STATUSES, statusRows, sweepJobCounts } from '../../sweep/status.js';
import { tallyLine } from '../../report/findings.js';
import type { JobView, RedisTarget } from '../../sweep/queue.js';

/** BullMQ and ioredis load only for queue work (they cost a second of start-up on a busy machine). */
const queueModule = () => import('../../sweep/queue.js');
import { sweepProgressOf } from '../../sweep/progress.js';
import { writeResults } from '../../sweep/results.js';
import { expandSweep, specFromFileAndFlags, type SweepRunPlan, type SweepSpec } from '../../sweep/spec.js';
import { isSweepDir, lockSweepDir, prepareSweep, readSweepJson, runState, sweepRuns, type PreparedSweep } from '../../sweep/sweep-dir.js';

interface SweepCliOptions extends Record<string, unknown> {
  out?: string;
  grid: string[];
  zip: string[];
  seeds?: string;
  extend?: boolean;
  jobs?: string;
  threads?: string;
  progress?: string;
  queue?: string;
  wait?: boolean;
  report?: boolean;
  evalSamples?: string;
  evalSeed?: string;
  dryRun?: boolean;
  estimate?: boolean;
  slurm?: boolean;
  maxParallel?: string;
  partition?: string;
  time?: string;
  sbatchArg?: string[];
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function intIn(flag: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (!/^\d+$/.test(s) || Number(s) < lo || Number(s) > hi) throw new UsageError(`${flag} must be an integer in ${lo}..${hi}, got ${JSON.stringify(v)}`);
  return Number(s);
}

function progressMode(v: string | undefined): ProgressMode {
  const p = parseProgress(v);
  return p === 'auto' ? autoProgressMode() : p;
}

/** The spec from a file and/or the flags (sweep/spec.ts specFromFileAndFlags); null when neither is given. */
export function specOf(specPath: string | undefined, opts: SweepCliOptions): SweepSpec | null {
  return specFromFileAndFlags(specPath, parseFlags(opts), opts.grid, opts.zip, opts.seeds);
}

/** The continue command printed at Ctrl-C and by `sweep status` (with --report when the sweep was asked for its report). */
export function continueCommand(dir: string, queue?: RedisTarget, report = false): string {
  return cliCommand(`sweep --out ${shellQuote(dir)}${queue ? ` --queue ${shellQuote(queue.shown)} --wait` : ''}${report ? ' --report' : ''}`);
}

/** The spec and its runs, every combination validated; pure (reads DIR/sweep.json to continue). */
function plan(specPath: string | undefined, opts: SweepCliOptions, out: string): { spec: SweepSpec; runs: SweepRunPlan[]; extend: boolean } {
  const spec = specOf(specPath, opts);
  if (spec === null) {
    if (!isSweepDir(out)) throw new UsageError(`give a spec file or --grid/--seeds flags (--out ${out} holds no sweep to continue)`);
    if (opts.extend) throw new UsageError('--extend needs a spec (a file or --grid flags) with the runs to add');
    const s = readSweepJson(out);
    const runs = sweepRuns(out, s).map((r) => ({ name: r.name, hash: r.hash, config: r.config, vary: r.vary }));
    return { spec: s.specs[s.specs.length - 1]!, runs, extend: false };
  }
  return { spec, runs: expandSweep(spec, specPath ?? 'the --grid/--zip/--seeds flags'), extend: opts.extend === true };
}

async function finishResults(dir: string, opts: SweepCliOptions, log: (s: string) => void): Promise<void> {
  const samples = intIn('--eval-samples', opts.evalSamples, 2, 10_000_000);
  const seed = intIn('--eval-seed', opts.evalSeed, 0, 4_294_967_295);
  log(`sweep: computing the results table (analyze + evaluate at each run's training L)...`);
  const t = writeResults(dir, { ...(samples !== undefined ? { samples } : {}), ...(seed !== undefined ? { seed } : {}) });
  log(`sweep: results: ${t.files.join(', ')} (${t.rows.length} rows, ${t.columns.length} columns; ${t.cached} rows unchanged since the last table)`);
  if (opts.report) {
    const { writeSweepReport } = await import('../../sweep/report.js');
    const r = await writeSweepReport(dir, t.rows, { log });
    log(`sweep: report: ${r.markdown} (${tallyLine(r.findings)})`);
  }
}

export async function sweepAction(specPath: string | undefined, opts: SweepCliOptions): Promise<number> {
  const out = opts.out;
  if (out === undefined || out === '') throw new UsageError('--out DIR is required (the sweep directory: DIR/sweep.json, DIR/runs/<name>, DIR/results.parquet)');
  const mode = progressMode(opts.progress);
  const jobs = parseJobs(opts.jobs);
  const threads = parseThreads(opts.threads);
  intIn('--eval-samples', opts.evalSamples, 2, 10_000_000);
  intIn('--eval-seed', opts.evalSeed, 0, 4_294_967_295);
  const maxParallel = intIn('--max-parallel', opts.maxParallel, 1, 100_000);
  if (!opts.slurm) {
    const stray = ([['--max-parallel', opts.maxParallel], ['--partition', opts.partition], ['--time', opts.time], ['--sbatch-arg', opts.sbatchArg]] as const).find(([, v]) => v !== undefined);
    if (stray) throw new UsageError(`${stray[0]} goes with --slurm (a job array on a Slurm cluster)`);
  } else {
    if (opts.queue !== undefined) throw new UsageError('--slurm and --queue are two ways to run a sweep elsewhere; give one');
    if (jobs !== undefined) throw new UsageError('--jobs is for a local sweep; with --slurm, --max-parallel N caps the array tasks running at once');
    if (opts.time !== undefined) slurmSeconds(opts.time);
  }
  const qm = opts.queue !== undefined ? await queueModule() : undefined;
  const queue = qm && opts.queue !== undefined ? qm.parseQueueUrl(opts.queue) : undefined;
  if (opts.wait && !queue && !opts.slurm) throw new UsageError('--wait goes with --queue or --slurm (a local sweep always waits)');
  if (queue && jobs !== undefined) throw new UsageError(`--jobs is for a local sweep; with --queue start workers: ${cliCommand('worker --queue URL --concurrency N')}`);
  const dir = out;
  if (opts.slurm) {
    const slurm: SlurmOptions = {
      self: [process.execPath, process.argv[1]!].map((x) => resolve(x)),
      ...(maxParallel !== undefined ? { maxParallel } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(opts.partition !== undefined ? { partition: opts.partition } : {}),
      ...(opts.time !== undefined ? { time: opts.time } : {}),
      sbatchArgs: opts.sbatchArg ?? [],
      report: opts.report === true,
      resultsArgs: [...(opts.evalSamples !== undefined ? ['--eval-samples', opts.evalSamples] : []), ...(opts.evalSeed !== undefined ? ['--eval-seed', opts.evalSeed] : [])],
    };
    if (opts.dryRun) return slurmSweep(specPath, opts, dir, slurm, mode);
    const release = lockSweepDir(dir);
    try {
      return await slurmSweep(specPath, opts, dir, slurm, mode);
    } finally {
      release();
    }
  }
  if (opts.dryRun) {
    const spec = specOf(specPath, opts);
    if (spec === null) throw new UsageError('--dry-run needs a spec (a file or --grid/--seeds flags)');
    const runs = expandSweep(spec, specPath ?? 'the --grid/--zip/--seeds flags');
    process.stdout.write(`${runs.length} runs, all valid (nothing created):\n${runs.map((r) => `  ${r.name}  ${r.hash}  ${r.config.steps} steps`).join('\n')}\n`);
    process.stdout.write(`total: ${runs.reduce((n, r) => n + r.config.steps, 0).toLocaleString('en-US')} steps over ${runs.length} run(s)\n`);
    if (opts.estimate === false) return 0;
    const { estimateSweep } = await import('../../sweep/estimate.js');
    const e = estimateSweep(runs, { ...(jobs !== undefined && !queue ? { parallel: jobs } : {}) });
    process.stdout.write(estimateText(e, queue !== undefined));
    return 0;
  }
  plan(specPath, opts, dir); // every combination validated before anything else (and again under the lease)
  if (qm && queue) await qm.probeRedis(queue); // and Redis reachable before anything is created
  const release = lockSweepDir(dir); // one sweep at a time on DIR, for the whole command
  try {
    return await leasedSweep(specPath, opts, dir, mode, jobs, threads, queue);
  } catch (err) {
    throw explainSweepWriteError(err, dir, opts, queue);
  } finally {
    release();
  }
}

/** The sweep once its lease on DIR is held: DIR/sweep.json and the run directories, then the training here or the queue's jobs. */
async function leasedSweep(specPath: string | undefined, opts: SweepCliOptions, dir: string, mode: ProgressMode, jobs: number | undefined, threads: 1 | 2 | undefined, queue: RedisTarget | undefined): Promise<number> {
  const out = dir;
  const planned = plan(specPath, opts, dir); // under the lease: the sweep.json another sweep may have just written
  const p = prepareSweep(dir, planned.spec, planned.runs, planned.extend);
  const log = (s: string) => process.stderr.write(s + '\n');
  if (p.added.length > 0) log(`sweep: ${p.added.length} run(s) ${p.added.length === p.runs.length ? 'created' : 'added'} in ${join(dir, 'runs')}`);

  if (queue) return queueSweep(p, queue, opts, mode, log);

  const controller = new AbortController();
  const removeInterrupt = onInterrupt((sig) => {
    log(`\nicl-lab: ${sig}: stopping every run at a checkpoint (again to quit at once)`);
    controller.abort();
  });
  let res;
  try {
    res = await runLocalSweep(p, { progress: mode, signal: controller.signal, ...(jobs !== undefined ? { jobs } : {}), ...(threads !== undefined ? { threads } : {}) });
  } finally {
    removeInterrupt();
  }
  const trained = res.summaries.filter((s) => s.status === 'completed').length;
  if (res.interrupted) {
    const left = res.summaries.filter((s) => s.status === 'interrupted').length;
    log(`sweep: interrupted; ${left} run(s) stopped at a checkpoint. Continue with:\n  ${continueCommand(out, undefined, opts.report === true)}`);
    return 130;
  }
  log(`sweep: ${trained} run(s) trained, ${res.skipped.length} already finished, ${res.failed.length} failed; ${formatDuration(res.wallSeconds)} wall`);
  await finishResults(dir, opts, log);
  return res.failed.length > 0 ? 1 : 0;
}

/**
 * A system error during a sweep as one line (as `train` does, run/runs.ts): a full disk names DIR,
 * says to free space, and gives the command that continues the sweep (every run keeps its last
 * checkpoint); no permission, a read-only file system: the path and what to do.
 */
function explainSweepWriteError(err: unknown, dir: string, opts: SweepCliOptions, queue?: RedisTarget): unknown {
  if (err instanceof UsageError || err instanceof FileFormatError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const path = (err as NodeJS.ErrnoException).path ?? dir; // a write(2) error names no path: the sweep directory
  const msg = describeFsError(err, path, 'write');
  if (!msg) return err;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const what = code === 'ENOSPC' ? 'no space left on the device' : 'disk quota exceeded';
    return new UsageError(`${dir}: ${what} during the sweep; free some space (or move the sweep elsewhere); every run keeps its last checkpoint: continue with ${continueCommand(dir, queue, opts.report === true)}`, 1);
  }
  return new UsageError(msg);
}

/** The total steps and the time estimate of `sweep --dry-run` (sweep/estimate.ts). */
function estimateText(e: import('../../sweep/estimate.js').SweepEstimate, queue: boolean): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const about = (x: number) => (x < 10 ? `${x.toFixed(1)}s` : formatDuration(x));
  const timed = e.shapes.filter((s) => s.timed).length;
  return [
    `estimate: ${about(e.wallSeconds)} of training here with ${e.parallel} run(s) at a time, one thread each (${about(e.cpuSeconds)} of one core in all); ` +
      `this machine: ${e.cores} core(s); ${timed} model shape(s) timed by the bench for ${e.secondsPerShape} s each${e.shapes.length > timed ? `, ${e.shapes.length - timed} scaled from them` : ''}:`,
    ...e.shapes.map((s) => `  ${s.label}: ${n(Math.round(s.stepsPerSecond))} steps/s${s.timed ? '' : ' (scaled)'}, ${s.runs} run(s), ${n(s.steps)} steps`),
    `(an estimate: the training step alone, on this machine under its present load; logging, checkpoints, the results table and the report come on top${queue ? '; with --queue the time depends on the workers\' machines and how many there are' : ''})`,
  ].join('\n') + '\n';
}

/** `sweep --slurm`: DIR/slurm/ scripts, sbatch, and with --wait the sweep's progress until the results job ends. */
async function slurmSweep(specPath: string | undefined, opts: SweepCliOptions, dir: string, o: SlurmOptions, mode: ProgressMode): Promise<number> {
  const log = (s: string) => process.stderr.write(s + '\n');
  const planned = plan(specPath, opts, dir);
  if (opts.dryRun) {
    // the runs' states without creating anything: all to do in a new DIR
    const p = isSweepDir(dir) && readSweepJson(dir).runs.length === planned.runs.length
      ? { dir, sweep: readSweepJson(dir), added: [], runs: sweepRuns(dir).map((r) => ({ ...r, state: runState(r.dir) })) }
      : { dir, sweep: { id: '<sweep id>' } as PreparedSweep['sweep'], added: [], runs: planned.runs.map((r) => ({ ...r, dir: join(resolve(dir), 'runs', r.name), state: { kind: 'todo' as const, step: 0, steps: 0 } })) };
    const r = submitSlurmSweep(p as PreparedSweep, o, true);
    process.stdout.write(`# ${dir}/slurm/array.sh (${r.scripts.indices.length} of ${p.runs.length} runs; nothing written or submitted)\n${r.scripts.array ?? '# (every run completed or queued: no array)\n'}\n# ${dir}/slurm/results.sh\n${r.scripts.results}`);
    return 0;
  }
  const p = prepareSweep(dir, planned.spec, planned.runs, planned.extend);
  if (p.added.length > 0) log(`sweep: ${p.added.length} run(s) ${p.added.length === p.runs.length ? 'created' : 'added'} in ${join(dir, 'runs')}`);
  const r = submitSlurmSweep(p, o);
  const done = p.runs.filter((x) => x.state.kind !== 'todo').length;
  const s = r.submission;
  log(`sweep: slurm: ${s.array_job !== null ? `job array ${s.array_job} (${s.indices.length} task(s), scripts in ${join(dir, 'slurm')})` : 'no job array (nothing left to train)'}, ` +
    `results job ${s.results_job} after it; ${r.queued.length} run(s) already queued, ${done} already finished`);
  process.stdout.write(`${s.array_job ?? '-'} ${s.results_job}\n`);
  if (!opts.wait) {
    log(`sweep: watch it with: ${cliCommand(`sweep status ${shellQuote(dir)}`)}   (or: squeue -j ${[s.array_job, s.results_job].filter((x) => x !== null).join(',')})`);
    return 0;
  }
  const display = sweepProgressOf(mode, p.runs);
  const controller = new AbortController();
  const removeInterrupt = onInterrupt(() => controller.abort());
  const pending = new Set(p.runs.filter((x) => x.state.kind === 'todo').map((x) => x.name));
  let resultsState = 'PENDING';
  try {
    while (!controller.signal.aborted) {
      for (const x of p.runs.filter((y) => pending.has(y.name))) {
        const st = runState(x.dir);
        if (st.kind !== 'todo') {
          pending.delete(x.name);
          display.finish(x.name, st.kind === 'completed' ? 'done' : 'failed', st.step);
          display.note(`[${x.name}] ${st.kind} at step ${st.step}`);
          continue;
        }
        const pr = readProgress(x.dir);
        if (pr) display.update(x.name, { step: pr.step, total: pr.steps, stepsPerSecond: pr.steps_per_second });
      }
      resultsState = squeueStates([s.results_job]).find((j) => j.id === s.results_job)?.state ?? 'GONE';
      if (!isLiveState(resultsState)) break;
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    removeInterrupt();
    display.stop();
  }
  if (controller.signal.aborted) {
    log(`sweep: stopped waiting; the jobs keep going on the cluster. Watch them with: ${cliCommand(`sweep status ${shellQuote(dir)}`)}`);
    return 130;
  }
  const states = p.runs.map((x) => runState(x.dir));
  const unfinished = states.filter((x) => x.kind === 'todo').length;
  const failedRuns = states.filter((x) => x.kind === 'failed').length;
  log(`sweep: slurm jobs ended (results job ${s.results_job}: ${resultsState}); ${states.length - unfinished - failedRuns} run(s) completed, ${failedRuns} failed, ${unfinished} unfinished` +
    (unfinished > 0 ? `; submit them again with: ${cliCommand(`sweep --out ${shellQuote(dir)} --slurm`)}` : ''));
  if (resultsState === 'COMPLETED') log(`sweep: results: ${join(dir, 'results.parquet')}, ${join(dir, 'results.csv')}${o.report ? `, ${join(dir, 'report')}` : ''}`);
  else log(`sweep: the results job did not complete; see ${join(dir, 'slurm', 'logs', `results-${s.results_job}.out`)}`);
  return unfinished + failedRuns > 0 || resultsState !== 'COMPLETED' ? 1 : 0;
}

/** `icl-lab sweep task DIR INDEX` (one Slurm array task) */
async function taskAction(dir: string, index: string, o: { threads?: string }): Promise<number> {
  const i = intIn('INDEX', index, 0, 10_000_000)!;
  if (o.threads !== undefined && o.threads !== '1' && o.threads !== '2') throw new UsageError(`--threads must be 1 or 2, got ${JSON.stringify(o.threads)}`);
  const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
  const controller = new AbortController();
  const remove = onInterrupt((sig) => {
    log(`${sig}: checkpointing`);
    controller.abort();
  });
  try {
    const r = await runSlurmTask(dir, i, { signal: controller.signal, log, ...(o.threads !== undefined ? { threads: Number(o.threads) as 1 | 2 } : {}) });
    log(r.message);
    return r.summary?.status === 'failed' ? 1 : 0;
  } finally {
    remove();
  }
}

async function queueSweep(p: PreparedSweep, t: RedisTarget, opts: SweepCliOptions, mode: ProgressMode, log: (s: string) => void): Promise<number> {
  const { enqueueSweep, jobViews, openQueue } = await queueModule();
  const q = openQueue(t, log);
  try {
    const e = await enqueueSweep(q, p);
    log(`sweep: queue ${t.shown}: ${e.added.length} job(s) added, ${e.present.length} already queued, ${e.retried.length} failed job(s) retried, ${e.finished.length} run(s) already finished`);
    if (!opts.wait) {
      log(`sweep: start workers on machines that see ${p.dir}:\n  ${cliCommand(`worker --queue ${shellQuote(t.shown)}`)}${t.shown.includes('***') ? ` (with the password in the URL or in $ICL_LAB_REDIS_PASSWORD)` : ''}\nthen: ${cliCommand(`sweep status ${shellQuote(p.dir)} --queue ${shellQuote(t.shown)}`)}\n      ${cliCommand(`sweep --out ${shellQuote(p.dir)} --queue ${shellQuote(t.shown)} --wait`)}   (waits, then writes the results table)`);
      return 0;
    }
    const display = sweepProgressOf(mode, p.runs);
    const controller = new AbortController();
    const removeInterrupt = onInterrupt(() => controller.abort());
    const pending = new Set(p.runs.filter((r) => r.state.kind === 'todo').map((r) => r.name));
    const failed: string[] = [];
    try {
      while (pending.size > 0 && !controller.signal.aborted) {
        const runs = p.runs.filter((r) => pending.has(r.name));
        const views = await jobViews(q, p.sweep.id, runs);
        views.forEach((v: JobView | null, i) => {
          const r = runs[i]!;
          if (v === null || v.state === 'completed') {
            // a finished job (or none at all): the run directory says how it ended
            const s = runState(r.dir);
            pending.delete(r.name);
            display.finish(r.name, s.kind === 'completed' ? 'done' : 'failed', s.step);
            if (s.kind !== 'completed') failed.push(r.name);
            display.note(`[${r.name}] ${s.kind === 'todo' ? `${v === null ? 'no job in the queue' : 'job finished'} but the run is not finished (step ${s.step}); enqueue the sweep again` : s.kind}`);
          } else if (v.state === 'failed') {
            pending.delete(r.name);
            failed.push(r.name);
            display.finish(r.name, 'failed');
            display.note(`[${r.name}] job failed: ${v.failedReason ?? 'unknown reason'}`);
          } else if (v.state === 'active') {
            display.update(r.name, v);
          } else {
            display.finish(r.name, 'queued', v.step);
          }
        });
        if (pending.size > 0) await new Promise((res) => setTimeout(res, 500));
      }
    } finally {
      removeInterrupt();
      display.stop();
    }
    if (controller.signal.aborted) {
      log(`sweep: stopped waiting; the ${pending.size} unfinished job(s) stay in the queue and the workers keep going. Wait again with:\n  ${continueCommand(p.dir, t, opts.report === true)}`);
      return 130;
    }
    await finishResults(p.dir, opts, log);
    return failed.length > 0 ? 1 : 0;
  } finally {
    await q.close();
  }
}

/** `icl-lab sweep status DIR [--queue URL]` */
export async function statusAction(dir: string | undefined, opts: { queue?: string; json?: boolean }): Promise<void> {
  if (dir === undefined && opts.queue === undefined) throw new UsageError('sweep status needs a sweep directory, --queue URL, or both');
  const qm = opts.queue !== undefined ? await queueModule() : undefined;
  const t = qm && opts.queue !== undefined ? qm.parseQueueUrl(opts.queue) : undefined;
  if (qm && t) await qm.probeRedis(t);
  const lines: string[] = [];
  const json: Record<string, unknown> = {};
  const q = qm && t ? qm.openQueue(t) : undefined;
  const countsText = (c: Record<string, number>) => ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'].map((k) => `${c[k] ?? 0} ${k}`).join(', ');
  try {
    let sweepCounts: Record<string, number> | null = null;
    if (dir !== undefined) {
      const s = readSweepJson(dir);
      const runs = sweepRuns(dir, s);
      const views = qm && q ? await qm.jobViews(q, s.id, runs) : runs.map(() => null);
      const subs = readSubmissions(dir);
      const slurm = subs.length > 0 ? liveTasks(dir) : null; // squeue's view of the array tasks
      const rows = statusRows(runs, views, slurm, {
        continueCommand: `${continueCommand(dir, t)}${slurm ? ' --slurm' : ''}`,
        workerCommand: t ? cliCommand(`worker --queue ${shellQuote(t.shown)}`) : null,
      });
      const count = (k: string) => rows.filter((r) => r.status === k).length;
      const step = rows.reduce((n, r) => n + r.step, 0);
      const steps = rows.reduce((n, r) => n + r.steps, 0);
      json.dir = dir;
      json.counts = Object.fromEntries(SHOWN_STATUSES.map((k) => [k, count(k)]));
      json.step = step;
      json.steps = steps;
      json.runs = rows;
      const shown = SHOWN_STATUSES.filter((k) => k === 'completed' || k === 'running' || k === 'failed' || count(k) > 0);
      lines.push(`${dir}: ${rows.length} runs: ${shown.map((k) => `${count(k)} ${k}`).join(', ')}; ${((100 * step) / Math.max(1, steps)).toFixed(1)}% of ${steps} steps`);
      const w = Math.max(4, ...rows.map((r) => r.name.length));
      if (slurm) {
        const last = subs[subs.length - 1]!;
        const rs = squeueStates([last.results_job]).find((j) => j.id === last.results_job);
        json.slurm = { submissions: subs, results_job_state: rs?.state ?? null };
        lines.push(`slurm: ${subs.length} submission(s); last: job array ${last.array_job ?? '-'} (${last.indices.length} task(s)), results job ${last.results_job} ${rs ? rs.state.toLowerCase() : '(no longer in squeue)'}; ${slurm.size} task(s) pending or running`);
      }
      lines.push(`  ${'run'.padEnd(w)}  ${'status'.padEnd(11)}  ${'step'.padStart(19)}  ${'loss'.padStart(8)}${q ? '  job' : ''}${slurm ? '  slurm' : ''}`);
      for (const r of rows) {
        const loss = r.loss === null ? '-' : Number(r.loss).toFixed(4);
        const job = q ? `  ${r.job ?? '-'}` : '';
        const sl = slurm ? `  ${r.slurm ? `${r.slurm.job} ${r.slurm.state.toLowerCase()}${r.slurm.reason && r.slurm.reason !== 'None' ? ` (${r.slurm.reason})` : ''}` : '-'}` : '';
        lines.push(`  ${r.name.padEnd(w)}  ${r.status.padEnd(11)}  ${`${r.step}/${r.steps}`.padStart(19)}  ${loss.padStart(8)}${job}${sl}`);
      }
      for (const r of rows) if (r.hint) lines.push(`${r.name} stalled: ${r.hint}`);
      // a sweep command holding DIR's lease (lockSweepDir) is carrying the sweep on: nothing to continue
      const holder = lockHolder(dir);
      json.sweep_process = holder ? { pid: holder.pid, host: holder.host } : null;
      if (holder) lines.push(`${describeHolder(holder)} is running this sweep (lock ${join(dir, LOCK_FILE)}); it carries the unfinished runs on`);
      else if (count('completed') + count('failed') < rows.length && !(slurm && slurm.size > 0)) lines.push(`continue: ${continueCommand(dir, t)}${slurm ? ' --slurm' : ''}`);
      if (q) sweepCounts = sweepJobCounts(rows);
    }
    if (q && t) {
      const all = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
      json.queue = { url: t.shown, ...(sweepCounts ? { sweep: sweepCounts } : {}), all };
      if (sweepCounts) {
        const extra = [
          ...(sweepCounts.stalled! > 0 ? [`${sweepCounts.stalled} of the active stalled`] : []),
          ...(sweepCounts.corrupt ? [`${sweepCounts.corrupt} corrupt`] : []),
          ...(sweepCounts.none! > 0 ? [`${sweepCounts.none} run(s) without a job`] : []),
        ];
        lines.push(`queue ${t.shown}: this sweep's jobs: ${countsText(sweepCounts)}${extra.length ? `; ${extra.join(', ')}` : ''}`);
        lines.push(`queue ${t.shown}: every sweep on it: ${countsText(all)}`);
      } else lines.push(`queue ${t.shown}: every sweep on it: ${countsText(all)}`);
      if (dir === undefined) {
        for (const j of await q.getActive()) {
          const pr = (j.progress ?? {}) as { step?: number; total?: number; stepsPerSecond?: number };
          lines.push(`  active ${j.name}: step ${pr.step ?? 0}/${pr.total ?? '?'} (${pr.stepsPerSecond ?? 0} steps/s) ${j.data.dir}`);
        }
      }
    }
  } finally {
    await q?.close();
  }
  process.stdout.write(opts.json ? JSON.stringify(json) + '\n' : lines.join('\n') + '\n');
}

export function register(program: Command): void {
  const cmd = program
    .command('sweep')
    .argument('[spec]', 'YAML or JSON file: base: (train settings), grid: (field: [values], Cartesian product), zip: (fields varied together), seeds: (N or a list)')
    .description(
      'train a grid of runs into DIR/runs/<name> (one worker thread per core, or on a BullMQ + Redis queue with --queue), ' +
        'then write DIR/results.parquet + results.csv (one row per run). Running it again continues: completed runs are skipped, ' +
        'interrupted ones resume from their checkpoints. `icl-lab sweep --out DIR` alone continues the sweep recorded in DIR/sweep.json.',
    );
  cmd.option('--out <dir>', '[path] sweep directory (DIR/sweep.json, DIR/runs/<name>, DIR/results.parquet); with --queue a path every worker sees');
  cmd.option('--grid <field=values>', '[field=v1,v2,...] one grid axis, e.g. heads=1,2,4 (repeatable; Cartesian product)', collect);
  cmd.option('--zip <field=values>', '[field=v1,v2,...] fields varied together, e.g. --zip d=3,5 --zip lr=1e-3,5e-4 (repeatable; same lengths)', collect);
  cmd.option('--seeds <n|list>', '[int|int,int...] N seeds (the base --seed, default 1024, then +1, +2, ...) or a list of seeds');
  cmd.option('--extend', '[flag] add the spec\'s new runs to the sweep already in --out (otherwise a changed spec is refused)');
  addRunOptions(cmd, { what: 'sweep progress' });
  cmd.option('--queue <url>', '[redis://HOST:PORT] enqueue one job per run on this Redis (BullMQ) instead of training here; password in the URL or $ICL_LAB_REDIS_PASSWORD');
  cmd.option('--wait', '[flag] with --queue or --slurm: show the sweep\'s progress until every job is done, then write the results table');
  cmd.option('--report', '[flag] also write the sweep report (DIR/report: figures, findings.json, report.md)');
  cmd.option('--eval-samples <n>', '[int] prompts for the kernel gap and the MSE columns of the results table (default: 10000, as analyze / evaluate)');
  cmd.option('--eval-seed <n>', '[int] seed of those prompts (default: 0, as analyze / evaluate)');
  cmd.option('--slurm', '[flag] submit a Slurm job array (one task per run not completed; scripts in DIR/slurm/) and a results job after it, instead of training here');
  cmd.option('--max-parallel <n>', '[int] with --slurm: array tasks running at once (the %N throttle)');
  cmd.option('--partition <name>', '[name] with --slurm: the partition (sbatch --partition)');
  cmd.option('--time <limit>', '[MINUTES|HH:MM:SS|D-HH:MM:SS] with --slurm: time limit per array task; a task gets SIGTERM before it, checkpoints and requeues itself');
  cmd.option('--sbatch-arg <arg>', '[--opt=value] with --slurm: one more sbatch option for both jobs, e.g. --sbatch-arg=--account=abc (repeatable)', collect);
  cmd.option('--dry-run', '[flag] validate the spec, list the runs with their steps, the total steps and a time estimate for this machine (the bench times each model shape of the grid for a few tenths of a second); create nothing');
  cmd.option('--no-estimate', '[flag] with --dry-run: list the runs and the total steps without timing anything');
  for (const f of FIELDS) {
    const flag = flagName(f.key);
    if (f.kind === 'bool') {
      cmd.option(flag, `${fieldHelp(f)} (base setting of every run)`);
      cmd.option(`--no-${flag.slice(2)}`, `[flag] turn ${flag} off`);
    } else {
      const arg = f.arg ?? (f.list ? '<list>' : f.kind === 'enum' ? '<name>' : '<n>');
      cmd.option(`${flag} ${arg}`, `${fieldHelp(f)} (base setting of every run${f.list ? '; a list is a grid axis' : ''})`);
    }
  }
  cmd.action(async (spec: string | undefined, opts: SweepCliOptions) => {
    process.exitCode = await sweepAction(spec, { ...opts, grid: opts.grid ?? [], zip: opts.zip ?? [] });
  });
  cmd
    .command('task')
    .argument('<dir>', 'sweep directory')
    .argument('<index>', 'the run\'s index in DIR/sweep.json ($SLURM_ARRAY_TASK_ID)')
    .description('train one run of a sweep from its checkpoint: what each Slurm array task of `sweep --slurm` runs; SIGTERM checkpoints and, while the job still runs, requeues it')
    .option('--threads <n>', '[1|2] threads for the run')
    .action(async (dir: string, index: string, _o: unknown, c: Command) => {
      process.exitCode = await taskAction(dir, index, c.optsWithGlobals() as { threads?: string });
    });
  cmd
    .command('finish')
    .argument('<dir>', 'sweep directory')
    .description('write DIR/results.parquet + results.csv (and with --report the sweep report): the job that `sweep --slurm` runs after the array')
    .option('--report', '[flag] also write the sweep report')
    .option('--eval-samples <n>', '[int] prompts for the kernel gap and MSE columns (default: 10000)')
    .option('--eval-seed <n>', '[int] seed of those prompts (default: 0)')
    .action(async (dir: string, _o: unknown, c: Command) => {
      const o = c.optsWithGlobals() as SweepCliOptions;
      const log = (s: string) => process.stderr.write(s + '\n');
      const left = sweepRuns(dir).filter((r) => runState(r.dir).kind === 'todo').map((r) => r.name);
      if (left.length > 0) log(`sweep: ${left.length} run(s) not finished (${left.slice(0, 3).join(', ')}${left.length > 3 ? ', ...' : ''}); the table holds the others. Submit them again with: ${cliCommand(`sweep --out ${shellQuote(dir)} --slurm`)}`);
      await finishResults(dir, o, log);
    });
  cmd
    .command('status')
    .argument('[dir]', 'sweep directory')
    .description('where a sweep stands: runs completed / running / waiting / failed (from DIR), and the queue\'s jobs (with --queue)')
    .option('--queue <url>', '[redis://HOST:PORT] also show the jobs in this queue')
    .option('--json', '[flag] print JSON')
    .action(async (dir: string | undefined, _o: unknown, c: Command) => {
      // --queue is also an option of `sweep` itself: commander may hand it to the parent
      await statusAction(dir, c.optsWithGlobals() as { queue?: string; json?: boolean });
    });
}


