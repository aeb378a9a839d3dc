/**
 * GET api/evaluate?path=RUN&shift=KIND&value=V: the run's model, its kernel estimator and evaluate's
 * estimators on prompts shifted away from the training task (issue 19), the numbers of
 *
 *   icl-lab evaluate RUN --KIND V --samples 2000 --seed 0 --context-length LENGTHS --json
 *
 * (KIND: x-scale, beta-scale, noise-std, rho, query; LENGTHS: the lengths of the run view's
 * error-vs-L panel, at most 40 of them and none above 1000). The work is bounded (2000 prompts per
 * L), runs on a worker thread (serve/shifted-worker.ts), one evaluation at a time, and is cached
 * per (run, shift, value, model file), so a page reopened from a link does not measure again.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { defaultLengths, DEFAULT_CHUNK } from '../analysis/evaluate.js';
import { runEvaluate, type EvaluateCliOptions, type EvaluateOutput } from '../analysis/evaluate-models.js';
import { loadStackTarget, loadTarget } from '../analysis/targets.js';
import { cliCommand, shellQuote } from '../command.js';
import { QUERY_SHIFTS, type QueryShift } from '../data/shift.js';
import { didYouMean, UsageError } from '../errors.js';
import { FileFormatError } from '../io/safetensors.js';
import { errorVsLengthSpec } from '../plots/error-curves.js';
import { mtimeOf, RUN_FILES } from '../run/run-dir.js';
import { QUERY, SHIFT_KINDS, SHIFT_QUERIES, SHIFT_VALUES, type ShiftedEvaluation, type ShiftKind } from './api.js';
import { PathError } from './scan.js';

/** Prompts per L, the seed of the prompts, and the caps on the lengths of one request. */
export const SHIFT_SAMPLES = 2000;
export const SHIFT_SEED = 0;
export const MAX_SHIFT_LENGTHS = 40;
export const MAX_SHIFT_L = 1000;

// api.ts cannot import data/shift.ts (the browser reads it): the two lists must agree
const _queries: readonly QueryShift[] = SHIFT_QUERIES;
if (_queries.length !== QUERY_SHIFTS.length || _queries.some((q, i) => q !== QUERY_SHIFTS[i])) throw new Error('api.ts SHIFT_QUERIES differs from data/shift.ts QUERY_SHIFTS');

export interface ShiftQuery {
  shift: ShiftKind;
  /** Normalised: a number's shortest form ("2" for "2.0"), or the query kind. */
  value: string;
}

const bad = (msg: string): PathError => new PathError(400, msg);

/** ?shift= and ?value= checked (a PathError 400 naming what is allowed). */
export function parseShiftQuery(shift: string | null, value: string | null): ShiftQuery {
  const kinds = SHIFT_KINDS.join(', ');
  if (shift === null || shift === '') throw bad(`missing ?${QUERY.shift}= (one of ${kinds})`);
  if (!(SHIFT_KINDS as readonly string[]).includes(shift)) throw bad(`unknown ?${QUERY.shift}=${shift}; allowed: ${kinds}.${didYouMean(shift, SHIFT_KINDS)}`);
  const kind = shift as ShiftKind;
  const allowed = SHIFT_VALUES[kind];
  if (value === null || value.trim() === '') throw bad(`missing ?${QUERY.value}= (${kind} takes ${allowed})`);
  if (kind === 'query') {
    if (!(SHIFT_QUERIES as readonly string[]).includes(value)) throw bad(`?${QUERY.value}=${value} is not a query shift; ${kind} takes ${allowed}.${didYouMean(value, SHIFT_QUERIES)}`);
    return { shift: kind, value };
  }
  const v = Number(value);
  const ok = Number.isFinite(v) && (kind === 'noise-std' ? v >= 0 : kind === 'rho' ? v >= 0 && v < 1 : v > 0);
  if (!ok) throw bad(`?${QUERY.value}=${value}: ${kind} takes ${allowed}`);
  return { shift: kind, value: String(v) };
}

/** evaluate's options for the shift (what --KIND V sets). */
export function shiftOptions(q: ShiftQuery): Pick<EvaluateCliOptions, 'shift' | 'noiseStd' | 'rho'> {
  switch (q.shift) {
    case 'x-scale': return { shift: { xScale: Number(q.value) } };
    case 'beta-scale': return { shift: { betaScale: Number(q.value) } };
    case 'query': return { shift: { query: q.value as QueryShift } };
    case 'noise-std': return { noiseStd: Number(q.value) };
    case 'rho': return { rho: Number(q.value) };
  }
}

/** The shift in words, as evaluate's header names it: "x ×2", "beta ×0.5", "queries orthogonal", "noise_std 0.5", "rho 0.5". */
export function shiftLabel(q: ShiftQuery): string {
  switch (q.shift) {
    case 'x-scale': return `x ×${q.value}`;
    case 'beta-scale': return `beta ×${q.value}`;
    case 'query': return `queries ${q.value}`;
    case 'noise-std': return `noise_std ${q.value}`;
    case 'rho': return `rho ${q.value}`;
  }
}

