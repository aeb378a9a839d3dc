/**
 * The sparse experiment's report: every model measured on s-sparse prompts and on dense prompts
 * (analysis/evaluate-models.ts runEvaluate with the task given: the same prompts for every method),
 * beside lasso, the tuned lasso and the support oracle (sparse prompts) and ridge (both); one figure
 * of error against L per prompt distribution, the numbers at the training L, no pass/fail.
 */
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runEvaluate } from '../analysis/evaluate-models.js';
import { loadTarget } from '../analysis/targets.js';
import { errorVsLengthSpec } from '../plots/error-curves.js';
import { renderFigure } from '../plots/render.js';
import { writeDocuments, writeEvaluation, type ReportResult } from '../report/documents.js';
import type { ReportOptions } from '../report/report.js';
import { readRunJson, runConfig } from '../run/run-dir.js';
import { VERSION } from '../version.js';

const f = (x: number | undefined, s: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(4)} ± ${(s ?? 0).toFixed(4)}` : '–');

export async function writeSparseReport(dirs: readonly string[], o: ReportOptions): Promise<ReportResult> {
  const log = o.log ?? (() => {});
  const samples = o.evalSamples ?? 2000;
  const seed = o.seed ?? 2025;
  mkdirSync(o.out, { recursive: true });
  const configs = dirs.map((d) => runConfig(readRunJson(d), d));
  const c0 = configs[0]!;
  const s = configs.find((c) => c.task === 'sparse')?.sparsity ?? 0;
  if (s === 0) throw new Error('the sparse report needs a run trained on sparse tasks');
  const lengths = o.lengths ? [...o.lengths] : [4, 6, 8, 10, 12, 16, 20, 25, 30, 40];
  const targets = dirs.map((d) => loadTarget(d));
  const measure = (sparsity: number) => {
    log(`measuring ${targets.map((t) => t.name).join(', ')} on ${sparsity ? `${sparsity}-sparse` : 'dense'} prompts: ${lengths.length} lengths x ${samples} prompts`);
    // the task given explicitly: every model on the same prompts (a model trained on the other prior is then out of distribution)
    return runEvaluate(targets, { lengths, samples, seed, chunk: 500, kernel: false, preset: c0.preset, noiseStd: c0.noiseStd, ...(sparsity ? { sparsity } : {}) });
  };
  const onSparse = measure(s), onDense = measure(0);
  const evaluationPath = await writeEvaluation(o.out, { lengths, samples, seed, sparsity: s, on_sparse: onSparse.methods, on_dense: onDense.methods });
  const figDir = join(o.out, 'figures');
  const pngs: string[] = [];
  const figs: string[] = [];
  for (const [what, ev, methods] of [[`${s}-sparse`, onSparse, [...targets.map((t) => t.name), 'lasso', 'lasso-tuned', 'support-oracle', 'ridge']], ['dense', onDense, [...targets.map((t) => t.name), 'ridge', 'tuned-gd']]] as const) {
    const names = methods.filter((m) => ev.methods[m]);
    const files = await renderFigure(errorVsLengthSpec({ lengths: ev.lengths, methods: Object.fromEntries(names.map((n) => [n, ev.methods[n]!])) }, { methods: names, trainL: c0.contextLength, splitLow: false, reference: ['ridge', 'lasso', 'lasso-tuned', 'support-oracle', 'tuned-gd'].filter((n) => names.includes(n)), title: `Error against L on ${what} prompts`, subtitle: `d = ${c0.d}, sigma^2 = ${+(c0.noiseStd ** 2).toPrecision(3)}, ${samples.toLocaleString('en-US')} prompts per L ± one standard error; dashed: estimators` }), figDir, `error_${what.replace(/[^a-z0-9]+/g, '_')}`);
    const png = files.find((x) => x.endsWith('.png'))!;
    pngs.push(png);
    figs.push(`### On ${what} prompts\n\n![${what}](${relative(o.out, png)})`);
  }
  const Lt = c0.contextLength;
  const li = lengths.indexOf(Lt);
  const cell = (ev: typeof onSparse, m: string) => (li >= 0 && ev.methods[m] ? f(ev.methods[m]!.mse[li], ev.methods[m]!.stderr[li]) : '–');
  const rows = [...targets.map((t) => t.name), 'lasso', 'lasso-tuned', 'support-oracle', 'ridge', 'tuned-gd'].map((m) => `| ${m} | ${cell(onSparse, m)} | ${cell(onDense, m)} |`).join('\n');
  const md = [
    `# icl-lab sparse-task report\n\nicl-lab ${VERSION}. Runs ${targets.map((t) => t.name).join(', ')} (${configs.map((c) => (c.task === 'sparse' ? `${c.sparsity}-sparse` : 'dense')).join(', ')} beta; d = ${c0.d}, training L = ${Lt}, ${c0.preset} convention, σ² = ${+(c0.noiseStd ** 2).toPrecision(3)}), each measured on ${s}-sparse and on dense prompts (the same prompts for every method; seed ${seed}). Sparse beta keeps E||beta||² of the dense prior (docs/readme/task-families.md).`,
    `## At the training length L = ${Lt}\n\n| method | on ${s}-sparse prompts | on dense prompts |\n|---|---|---|\n${rows}\n\nLasso: alpha = σ²/L; tuned lasso: alpha from a 13-value grid by 500 calibration prompts per L; support oracle: least squares on the true support (sparse prompts only). Ridge's prior is the dense one. A measurement, no pass/fail.`,
    `## Figures\n\n${figs.join('\n\n')}`,
  ].join('\n\n') + '\n';
  return writeDocuments(o.out, { md, findings: [], pngs, evaluation: evaluationPath, findingsJson: { runs: targets.map((t) => t.name), samples, sparsity: s }, runDirs: dirs });
}
