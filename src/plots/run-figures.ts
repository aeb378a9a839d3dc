/**
 * Every figure of one run directory, written to RUN/figures/ (or `outDir`) as NAME.svg + NAME.png:
 *
 *   loss                         training (bucketed) and validation loss     metrics.safetensors
 *   dynamics                     w^h(t), mu^h(t) per head and layer          metrics.safetensors
 *   circuits_layer{l}_head{h}    final scaled QK^h beside OV^h               model.safetensors (else last snapshot)
 *   qk_evolution_layer{l}        QK^h over training, heads x steps           snapshots.safetensors
 *   error_vs_length              error vs L with standard errors             --evaluation FILE or RUN/evaluation.json
 *
 * Used by `icl-lab plot` and by the report / reproduce commands.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { layerCircuits } from '../model/circuits.js';
import { stackCircuits } from '../model/circuits.js';
import { readModelFile } from '../io/model-file.js';
import { f64, FileFormatError, readSafetensors, type Tensor } from '../io/safetensors.js';
import { circuitSpec } from './circuits.js';
import { dynamicsSpec } from './dynamics.js';
import { errorVsLengthSpec, type Evaluation } from './error-curves.js';
import { readEvaluation } from './evaluation.js';
import { lossSpec } from './loss.js';
import { qkEvolutionSpec } from './qk-evolution.js';
import { renderFigure, type RasterOptions } from './render.js';
import { contextLine, withContext, type VlSpec } from './theme.js';

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
}

export interface RunFigures {
  outDir: string;
  /** Figure name -> [svg path, png path]. */
  figures: Record<string, string[]>;
  /** Figures not drawn and why (e.g. no snapshots logged). */
  skipped: string[];
}

export { parseEvaluation, readEvaluation } from './evaluation.js';

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

function need(tensors: Record<string, Tensor>, name: string, rank: number, source: string): Tensor {
  const t = tensors[name];
  if (!t) throw new FileFormatError(`missing tensor '${name}' (has: ${Object.keys(tensors).join(', ') || 'none'})`, source);
  if (t.shape.length !== rank) throw new FileFormatError(`tensor '${name}' has shape ${fmt(t.shape)}, expected rank ${rank}`, source);
  return t;
}

/**
 * "run h2 · H = 2 · d = 5 · L = 40 · seed preset, noise 0.01 · 20,000 steps" from RUN/run.json
 * (undefined when it cannot be read): printed under every figure's title.
 */
export function runContextLine(runDir: string, name = basename(resolve(runDir))): string | undefined {
  try {
    const r = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { step?: number; config?: Record<string, unknown> };
    const c = r.config ?? {};
    const num = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : NaN);
    return contextLine({
      runs: [name], heads: [num('heads')], d: num('d'), L: num('context_length'), preset: String(c['preset'] ?? 'seed'),
      steps: [r.step ?? NaN], noiseStd: num('noise_std'), rho: num('rho') || 0, layers: typeof c['layers'] === 'number' ? (c['layers'] as number) : 1,
    });
  } catch {
    return undefined;
  }
}

