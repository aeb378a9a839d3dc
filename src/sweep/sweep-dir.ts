/**
 * A sweep directory on disk:
 *
 *   DIR/sweep.json          the spec, and one entry per run (name, config hash, config)
 *   DIR/runs/<name>/        an ordinary run directory (run/run-dir.ts) per run
 *   DIR/results.parquet     one row per run (results.ts), and results.csv
 *   DIR/report/             the sweep's figures and findings (report.ts)
 *
 * `prepareSweep` is the only writer of sweep.json: it refuses a DIR that holds another sweep (a
 * changed spec) unless `extend`, then creates every missing run directory at step 0.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { makeDirs } from '../io/input-file.js';
import { FileFormatError } from '../io/safetensors.js';
import { configFromJson, configToJson, type TrainConfig } from '../run/config.js';
import { acquireRunLock, LOCK_FILE, releaseRunLock } from '../run/lock.js';
import { isRunDir, readRunDir, readRunJson, runConfig, type RunJson } from '../run/run-dir.js';
import { createRun } from '../run/run.js';
import { tagOf } from '../run/labels.js';
import { VERSION } from '../version.js';
import { checkRunName, configHash, type SweepRunPlan, type SweepSpec } from './spec.js';

export const SWEEP_FILE = 'sweep.json';
export const RUNS_DIR = 'runs';

export interface SweepJsonRun {
  name: string;
  hash: string;
  vary: Record<string, unknown>;
  config: Record<string, unknown>;
}

export interface SweepJson {
  icl_lab_version: string;
  format: 1;
  /** Identity of the sweep (random at creation): prefix of its queue job ids. */
  id: string;
  created_at: string;
  updated_at: string;
  /** Every spec given to this DIR, oldest first (several after --extend). */
  specs: SweepSpec[];
  runs: SweepJsonRun[];
}

export function sweepJsonPath(dir: string): string {
  return join(dir, SWEEP_FILE);
}

export function isSweepDir(dir: string): boolean {
  return existsSync(sweepJsonPath(dir));
}

export function runDirOf(sweepDir: string, name: string): string {
  return join(sweepDir, RUNS_DIR, name);
}

export function readSweepJson(dir: string): SweepJson {
  const path = sweepJsonPath(dir);
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${dir} is not a sweep directory (no ${SWEEP_FILE})`);
    throw new FileFormatError(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`, path);
  }
  const s = obj as SweepJson;
  const bad = (what: string): never => {
    throw new FileFormatError(`${what}; the file is damaged (restore it, or start the sweep again in a new --out)`, path);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(s)) bad(`not an icl-lab sweep.json (a JSON object with id, specs, runs), got ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
  const missing = ['id', 'specs', 'runs'].filter((k) => !(k in s));
  if (missing.length > 0) bad(`not an icl-lab sweep.json: ${missing.join(', ')} missing`);
  if (typeof s.id !== 'string' || !/^[0-9a-zA-Z_-]{1,64}$/.test(s.id)) bad(`id is ${JSON.stringify(s.id)}; expected the sweep's id (a string of letters and digits)`);
  if (!Array.isArray(s.specs) || s.specs.length === 0 || !s.specs.every(isObject)) bad(`specs is ${shortJson(s.specs)}; expected a list of one or more specs (objects)`);
  if (!Array.isArray(s.runs)) bad(`runs is ${shortJson(s.runs)}; expected a list of runs`);
  // the names become paths (DIR/runs/<name>): each must be one plain folder name, and unique
  const names = new Set<string>();
  for (const [i, r] of s.runs.entries()) {
    if (!isObject(r)) bad(`runs[${i}] is ${shortJson(r)}; expected an object with name, hash, vary, config`);
    const name = checkRunName((r as SweepJsonRun | null)?.name, `${path}: runs[${i}]`);
    if (names.has(name)) throw new UsageError(`${path}: runs[${i}]: run name ${name} is listed twice; each run needs its own name`);
    names.add(name);
    if (typeof r.hash !== 'string' || !/^[0-9a-f]{8,64}$/.test(r.hash)) bad(`runs[${i}] (${name}): hash is ${shortJson(r.hash)}; expected the run's config hash (hex digits)`);
    if (!isObject(r.vary)) bad(`runs[${i}] (${name}): vary is ${shortJson(r.vary)}; expected an object (the grid values of this run)`);
    if (!isObject(r.config)) bad(`runs[${i}] (${name}): config is ${shortJson(r.config)}; expected an object of train settings`);
  }
  return s;
}

