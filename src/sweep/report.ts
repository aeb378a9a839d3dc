/**
 * The sweep's own figures and findings, from its results table (results.ts):
 *
 *   DIR/report/figures/eta-vs-l.{svg,png}        eta_TF against L/(L+d), every run, identity line
 *   DIR/report/figures/error-vs-theory.{svg,png} MSE at the training L against the closed forms
 *   DIR/report/figures/heads.{svg,png}           MSE against the head count, per setting
 *   DIR/report/findings.json, DIR/report/report.md
 *
 * Each finding states a claim of the paper, a threshold, and the check on every run it concerns.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { renderFigure } from '../plots/render.js';
import { CATEGORY, DASH_LEGEND, round, topLevel, type VlSpec } from '../plots/theme.js';
import { VERSION } from '../version.js';
import { mdProse, mdText } from '../report/format.js';
import { tallyLine } from '../report/findings.js';
import type { Row } from './results.js';

export interface SweepCheck {
  run: string;
  value: number;
  threshold: string;
  pass: boolean;
}

export interface SweepFinding {
  id: string;
  claim: string;
  threshold: string;
  /** pass / FAIL, or n/a when the sweep has no run the claim is about. */
  result: 'pass' | 'FAIL' | 'n/a';
  pass: boolean;
  /** The worst check's value (NaN when n/a). */
  value: number;
  why: string;
  checks: SweepCheck[];
}

/** Thresholds of the sweep findings (with their reasons in each finding's `why`). */
export const SWEEP_THRESHOLDS = {
  /** |eta_TF / (L/(L+d)) - 1| on runs with L >= etaMinL. */
  etaRelative: 0.05,
  etaMinL: 20,
  /** model MSE / closed-form tuned one-step GD risk R(eta*). */
  tunedGdRatio: 1.1,
  /** kernel gap (relative MSE between the model and its kernel estimator). */
  kernelGap: 0.01,
  /** (MSE(H=1) - MSE(H=2)) / MSE(H=2), mean over seeds, per setting: a single head is clearly worse. */
  singleHeadGap: 0.2,
  /** |MSE(H) / MSE(H=2) - 1| for H > 2, mean over seeds, per setting. */
  headsRelative: 0.03,
} as const;

const num = (r: Row, k: string): number => (typeof r[k] === 'number' ? (r[k] as number) : NaN);
const completed = (rows: readonly Row[]) => rows.filter((r) => r.status === 'completed' && Number.isFinite(num(r, 'mse_model')));

function finding(id: string, claim: string, threshold: string, why: string, checks: SweepCheck[], worst: 'max' | 'min'): SweepFinding {
  if (checks.length === 0) return { id, claim, threshold, result: 'n/a', pass: false, value: NaN, why: `Not applicable: no run of this sweep is about it. ${why}`, checks };
  const pass = checks.every((c) => c.pass);
  const vals = checks.map((c) => c.value);
  return { id, claim, threshold, result: pass ? 'pass' : 'FAIL', pass, value: worst === 'max' ? Math.max(...vals) : Math.min(...vals), why, checks };
}

/** Setting of a run without heads and seed (the head-count comparison groups by it). */
const SETTING_KEYS = ['layers', 'd', 'context_length', 'noise_std', 'preset', 'rho', 'init', 'optimizer', 'lr', 'batch_size', 'steps'];
const settingOf = (r: Row) => SETTING_KEYS.map((k) => `${k}=${r[k]}`).join(' ');
const shortSetting = (r: Row) => `L=${r.context_length} d=${r.d}`;

function meanBy(rows: readonly Row[], key: (r: Row) => string, value: (r: Row) => number): Map<string, number> {
  const acc = new Map<string, { s: number; n: number }>();
  for (const r of rows) {
    const k = key(r);
    const a = acc.get(k) ?? { s: 0, n: 0 };
    a.s += value(r);
    a.n++;
    acc.set(k, a);
  }
  return new Map([...acc].map(([k, a]) => [k, a.s / a.n]));
}

