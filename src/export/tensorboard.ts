/**
 * `icl-lab export tensorboard`: runs and sweeps as TensorBoard event files, which TensorBoard opens,
 * `wandb sync --sync-tensorboard` uploads to W&B and `aim convert tensorboard` brings into Aim.
 *
 *   OUT/<run>/events.out.tfevents.<created>.icl-lab            one file per run directory given
 *   OUT/<sweep>/events.out.tfevents.<created>.icl-lab          a sweep's HParams experiment
 *   OUT/<sweep>/<run>/events.out.tfevents.<created>.icl-lab    each of its runs (+ session start/end)
 *
 * Per run, read through run/run-dir.ts: scalars train/loss, val/loss, circuit/w/L{l}H{h},
 * circuit/mu/L{l}H{h}, circuit/eta_tf (single-task runs), final/validation_loss (run.json's
 * held-out loss), final/kernel_gap (one-layer single-task models: `icl-lab analyze`'s kernel gap);
 * images circuit/qk_ov/L{l}H{h} (figure 3, QK^h beside OV^h) at snapshot steps; the config as text.
 *
 * Long runs are thinned as the web lab thins its curves: at most MAX_POINTS logged values per
 * scalar, evenly spaced with the last kept (plots/qk-evolution.ts evenIndices, the rule of
 * serve/figures.ts thinIndices), each the exact logged value at its step; images at about
 * IMAGE_STEPS round steps plus the last (the QK evolution figure's choice, roundStepIndices).
 * So the export of a 500,001-step run is about as large as one of a few thousand steps.
 *
 * Wall times are not the export's clock: created_at + wall_seconds * step / steps from run.json, so
 * the same run gives the same bytes (and W&B / Aim get a plausible time axis).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { analyzeTarget } from '../analysis/analyze.js';
import { loadTarget } from '../analysis/targets.js';
import { writeFileAtomic } from '../io/atomic.js';
import { makeDirs } from '../io/input-file.js';
import { fileVersionEvent, imageValue, scalarValue, summaryEvent, textValue, type SummaryValue } from '../io/tensorboard/event.js';
import { experimentValue, sessionEndValue, sessionStartValue, type HParamInfo, type HParamValue, type SessionStatus } from '../io/tensorboard/hparams.js';
import { tfrecordFile } from '../io/tensorboard/tfrecord.js';
import { effectiveLearningRate } from '../model/circuits.js';
import { circuitSpec } from '../plots/circuits.js';
import { evenIndices, roundStepIndices } from '../plots/qk-evolution.js';
import { specToSvg, svgToPng, type RasterOptions } from '../plots/render.js';
import { isRunDir, readMetrics, readRunJson, readSnapshots, RUN_FILES, type RunJson } from '../run/run-dir.js';
import { isSweepDir, readSweepJson, runDirOf } from '../sweep/sweep-dir.js';

/** Most values per scalar tag (the web lab's MAX_DYNAMICS_POINTS; TensorBoard itself keeps 1,000 per tag by default). */
export const MAX_POINTS = 1000;
/** About this many snapshot steps get images (TensorBoard keeps 10 images per tag by default). */
export const IMAGE_STEPS = 10;
/** Images at their natural size (1 CSS pixel = 1 pixel), about 20 kB each. */
const IMAGE_RASTER: RasterOptions = { scale: 1, minWidth: 0 };
/** Metric tags shown in a sweep's HParams table (those some run has). */
const HPARAM_METRICS = ['final/validation_loss', 'final/kernel_gap', 'val/loss', 'train/loss'];

export interface TensorboardOptions {
  out: string;
  /** Most values per scalar tag (default MAX_POINTS). */
  maxPoints?: number;
  /** About this many image steps (default IMAGE_STEPS; 0 = no images). */
  imageSteps?: number;
  /** Kernel-gap prompts (default: analyze's 10,000). */
  kernelGapSamples?: number;
}

export interface ExportedRun {
  name: string;
  source: string;
  file: string;
  bytes: number;
  /** Scalar values written, over all tags. */
  scalars: number;
  images: number;
}

export interface ExportedExperiment {
  name: string;
  source: string;
  file: string;
  hparams: string[];
  metrics: string[];
}

export interface TensorboardExport {
  out: string;
  runs: ExportedRun[];
  experiments: ExportedExperiment[];
  /** Runs left out and why (a sweep's runs not started yet). */
  skipped: string[];
}

