/**
 * Every figure of one run directory, written to RUN/figures/ (or `outDir`) as NAME.svg + NAME.png:
 *
 *   loss                         training (bucketed) and validation loss     metrics.safetensors
 *   dynamics                     w^h(t), mu^h(t) per head and layer          metrics.safetensors
 *   dynamics_tasks               a multi-task run's w^h_k(t), mu^h_k(t)      metrics.safetensors (runs since issue 22)
 *   circuits_layer{l}_head{h}    final scaled QK^h beside OV^h               model.safetensors (else last snapshot)
 *   qk_evolution_layer{l}        QK^h over training, heads x steps           snapshots.safetensors
 *   error_vs_length              error vs L with standard errors             --evaluation FILE or RUN/evaluation.json
 *
 * `paper`: the same figures without titles or context line, larger fonts (`plot --paper`).
 *
 * Used by `icl-lab plot` and by the report / reproduce commands.
 */
import { cliCommand, shellQuote } from '../command.js';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { layerCircuits, stackCircuits } from '../model/circuits.js';
import { readModelFile } from '../io/model-file.js';
import { notARunDirAdvice, readMetrics, readRunJson, readSnapshots, RUN_FILES, type RunMetrics, type RunSnapshots } from '../run/run-dir.js';
import { circuitSpec } from './circuits.js';
import { multitaskCircuits } from '../model/multitask-circuits.js';
import { multitaskCircuitsSpec } from './multitask.js';
import { parseTasks } from '../data/multitask.js';
import { dynamicsSpec, taskDynamicsSpec } from './dynamics.js';
import type { Evaluation } from '../analysis/evaluate.js';
import { errorVsLengthSpec } from './error-curves.js';
import { readEvaluation } from './evaluation.js';
import { lossSpec } from './loss.js';
import { qkEvolutionSpec } from './qk-evolution.js';
import { renderFigure, type RasterOptions } from './render.js';
import { contextLine, paperSpec, withContext, type VlSpec } from './theme.js';

export interface RunFigureOptions {
  /** Output folder (default RUN/figures). */
  outDir?: string;
  /** Evaluation JSON path or object (default: RUN/evaluation.json when it exists). */
  evaluation?: string | Evaluation;
  /** Columns (snapshot steps) of the QK evolution grid (default 6, at round steps and the last). */
  columns?: number;
  /** Steps shown in the QK evolution grid instead (nearest snapshot each; the last is always added). */
  qkSteps?: number[];
  /** Called once per figure written (e.g. to print a line). */
  onFigure?: (name: string, files: string[]) => void;
  raster?: RasterOptions;
  /** The line under every title saying what the figure is about (default: from RUN/run.json, see `runContextLine`). */
  context?: string;
  /** Paper mode (`plot --paper`): no titles, subtitles or context line, fonts at `fontSize` (plots/theme.ts paperSpec). */
  paper?: { fontSize?: number };
}

export interface RunFigures {
  outDir: string;
  /** Figure name -> [svg path, png path]. */
  figures: Record<string, string[]>;
  /** Figures not drawn and why (e.g. no snapshots logged). */
  skipped: string[];
}

export { parseEvaluation, readEvaluation } from './evaluation.js';

/**
 * "run h2 · H = 2 · d = 5 · L = 40 · seed preset, noise 0.01 · 20,000 steps" from RUN/run.json
 * (undefined when it cannot be read): printed under every figure's title.
 */
export function runContextLine(runDir: string, name = basename(resolve(runDir))): string | undefined {
  try {
    const r = readRunJson(runDir);
    const c = r.config;
    const num = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : NaN);
    return contextLine({
      runs: [name], heads: [num('heads')], d: num('d'), L: num('context_length'), preset: String(c['preset'] ?? 'seed'),
      steps: [r.step], noiseStd: num('noise_std'), rho: num('rho') || 0, layers: typeof c['layers'] === 'number' ? (c['layers'] as number) : 1,
    });
  } catch {
    return undefined;
  }
}

/** Outputs per token from run.json (config.n_out: a multi-task run's N), else 1. */
function runOutputs(runDir: string): number {
  try {
    const n = readRunJson(runDir).config['n_out'];
    return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
  } catch {
    return 1;
  }
}