function shortJson(v: unknown): string {
  if (v === undefined) return 'missing';
  const t = JSON.stringify(v);
  return t.length > 40 ? `${t.slice(0, 37)}...` : t;
}

/** A run's config in sweep.json, or a FileFormatError naming sweep.json, the run and what is wrong. */
function sweepRunConfig(dir: string, r: SweepJsonRun, i: number): TrainConfig {
  const path = sweepJsonPath(dir);
  try {
    return configFromJson(r.config, 'config');
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof FileFormatError)) throw err;
    throw new FileFormatError(`runs[${i}] (${r.name}): ${err.message.replace(/^config: /, 'config ')}; the file is damaged (restore it, or start the sweep again in a new --out)`, path);
  }
}

function writeSweepJson(dir: string, s: SweepJson): void {
  writeFileAtomic(sweepJsonPath(dir), JSON.stringify(s, null, 2) + '\n');
}

/** The runs of a sweep.json with their configs and directories. */
export function sweepRuns(dir: string, s: SweepJson = readSweepJson(dir)): { name: string; hash: string; dir: string; config: TrainConfig; vary: Record<string, unknown> }[] {
  return s.runs.map((r, i) => {
    const d = runDirOf(dir, r.name);
    return { name: r.name, hash: r.hash, dir: resolve(d), config: sweepRunConfig(dir, r, i), vary: r.vary };
  });
}

export interface PreparedSweep {
  dir: string;
  sweep: SweepJson;
  /** Runs of this sweep (all of sweep.json), with their state on disk. */
  runs: { name: string; hash: string; dir: string; config: TrainConfig; state: RunState }[];
  /** Runs added by this call (new sweep, or --extend). */
  added: string[];
}

export type RunState =
  | { kind: 'completed'; step: number }
  | { kind: 'failed'; step: number; reason: string }
  | { kind: 'todo'; step: number; steps: number };

const RUN_STATUSES: readonly string[] = ['creating', 'running', 'completed', 'failed', 'interrupted'];

/**
 * A run's run.json inside a sweep, checked field by field (run-dir.ts readRunDir: every field, its
 * config), its status one of the five and its checkpoint step within its steps: a damaged one is a
 * FileFormatError naming the file and the field, never a TypeError later on.
 */
export function readSweepRun(runDir: string): RunJson {
  const path = join(runDir, 'run.json');
  const remedy = `; the file is damaged: restore it, or remove ${runDir} and run the sweep again to train this run from step 0`;
  const bad = (what: string): never => {
    throw new FileFormatError(what + remedy, path);
  };
  try {
    // the three fields readRunJson needs, each named (it says only "needs status, step, config")
    let obj: unknown;
    try {
      obj = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      obj = undefined; // not JSON: readRunJson says so
    }
    if (obj !== undefined) {
      const o = obj as Record<string, unknown>;
      if (typeof o !== 'object' || o === null || Array.isArray(o)) bad(`not an icl-lab run.json (a JSON object), got ${shortJson(obj)}`);
      if (typeof o.status !== 'string' || !RUN_STATUSES.includes(o.status)) bad(`status is ${shortJson(o.status)}; expected one of ${RUN_STATUSES.join(', ')}`);
      if (!Number.isSafeInteger(o.step) || (o.step as number) < 0) bad(`step is ${shortJson(o.step)}; expected an integer >= 0`);
      if (typeof o.config !== 'object' || o.config === null || Array.isArray(o.config)) bad(`config is ${shortJson(o.config)}; expected an object of train settings`);
    }
    const r = readRunDir(runDir).run;
    if (!Number.isSafeInteger(r.checkpoint_step) || r.checkpoint_step < 0 || r.checkpoint_step > r.step) {
      bad(`checkpoint_step is ${shortJson(r.checkpoint_step)}; expected an integer in 0..step (${r.step})`);
    }
    if (r.step > r.steps) bad(`step is ${r.step}; expected at most steps (${r.steps})`);
    return r;
  } catch (err) {
    if (err instanceof FileFormatError && err.message.startsWith(`${path}: `) && !err.message.endsWith(remedy)) throw new FileFormatError(err.message.slice(path.length + 2) + remedy, path);
    throw err;
  }
}

