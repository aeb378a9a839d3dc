/**
 * Sweeps on a Slurm cluster: Slurm is the engine and the shared file system the state.
 *
 *   DIR/slurm/array.sh     the job array: one task per run not yet completed, its array index the
 *                          run's position in sweep.json; `%N` throttle, --requeue, --signal=TERM@S
 *   DIR/slurm/results.sh   a job that depends on the array (afterany) and writes the results table
 *   DIR/slurm/jobs.json    every submission: array job id, results job id, the indices submitted
 *   DIR/slurm/logs/        the tasks' stdout/stderr (%A_%a.out)
 *
 * Each array task runs `icl-lab sweep task DIR INDEX`: one run through the ordinary run session
 * (start = resume from its checkpoint), so a preempted, requeued or killed task continues
 * bit-identically. SIGTERM (the --signal warning before the time limit, or `scancel --signal=TERM`)
 * checkpoints; while Slurm still counts the job as running the task then requeues itself. A plain
 * `scancel` (the job already CANCELLED) is not requeued.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { FileFormatError } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { shellQuote } from '../command.js';
import { type RunSummary } from '../run/run.js';
import { executeRuns } from '../run/runs.js';
import { readSweepJson, runDirOf, runState, type PreparedSweep } from './sweep-dir.js';

export const SLURM_DIR = 'slurm';

/** A Slurm problem the user must fix (no sbatch, a refused job): one line, exit 1. */
export class SlurmError extends UsageError {
  override name = 'SlurmError';
  constructor(message: string) {
    super(message, 1);
  }
}

export interface SlurmOptions {
  /** The command that starts this icl-lab: [node, main.js] (absolute; the nodes see the same paths). */
  self: string[];
  maxParallel?: number;
  threads?: 1 | 2;
  partition?: string;
  /** --time as Slurm takes it (minutes, MM:SS, HH:MM:SS, D-HH...). */
  time?: string;
  sbatchArgs: string[];
  report: boolean;
  /** Extra arguments of the results job (--eval-samples N, --eval-seed N). */
  resultsArgs: string[];
}

export interface SlurmSubmission {
  array_job: string | null;
  results_job: string;
  indices: number[];
  submitted_at: string;
}

/** Seconds of a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS); UsageError otherwise. */
export function slurmSeconds(t: string): number {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t.trim());
  if (!m) throw new UsageError(`--time must be a Slurm time limit (MINUTES, MM:SS, HH:MM:SS or D-HH:MM:SS), got ${JSON.stringify(t)}`);
  const [d, a, b, c] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)));
  let s: number;
  if (d !== undefined) s = d * 86400 + a! * 3600 + (b ?? 0) * 60 + (c ?? 0);
  else if (c !== undefined) s = a! * 3600 + b! * 60 + c;
  else if (b !== undefined) s = a! * 60 + b;
  else s = a! * 60;
  if (s <= 0) throw new UsageError(`--time must be positive, got ${JSON.stringify(t)}`);
  return s;
}

/** Seconds before the time limit at which a task gets SIGTERM: 120, or a quarter of a shorter limit. */
export function signalSeconds(time: string | undefined): number {
  if (time === undefined) return 120;
  return Math.max(5, Math.min(120, Math.floor(slurmSeconds(time) / 4)));
}

/** `0,2,5-7` */
export function arraySpec(indices: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length; i++) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    parts.push(j > i ? `${indices[i]}-${indices[j]}` : String(indices[i]));
    i = j;
  }
  return parts.join(',');
}

const q = shellQuote;

export interface SlurmScripts {
  indices: number[];
  array: string | null;
  results: string;
}