/** A multi-task run's task blocks as the figures name them ('x1..x4'), from run.json's config.tasks; [] when not one. */
function runTaskNames(runDir: string): string[] {
  try {
    const t = readRunJson(runDir).config['tasks'];
    return typeof t === 'string' && t !== '' ? parseTasks(t).map(([s, e]) => `x${s + 1}..x${e}`) : [];
  } catch {
    return [];
  }
}

/** Training context length from run.json (config.context_length), if readable. */
function trainContextLength(runDir: string): number | undefined {
  try {
    const L = readRunJson(runDir).config['context_length'];
    return typeof L === 'number' ? L : undefined;
  } catch {
    return undefined;
  }
}

/** Per-head circuits as figure 3 draws them, [layer][head]. */
type Circuits = { qk: Float64Array; ov: Float64Array }[][];

/**
 * Final per-head circuits, [layer][head], from model.safetensors, or null. OV is OV^h[:, -1] for
 * every layer, as in snapshots.safetensors (for a stack: the y -> y column, not through final_linear).
 */
function modelCircuits(path: string): Circuits | null {
  if (!existsSync(path)) return null;
  try {
    const m = readModelFile(path);
    if (m.kind === 'stack') {
      const E = m.params.E;
      return stackCircuits(m.params).map((layer) => layer.map((c) => ({ qk: c.qk, ov: c.ov.filter((_, i) => i % E === E - 1) }))); // [E, E] -> [:, -1]
    }
    return [layerCircuits(m.params).map((c) => ({ qk: c.qk, ov: c.ov }))];
  } catch {
    return null; // unreadable model: fall back to the last snapshot
  }
}

/** The circuits of the last snapshot, [layer][head] (OV^h with the snapshot's ovColumns columns). */
function lastSnapshotCircuits(s: RunSnapshots): Circuits {
  const { layers, heads, E } = s;
  const K = s.ovColumns;
  const last = s.nSnap - 1;
  return Array.from({ length: layers }, (_, l) => Array.from({ length: heads }, (_, h) => {
    const i = (last * layers + l) * heads + h; // [nSnap, layers, H]
    return { qk: s.qk.slice(i * E * E, (i + 1) * E * E), ov: s.ov.slice(i * E * K, (i + 1) * E * K) };
  }));
}

type Emit = (name: string, spec: VlSpec) => Promise<void>;

/** loss and dynamics, from metrics.safetensors. */
async function metricsFigures(m: RunMetrics | undefined, emit: Emit, skipped: string[], outputs = 1, taskNames: string[] = []): Promise<void> {
  if (!m) {
    skipped.push('loss, dynamics: no metrics.safetensors');
    return;
  }
  if (m.trainLoss.length > 0 || (m.valLoss && m.valLoss.length > 0)) {
    await emit('loss', lossSpec({ trainLoss: m.trainLoss, valLoss: m.valLoss, valStep: m.valStep }));
  } else {
    skipped.push('loss: no losses logged yet');
  }
  const { step, qk, ov, nDyn, layers, heads } = m.dynamics;
  if (nDyn > 0) {
    await emit('dynamics', dynamicsSpec({ step, qk, ov, layers, heads }, outputs > 1 ? { multitask: true } : {})); // multi-task: the sums over the tasks, titled so
    if (m.taskDynamics) await emit('dynamics_tasks', taskDynamicsSpec({ step, layers, heads, ...m.taskDynamics }, { taskNames }));
  } else {
    skipped.push('dynamics: no dynamics logged yet');
  }
}

/** qk_evolution_layer{l}, from snapshots.safetensors. */
async function snapshotFigures(s: RunSnapshots | undefined, columns: number, emit: Emit, skipped: string[], qkSteps?: number[], outputs = 1): Promise<void> {
  if (!s) {
    skipped.push('qk_evolution: no snapshots.safetensors');
    return;
  }
  if (s.nSnap === 0) {
    skipped.push('qk_evolution: no snapshots logged yet');
    return;
  }
  const { step, qk, layers, heads, E } = s;
  for (let l = 1; l <= layers; l++) {
    await emit(`qk_evolution_layer${l}`, qkEvolutionSpec({ step, qk, layers, heads, E }, { layer: l, columns, outputs, ...(qkSteps ? { steps: qkSteps } : {}) }));
  }
}