export function runState(runDir: string): RunState {
  if (!isRunDir(runDir)) return { kind: 'todo', step: 0, steps: 0 };
  const r = readSweepRun(runDir);
  if (r.status === 'completed' && r.step >= r.steps) return { kind: 'completed', step: r.step };
  if (r.status === 'failed' && r.failure?.kind !== 'error') return { kind: 'failed', step: r.failure?.step ?? r.step, reason: r.failure?.reason ?? 'failed' };
  return { kind: 'todo', step: r.checkpoint_step, steps: r.steps };
}

function describeDiff(old: SweepJson, runs: readonly SweepRunPlan[]): string {
  const byName = new Map(old.runs.map((r) => [r.name, r]));
  const changed = runs.filter((r) => byName.has(r.name) && byName.get(r.name)!.hash !== r.hash).map((r) => r.name);
  const added = runs.filter((r) => !byName.has(r.name)).map((r) => r.name);
  const newNames = new Set(runs.map((r) => r.name));
  const missing = old.runs.filter((r) => !newNames.has(r.name)).map((r) => r.name);
  const list = (xs: string[]) => (xs.length > 3 ? `${xs.slice(0, 3).join(', ')} and ${xs.length - 3} more` : xs.join(', '));
  const parts: string[] = [];
  if (changed.length) parts.push(`${changed.length} run(s) with other settings (${list(changed)})`);
  if (added.length) parts.push(`${added.length} new run(s) (${list(added)})`);
  if (missing.length) parts.push(`${missing.length} run(s) left out (${list(missing)})`);
  return parts.join(', ');
}