/** The two batch scripts for the runs of `p` not yet completed (array null when none is left). */
export function slurmScripts(p: PreparedSweep, o: SlurmOptions, skip: ReadonlySet<number> = new Set()): SlurmScripts {
  const dir = resolve(p.dir);
  const logs = join(dir, SLURM_DIR, 'logs');
  const name = `icl-lab-${p.sweep.id}`;
  const indices = p.runs.map((r, i) => ({ r, i })).filter(({ r, i }) => r.state.kind === 'todo' && !skip.has(i)).map(({ i }) => i);
  const common = [
    ...(o.partition !== undefined ? [`#SBATCH --partition=${o.partition}`] : []),
    ...o.sbatchArgs.map((a) => `#SBATCH ${a}`),
  ];
  const self = o.self.map(q).join(' ');
  const array = indices.length === 0 ? null : [
    '#!/bin/bash',
    `#SBATCH --job-name=${name}`,
    `#SBATCH --array=${arraySpec(indices)}${o.maxParallel !== undefined ? `%${o.maxParallel}` : ''}`,
    `#SBATCH --cpus-per-task=${o.threads ?? 1}`,
    '#SBATCH --ntasks=1',
    '#SBATCH --requeue',
    `#SBATCH --signal=B:TERM@${signalSeconds(o.time)}`, // B: the batch shell, which is icl-lab itself (exec)
    ...(o.time !== undefined ? [`#SBATCH --time=${o.time}`] : []),
    `#SBATCH --output=${logs}/%A_%a.out`,
    '#SBATCH --open-mode=append',
    ...common,
    `# icl-lab sweep ${p.sweep.id}: one run of ${dir}/sweep.json per array task (its index there)`,
    `exec ${self} sweep task ${q(dir)} "$SLURM_ARRAY_TASK_ID"${o.threads !== undefined ? ` --threads ${o.threads}` : ''}`,
    '',
  ].join('\n');
  const results = [
    '#!/bin/bash',
    `#SBATCH --job-name=${name}-results`,
    '#SBATCH --cpus-per-task=1',
    '#SBATCH --ntasks=1',
    `#SBATCH --output=${logs}/results-%j.out`,
    ...common,
    `# after every array task: the results table${o.report ? ' and the sweep report' : ''}`,
    `exec ${self} sweep finish ${q(dir)}${o.report ? ' --report' : ''}${o.resultsArgs.map((a) => ` ${q(a)}`).join('')}`,
    '',
  ].join('\n');
  return { indices, array, results };
}

function slurmCommand(bin: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new SlurmError(`${bin} is not on PATH: --slurm needs Slurm's client commands (sbatch, squeue); run it on a login node of the cluster`);
  }
  if (r.error) throw new SlurmError(`${bin} failed: ${r.error.message}`);
  return { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '(no message)';
}

function sbatch(args: string[], what: string): string {
  const r = slurmCommand('sbatch', ['--parsable', ...args]);
  if (r.code !== 0) throw new SlurmError(`sbatch refused the ${what} (exit ${r.code}): ${firstLine(r.stderr)}`);
  const id = firstLine(r.stdout).split(';')[0]!;
  if (!/^\d+$/.test(id)) throw new SlurmError(`sbatch printed no job id for the ${what}: ${firstLine(r.stdout)}`);
  return id;
}

export function submissionsPath(dir: string): string {
  return join(dir, SLURM_DIR, 'jobs.json');
}

