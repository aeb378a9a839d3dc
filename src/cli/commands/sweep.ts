/**
 * `icl-lab sweep SPEC --out DIR`: a grid of training runs (src/sweep/), on this machine's cores or
 * through a BullMQ + Redis queue (`--queue URL`), with one results table and the sweep's report.
 * `icl-lab sweep status DIR|--queue URL`: where a sweep stands.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { addRunOptions, parseJobs, parseProgress, parseThreads } from '../options.js';
import { onInterrupt } from '../signals.js';
import { shellQuote } from '../../run/run.js';
import { FIELDS, fieldHelp, flagName, parseFlags, type FieldKey } from '../../run/config.js';
import { autoProgressMode, formatDuration, type ProgressMode } from '../../run/progress.js';
import { runLocalSweep } from '../../sweep/local.js';
import type { JobView, RedisTarget } from '../../sweep/queue.js';

/** BullMQ and ioredis load only for queue work (they cost a second of start-up on a busy machine). */
const queueModule = () => import('../../sweep/queue.js');
import { SweepProgress } from '../../sweep/progress.js';
import { writeResults } from '../../sweep/results.js';
import { expandSweep, normaliseSpec, parseSpecText, readSpecFile, specFromFlags, type SweepRunPlan, type SweepSpec } from '../../sweep/spec.js';
import { isSweepDir, prepareSweep, readSweepJson, runState, sweepRuns, type PreparedSweep } from '../../sweep/sweep-dir.js';

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

/** The spec from a file and/or flags (flags override the file's base and add grid axes). */
export function specOf(specPath: string | undefined, opts: SweepCliOptions): SweepSpec | null {
  const base = parseFlags(opts);
  const hasFlags = Object.keys(base).length > 0 || opts.grid.length > 0 || opts.zip.length > 0 || opts.seeds !== undefined;
  if (specPath === undefined && !hasFlags) return null;
  const fromFlags = specFromFlags(base, opts.grid, opts.zip, opts.seeds);
  if (specPath === undefined) return fromFlags;
  const file = parseSpecText(readSpecFile(specPath), specPath);
  const fields = (o: Record<string, unknown>) => Object.keys(o);
  const merged = {
    base: { ...Object.fromEntries(Object.entries(file.base).filter(([k]) => !(k in fromFlags.grid))), ...fromFlags.base },
    grid: { ...Object.fromEntries(Object.entries(file.grid).filter(([k]) => !(k in fromFlags.base))), ...fromFlags.grid },
    zip: fields(fromFlags.zip).length ? fromFlags.zip : file.zip,
    ...(fromFlags.seeds ? { seeds: fromFlags.seeds } : file.seeds ? { seeds: file.seeds } : {}),
  };
  return normaliseSpec(merged, `${specPath} with the flags`);
}

/** The continue command printed at Ctrl-C and by `sweep status`. */
export function continueCommand(dir: string, queue?: RedisTarget): string {
  return `icl-lab sweep --out ${shellQuote(dir)}${queue ? ` --queue ${shellQuote(queue.shown)} --wait` : ''}`;
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
    log(`sweep: report: ${r.markdown} (${r.findings.filter((f) => f.pass).length} of ${r.findings.length} findings pass)`);
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
  const qm = opts.queue !== undefined ? await queueModule() : undefined;
  const queue = qm && opts.queue !== undefined ? qm.parseQueueUrl(opts.queue) : undefined;
  if (opts.wait && !queue) throw new UsageError('--wait goes with --queue (a local sweep always waits)');
  if (queue && jobs !== undefined) throw new UsageError('--jobs is for a local sweep; with --queue start workers: icl-lab worker --queue URL --concurrency N');
  const dir = out;
  if (opts.dryRun) {
    const spec = specOf(specPath, opts);
    if (spec === null) throw new UsageError('--dry-run needs a spec (a file or --grid/--seeds flags)');
    const runs = expandSweep(spec, specPath ?? 'the --grid/--zip/--seeds flags');
    process.stdout.write(`${runs.length} runs, all valid (nothing created):\n${runs.map((r) => `  ${r.name}  ${r.hash}`).join('\n')}\n`);
    return 0;
  }
  const planned = plan(specPath, opts, dir); // every combination validated before anything else
  if (qm && queue) await qm.probeRedis(queue); // and Redis reachable before anything is created
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
    log(`sweep: interrupted; ${left} run(s) stopped at a checkpoint. Continue with:\n  ${continueCommand(out)}`);
    return 130;
  }
  log(`sweep: ${trained} run(s) trained, ${res.skipped.length} already finished, ${res.failed.length} failed; ${formatDuration(res.wallSeconds)} wall`);
  await finishResults(dir, opts, log);
  return res.failed.length > 0 ? 1 : 0;
}