/** A DIR without sweep.json must be missing or empty (but for a sweep's lease being taken there). */
function checkNewSweepOut(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${dir} exists and is not a directory`);
  const entries = readdirSync(dir).filter((e) => e !== LOCK_FILE && !e.startsWith(`${LOCK_FILE}.`)); // the sweep's lease (lockSweepDir)
  if (entries.length > 0) throw new UsageError(`--out ${dir} is not empty and holds no ${SWEEP_FILE}; give a new or empty directory`);
}

/**
 * The sweep's lease on DIR (DIR/.icl-lab.lock, run/lock.ts: the run lease on the sweep directory),
 * held from before DIR/sweep.json is read until the command ends: of two sweeps started on one DIR,
 * the second is refused with a line naming the first, before it creates or trains anything.
 * Creates DIR when it is missing (and removes it again, empty, when the lease is refused).
 * Returns the release.
 */
export function lockSweepDir(dir: string): () => void {
  // A run directory or any other folder is said as such, not as "a sweep runs here"; but a folder
  // that holds a lease and no sweep.json yet is a sweep being created by another process: its lease
  // is tried first, so the second of two sweeps started together gets the lease's message.
  const leased = (): boolean => existsSync(join(dir, LOCK_FILE)) && !isSweepDir(dir) && !isRunDir(dir);
  let beingCreated = leased();
  if (!isSweepDir(dir) && !beingCreated) {
    try {
      checkNewSweepOut(dir);
    } catch (err) {
      beingCreated = leased(); // the other sweep took its lease and began writing between the two looks
      if (!beingCreated) throw err;
    }
  }
  const fresh = !existsSync(dir);
  makeDirs(dir); // one component at a time: a recursive mkdir spins under /proc
  try {
    acquireRunLock(dir, 'running a sweep in this directory');
  } catch (err) {
    if (fresh) {
      try {
        rmdirSync(dir);
      } catch { /* not empty: the other sweep's files */ }
    }
    throw err;
  }
  if (beingCreated && !isSweepDir(dir)) {
    try {
      checkNewSweepOut(dir); // the lease was stale: the folder is judged as any other
    } catch (err) {
      releaseRunLock(dir);
      throw err;
    }
  }
  return () => {
    releaseRunLock(dir);
    if (fresh) {
      try {
        rmdirSync(dir); // nothing was made (the sweep refused): leave no empty DIR behind
      } catch { /* it holds the sweep */ }
    }
  };
}

/**
 * Check DIR against the plan and create what is missing. Nothing is written when it refuses.
 * `extend`: add the plan's new runs to an existing sweep (runs already there must keep their settings).
 */
export function prepareSweep(dir: string, spec: SweepSpec, runs: readonly SweepRunPlan[], extend: boolean): PreparedSweep {
  const now = new Date().toISOString();
  let sweep: SweepJson;
  let added: SweepRunPlan[] = [];
  if (isSweepDir(dir)) {
    const old = readSweepJson(dir);
    const byName = new Map(old.runs.map((r) => [r.name, r]));
    const same = runs.length === old.runs.length && runs.every((r) => byName.get(r.name)?.hash === r.hash);
    if (same) {
      sweep = old;
    } else {
      const diff = describeDiff(old, runs);
      const clash = runs.find((r) => byName.has(r.name) && byName.get(r.name)!.hash !== r.hash);
      if (clash) {
        throw new UsageError(`${dir} holds a sweep whose run ${clash.name} has other settings than this spec (${diff}); use another --out, or the spec recorded in ${sweepJsonPath(dir)}`);
      }
      if (!extend) {
        throw new UsageError(`${dir} holds a different sweep (this spec has ${diff}); pass --extend to add the new runs to it, or use another --out`);
      }
      added = runs.filter((r) => !byName.has(r.name));
      sweep = { ...old, specs: [...old.specs, spec], runs: [...old.runs, ...added.map(toJsonRun)] };
    }
  } else {
    checkNewSweepOut(dir);
    for (const r of runs) {
      if (existsSync(runDirOf(dir, r.name))) throw new UsageError(`${runDirOf(dir, r.name)} exists`);
    }
    added = [...runs];
    sweep = {
      icl_lab_version: VERSION, format: 1, id: randomBytes(6).toString('hex'),
      created_at: now, updated_at: now, specs: [spec], runs: runs.map(toJsonRun),
    };
  }
  // sweep.json first (so a crash leaves a DIR that a rerun recognises), then the run directories at step 0
  if (added.length > 0) {
    makeDirs(dir); // one component at a time: a recursive mkdir spins under /proc
    writeSweepJson(dir, { ...sweep, updated_at: now });
  }
  const all = sweepRuns(dir, sweep);
  for (const r of all) {
    if (!isRunDir(r.dir)) createRun(r.dir, r.config, 'interrupted', true, { tags: [tagOf('sweep', basename(resolve(dir)))] });
  }
  return {
    dir,
    sweep,
    runs: all.map((r) => ({ name: r.name, hash: r.hash, dir: r.dir, config: r.config, state: runState(r.dir) })),
    added: added.map((r) => r.name),
  };
}

/**
 * The run directory a queue job may train, or a UsageError saying why not: the job's data is only
 * trusted as far as the sweep on disk confirms it (anyone who can write to Redis can write a job).
 * Its sweep directory must hold a sweep.json with the job's sweep id and a run of the job's name
 * and config hash; the run directory is DIR/runs/<name> (the job's `dir` must be that one) and its
 * run.json has that config.
 */
export function verifySweepJob(data: unknown): string {
  const d = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  const fields = ['sweepId', 'sweepDir', 'name', 'dir', 'hash'] as const;
  const bad = fields.filter((k) => typeof d[k] !== 'string' || d[k] === '');
  if (bad.length > 0) throw new UsageError(`job data is not an icl-lab sweep job (${bad.join(', ')} missing or not a string)`);
  const sweepDir = d.sweepDir as string;
  if (resolve(sweepDir) !== sweepDir) throw new UsageError(`job names sweep directory ${JSON.stringify(sweepDir)}, not an absolute path`);
  const sweep = readSweepJson(sweepDir);
  if (sweep.id !== d.sweepId) throw new UsageError(`job's sweep id ${JSON.stringify(d.sweepId)} is not the id of the sweep in ${sweepDir} (${sweep.id})`);
  const run = sweepRuns(sweepDir, sweep).find((r) => r.name === d.name);
  if (!run || run.hash !== d.hash) throw new UsageError(`${sweepJsonPath(sweepDir)} has no run ${JSON.stringify(d.name)} with config hash ${JSON.stringify(d.hash)}`);
  const dir = run.dir;
  if (d.dir !== dir) throw new UsageError(`job's run directory ${JSON.stringify(d.dir)} is not the sweep's ${dir}`);
  if (!isRunDir(dir)) throw new UsageError(`${dir} holds no run.json (the sweep creates it before it enqueues)`);
  const own = configHash(runConfig(readRunJson(dir), dir));
  if (own !== configHash(run.config)) throw new UsageError(`${join(dir, 'run.json')} has other settings (config hash ${own}) than run ${run.name} of ${sweepJsonPath(sweepDir)}`);
  return dir;
}

function toJsonRun(r: SweepRunPlan): SweepJsonRun {
  return { name: r.name, hash: r.hash, vary: r.vary, config: configToJson(r.config) };
}