export function sweepFindings(rows: readonly Row[]): SweepFinding[] {
  const T = SWEEP_THRESHOLDS;
  const done = completed(rows).filter((r) => r.layers === 1);
  const eta = finding(
    'eta-tracks-l-over-l-plus-d',
    `The effective step size eta_TF = sum_h mu^h w^h tracks L/(L+d) as the training context length L changes (every run with L >= ${T.etaMinL} and H >= 2).`,
    `|eta_TF / (L/(L+d)) - 1| <= ${T.etaRelative}`,
    'Linearising the softmax gives one-step GD with rate eta_TF, and the risk-optimal rate is about L/(L+d) (docs/THEORY.md). A single head cannot pair a positive with a negative kernel, so H = 1 is left out; short contexts (L < 20) are far from the large-L limit the formula comes from.',
    done.filter((r) => num(r, 'context_length') >= T.etaMinL && num(r, 'heads') >= 2).map((r) => {
      const v = Math.abs(num(r, 'eta_tf') / num(r, 'l_over_l_plus_d') - 1);
      return { run: String(r.name), value: v, threshold: `<= ${T.etaRelative}`, pass: v <= T.etaRelative };
    }),
    'max',
  );
  const closed = finding(
    'error-near-tuned-gd',
    'At its training L the model\'s error is close to the closed-form risk of tuned one-step gradient descent R(eta*) (every run with H >= 2).',
    `MSE / R(eta*) <= ${T.tunedGdRatio}`,
    'The notebook\'s H = 2 run is 3% above tuned GD at L = 40; 10% leaves room for shorter training and sampling error (the MSE has a standard error in the table).',
    done.filter((r) => num(r, 'heads') >= 2).map((r) => {
      const v = num(r, 'mse_model') / num(r, 'risk_tuned_gd');
      return { run: String(r.name), value: v, threshold: `<= ${T.tunedGdRatio}`, pass: v <= T.tunedGdRatio };
    }),
    'max',
  );
  const kernel = finding(
    'kernel-reproduces-model',
    'The kernel estimator built from (w^h, mu^h) reproduces the model (every run with H >= 2).',
    `kernel gap <= ${T.kernelGap}`,
    'The kernel gap is sum (model - kernel)^2 / sum (model - mean)^2 on fresh prompts; the notebook\'s runs give ~1e-3.',
    done.filter((r) => num(r, 'heads') >= 2).map((r) => {
      const v = num(r, 'kernel_gap');
      return { run: String(r.name), value: v, threshold: `<= ${T.kernelGap}`, pass: v <= T.kernelGap };
    }),
    'max',
  );
  const mse = meanBy(done, (r) => `${settingOf(r)}|${r.heads}`, (r) => num(r, 'mse_model'));
  const settings = new Map(done.map((r) => [settingOf(r), r]));
  const single: SweepCheck[] = [];
  const many: SweepCheck[] = [];
  for (const [s, r] of settings) {
    const two = mse.get(`${s}|2`);
    if (two === undefined) continue;
    const one = mse.get(`${s}|1`);
    if (one !== undefined) {
      const v = (one - two) / two;
      single.push({ run: `${shortSetting(r)}: (MSE(H=1) - MSE(H=2)) / MSE(H=2)`, value: v, threshold: `>= ${T.singleHeadGap}`, pass: v >= T.singleHeadGap });
    }
    for (const h of new Set(done.filter((x) => settingOf(x) === s && num(x, 'heads') > 2).map((x) => num(x, 'heads')))) {
      const v = Math.abs(mse.get(`${s}|${h}`)! / two - 1);
      many.push({ run: `${shortSetting(r)}: |MSE(H=${h}) / MSE(H=2) - 1|`, value: v, threshold: `<= ${T.headsRelative}`, pass: v <= T.headsRelative });
    }
  }
  const one = finding(
    'single-head-worse',
    'A single head is clearly worse than two at every setting of the sweep (mean MSE over seeds).',
    `(MSE(H=1) - MSE(H=2)) / MSE(H=2) >= ${T.singleHeadGap}`,
    'One softmax head cannot form the signed linear kernel that two paired heads do; the notebook shows a large gap at L = 40.',
    single, 'min',
  );
  const more = finding(
    'more-heads-act-like-two',
    'More than two heads give the error of two (mean MSE over seeds, every setting with H > 2).',
    `|MSE(H) / MSE(H=2) - 1| <= ${T.headsRelative}`,
    'Extra heads group into the two sign groups of H = 2 or become dummies; the notebook gives H = 2, 4, 8 within 1%.',
    many, 'max',
  );
  return [eta, closed, kernel, one, more];
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

export function etaSpec(rows: readonly Row[]): VlSpec {
  const pts = completed(rows).filter((r) => Number.isFinite(num(r, 'eta_tf'))).map((r) => ({
    run: r.name, x: round(num(r, 'l_over_l_plus_d')), eta: round(num(r, 'eta_tf')), H: `H = ${r.heads}`, L: num(r, 'context_length'), d: num(r, 'd'), seed: num(r, 'seed'),
  }));
  const xs = pts.map((p) => p.x).concat(pts.map((p) => p.eta));
  const lo = Math.max(0, Math.min(...xs) - 0.05);
  const hi = Math.min(1.2, Math.max(...xs) + 0.05);
  const scale = { domain: [round(lo, 3), round(hi, 3)], zero: false, nice: false };
  const axis = { format: '.2f', tickCount: 6, labelOverlap: true }; // a few ticks: labels never run into each other
  const ds = new Set(pts.map((p) => p.d));
  return topLevel({
    title: { text: 'Effective step size η_TF against L/(L + d)', subtitle: `one point per run; grey line: η_TF = L/(L + d)${ds.size === 1 ? `; d = ${[...ds][0]}` : ''}` },
    width: 480, height: 420,
    layer: [
      { data: { values: [{ x: lo, eta: lo }, { x: hi, eta: hi }] }, mark: { type: 'line', color: '#888888', strokeDash: [5, 4], clip: true }, encoding: { x: { field: 'x', type: 'quantitative', scale }, y: { field: 'eta', type: 'quantitative', scale } } },
      {
        data: { values: pts },
        mark: { type: 'point', filled: true, size: 70, opacity: 0.85 },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'L/(L + d)', scale, axis },
          y: { field: 'eta', type: 'quantitative', title: 'η_TF = Σ_h μʰ wʰ', scale, axis },
          color: { field: 'H', type: 'nominal', title: 'heads', scale: { range: CATEGORY } },
          ...(ds.size > 1 ? { shape: { field: 'd', type: 'nominal', title: 'd' } } : {}), // one d: said in the subtitle, no one-entry legend
          tooltip: [{ field: 'run' }, { field: 'eta' }, { field: 'x' }],
        },
      },
    ],
  });
}

