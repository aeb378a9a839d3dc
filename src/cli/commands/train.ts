/**
 * `icl-lab train`: the seed's training experiment as resumable, crash-safe runs on disk.
 * The flags come from the field table in run/config.ts; the action is a thin call into
 * run/runs.ts (trainRuns / resumeRuns).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { checkInputFile } from '../../io/input-file.js';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { wasmAvailable } from '../../io/wasm.js';
import { onInterrupt } from '../signals.js';
import { addRunOptions, parseJobs, parseProgress, parseThreads } from '../options.js';
import { FIELD_BY_KEY, FIELDS, fieldHelp, flagName, parseConfigText, parseFlags, resolveConfigs, type FieldKey, type TrainConfig } from '../../run/config.js';
import { resumeRuns, trainRuns } from '../../run/runs.js';
import type { ProgressMode } from '../../run/progress.js';
import { resumeCommand, type RunSummary } from '../../run/run.js';
import { checkLabels, type RunLabels } from '../../run/labels.js';

export interface TrainCliOptions extends Record<string, unknown> {
  config?: string;
  out?: string;
  resume?: string;
  force?: boolean;
  jobs?: string;
  threads?: string;
  json?: boolean;
  progress?: string;
  name?: string;
  tag?: string[];
  note?: string;
}


/** A string-valued option (commander gives strings; anything else is a usage error). */
function str(opts: TrainCliOptions, key: string): string | undefined {
  const v = opts[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${key} needs a value`);
  return v;
}

function readConfigFile(path: string): string {
  if (existsSync(path) && !statSync(path).isDirectory()) checkInputFile(path, '--config'); // a FIFO would hang the read
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`--config ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
}

/** Everything the action needs, validated; throws UsageError. Creates nothing. */
export type TrainPlan =
  | { kind: 'new'; configs: ReturnType<typeof resolveConfigs>; out: string; force: boolean; jobs?: number; threads?: 1 | 2; json: boolean; progress: ProgressMode | 'auto'; labels: RunLabels }
  | { kind: 'resume'; dir: string; steps?: number; force: boolean; changes: Partial<TrainConfig>; jobs?: number; threads?: 1 | 2; json: boolean; progress: ProgressMode | 'auto'; labels: RunLabels };

/** --tag's values (commander collects the repeated flag into a list). */
function tagsOf(opts: TrainCliOptions): string[] | undefined {
  const v = opts.tag as unknown;
  if (v === undefined) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (list.some((t) => typeof t !== 'string')) throw new UsageError('--tag needs a value');
  return list as string[];
}

export function planTrain(opts: TrainCliOptions): TrainPlan {
  const json = opts.json === true;
  const progress = parseProgress(str(opts, 'progress'), json);
  const jobs = parseJobs(str(opts, 'jobs'));
  const threads = parseThreads(str(opts, 'threads'));
  const th = threads !== undefined ? { threads } : {};
  const resume = str(opts, 'resume');
  const out = str(opts, 'out');
  const config = str(opts, 'config');
  const flags = parseFlags(opts);
  const labels = checkLabels({ name: str(opts, 'name'), tags: tagsOf(opts), note: str(opts, 'note') });
  const given = new Set(Object.keys(flags) as FieldKey[]);
  if (resume !== undefined) {
    if (resume === '') throw new UsageError('--resume needs a run directory');
    for (const bad of ['out', 'config'] as const) {
      if (opts[bad] !== undefined) throw new UsageError(`--${bad} cannot be used with --resume (the run directory and its config are fixed)`);
    }
    const fixed = [...given].filter((k) => !FIELD_BY_KEY.get(k)!.resumable);
    if (fixed.length > 0) {
      const allowed = FIELDS.filter((f) => f.resumable).map((f) => flagName(f.key)).join(', ');
      throw new UsageError(`${flagName(fixed[0]!)} cannot be changed when resuming (it changes the trajectory; with --resume only ${allowed}, --name, --tag, --note, --jobs, --threads, --json, --progress, --force are allowed)`);
    }
    const steps = flags.steps as number | undefined;
    const changes = Object.fromEntries([...given].filter((k) => k !== 'steps').map((k) => [k, flags[k]])) as Partial<TrainConfig>;
    return { kind: 'resume', dir: resume, force: opts.force === true, changes, ...(steps !== undefined ? { steps } : {}), ...(jobs !== undefined ? { jobs } : {}), ...th, json, progress, labels };
  }
  if (out === undefined || out === '') throw new UsageError('--out DIR is required (the run directory to create), or --resume DIR to continue a run');
  const fromFile = config !== undefined ? parseConfigText(readConfigFile(config), `--config ${config}`) : {};
  const configs = resolveConfigs({ ...fromFile, ...flags }, given, { wasmAvailable: wasmAvailable() });
  return { kind: 'new', configs, out, force: opts.force === true, ...(jobs !== undefined ? { jobs } : {}), ...th, json, progress, labels };
}

function describe(s: RunSummary, many: boolean): string {
  const tag = many ? `[${s.name}] ` : '';
  if (s.note) return `${tag}${s.dir}: ${s.status} at step ${s.step}: ${s.note}`;
  const loss = (x: number | null) => (x === null ? '-' : x.toFixed(4));
  if (s.status === 'completed') {
    return `${tag}completed ${s.step} steps (${s.wall_seconds.toFixed(1)} s of training over all sessions; ${Math.round(s.steps_per_second)} steps/s this session); last batch loss ${loss(s.final_train_loss)}; held-out loss ${s.final_validation ? `${loss(s.final_validation.mse)} ± ${loss(s.final_validation.stderr)} (${s.final_validation.samples.toLocaleString('en-US')} prompts)` : `${loss(s.final_val_loss)} (one batch)`} -> ${s.dir}`;
  }
  if (s.status === 'failed') return `${tag}failed at step ${s.failure?.step ?? s.step}: ${s.failure?.reason ?? 'unknown reason'} (last good checkpoint kept in ${s.dir})`;
  return `${tag}${s.status} at step ${s.step}/${s.steps}`;
}

/** Run the command; returns the exit code (0 ok, 1 a run failed, 130 interrupted). */
export async function trainAction(opts: TrainCliOptions): Promise<number> {
  const plan = planTrain(opts);
  const controller = new AbortController();
  const removeInterrupt = onInterrupt((sig) => {
    if (!plan.json) process.stderr.write(`\nicl-lab: ${sig}: stopping within 0.1 s at a step boundary and writing a checkpoint (again to quit at once)\n`);
    controller.abort();
  });
  // `icl-lab train ... | head`: a closed pipe must not kill a training run; keep training, stop printing
  const onPipeError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
  };
  process.stdout.on('error', onPipeError);
  process.stderr.on('error', onPipeError);
  const common = { progress: plan.progress, signal: controller.signal, ...(plan.jobs !== undefined ? { jobs: plan.jobs } : {}), ...(plan.threads !== undefined ? { threads: plan.threads } : {}), ...(plan.json ? { onLine: null } : {}) };
  let summaries: RunSummary[];
  try {
    summaries = plan.kind === 'new'
      ? await trainRuns(plan.configs, { ...common, out: plan.out, force: plan.force, labels: plan.labels })
      : await resumeRuns(plan.dir, { ...common, force: plan.force, changes: plan.changes, labels: plan.labels, ...(plan.steps !== undefined ? { steps: plan.steps } : {}) });
  } finally {
    removeInterrupt();
  }
  const many = summaries.length > 1;
  const interrupted = summaries.some((s) => s.status === 'interrupted');
  const failed = summaries.some((s) => s.status === 'failed');
  const parent = plan.kind === 'new' ? plan.out : plan.dir;
  const resume = interrupted ? resumeCommand(many ? parent : summaries.find((s) => s.status === 'interrupted')!.dir) : undefined;
  if (plan.json) {
    process.stdout.write(JSON.stringify({ runs: summaries, ...(resume ? { resume_command: resume } : {}) }) + '\n');
  } else {
    for (const s of summaries) (s.status === 'completed' ? process.stdout : process.stderr).write(describe(s, many) + '\n');
    if (resume) process.stderr.write(`interrupted; resume with:\n  ${resume}\n`);
  }
  return interrupted ? 130 : failed ? 1 : 0;
}

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description(
      "train the seed's one-layer multi-head attention on in-context linear regression into a run directory " +
        '(defaults = the notebook\'s main experiment: `icl-lab train --out runs/h2` is its H=2 run). ' +
        'Lists (--heads 1,2,4,8, --seed, --d, --context-length) train one run per combination in parallel.',
    );
  cmd.option('--out <dir>', '[path] run directory to create (with lists: parent of one subdirectory per run)');
  cmd.option('--resume <dir>', '[path] continue a run (or every unfinished run below a parent) from its checkpoint; --steps N sets a new total');
  cmd.option('--config <file>', '[path] JSON object of settings (keys as below in snake_case, e.g. {"heads": 4}); flags override it');
  for (const f of FIELDS) {
    const flag = flagName(f.key);
    if (f.kind === 'bool') {
      cmd.option(flag, fieldHelp(f));
      cmd.option(`--no-${flag.slice(2)}`, `[flag] turn ${flag} off (e.g. over a --config file)`);
    } else {
      const arg = f.arg ?? (f.list ? '<list>' : f.kind === 'enum' ? '<name>' : '<n>');
      cmd.option(`${flag} ${arg}`, fieldHelp(f));
    }
  }
  cmd.option('--name <name>', '[text] the run\'s display name, recorded in run.json (one line, at most 200 characters; with lists: NAME/<subdirectory> each). The folder still names it on disk');
  cmd.option('--tag <tag>', '[text] a tag recorded in run.json (repeatable: --tag baseline --tag lr-scan; letters, digits and _ . : / + = @ -, at most 64 characters); with --resume: added to the run\'s tags', (v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  cmd.option('--note <text>', '[text] a note recorded in run.json (at most 10,000 characters); with --resume --name and --note replace the run\'s');
  cmd.option('--force', '[flag] overwrite an existing non-empty run directory (with --resume: resume even if run.json names a live process)');
  addRunOptions(cmd);
  cmd.option('--json', '[flag] print only a final JSON summary on stdout (no progress, no printed losses)');
  cmd.action(async (opts: TrainCliOptions) => {
    process.exitCode = await trainAction(opts);
  });
}
