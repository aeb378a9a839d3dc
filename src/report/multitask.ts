/**
 * The multi-task report (`icl-lab reproduce --experiment multitask`): per run the circuits of every head
 * (figure), its loss curve, per-head shares, the MSE on shared prompts beside the authors' printed
 * losses and a per-task ridge baseline, and the split-up / superposition findings (findings.ts).
 * Writes report.html, report.md, findings.json, evaluation.json and figures/ into `out`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Rng } from '../data/rng.js';
import { choleskySolveInPlace } from '../math/linalg.js';
import { f64, readSafetensors } from '../io/safetensors.js';
import { readModelFile } from '../io/model-file.js';
import { lossSpec } from '../plots/loss.js';
import { dynamicsSpec } from '../plots/dynamics.js';
import { renderFigure } from '../plots/render.js';
import { resultLabel, tallyLine, type Finding } from './findings.js';
import { writeDocuments, writeEvaluation, type ReportResult } from './documents.js';
import type { MultitaskReportPlan } from './plan.js';
import { readRunJson, runConfig } from '../run/run-dir.js';
import { VERSION } from '../version.js';
import { forwardMulti } from '../engine/ts/multitask.js';
import { multitaskCircuits, type MultiHeadCircuit } from '../model/multitask-circuits.js';
import { activeHeads, LONG_H8_RUNS, mainTask, mixedShare, moreHeadsFinding, moreHeadsObservation, MT_THRESHOLDS, splitUpFinding, superposedStrengthShare, superpositionFinding, type MultitaskModelEvidence } from './multitask-findings.js';
import { multitaskCircuitsSpec } from '../plots/multitask.js';
import { mdPath, mdProse, mdTable, mdText } from './format.js';
import { formatTasks, parseTasks, sampleMultiTask, type MultiTaskBatch, type TaskBlock } from '../data/multitask.js';
import type { AttentionParams } from '../model/params.js';

interface MtRun {
  name: string;
  dir: string;
  params: AttentionParams;
  dx: number;
  tasks: TaskBlock[];
  L: number;
  noiseStd: number;
  step: number;
  finalTrain: number | null;
  finalVal: number | null;
}

function loadRun(dir: string): MtRun {
  const rj = readRunJson(dir);
  const c = runConfig(rj, dir);
  if (c.task !== 'multitask') throw new Error(`${dir} is not a multi-task run (no tasks in its config)`);
  const m = readModelFile(join(dir, 'model.safetensors'));
  if (m.kind !== 'single-layer') throw new Error(`${dir}: expected a one-layer model`);
  return { name: dir.split('/').filter(Boolean).pop()!, dir, params: m.params, dx: c.d, tasks: parseTasks(c.tasks), L: c.contextLength, noiseStd: c.noiseStd, step: rj.step, finalTrain: rj.final.train_loss ?? null, finalVal: rj.final.val_loss ?? null };
}

/** Ridge on task k's own block, lambda = dx_k noise_std^2 (the Bayes posterior mean for beta_k ~ N(0, I)). */
function blockRidge(batch: MultiTaskBatch, k: number, noiseStd: number, out: Float64Array): void {
  const [s, e] = batch.tasks[k]!;
  const m = e - s, { B, L, E, z, zq } = batch;
  const lambda = m * noiseStd * noiseStd;
  const A = new Float64Array(m * m), r = new Float64Array(m);
  for (let b = 0; b < B; b++) {
    A.fill(0); r.fill(0);
    for (let i = 0; i < L; i++) {
      const t = (b * L + i) * E;
      const y = z[t + batch.dx + k]!;
      for (let a = 0; a < m; a++) {
        r[a] += z[t + s + a]! * y;
        for (let c = 0; c < m; c++) A[a * m + c] += z[t + s + a]! * z[t + s + c]!;
      }
    }
    for (let a = 0; a < m; a++) A[a * m + a] += lambda;
    if (!choleskySolveInPlace(A, r, m)) r.fill(NaN); // A = X^T X + lambda I is symmetric positive definite
    let y = 0;
    for (let a = 0; a < m; a++) y += zq[b * E + s + a]! * r[a]!;
    out[b] = y;
  }
}

export interface MultitaskEvaluation {
  L: number;
  samples: number;
  /** MSE over both outputs and per task, for each model and for the per-task ridge. */
  methods: Record<string, { mse: number; stderr: number; perTask: number[] }>;
}