/** Training context length from run.json (config.context_length), if readable. */
function trainContextLength(runDir: string): number | undefined {
  try {
    const r = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { config?: Record<string, unknown> };
    const L = r.config?.['context_length'];
    return typeof L === 'number' ? L : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Final per-head circuits, [layer][head], from model.safetensors, or null. OV is OV^h[:, -1] for
 * every layer, as in snapshots.safetensors (for a stack: the y -> y column, not through final_linear).
 */
function modelCircuits(path: string): { qk: Float64Array; ov: Float64Array }[][] | null {
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

/** Render every figure the run directory has data for. */
export async function renderAllRunFigures(runDir: string, opts: RunFigureOptions = {}): Promise<RunFigures> {
  const metricsPath = join(runDir, 'metrics.safetensors');
  const snapshotsPath = join(runDir, 'snapshots.safetensors');
  const modelPath = join(runDir, 'model.safetensors');
  if (!existsSync(metricsPath) && !existsSync(snapshotsPath)) {
    throw new UsageError(`${runDir} has no metrics.safetensors or snapshots.safetensors: not a run directory (train one with \`icl-lab train --out ${runDir}\`)`);
  }
  const outDir = opts.outDir ?? join(runDir, 'figures');
  const result: RunFigures = { outDir, figures: {}, skipped: [] };
  const context = opts.context ?? runContextLine(runDir);
  const emit = async (name: string, spec: VlSpec): Promise<void> => {
    const files = await renderFigure(withContext(spec, context), outDir, name, opts.raster);
    result.figures[name] = files;
    opts.onFigure?.(name, files);
  };

  if (existsSync(metricsPath)) {
    const m = readSafetensors(metricsPath).tensors;
    const train = f64(need(m, 'train_loss', 1, metricsPath));
    const val = m['val_loss'] ? f64(need(m, 'val_loss', 1, metricsPath)) : undefined;
    const valStep = m['val_step'] ? f64(need(m, 'val_step', 1, metricsPath)) : undefined;
    if (train.length > 0 || (val && val.length > 0)) {
      await emit('loss', lossSpec({ trainLoss: train, valLoss: val, valStep }));
    } else {
      result.skipped.push('loss: no losses logged yet');
    }
    const qk = need(m, 'qk_dynamics', 3, metricsPath);
    const [nDyn, layers, heads] = qk.shape as [number, number, number];
    if (nDyn > 0) {
      const ov = need(m, 'ov_dynamics', 3, metricsPath);
      const step = f64(need(m, 'dyn_step', 1, metricsPath));
      await emit('dynamics', dynamicsSpec({ step, qk: f64(qk), ov: f64(ov), layers, heads }));
    } else {
      result.skipped.push('dynamics: no dynamics logged yet');
    }
  } else {
    result.skipped.push('loss, dynamics: no metrics.safetensors');
  }

  let finalCircuits = modelCircuits(modelPath);
  let circuitNote = 'final weights';
  if (existsSync(snapshotsPath)) {
    const s = readSafetensors(snapshotsPath).tensors;
    const qkT = need(s, 'qk', 5, snapshotsPath);
    const ovT = need(s, 'ov', 4, snapshotsPath);
    const step = f64(need(s, 'snapshot_step', 1, snapshotsPath));
    const [nSnap, layers, heads, E] = qkT.shape as [number, number, number, number];
    const qk = f64(qkT);
    const ov = f64(ovT);
    if (nSnap > 0) {
      if (!finalCircuits || finalCircuits.length !== layers || finalCircuits[0]!.length !== heads) {
        const last = nSnap - 1;
        finalCircuits = Array.from({ length: layers }, (_, l) => Array.from({ length: heads }, (_, h) => {
          const i = (last * layers + l) * heads + h; // [nSnap, layers, H]
          return { qk: qk.slice(i * E * E, (i + 1) * E * E), ov: ov.slice(i * E, (i + 1) * E) };
        }));
        circuitNote = `snapshot at step ${step[last]}`;
      }
      for (let l = 1; l <= layers; l++) {
        await emit(`qk_evolution_layer${l}`, qkEvolutionSpec({ step, qk, layers, heads, E }, { layer: l, columns: opts.columns ?? 6, ...(opts.qkSteps ? { steps: opts.qkSteps } : {}) }));
      }
    } else {
      result.skipped.push('qk_evolution: no snapshots logged yet');
    }
  } else {
    result.skipped.push('qk_evolution: no snapshots.safetensors');
  }

  if (finalCircuits) {
    for (let l = 0; l < finalCircuits.length; l++) {
      for (let h = 0; h < finalCircuits[l]!.length; h++) {
        const c = finalCircuits[l]![h]!;
        await emit(`circuits_layer${l + 1}_head${h + 1}`, circuitSpec({ ...c, layer: l + 1, head: h + 1 }, { note: circuitNote }));
      }
    }
  } else {
    result.skipped.push('circuits: no model.safetensors and no snapshots');
  }

  let evaluation: Evaluation | undefined;
  let evalSource = '';
  if (typeof opts.evaluation === 'object') {
    evaluation = opts.evaluation;
    evalSource = 'given evaluation';
  } else {
    const path = opts.evaluation ?? join(runDir, 'evaluation.json');
    if (opts.evaluation !== undefined || existsSync(path)) {
      evaluation = readEvaluation(path);
      evalSource = path;
    }
  }
  if (evaluation) {
    await emit('error_vs_length', errorVsLengthSpec(evaluation, {
      trainL: trainContextLength(runDir),
      subtitle: `${evalSource}; lines: mean squared error; bands: ± one standard error; dashed: reference estimators`,
    }));
  } else {
    result.skipped.push('error_vs_length: no evaluation (pass --evaluation FILE.json or write RUN/evaluation.json)');
  }
  return result;
}