/** Event-file name of a log written from a run created at `secs`. */
export function eventFileName(secs: number): string {
  return `events.out.tfevents.${Math.floor(secs)}.icl-lab`;
}

const secondsOf = (iso: string | undefined): number => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t / 1000 : 0;
};

/** Summary values grouped by step: one Event per step, steps ascending (W&B needs them increasing). */
class StepEvents {
  private readonly byStep = new Map<number, SummaryValue[]>();
  scalars = 0;
  images = 0;

  add(step: number, v: SummaryValue): void {
    const list = this.byStep.get(step);
    if (list) list.push(v);
    else this.byStep.set(step, [v]);
  }

  scalar(step: number, tag: string, value: number): void {
    this.add(step, scalarValue(tag, value));
    this.scalars++;
  }

  /** The file: the version record, then one summary event per step. */
  file(wallTime: (step: number) => number): Uint8Array {
    const steps = [...this.byStep.keys()].sort((a, b) => a - b);
    return tfrecordFile([fileVersionEvent(wallTime(0)), ...steps.map((s) => summaryEvent(wallTime(s), s, this.byStep.get(s)!))]);
  }
}

/**
 * Text of the user's (a run's name, tags, note) for TensorBoard's Markdown: HTML characters as
 * entities and Markdown's punctuation escaped, so it shows as typed and never as markup.
 */