async function queueSweep(p: PreparedSweep, t: RedisTarget, opts: SweepCliOptions, mode: ProgressMode, log: (s: string) => void): Promise<number> {
  const { enqueueSweep, jobViews, openQueue } = await queueModule();
  const q = openQueue(t, log);
  try {
    const e = await enqueueSweep(q, p);
    log(`sweep: queue ${t.shown}: ${e.added.length} job(s) added, ${e.present.length} already queued, ${e.retried.length} failed job(s) retried, ${e.finished.length} run(s) already finished`);
    if (!opts.wait) {
      log(`sweep: start workers on machines that see ${p.dir}:\n  icl-lab worker --queue ${shellQuote(t.shown)}${t.shown.includes('***') ? ` (with the password in the URL or in $ICL_LAB_REDIS_PASSWORD)` : ''}\nthen: icl-lab sweep status ${shellQuote(p.dir)} --queue ${shellQuote(t.shown)}\n      icl-lab sweep --out ${shellQuote(p.dir)} --queue ${shellQuote(t.shown)} --wait   (waits, then writes the results table)`);
      return 0;
    }
    const display = new SweepProgress(mode, p.runs.map((r) => ({
      name: r.name, step: r.state.step, total: r.config.steps,
      state: r.state.kind === 'completed' ? 'done' as const : r.state.kind === 'failed' ? 'failed' as const : 'queued' as const,
    })));
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
      log(`sweep: stopped waiting; the ${pending.size} unfinished job(s) stay in the queue and the workers keep going. Wait again with:\n  ${continueCommand(p.dir, t)}`);
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
  try {
    if (dir !== undefined) {
      const s = readSweepJson(dir);
      const runs = sweepRuns(dir, s);
      const views = qm && q ? await qm.jobViews(q, s.id, runs) : runs.map(() => null);
      const rows = runs.map((r, i) => {
        const st = runState(r.dir);
        const rj = st.kind === 'todo' && st.steps === 0 ? null : JSON.parse(readFileSync(`${r.dir}/run.json`, 'utf8'));
        const v = views[i];
        const status = st.kind === 'completed' ? 'completed' : st.kind === 'failed' ? 'failed' : rj?.status ?? 'missing';
        return {
          name: r.name, status, step: rj?.step ?? 0, steps: r.config.steps, job: v ? v.state : null,
          job_step: v?.step ?? null, final_train_loss: rj?.final?.train_loss ?? null, wall_seconds: rj?.timings?.wall_seconds ?? 0,
        };
      });
      const count = (k: string) => rows.filter((r) => r.status === k).length;
      const step = rows.reduce((n, r) => n + r.step, 0);
      const steps = rows.reduce((n, r) => n + r.steps, 0);
      json.dir = dir;
      json.runs = rows;
      lines.push(`${dir}: ${rows.length} runs: ${count('completed')} completed, ${count('running')} running, ${count('interrupted')} waiting/interrupted, ${count('failed')} failed; ${((100 * step) / Math.max(1, steps)).toFixed(1)}% of ${steps} steps`);
      const w = Math.max(4, ...rows.map((r) => r.name.length));
      lines.push(`  ${'run'.padEnd(w)}  ${'status'.padEnd(11)}  ${'step'.padStart(19)}  ${'loss'.padStart(8)}${q ? '  job' : ''}`);
      for (const r of rows) {
        const loss = r.final_train_loss === null ? '-' : Number(r.final_train_loss).toFixed(4);
        const job = q ? `  ${r.job ?? '-'}${r.job === 'active' && r.job_step !== null ? ` (step ${r.job_step})` : ''}` : '';
        lines.push(`  ${r.name.padEnd(w)}  ${r.status.padEnd(11)}  ${`${r.step}/${r.steps}`.padStart(19)}  ${loss.padStart(8)}${job}`);
      }
      if (count('completed') + count('failed') < rows.length) lines.push(`continue: ${continueCommand(dir, t)}`);
    }
    if (q && t) {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
      json.queue = { url: t.shown, counts: c };
      lines.push(`queue ${t.shown}: ${Object.entries(c).map(([k, n]) => `${n} ${k}`).join(', ')}`);
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
  cmd.option('--wait', '[flag] with --queue: show the sweep\'s progress until every job is done, then write the results table');
  cmd.option('--report', '[flag] also write the sweep report (DIR/report: figures, findings.json, report.md)');
  cmd.option('--eval-samples <n>', '[int] prompts for the kernel gap and the MSE columns of the results table (default: 10000, as analyze / evaluate)');
  cmd.option('--eval-seed <n>', '[int] seed of those prompts (default: 0, as analyze / evaluate)');
  cmd.option('--dry-run', '[flag] validate the spec and list the runs; create nothing');
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


