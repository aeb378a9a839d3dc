/**
 * `icl-lab analyze` for a multi-task model: the task layout comes from the model file's metadata
 * `tasks` (written by training) or from run.json; per head QK^h (E x E), OV^h (E x N), the mean QK
 * diagonal on each task's block, the y_k -> output k entries, and the shares behind the findings.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readModelFile } from '../io/model-file.js';
import { modelFileOf } from './targets.js';
import { readRunJson, runConfig } from '../run/run-dir.js';
import { multitaskCircuits, type MultiHeadCircuit } from '../model/multitask-circuits.js';
import { activeCircuits, mainTask, mixedShare, MT_THRESHOLDS } from '../model/multitask-circuits.js';
import { formatTasks, parseTasks, type TaskBlock } from '../data/multitask.js';

export interface MultitaskAnalysis {
  source: string;
  name: string;
  d: number;
  E: number;
  H: number;
  tasks: string;
  heads: (Omit<MultiHeadCircuit, 'qk' | 'ov'> & { active: boolean; serves: string; qk: number[][]; ov: number[][] })[];
}

/** The multi-task analysis of TARGET, or undefined when it is not a multi-task model. */
export function analyzeMultitask(target: string): MultitaskAnalysis | undefined {
  const path = modelFileOf(target); // no model or not one: the message that says what to give
  const isDir = path !== target;
  const m = readModelFile(path);
  if (m.kind !== 'single-layer' || m.params.nOut === 1) return undefined;
  let tasks: TaskBlock[] | undefined;
  let d: number | undefined;
  if (m.metadata['tasks']) {
    tasks = parseTasks(m.metadata['tasks']);
    d = Number(m.metadata['d']);
  } else if (isDir && existsSync(join(target, 'run.json'))) {
    const c = runConfig(readRunJson(target), target);
    if (c.tasks) { tasks = parseTasks(c.tasks); d = c.d; }
  }
  if (!tasks || !d) return undefined;
  const p = m.params;
  const cs = multitaskCircuits(p, d, tasks);
  const act = new Set(activeCircuits(cs).map((c) => c.head));
  const E = p.E, N = tasks.length;
  const rows = (a: Float64Array, r: number, c: number) => Array.from({ length: r }, (_, i) => Array.from(a.subarray(i * c, (i + 1) * c)));
  return {
    source: path, name: isDir ? basename(target.replace(/[\\/]+$/, '')) : basename(target, '.safetensors'), d, E, H: p.H, tasks: formatTasks(tasks),
    heads: cs.map(({ qk, ov, ...c }) => ({ ...c, active: act.has(c.head), serves: !act.has(c.head) ? 'inactive' : mixedShare({ qk, ov, ...c }) <= MT_THRESHOLDS.split ? `task ${mainTask({ qk, ov, ...c }) + 1}` : 'several tasks (superposed)', qk: rows(qk, E, E), ov: rows(ov, E, N) })),
  };
}

export function formatMultitaskAnalysis(a: MultitaskAnalysis): string {
  const f = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(4);
  const lab = (i: number) => (i < a.d ? `x_${i + 1}` : `y_${i - a.d + 1}`);
  const lines = [`${a.name}: ${a.source}  (multi-task: tasks ${a.tasks} on x in R^${a.d}, E=${a.E}, H=${a.H}, n_out=${a.heads[0]?.ov[0]?.length ?? 0})`, ''];
  for (const h of a.heads) {
    lines.push(`Head ${h.head + 1}: ${h.serves}; mean QK diagonal per task block ${h.wTask.map(f).join(', ')}; OV y_k -> out k ${h.muTask.map(f).join(', ')}; QK diagonal share per task ${h.qkShare.map((x) => x.toFixed(2)).join(' / ')} (own coordinates ${h.qkExclusive.map((x) => x.toFixed(2)).join(' / ')}); read-out share ${h.ovShare.map((x) => x.toFixed(2)).join(' / ')}`);
    lines.push(`  QK^h (rows: query coordinate; columns: key coordinate)  |  OV^h (columns: outputs)`);
    h.qk.forEach((row, i) => lines.push(`  ${lab(i).padEnd(4)} ${row.map(f).map((s) => s.padStart(8)).join(' ')}   | ${h.ov[i]!.map(f).map((s) => s.padStart(8)).join(' ')}`));
    lines.push('');
  }
  return lines.join('\n');
}