function evaluate(runs: readonly MtRun[], samples: number, seed: number): MultitaskEvaluation {
  const r0 = runs[0]!;
  const N = r0.tasks.length;
  const rng = new Rng(seed);
  const chunk = Math.min(1000, samples);
  const acc: Record<string, { s: number; q: number; t: number[] }> = {};
  const add = (name: string, pred: Float64Array, yq: Float64Array, B: number) => {
    const a = (acc[name] ??= { s: 0, q: 0, t: new Array(N).fill(0) });
    for (let b = 0; b < B; b++) {
      let e = 0;
      for (let k = 0; k < N; k++) {
        const d2 = (pred[b * N + k]! - yq[b * N + k]!) ** 2;
        e += d2 / N;
        a.t[k] += d2;
      }
      a.s += e;
      a.q += e * e;
    }
  };
  for (let done = 0; done < samples; done += chunk) {
    const B = Math.min(chunk, samples - done);
    const batch = sampleMultiTask({ d: r0.dx, L: r0.L, batchSize: B, noiseStd: r0.noiseStd, tasks: r0.tasks }, rng);
    const out = new Float64Array(B * N);
    for (const r of runs) {
      forwardMulti(r.params, batch, out);
      add(r.name, out, batch.yq, B);
    }
    const one = new Float64Array(B);
    for (let k = 0; k < N; k++) {
      blockRidge(batch, k, r0.noiseStd, one);
      for (let b = 0; b < B; b++) out[b * N + k] = one[b]!;
    }
    add('per-task ridge', out, batch.yq, B);
  }
  const methods: MultitaskEvaluation['methods'] = {};
  for (const [name, a] of Object.entries(acc)) {
    const mean = a.s / samples;
    methods[name] = { mse: mean, stderr: Math.sqrt(Math.max(0, a.q / samples - mean * mean) / (samples - 1)), perTask: a.t.map((x) => x / samples) };
  }
  return { L: r0.L, samples, methods };
}

const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

