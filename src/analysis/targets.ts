/**
 * A model named on the command line (TARGET): a run directory (RUN/model.safetensors + RUN/run.json
 * for L, noise, preset) or any `.safetensors` model under the seed's state_dict keys (float32 or
 * float64, e.g. one saved by the seed's PyTorch code; unused keys such as final_linear.weight are
 * ignored). `loadTarget` reads a one-layer model, `loadStackTarget` a multi-layer stack.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { AttentionParams } from '../model/params.js';
import type { StackParams } from '../model/stack.js';
import type { PresetName } from '../data/task.js';
import { loadModel, parseModelTensors, type ModelFile } from '../io/model-file.js';
import { FileFormatError, readSafetensors } from '../io/safetensors.js';
import { isRunDir, readRunJson, runConfig, RUN_FILES, type RunJson } from '../run/run-dir.js';
import { UsageError } from '../errors.js';
import { taskPoolOf } from '../run/task-families.js';

/** What a run directory's run.json says about the task a model was trained on, and how far it got. */
export interface TargetRun {
  L: number;
  noiseStd: number;
  preset: PresetName;
  rho: number;
  step: number;
  status: string;
  /** A pool run's tasks [M, d] (run/task-families.ts, the same as its task_pool.safetensors). */
  pool?: Float64Array;
  /** A sparse run's s. */
  sparsity?: number;
}

/** A model named on the command line, with what its run directory says about its task. */
export interface ModelTarget {
  /** Run name: directory basename, or file stem. */
  readonly name: string;
  /** The model file read. */
  readonly path: string;
  readonly params: AttentionParams;
  /** From run.json, when TARGET is a run directory. */
  readonly run?: TargetRun;
}

/** A multi-layer stack (keys `attention_layers.{l}.*` + `final_linear.weight`) named on the command line. */
export interface StackTarget {
  readonly name: string;
  readonly path: string;
  readonly stack: StackParams;
  /** From run.json, when TARGET is a run directory (evaluate takes the task from it). */
  readonly run?: TargetRun;
}

/** Run name of a target: the directory's basename, or the file's stem. */
function targetName(target: string, isDir: boolean): string {
  return isDir ? basename(target.replace(/[\\/]+$/, '')) || target : basename(target, extname(target));
}

/** The task and progress recorded in run.json of DIR. */
function targetRun(run: RunJson, dir: string): TargetRun {
  const c = runConfig(run, dir);
  return { L: c.contextLength, noiseStd: c.noiseStd, preset: c.preset, rho: c.rho, step: run.step, status: run.status, ...(c.task === 'pool' ? { pool: taskPoolOf(c) } : {}), ...(c.task === 'sparse' ? { sparsity: c.sparsity } : {}) };
}

/** A one-layer model with n_out = 1 (the regression model); a UsageError naming the file otherwise. */
function loadRegressionModel(path: string): AttentionParams {
  const p = loadModel(path);
  if (p.nOut !== 1) {
    throw new UsageError(`${path}: the model has n_out=${p.nOut} (attention_layer.o_proj.weight has ${p.nOut} rows); analyze and evaluate read the regression model with n_out=1`);
  }
  return p;
}

/** Resolve TARGET (run directory or .safetensors file) and load its model. */
/**
 * The model file TARGET names (a run directory's model.safetensors, or the file itself), or a
 * UsageError that says what to give instead: a JSON file (run.json) names its run directory, a folder
 * of runs lists them (issue 22 item 18).
 */
export function modelFileOf(target: string): string {
  if (!existsSync(target)) throw new UsageError(`no such run directory or model file: ${target}`);
  if (!statSync(target).isDirectory()) {
    if (extname(target).toLowerCase() === '.json') throw new UsageError(`${target} is JSON, not a model; give the run directory (${dirname(target)}) or its ${RUN_FILES.model}`);
    return target;
  }
  const path = join(target, RUN_FILES.model);
  if (existsSync(path)) return path;
  if (!isRunDir(target)) {
    let runs: string[] = [];
    try {
      runs = readdirSync(target, { withFileTypes: true }).filter((e) => e.isDirectory() && isRunDir(join(target, e.name))).map((e) => e.name).sort();
    } catch {
      // unreadable: the message below still holds
    }
    if (runs.length > 0) throw new UsageError(`${target} is not a run directory but holds ${runs.length} run(s): ${runs.slice(0, 8).map((r) => join(target, r)).join(', ')}${runs.length > 8 ? ', ...' : ''}; give one of them`);
  }
  throw new UsageError(`${target} has no ${RUN_FILES.model} (is it a run directory that has saved a model yet?)`);
}

export function loadTarget(target: string): ModelTarget {
  const path = modelFileOf(target);
  if (path !== target) {
    const run = existsSync(join(target, RUN_FILES.run)) ? readRunJson(target) : undefined;
    const params = loadRegressionModel(path);
    const name = targetName(target, true);
    if (!run) return { name, path, params };
    return { name, path, params, run: targetRun(run, target) };
  }
  return { name: targetName(target, false), path: target, params: loadRegressionModel(target) };
}

/** The stack in TARGET, or undefined when TARGET holds a one-layer model (no model: modelFileOf's UsageError). */
export function loadStackTarget(target: string): StackTarget | undefined {
  const path = modelFileOf(target); // no model: the one-layer loader's message is the same
  const isDir = path !== target;
  const { tensors, metadata } = readSafetensors(path);
  if (!Object.keys(tensors).some((k) => k.startsWith('attention_layers.'))) return undefined;
  const name = targetName(target, isDir);
  let m: ModelFile;
  try {
    m = parseModelTensors(tensors, path, metadata);
  } catch (err) {
    if (err instanceof FileFormatError) throw new UsageError(err.message);
    throw err;
  }
  if (m.kind !== 'stack') return undefined;
  if (!isDir || !existsSync(join(target, RUN_FILES.run))) return { name, path, stack: m.params };
  return { name, path, stack: m.params, run: targetRun(readRunJson(target), target) };
}

/** A warning for a run that has not trained yet (step 0: its weights are the initialisation), or null. */
export function untrainedWarning(t: { readonly name: string; readonly run?: TargetRun }): string | null {
  if (!t.run || t.run.step > 0) return null;
  return `warning: ${t.name} is at step 0 (untrained: its weights are the initialisation; train it first, e.g. icl-lab train --resume <dir>)`;
}