/** DIR/slurm/jobs.json, checked field by field: a damaged one is a FileFormatError naming the file and the field. */
export function readSubmissions(dir: string): SlurmSubmission[] {
  const path = submissionsPath(dir);
  if (!existsSync(path)) return [];
  const bad = (what: string): never => {
    throw new FileFormatError(`${what}; the file is damaged (it lists the sweep's Slurm submissions: restore it, or remove it once squeue shows none of the sweep's jobs)`, path);
  };
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    return bad(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const subs = (obj as { submissions?: unknown } | null)?.submissions;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || !Array.isArray(subs)) return bad('not an icl-lab jobs.json (an object with a list "submissions")');
  const job = /^\d+$/;
  for (const [i, x] of (subs as unknown[]).entries()) {
    const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
    if (typeof x !== 'object' || x === null) bad(`submissions[${i}] is ${JSON.stringify(x)}; expected an object`);
    if (!(o.array_job === null || (typeof o.array_job === 'string' && job.test(o.array_job)))) bad(`submissions[${i}].array_job is ${JSON.stringify(o.array_job)}; expected a Slurm job id or null`);
    if (typeof o.results_job !== 'string' || !job.test(o.results_job)) bad(`submissions[${i}].results_job is ${JSON.stringify(o.results_job)}; expected a Slurm job id`);
    if (!Array.isArray(o.indices) || !o.indices.every((k) => Number.isSafeInteger(k) && (k as number) >= 0)) bad(`submissions[${i}].indices is ${JSON.stringify(o.indices)?.slice(0, 40)}; expected a list of run indices`);
    if (typeof o.submitted_at !== 'string') bad(`submissions[${i}].submitted_at is ${JSON.stringify(o.submitted_at)}; expected a date string`);
  }
  return subs as SlurmSubmission[];
}

export interface SlurmJobState {
  /** "A" for a job, "A_i" for an array task. */
  id: string;
  state: string;
  reason: string;
}

/** squeue's view of these jobs (array tasks one a line), finished ones included while Slurm remembers them. */
export function squeueStates(jobs: readonly string[]): SlurmJobState[] {
  if (jobs.length === 0) return [];
  const r = slurmCommand('squeue', ['--states=all', '-h', '-r', '-j', jobs.join(','), '-o', '%i|%T|%r']);
  if (r.code !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return []; // every one forgotten already
    throw new SlurmError(`squeue failed (exit ${r.code}): ${firstLine(r.stderr)}`);
  }
  return r.stdout.split('\n').filter((l) => l.includes('|')).map((l) => {
    const [id, state, reason] = l.split('|');
    return { id: id!, state: state!, reason: reason ?? '' };
  });
}

const LIVE = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING', 'STOPPED']);
export const isLiveState = (s: string): boolean => LIVE.has(s);

/** Array index -> the live Slurm state of its task over every earlier submission (pending, running, ...). */
export function liveTasks(dir: string): Map<number, SlurmJobState> {
  const subs = readSubmissions(dir).filter((s) => s.array_job !== null);
  const out = new Map<number, SlurmJobState>();
  if (subs.length === 0) return out;
  const states = squeueStates(subs.map((s) => s.array_job!));
  for (const s of subs) {
    for (const i of s.indices) {
      // a pending array keeps its not-yet-split tasks in one line "A_[3-5%2]"
      const st = states.find((x) => x.id === `${s.array_job}_${i}`) ??
        states.find((x) => x.id.startsWith(`${s.array_job}_[`) && inBracket(x.id.slice(s.array_job!.length + 2, -1), i));
      if (st && isLiveState(st.state)) out.set(i, st);
    }
  }
  return out;
}

function inBracket(spec: string, i: number): boolean {
  return spec.split('%')[0]!.split(',').some((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? a === i : i >= a! && i <= b;
  });
}

export interface SlurmSubmitResult {
  scripts: SlurmScripts;
  /** Runs whose array task is already pending or running (not submitted again). */
  queued: number[];
  submission: SlurmSubmission;
}

/**
 * Write DIR/slurm/ and submit: the array (runs not completed and not already queued) and the
 * results job after it. `dryRun`: write nothing, submit nothing (the scripts are returned).
 */