export function errorSpec(rows: readonly Row[]): VlSpec {
  const done = completed(rows);
  const pts = done.map((r) => ({ L: num(r, 'context_length'), mse: round(num(r, 'mse_model')), H: `model, H = ${r.heads}`, d: `d = ${r.d}`, run: r.name }));
  const atEta = done.filter((r) => Number.isFinite(num(r, 'risk_at_eta_tf'))).map((r) => ({ L: num(r, 'context_length'), mse: round(num(r, 'risk_at_eta_tf')), series: 'one-step GD at the run\'s eta_TF, closed form', run: r.name }));
  const theory = [...new Map(done.map((r) => [`${r.d}|${r.context_length}|${r.noise_std}|${r.preset}`, r])).values()].map((r) => (
    { L: num(r, 'context_length'), mse: round(num(r, 'risk_tuned_gd')), series: 'tuned one-step GD R(eta*), closed form', d: `d = ${r.d}` }
  )).sort((a, b) => a.L - b.L);
  const x = { field: 'L', type: 'quantitative', title: 'training context length L', scale: { zero: false, nice: false, padding: 20 } };
  const y = { field: 'mse', type: 'quantitative', title: 'MSE at the training L (log scale)', scale: { type: 'log' } };
  const legend = { labelLimit: 400 };
  return topLevel({
    title: { text: 'Error at the training L against the closed forms', subtitle: 'filled: each run\'s model (shared prompts); hollow: closed-form one-step GD at that run\'s eta_TF; line: tuned GD per d' },
    width: 560, height: 380,
    layer: [
      { data: { values: theory }, mark: { type: 'line', point: true, strokeWidth: 1.5, color: '#555555' }, encoding: { x, y, detail: { field: 'd' }, strokeDash: { field: 'series', type: 'nominal', title: null, legend: DASH_LEGEND } } },
      ...(atEta.length ? [{ data: { values: atEta }, mark: { type: 'point', filled: false, size: 70, color: '#333333' }, encoding: { x, y, shape: { field: 'series', type: 'nominal', title: null, legend } } }] : []),
      { data: { values: pts }, mark: { type: 'point', filled: true, size: 60, opacity: 0.85 }, encoding: { x, y, color: { field: 'H', type: 'nominal', title: null, scale: { range: CATEGORY }, legend } } },
    ],
    resolve: { scale: { shape: 'independent' } },
  });
}