/** The multi-task circuits figure of a model file with `tasks` metadata, else null (also used by the web lab, serve/data.ts). */
export function multitaskFigure(path: string): VlSpec | null {
  if (!existsSync(path)) return null;
  try {
    const m = readModelFile(path);
    const tasks = m.metadata['tasks'];
    if (m.kind !== 'single-layer' || !tasks || m.params.nOut === 1) return null;
    const blocks = parseTasks(tasks);
    const d = Number(m.metadata['d']);
    return multitaskCircuitsSpec(multitaskCircuits(m.params, d, blocks), d, blocks, { note: 'final weights' });
  } catch {
    return null;
  }
}

/** circuits_layer{l}_head{h}: the final weights, else the last snapshot when the model is missing or does not match it. */
async function circuitFigures(runDir: string, s: RunSnapshots | undefined, emit: Emit, skipped: string[]): Promise<void> {
  const mt = multitaskFigure(join(runDir, RUN_FILES.model));
  if (mt) return void (await emit('circuits', mt)); // a multi-task model: QK^h (E x E) and OV^h (E x N) of every head in one figure
  let circuits = modelCircuits(join(runDir, RUN_FILES.model));
  let note = 'final weights';
  let columns = 1;
  if (s && s.nSnap > 0 && (!circuits || circuits.length !== s.layers || circuits[0]!.length !== s.heads)) {
    circuits = lastSnapshotCircuits(s);
    note = `snapshot at step ${s.step[s.nSnap - 1]}`;
    columns = s.ovColumns; // a multi-task run's whole OV^h [E, N]
  }
  if (!circuits) {
    skipped.push('circuits: no model.safetensors and no snapshots');
    return;
  }
  for (let l = 0; l < circuits.length; l++) {
    for (let h = 0; h < circuits[l]!.length; h++) {
      await emit(`circuits_layer${l + 1}_head${h + 1}`, circuitSpec({ ...circuits[l]![h]!, layer: l + 1, head: h + 1 }, { note, ...(columns > 1 ? { outputs: columns, ovColumns: columns } : {}) }));
    }
  }
}

/** error_vs_length, from the given evaluation or RUN/evaluation.json. */
async function evaluationFigure(runDir: string, given: string | Evaluation | undefined, emit: Emit, skipped: string[]): Promise<void> {
  let evaluation: Evaluation | undefined;
  let evalSource = '';
  if (typeof given === 'object') {
    evaluation = given;
    evalSource = 'given evaluation';
  } else {
    const path = given ?? join(runDir, 'evaluation.json');
    if (given !== undefined || existsSync(path)) {
      evaluation = readEvaluation(path);
      evalSource = path;
    }
  }
  if (!evaluation) {
    skipped.push(`error_vs_length: no evaluation (write one with \`${cliCommand(`evaluate ${shellQuote(runDir)} --out ${shellQuote(join(runDir, 'evaluation.json'))}`)}\`, or pass --evaluation FILE.json)`);
    return;
  }
  await emit('error_vs_length', errorVsLengthSpec(evaluation, {
    trainL: trainContextLength(runDir),
    subtitle: `${evalSource}; lines: mean squared error; bands: ± one standard error; dashed: reference estimators`,
  }));
}

/** Render every figure the run directory has data for. */
export async function renderAllRunFigures(runDir: string, opts: RunFigureOptions = {}): Promise<RunFigures> {
  if (!existsSync(join(runDir, RUN_FILES.metrics)) && !existsSync(join(runDir, RUN_FILES.snapshots))) {
    throw new UsageError(`${runDir} has no metrics.safetensors or snapshots.safetensors: not a run directory; ${notARunDirAdvice(runDir, (runs) => `plot ${runs[0]}`, false)}`);
  }
  const outDir = opts.outDir ?? join(runDir, 'figures');
  const result: RunFigures = { outDir, figures: {}, skipped: [] };
  const context = opts.context ?? runContextLine(runDir);
  const paper = opts.paper;
  const emit: Emit = async (name, spec) => {
    const files = await renderFigure(paper ? paperSpec(spec, paper.fontSize) : withContext(spec, context), outDir, name, opts.raster);
    result.figures[name] = files;
    opts.onFigure?.(name, files);
  };
  const outputs = runOutputs(runDir);
  await metricsFigures(readMetrics(runDir), emit, result.skipped, outputs, runTaskNames(runDir));
  const snapshots = readSnapshots(runDir);
  await snapshotFigures(snapshots, opts.columns ?? 6, emit, result.skipped, opts.qkSteps, outputs);
  await circuitFigures(runDir, snapshots, emit, result.skipped);
  await evaluationFigure(runDir, opts.evaluation, emit, result.skipped);
  return result;
}