/**
 * The lengths measured: those of the run's evaluation (the panel's x axis) up to MAX_SHIFT_L, else
 * evaluate's default lengths up to twice the training L; thinned evenly to MAX_SHIFT_LENGTHS (first and last kept).
 */
export function shiftedLengths(evaluated: readonly number[] | null, trainL: number): number[] {
  let ls = (evaluated ?? []).filter((L) => Number.isInteger(L) && L >= 1 && L <= MAX_SHIFT_L);
  if (ls.length === 0) ls = defaultLengths().filter((L) => L <= Math.max(10, 2 * trainL));
  ls = [...new Set(ls)];
  if (ls.length <= MAX_SHIFT_LENGTHS) return ls;
  const n = ls.length;
  return [...new Set(Array.from({ length: MAX_SHIFT_LENGTHS }, (_, i) => ls[Math.round((i * (n - 1)) / (MAX_SHIFT_LENGTHS - 1))]!))];
}

/** What the worker is given: the run directory and evaluate's options (plain data). */
export interface ShiftJob {
  dir: string;
  options: EvaluateCliOptions;
}

/** The worker's answer: the result, or why it failed (usage: a run icl-lab cannot evaluate). */
export type ShiftReply = { result: EvaluateOutput } | { error: string; usage: boolean };

/** evaluate on the run of `job` (here, on this thread: the worker's body, and the fallback without a build). */
export function evaluateJob(job: ShiftJob): ShiftReply {
  try {
    const t = loadStackTarget(job.dir) ?? loadTarget(job.dir);
    return { result: runEvaluate([t], job.options) };
  } catch (e) {
    return { error: (e as Error).message, usage: e instanceof UsageError || e instanceof FileFormatError };
  }
}

/** The compiled worker next to this file, or (running from the .ts sources: tests) in dist/; null when not built. */
function workerScript(): string | null {
  for (const u of [new URL('./shifted-worker.js', import.meta.url), new URL('../../dist/serve/shifted-worker.js', import.meta.url)]) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  return null;
}

function onWorker(job: ShiftJob): Promise<ShiftReply> {
  const script = workerScript();
  if (script === null) return Promise.resolve(evaluateJob(job));
  return new Promise((resolve, reject) => {
    const w = new Worker(script, { workerData: job });
    let reply: ShiftReply | undefined;
    w.on('message', (m: ShiftReply) => (reply = m));
    w.on('error', reject);
    w.on('exit', (code) => (reply ? resolve(reply) : reject(new Error(`the evaluation worker stopped (exit code ${code}) before sending its results`))));
  });
}

const cache = new Map<string, Promise<ShiftedEvaluation>>();
let queue: Promise<unknown> = Promise.resolve(); // one evaluation at a time

/**
 * The shifted evaluation of DIR/path (checked by the caller to be a run below DIR): from the cache,
 * else measured on a worker after those queued before it. Rejects with a UsageError for a run
 * evaluate refuses (a multi-task model, no model yet).
 */
export function shiftedEvaluation(root: string, path: string, q: ShiftQuery, evaluated: readonly number[] | null, trainL: number): Promise<ShiftedEvaluation> {
  const dir = join(root, path);
  const lengths = shiftedLengths(evaluated, trainL);
  const key = JSON.stringify([dir, q.shift, q.value, lengths, mtimeOf(join(dir, RUN_FILES.model))]);
  const hit = cache.get(key);
  if (hit) return hit;
  const options: EvaluateCliOptions = { lengths, samples: SHIFT_SAMPLES, seed: SHIFT_SEED, chunk: DEFAULT_CHUNK, kernel: true, ...shiftOptions(q) };
  const job = queue.then(() => onWorker({ dir, options }));
  queue = job.catch(() => undefined);
  const made = job.then((reply): ShiftedEvaluation => {
    if ('error' in reply) throw reply.usage ? new UsageError(reply.error) : new Error(reply.error);
    const r = reply.result;
    const label = shiftLabel(q);
    const ood = r.models.filter((m) => m.out_of_distribution).map((m) => m.name);
    const labels = Object.fromEntries(Object.keys(r.methods).flatMap((n) => (ood.some((m) => n === m || n.startsWith(`${m}@`)) ? [[n, `${n} (out of distribution)`]] : [])));
    const command = cliCommand(['evaluate', shellQuote(path), `--${q.shift}`, q.value, '--samples', String(SHIFT_SAMPLES), '--seed', String(SHIFT_SEED), '--context-length', lengths.join(','), '--json'].join(' '));
    const evaluation = errorVsLengthSpec(r, { labels, trainL, title: `Error against context length, shifted prompts: ${label}`, width: 560, height: 300, subtitle: `${SHIFT_SAMPLES} prompts per L, seed ${SHIFT_SEED}; lines: MSE; bands: ± one standard error; dashed: reference estimators` });
    return { shift: q.shift, value: q.value, label, command, result: r, evaluation };
  });
  cache.set(key, made);
  if (cache.size > 64) cache.delete(cache.keys().next().value!);
  made.catch(() => cache.delete(key)); // a failure is not kept
  return made;
}