export function headsSpec(rows: readonly Row[]): VlSpec {
  const done = completed(rows);
  const m = meanBy(done, (r) => `${shortSetting(r)}|${r.heads}`, (r) => num(r, 'mse_model'));
  const pts = [...m].map(([k, v]) => {
    const [setting, h] = k.split('|');
    return { setting, H: Number(h), mse: round(v) };
  });
  return topLevel({
    title: { text: 'Head count against error, per setting', subtitle: 'MSE at the training L, mean over seeds' },
    width: 420, height: 360,
    data: { values: pts },
    mark: { type: 'line', point: { filled: true, size: 60 } },
    encoding: {
      x: { field: 'H', type: 'quantitative', title: 'heads H', scale: { type: 'log', base: 2 }, axis: { values: [...new Set(pts.map((p) => p.H))] } },
      y: { field: 'mse', type: 'quantitative', title: 'MSE (log scale)', scale: { type: 'log' } },
      color: { field: 'setting', type: 'nominal', title: 'setting', scale: { range: CATEGORY } },
    },
  });
}

/** A markdown table cell: pipes escaped. */
const cell = (s: string): string => s.replace(/\|/g, '\\|');

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e5 ? x.toFixed(4) : x.toExponential(2);
}

export interface SweepReport {
  dir: string;
  markdown: string;
  findingsJson: string;
  figures: string[];
  findings: SweepFinding[];
}

export async function writeSweepReport(dir: string, rows: readonly Row[], o: { log?: (s: string) => void } = {}): Promise<SweepReport> {
  const out = join(dir, 'report');
  const figDir = join(out, 'figures');
  mkdirSync(figDir, { recursive: true });
  const findings = sweepFindings(rows);
  const figures: string[] = [];
  const done = completed(rows);
  if (done.length > 0) {
    for (const [name, spec] of [['eta-vs-l', etaSpec(rows)], ['error-vs-theory', errorSpec(rows)], ['heads', headsSpec(rows)]] as const) {
      figures.push(...(await renderFigure(spec, figDir, name)).filter((f) => f.endsWith('.png')));
    }
  }
  const md: string[] = [];
  md.push(`# Sweep report: ${dir}`, '');
  md.push(`${rows.length} runs, ${done.length} completed. Table: \`results.parquet\` / \`results.csv\` (one row per run). icl-lab ${VERSION}.`, '');
  md.push('## Findings', '', '| # | result | finding | worst value | threshold |', '|---|---|---|---|---|');
  findings.forEach((f, i) => md.push(`| ${i + 1} | ${f.result} | ${f.id} | ${fmt(f.value)} | ${cell(f.threshold)} |`));
  md.push('');
  for (const f of findings) {
    md.push(`### ${f.id}: ${f.result}`, '', f.claim, '', `Threshold: ${f.threshold}. ${mdProse(f.why)}`, '');
    if (f.checks.length) {
      md.push('| run | value | pass |', '|---|---|---|');
      for (const c of f.checks) md.push(`| ${mdText(c.run)} | ${fmt(c.value)} | ${c.pass ? 'yes' : 'NO'} |`);
      md.push('');
    }
  }
  md.push('## eta_TF against L/(L+d), every run', '', '| run | L | d | H | seed | eta_TF | L/(L+d) | eta_TF / (L/(L+d)) | MSE ± se | tuned GD R(eta*) |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const r of done) {
    md.push(`| ${mdText(String(r.name))} | ${r.context_length} | ${r.d} | ${r.heads} | ${r.seed} | ${fmt(num(r, 'eta_tf'))} | ${fmt(num(r, 'l_over_l_plus_d'))} | ${fmt(num(r, 'eta_tf') / num(r, 'l_over_l_plus_d'))} | ${fmt(num(r, 'mse_model'))} ± ${fmt(num(r, 'mse_model_se'))} | ${fmt(num(r, 'risk_tuned_gd'))} |`);
  }
  md.push('');
  if (figures.length) {
    md.push('## Figures', '');
    for (const f of figures) md.push(`![${f.split('/').pop()}](figures/${f.split('/').pop()})`, '');
  }
  const markdown = join(out, 'report.md');
  const findingsJson = join(out, 'findings.json');
  writeFileAtomic(markdown, md.join('\n'));
  writeFileAtomic(findingsJson, JSON.stringify({ icl_lab_version: VERSION, thresholds: SWEEP_THRESHOLDS, findings }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  o.log?.(`sweep report: ${figures.length} figures, ${tallyLine(findings)}`);
  return { dir: out, markdown, findingsJson, figures, findings };
}