export function markdownText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/[\\`*_{}[\]()#+!|~-]/g, (c) => `\\${c}`);
}

/** The config as a Markdown table for the Text dashboard (after the run's name, tags and note, when it has them). */
function configMarkdown(name: string, r: RunJson): string {
  const labels = [
    ...(r.name !== undefined ? [`name: **${markdownText(r.name)}**`] : []),
    ...(r.tags && r.tags.length > 0 ? [`tags: ${r.tags.map((t) => `\`${t}\``).join(', ')}`] : []),
    ...(r.note !== undefined ? [`note: ${r.note.split('\n').map(markdownText).join('  \n')}`] : []),
  ];
  const lines = [
    `icl-lab ${r.icl_lab_version} run **${name}**: ${r.status}, step ${r.step} of ${r.steps}, seed ${r.seed}`,
    ...(labels.length > 0 ? ['', ...labels.map((l, i) => (i < labels.length - 1 ? `${l}  ` : l))] : []),
    '',
    '| field | value |',
    '| --- | --- |',
    ...Object.entries(r.config).map(([k, v]) => `| ${k} | ${(typeof v === 'string' ? v : JSON.stringify(v)).replace(/\|/g, '\\|')} |`),
  ];
  return lines.join('\n');
}

/** Single-task (one output) config: eta_TF and the kernel gap apply. */
function singleTask(c: Record<string, unknown>): boolean {
  return (c['n_out'] === undefined || c['n_out'] === 1) && !c['tasks'];
}

/** A trained one-layer single-task model: the kernel gap applies. */
function hasKernelGap(r: RunJson, dir: string): boolean {
  return (r.config['layers'] ?? 1) === 1 && singleTask(r.config) && r.step > 0 && existsSync(join(dir, RUN_FILES.model));
}

/** Every summary of one run directory. */
async function runEvents(dir: string, name: string, r: RunJson, o: TensorboardOptions): Promise<StepEvents> {
  const ev = new StepEvents();
  const maxPoints = o.maxPoints ?? MAX_POINTS;
  ev.add(0, textValue('config', configMarkdown(name, r)));
  const m = readMetrics(dir);
  if (m) {
    for (const i of evenIndices(m.trainLoss.length, maxPoints)) ev.scalar(i, 'train/loss', m.trainLoss[i]!); // train_loss[s]: step s
    if (m.valLoss && m.valStep) {
      for (const i of evenIndices(m.valStep.length, maxPoints)) ev.scalar(m.valStep[i]!, 'val/loss', m.valLoss[i]!);
    }
    const { step, qk, ov, nDyn, layers, heads } = m.dynamics;
    const eta = singleTask(r.config);
    for (const t of evenIndices(nDyn, maxPoints)) {
      const s = step[t]!;
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          const i = (t * layers + l) * heads + h;
          ev.scalar(s, `circuit/w/L${l + 1}H${h + 1}`, qk[i]!);
          ev.scalar(s, `circuit/mu/L${l + 1}H${h + 1}`, ov[i]!);
        }
      }
      if (m.taskDynamics) { // a multi-task run: w^h_k and mu^h_k of every task k
        const N = m.taskDynamics.tasks;
        for (let h = 0; h < heads; h++) {
          for (let k = 0; k < N; k++) {
            const i = ((t * layers + layers - 1) * heads + h) * N + k;
            ev.scalar(s, `circuit/w_task${k + 1}/L${layers}H${h + 1}`, m.taskDynamics.qk[i]!);
            ev.scalar(s, `circuit/mu_task${k + 1}/L${layers}H${h + 1}`, m.taskDynamics.ov[i]!);
          }
        }
      }
      if (eta) {
        const last = (t * layers + layers - 1) * heads;
        ev.scalar(s, 'circuit/eta_tf', effectiveLearningRate(qk.subarray(last, last + heads), ov.subarray(last, last + heads)));
      }
    }
  }
  const snaps = readSnapshots(dir);
  const imageSteps = o.imageSteps ?? IMAGE_STEPS;
  if (snaps && snaps.nSnap > 0 && imageSteps > 0) {
    const { layers, heads, E } = snaps;
    const n = r.config['n_out'];
    const outputs = typeof n === 'number' && n > 1 ? n : 1;
    for (const t of roundStepIndices(snaps.step, imageSteps)) {
      const s = snaps.step[t]!;
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          const i = (t * layers + l) * heads + h;
          const K = snaps.ovColumns; // a multi-task run's whole OV^h [E, N], or one column
          const spec = circuitSpec({ qk: snaps.qk.subarray(i * E * E, (i + 1) * E * E), ov: snaps.ov.subarray(i * E * K, (i + 1) * E * K), layer: l + 1, head: h + 1 }, { note: `step ${s}`, outputs, ovColumns: K });
          ev.add(s, imageValue(`circuit/qk_ov/L${l + 1}H${h + 1}`, svgToPng(await specToSvg(spec), IMAGE_RASTER)));
          ev.images++;
        }
      }
    }
  }
  if (r.final_validation) ev.scalar(r.final_validation.step, 'final/validation_loss', r.final_validation.mse);
  if (hasKernelGap(r, dir)) {
    ev.scalar(r.step, 'final/kernel_gap', analyzeTarget(loadTarget(dir), { samples: o.kernelGapSamples ?? 10_000 }).kernelGap);
  }
  return ev;
}

/** Status of a run for the HParams table. */
function sessionStatus(r: RunJson): SessionStatus {
  if (r.status === 'completed') return 'success';
  if (r.status === 'failed') return 'failure';
  if (r.status === 'running' || r.status === 'interrupted') return 'running';
  return 'unknown';
}

/** A config value as a hyperparameter value (anything but a number, string or boolean as JSON). */
function hparamValue(v: unknown): HParamValue {
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : JSON.stringify(v);
}

/**
 * The config fields whose values differ between the runs, with their types and values; pool_seed only
 * when a run has a task pool (elsewhere it repeats the seed and nothing reads it, as serve's "differs").
 */
export function varyingHParams(configs: readonly Record<string, unknown>[]): HParamInfo[] {
  const pooled = configs.some((c) => Number(c['task_pool'] ?? 0) > 0);
  const keys = [...new Set(configs.flatMap((c) => Object.keys(c)))].filter((k) => pooled || k !== 'pool_seed');
  const out: HParamInfo[] = [];
  for (const k of keys) {
    const raw = configs.map((c) => hparamValue(c[k] ?? null));
    const distinct = [...new Map(raw.map((v) => [JSON.stringify(v), v])).values()];
    if (distinct.length < 2) continue;
    const types = new Set(distinct.map((v) => typeof v));
    const type = types.size > 1 ? 'string' : typeof distinct[0] === 'number' ? 'float64' : typeof distinct[0] === 'boolean' ? 'bool' : 'string';
    out.push({ name: k, type, values: type === 'string' ? distinct.map(String) : distinct });
  }
  return out;
}

/** Names unique within the export (a second run of the same name gets -2, -3, ...). */
function uniqueName(taken: Set<string>, name: string): string {
  let n = name;
  for (let i = 2; taken.has(n); i++) n = `${name}-${i}`;
  taken.add(n);
  return n;
}

async function writeRun(dir: string, outDir: string, name: string, r: RunJson, o: TensorboardOptions, extra?: { start: SummaryValue; end: SummaryValue }): Promise<ExportedRun> {
  const ev = await runEvents(dir, name, r, o);
  if (extra) {
    ev.add(0, extra.start);
    ev.add(r.step, extra.end);
  }
  const t0 = secondsOf(r.timings?.created_at);
  const wall = r.timings?.wall_seconds ?? 0;
  const bytes = ev.file((s) => t0 + wall * Math.min(1, s / Math.max(1, r.step)));
  makeDirs(outDir, '--out');
  const file = join(outDir, eventFileName(t0));
  writeFileAtomic(file, bytes);
  return { name, source: dir, file, bytes: bytes.length, scalars: ev.scalars, images: ev.images };
}

/** What SOURCE is: a run directory, a sweep directory, or bad input. */
function sourceKind(source: string): 'run' | 'sweep' {
  if (!existsSync(source)) throw new UsageError(`${source} does not exist (give run directories or sweep directories)`);
  if (!statSync(source).isDirectory()) throw new UsageError(`${source} is not a directory (give run directories or sweep directories)`);
  if (isSweepDir(source)) return 'sweep';
  if (isRunDir(source)) return 'run';
  throw new UsageError(`${source} is neither a run directory (no ${RUN_FILES.run}) nor a sweep directory (no sweep.json)`);
}

/** Export every source (run or sweep directory) into `o.out`. */
export async function exportTensorboard(sources: readonly string[], o: TensorboardOptions): Promise<TensorboardExport> {
  if (sources.length === 0) throw new UsageError('export tensorboard needs at least one run or sweep directory');
  const kinds = sources.map(sourceKind); // all checked before anything is written
  const runs = sources.map((s, i) => (kinds[i] === 'run' ? readRunJson(s) : null));
  runs.forEach((r, i) => {
    if (r && !existsSync(join(sources[i]!, RUN_FILES.metrics))) throw new UsageError(`${sources[i]} has not logged anything yet (status ${r.status}, no ${RUN_FILES.metrics}): nothing to export`);
  });
  const result: TensorboardExport = { out: o.out, runs: [], experiments: [], skipped: [] };
  const taken = new Set<string>();
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i]!;
    const name = uniqueName(taken, basename(resolve(source)));
    const r = runs[i];
    if (r) {
      result.runs.push(await writeRun(source, join(o.out, name), name, r, o));
      continue;
    }
    const sweep = readSweepJson(source);
    const members = sweep.runs.map((s) => ({ name: s.name, dir: runDirOf(source, s.name) })).filter((s) => {
      const ok = isRunDir(s.dir) && existsSync(join(s.dir, RUN_FILES.metrics));
      if (!ok) result.skipped.push(`${s.dir}: not started yet`);
      return ok;
    });
    const rjs = members.map((s) => readRunJson(s.dir));
    const hparams = varyingHParams(rjs.map((x) => x.config));
    const written: ExportedRun[] = [];
    for (let j = 0; j < members.length; j++) {
      const rj = rjs[j]!;
      const values = Object.fromEntries(hparams.map((h) => [h.name, h.type === 'string' ? String(hparamValue(rj.config[h.name] ?? null)) : hparamValue(rj.config[h.name] ?? null)]));
      const t0 = secondsOf(rj.timings?.created_at);
      const extra = {
        start: sessionStartValue({ hparams: values, groupName: members[j]!.name, startTimeSecs: t0 }),
        end: sessionEndValue({ status: sessionStatus(rj), endTimeSecs: t0 + (rj.timings?.wall_seconds ?? 0) }),
      };
      written.push(await writeRun(members[j]!.dir, join(o.out, name, members[j]!.name), members[j]!.name, rj, o, extra));
    }
    const metrics = HPARAM_METRICS.filter((tag) => written.length > 0 && rjs.some((rj, j) => hasMetric(rj, tag, members[j]!.dir)));
    const t0 = secondsOf(sweep.created_at);
    const file = join(o.out, name, eventFileName(t0));
    makeDirs(join(o.out, name), '--out');
    writeFileAtomic(file, tfrecordFile([fileVersionEvent(t0), summaryEvent(t0, 0, [experimentValue({ name, description: `icl-lab sweep ${name} (${members.length} runs)`, timeCreatedSecs: t0, hparams, metrics })])]));
    result.runs.push(...written);
    result.experiments.push({ name, source, file, hparams: hparams.map((h) => h.name), metrics });
  }
  return result;
}

/** Whether a run's export has the metric tag. */
function hasMetric(r: RunJson, tag: string, dir: string): boolean {
  if (tag === 'final/validation_loss') return r.final_validation !== undefined;
  if (tag === 'final/kernel_gap') return hasKernelGap(r, dir);
  return true;
}