export function submitSlurmSweep(p: PreparedSweep, o: SlurmOptions, dryRun = false): SlurmSubmitResult {
  const live = dryRun && !existsSync(submissionsPath(p.dir)) ? new Map<number, SlurmJobState>() : liveTasks(p.dir);
  const scripts = slurmScripts(p, o, new Set(live.keys()));
  const stamp = new Date().toISOString();
  if (dryRun) return { scripts, queued: [...live.keys()], submission: { array_job: null, results_job: '', indices: scripts.indices, submitted_at: stamp } };
  const sdir = join(p.dir, SLURM_DIR);
  mkdirSync(join(sdir, 'logs'), { recursive: true });
  const arrayPath = join(sdir, 'array.sh');
  const resultsPath = join(sdir, 'results.sh');
  if (scripts.array !== null) writeFileAtomic(arrayPath, scripts.array);
  writeFileAtomic(resultsPath, scripts.results);
  const arrayJob = scripts.array !== null ? sbatch([arrayPath], 'job array') : null;
  const after = [...(arrayJob !== null ? [arrayJob] : []), ...new Set([...live.values()].map((s) => s.id.split('_')[0]!))];
  const resultsJob = sbatch([...(after.length > 0 ? [`--dependency=afterany:${after.join(':')}`] : []), resultsPath], 'results job');
  const submission: SlurmSubmission = { array_job: arrayJob, results_job: resultsJob, indices: scripts.indices, submitted_at: stamp };
  writeFileAtomic(submissionsPath(p.dir), JSON.stringify({ submissions: [...readSubmissions(p.dir), submission] }, null, 2) + '\n');
  return { scripts, queued: [...live.keys()], submission };
}

/** The job's state as Slurm sees it now ('' when squeue cannot tell). */
function ownState(jobId: string): string {
  try {
    const r = slurmCommand('squeue', ['-h', '-j', jobId, '-o', '%T']);
    return r.code === 0 ? firstLine(r.stdout) : '';
  } catch {
    return '';
  }
}

export interface SlurmTaskResult {
  summary: RunSummary | null;
  /** What happened, one line for the task's log. */
  message: string;
  requeued: boolean;
}

/**
 * One array task: run `index` of DIR/sweep.json from its checkpoint. `signal` (SIGTERM) stops it at
 * a checkpoint; then, while Slurm still counts this job as running (a time-limit warning, or
 * `scancel --signal=TERM`), the task requeues itself so a later start continues the run.
 */
export async function runSlurmTask(dir: string, index: number, o: { threads?: 1 | 2; signal: AbortSignal; log: (s: string) => void }): Promise<SlurmTaskResult> {
  const s = readSweepJson(dir);
  const run = s.runs[index];
  if (run === undefined) throw new UsageError(`${dir}: no run at index ${index} of ${s.runs.length} in sweep.json`);
  const runDir = resolve(runDirOf(dir, run.name));
  const st = runState(runDir);
  if (st.kind === 'completed') return { summary: null, message: `[${run.name}] already completed; nothing to do`, requeued: false };
  if (st.kind === 'failed') return { summary: null, message: `[${run.name}] failed earlier (${st.reason}); not retried`, requeued: false };
  o.log(`[${run.name}] starting at step ${st.step} (job ${process.env.SLURM_JOB_ID ?? '?'}, restart ${process.env.SLURM_RESTART_COUNT ?? 0})`);
  const [summary] = await executeRuns([{ dir: runDir, name: run.name }], {
    jobs: 1, progress: 'none', onLine: null, signal: o.signal, ...(o.threads !== undefined ? { threads: o.threads } : {}),
  });
  const sum = summary!;
  if (sum.status !== 'interrupted') return { summary: sum, message: `[${run.name}] ${sum.status} at step ${sum.step}`, requeued: false };
  const job = process.env.SLURM_JOB_ID;
  if (job !== undefined && ownState(job) === 'RUNNING') {
    const r = slurmCommand('scontrol', ['requeue', job]);
    if (r.code === 0) return { summary: sum, message: `[${run.name}] checkpointed at step ${sum.step}; job ${job} requeued`, requeued: true };
    return { summary: sum, message: `[${run.name}] checkpointed at step ${sum.step}; scontrol requeue ${job} failed: ${firstLine(r.stderr)}`, requeued: false };
  }
  return { summary: sum, message: `[${run.name}] checkpointed at step ${sum.step} (job cancelled: not requeued)`, requeued: false };
}