function headTable(run: MtRun, cs: readonly MultiHeadCircuit[]): string {
  const act = new Set(activeHeads({ name: run.name, heads: run.params.H, circuits: [...cs] }).map((c) => c.head));
  const head = ['head', 'active', ...run.tasks.map((_, k) => `w on task ${k + 1}`), ...run.tasks.map((_, k) => `mu y${k + 1}->out ${k + 1}`), 'QK diag share (tasks)', 'QK share, own coords', 'OV read-out share', 'mixed share', 'serves'];
  const rows = cs.map((c) => [String(c.head + 1), act.has(c.head) ? 'yes' : 'no', ...c.wTask.map((x) => f(x)), ...c.muTask.map((x) => f(x, 2)), c.qkShare.map((x) => f(x, 2)).join(' / '), c.qkExclusive.map((x) => f(x, 2)).join(' / '), c.ovShare.map((x) => f(x, 2)).join(' / '), f(mixedShare(c), 2), act.has(c.head) ? (mixedShare(c) <= MT_THRESHOLDS.split ? `task ${mainTask(c) + 1}` : 'both (superposed)') : '–']);
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** A sentence describing the heads (what the report says the heatmap shows). */
export function describeHeads(cs: readonly MultiHeadCircuit[], H: number): string {
  const ev: MultitaskModelEvidence = { name: '', heads: H, circuits: [...cs] };
  const act = activeHeads(ev);
  const parts = act.map((c) => {
    const t = mainTask(c);
    const single = mixedShare(c) <= MT_THRESHOLDS.split;
    const ov = c.muTask.map((m, k) => `y${k + 1}->out ${k + 1} ${m >= 0 ? '+' : ''}${m.toFixed(2)}`).join(', ');
    const w = c.wTask.map((x, k) => `task ${k + 1} block ${x >= 0 ? '+' : ''}${x.toFixed(2)}`).join(', ');
    return `head ${c.head + 1} ${single ? `serves task ${t + 1}` : 'serves both tasks'} (QK diagonal mean: ${w}; OV: ${ov})`;
  });
  const dummies = cs.length - act.length;
  return `${parts.join('; ')}${dummies ? `; ${dummies} inactive head(s)` : ''}.`;
}

/** The multi-task report over runs of one task layout; the plan adds what the experiment's authors printed. */
export async function writeMultitaskReport(dirs: readonly string[], o: { out: string; samples?: number; seed?: number; log?: (s: string) => void }, plan: MultitaskReportPlan = {}): Promise<ReportResult> {
  const log = o.log ?? (() => {});
  const runs = dirs.map(loadRun);
  const r0 = runs[0]!;
  for (const r of runs) if (formatTasks(r.tasks) !== formatTasks(r0.tasks) || r.dx !== r0.dx || r.L !== r0.L) throw new Error(`${r.dir} was trained on another multi-task layout than ${r0.dir}`);
  const N = r0.tasks.length;
  mkdirSync(o.out, { recursive: true });
  const figDir = join(o.out, 'figures');
  const samples = o.samples ?? 5000;
  log(`measuring ${runs.length} multi-task model(s) on ${samples} shared prompts at L = ${r0.L}`);
  const ev = evaluate(runs, samples, o.seed ?? 2025);
  const evaluationPath = await writeEvaluation(o.out, { ...ev });
  const circuits = runs.map((r) => multitaskCircuits(r.params, r.dx, r.tasks));
  const models: MultitaskModelEvidence[] = runs.map((r, i) => ({ name: r.name, heads: r.params.H, circuits: circuits[i]!, step: r.step }));
  const findings: Finding[] = [splitUpFinding(models, N), superpositionFinding(models, N), moreHeadsFinding(models, N)];
  const more = moreHeadsObservation(models, N);
  const stepOf = new Map(runs.map((r) => [r.name, r.step]));
  const pngs: string[] = [];
  const figs: string[] = [];
  const byH = runs.map((r, i) => ({ r, cs: circuits[i]! })).sort((a, b) => a.r.params.H - b.r.params.H);
  for (const { r, cs } of byH) {
    log(`drawing figures of ${r.name}`);
    const files = await renderFigure(multitaskCircuitsSpec(cs, r.dx, r.tasks, { title: `Multi-task circuits, H = ${r.params.H} (${r.name}, step ${r.step.toLocaleString('en-US')})` }), join(figDir, r.name), 'circuits');
    const png = files.find((x) => x.endsWith('.png'))!;
    pngs.push(png);
    const printed = plan.printed?.(r.params.H);
    const authors = plan.authorsFigure?.(r.params.H) ?? '';
    figs.push(`### ${mdText(r.name)}: circuits (H = ${r.params.H})\n\n![${mdText(r.name)} circuits](${mdPath(relative(o.out, png))})\n\n${authors ? `${authors} ` : ''}We measure: ${describeHeads(cs, r.params.H)}${printed ? ` Their losses at step 500,000 (single batches): training ${printed.train} / validation ${printed.val}; ours at step ${r.step.toLocaleString('en-US')}: ${f(r.finalTrain, 4)} / ${f(r.finalVal, 4)} (single batches), ${f(ev.methods[r.name]!.mse, 4)} ± ${f(ev.methods[r.name]!.stderr, 4)} on ${samples.toLocaleString('en-US')} shared prompts.` : ''}\n\n${headTable(r, cs)}`);
    const mp = join(r.dir, 'metrics.safetensors');
    if (existsSync(mp)) {
      const m = readSafetensors(mp).tensors;
      if (m['train_loss']) {
        const lf = await renderFigure(lossSpec({ trainLoss: f64(m['train_loss']), ...(m['val_loss'] && m['val_step'] ? { valLoss: f64(m['val_loss']), valStep: f64(m['val_step']) } : {}) }, { title: `Loss, multi-task H = ${r.params.H} (mean over both outputs)` }), join(figDir, r.name), 'loss');
        const lp = lf.find((x) => x.endsWith('.png'))!;
        pngs.push(lp);
        figs.push(`### ${mdText(r.name)}: loss\n\n![${mdText(r.name)} loss](${mdPath(relative(o.out, lp))})\n\nTraining loss (every step, min-max band) and validation loss on fresh batches of 256; MSE over both outputs.`);
      }
      if (m['dyn_step'] && m['qk_dynamics'] && m['ov_dynamics']) {
        const df = await renderFigure(dynamicsSpec({ step: f64(m['dyn_step']), qk: f64(m['qk_dynamics']), ov: f64(m['ov_dynamics']), layers: 1, heads: r.params.H }), join(figDir, r.name), 'dynamics');
        const dp = df.find((x) => x.endsWith('.png'))!;
        pngs.push(dp);
        figs.push(`### ${mdText(r.name)}: dynamics\n\n![${mdText(r.name)} dynamics](${mdPath(relative(o.out, dp))})\n\nw^h = mean of the x-block diagonal of QK^h (all d coordinates) and mu^h = sum_k OV^h[y_k, out k] over training.`);
      }
    }
  }
  const evalRows = Object.entries(ev.methods).map(([n, m]) => `| ${mdText(n)} | ${f(m.mse, 4)} ± ${f(m.stderr, 4)} | ${m.perTask.map((x) => f(x, 4)).join(' / ')} |`).join('\n');
  const md = [
    `# icl-lab multi-task report\n\nicl-lab ${VERSION}. ${runs.length} run(s): ${runs.map((r) => mdText(r.name)).join(', ')}. Tasks ${formatTasks(r0.tasks)} on x in R^${r0.dx} (N = ${N} outputs, tokens [x, y_1..y_${N}], E = ${r0.dx + N}), L = ${r0.L}, noise_std ${r0.noiseStd.toPrecision(4)} (context noise sqrt(dx_k) noise_std, noise-free query targets), the authors' multi-task setting (docs/PAPER_EXPERIMENTS.md §5).\n\n**${tallyLine(findings)}.**`,
    `## Findings\n\n| no. | finding | value | threshold | result |\n|---|---|---|---|---|\n${findings.map((x, i) => `| ${i + 1} | ${x.claim} | ${f(x.value)} | ${x.threshold} | ${resultLabel(x, { pass: '**pass**', fail: '**FAIL**' })} |`).join('\n')}\n\n` +
      findings.map((x, i) => `### ${i + 1}. ${x.id}\n\n*Threshold:* ${mdProse(x.why)}\n\n${mdTable(['check', 'value', 'threshold', 'result'], x.checks.map((c) => [c.name, Number.isInteger(c.value) ? String(c.value) : f(c.value), c.threshold, c.pass ? 'pass' : 'FAIL']))}`).join('\n\n'),
    ...(more.length ? [`## More heads than the split-up case (H > 2N)\n\nThe authors show H = 3 (superposition) and H = 4 (split-up) only; their split-up statement is checked at H = 2N = ${2 * N} above. For more heads, the finding multitask-more-heads judges the share of the active heads' strength carried by heads serving both tasks, for runs trained long enough (n/a before); what we measured (active: sum_k |mu_k w_k| > ${MT_THRESHOLDS.active}; one task: mixed share <= ${MT_THRESHOLDS.split}):\n\n| run | H | step | active heads | serving one task | serving both (head: mixed share, strength) | superposed strength share |\n|---|---|---|---|---|---|---|\n${more.map((o) => `| ${mdText(o.name)} | ${o.heads} | ${(stepOf.get(o.name) ?? 0).toLocaleString('en-US')} | ${o.active} | ${o.single} | ${o.mixed.map((m) => `${m.head}: ${f(m.mixed, 2)}, ${f(m.strength, 2)}`).join('; ') || 'none'} | ${f(superposedStrengthShare(models.find((m) => m.name === o.name)!), 2)} |`).join('\n')}\n\n${LONG_H8_RUNS}`] : []),
    `## Error at the training length\n\nMSE against the noise-free query targets, mean over the ${N} outputs (and per task), ${samples.toLocaleString('en-US')} shared prompts at L = ${r0.L}. Per-task ridge: ridge on each task's own block with lambda = dx_k noise_std^2 (Bayes for that task, told which coordinates it reads).\n\n| method | MSE ± se | per task |\n|---|---|---|\n${evalRows}`,
    `## Figures\n\n${figs.join('\n\n')}`,
  ].join('\n\n') + '\n';
  return writeDocuments(o.out, {
    md, findings, pngs,
    findingsJson: { runs: runs.map((r) => r.name), tasks: formatTasks(r0.tasks) },
    runDirs: dirs,
    findingsJsonAfter: { heads: Object.fromEntries(runs.map((r, i) => [r.name, circuits[i]!.map((c) => ({ head: c.head + 1, w: c.wTask, mu: c.muTask, qk_share: c.qkShare, qk_exclusive: c.qkExclusive, ov_share: c.ovShare, strength: c.strength }))])) },
    evaluation: evaluationPath,
  });
}
