/**
 * Figures 5, 6 and 8: error against context length, one line per model / estimator with a
 * standard-error band (mse +- stderr), reference estimators (tuned GD, ridge, OLS) dashed, and a
 * vertical rule at the training context length.
 */
import type { Evaluation } from '../analysis/evaluate.js';
import { CATEGORY, DASH_LEGEND, round, topLevel, type VlSpec } from './theme.js';

/** The evaluate command's JSON (analysis/evaluate.ts): `{"lengths":[...],"methods":{"<name>":{"mse":[...],"stderr":[...]}}}`. */
export type { Evaluation };

export interface ErrorCurveOptions {
  /** Methods to draw, in legend order (default: all, in the file's order). */
  methods?: string[];
  /** Methods drawn as dashed reference lines (default: names containing tuned, ridge, ols or bayes). */
  reference?: string[];
  /** Display names (default: the method names). */
  labels?: Record<string, string>;
  /** Training context length: a vertical rule (omitted when undefined). */
  trainL?: number;
  logY?: boolean;
  /** Log x axis (default: when max L / min L >= 20). */
  logX?: boolean;
  title?: string;
  subtitle?: string;
  /** Ridge / OLS in a panel of their own below (default true: in the seed's task they sit orders of magnitude lower). */
  splitLow?: boolean;
  width?: number;
  height?: number;
}

/** Default rule for which methods are reference estimators (drawn dashed). */
export function isReferenceMethod(name: string): boolean {
  return /tuned|ridge|ols|bayes/i.test(name);
}

const SOLID = 'model / estimator';
const DASHED = 'reference (dashed)';

export function errorVsLengthSpec(ev: Evaluation, opts: ErrorCurveOptions = {}): VlSpec {
  const names = opts.methods ?? Object.keys(ev.methods);
  if (names.length === 0) throw new Error('errorVsLength: no methods to plot');
  const logY = opts.logY ?? true;
  const Ls = ev.lengths;
  const minL = Math.min(...Ls);
  const maxL = Math.max(...Ls);
  const logX = opts.logX ?? (minL > 0 && maxL / minL >= 20);
  const refSet = new Set(opts.reference ?? names.filter(isReferenceMethod));
  const label = (n: string): string => opts.labels?.[n] ?? n;

  const rows: { L: number; method: string; kind: string; mse: number; lo: number; hi: number; stderr: number }[] = [];
  for (const name of names) {
    const m = ev.methods[name];
    if (!m) {
      throw new Error(`errorVsLength: no method '${name}' in the evaluation (has: ${Object.keys(ev.methods).join(', ')})`);
    }
    if (m.mse.length !== Ls.length || (m.stderr && m.stderr.length !== Ls.length)) {
      throw new Error(`errorVsLength: method '${name}' has ${m.mse.length} mse / ${m.stderr?.length ?? 0} stderr values for ${Ls.length} lengths`);
    }
    for (let i = 0; i < Ls.length; i++) {
      const mse = m.mse[i]!;
      if (!Number.isFinite(mse) || (logY && mse <= 0)) continue;
      const se = m.stderr ? m.stderr[i]! : 0;
      const lo = logY ? Math.max(mse - se, mse * 1e-3) : mse - se; // a log axis cannot show <= 0
      rows.push({
        L: Ls[i]!, method: label(name), kind: refSet.has(name) ? DASHED : SOLID,
        mse: round(mse), lo: round(lo), hi: round(mse + se), stderr: round(se),
      });
    }
  }
  // Drawn in reverse legend order, so the first method (the model) lies above its kernel estimator
  // and the references that follow it; the legend keeps the given order (color `sort` and domain).
  const labels = names.map(label);
  const byMethod = new Map(labels.map((l) => [l, [] as typeof rows]));
  for (const r of rows) byMethod.get(r.method)!.push(r);
  rows.splice(0, rows.length, ...[...byMethod.values()].reverse().flat());
  const color = {
    field: 'method', type: 'nominal', title: null, sort: labels,
    scale: { domain: labels, range: labels.map((_, i) => CATEGORY[i % CATEGORY.length]) },
    legend: { symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1, labelLimit: 320 },
  };
  const x = {
    field: 'L', type: 'quantitative', title: 'Context length L',
    scale: logX ? { type: 'log', nice: false } : { zero: false, nice: false },
    // Few lengths: a tick at each; a sweep (the seed's 100 lengths): 1-2-5 ticks, or the labels collide.
    axis: logX ? { values: Ls.length <= 12 ? Ls : logTicks(minL, maxL) } : {},
  };
  const lowRef = names.filter((n) => isLowReference(n));
  const focus = names.filter((n) => !isLowReference(n));
  // Ridge and OLS sit orders of magnitude below the transformer, kernel and GD curves: on one axis
  // they squeeze those into one band. They get their own panel below, and the main panel's y range
  // is set by the other methods.
  const split = logY && opts.splitLow !== false && lowRef.length > 0 && focus.length > 0;
  const panel = (members: readonly string[], height: number, yTitle: string, withRule: boolean): VlSpec => {
    const memberLabels = new Set(members.map(label));
    const vals = rows.filter((r) => memberLabels.has(r.method));
    const yScale: VlSpec = logY ? { type: 'log' } : { zero: true };
    let yAxis: VlSpec | undefined;
    if (split && vals.length > 0) {
      const lo = Math.min(...vals.map((r) => r.lo));
      const hi = Math.max(...vals.map((r) => r.hi));
      yScale['domain'] = [round(lo / 1.15, 3), round(hi * 1.15, 3)];
      yScale['nice'] = false;
      // a short panel over many decades: one tick and grid line per decade (not 9)
      if (height < 200) {
        const decades: number[] = [];
        for (let p = Math.ceil(Math.log10(lo / 1.15)); p <= Math.floor(Math.log10(hi * 1.15)); p++) decades.push(10 ** p);
        yAxis = { values: decades, format: '.0e' };
      }
    }
    const layer: VlSpec[] = [
      {
        mark: { type: 'area', opacity: 0.18, clip: true },
        encoding: { x, y: { field: 'lo', type: 'quantitative', scale: yScale }, y2: { field: 'hi' }, color },
      },
      {
        mark: { type: 'line', strokeWidth: 2, clip: true, ...(Ls.length <= 20 ? { point: { filled: true, size: 28 } } : {}) },
        encoding: {
          x, color,
          y: { field: 'mse', type: 'quantitative', scale: yScale, title: yTitle, ...(yAxis ? { axis: yAxis } : {}) },
          strokeDash: {
            field: 'kind', type: 'nominal', title: null,
            scale: { domain: [SOLID, DASHED], range: [[1, 0], [7, 4]] },
            legend: refSet.size > 0 ? DASH_LEGEND : null,
          },
          tooltip: [{ field: 'method' }, { field: 'L' }, { field: 'mse' }, { field: 'stderr' }],
        },
      },
    ];
    if (opts.trainL !== undefined) {
      layer.push({
        data: { values: [{ L: opts.trainL }] },
        mark: { type: 'rule', color: '#555555', strokeDash: [3, 3], strokeWidth: 1.5 },
        encoding: { x: { field: 'L', type: 'quantitative' } },
      });
      if (withRule) {
        layer.push({
          data: { values: [{ L: opts.trainL, text: `training L = ${opts.trainL}` }] },
          mark: { type: 'text', style: 'annotation', align: 'left', dx: 5, baseline: 'bottom', y: 0, dy: 14 },
          encoding: { x: { field: 'L', type: 'quantitative' }, text: { field: 'text' } },
        });
      }
    }
    return {
      width: opts.width ?? 640,
      height,
      transform: [{ filter: { field: 'method', oneOf: [...memberLabels] } }],
      layer,
    };
  };
  const yTitle = logY ? 'Mean squared error (log scale)' : 'Mean squared error';
  const title = {
    text: opts.title ?? 'Error against context length',
    subtitle: opts.subtitle ?? 'lines: mean squared error over the test prompts; bands: ± one standard error',
  };
  if (!split) {
    const one = panel(names, opts.height ?? 380, yTitle, true);
    delete one['transform'];
    return topLevel({ title, width: one['width'], height: one['height'], data: { values: rows }, layer: one['layer'] });
  }
  const refPanel = panel(lowRef, 120, 'MSE (log)', false);
  refPanel['title'] = { text: `${lowRef.map(label).join(' and ')}: orders of magnitude lower, on their own scale`, fontSize: 12, fontWeight: 'normal' };
  return topLevel({
    title,
    data: { values: rows },
    vconcat: [panel(focus, opts.height ?? 340, yTitle, true), refPanel],
    spacing: 14,
    resolve: { scale: { color: 'shared', strokeDash: 'shared', y: 'independent' } },
  });
}

/** Methods far below the others (ridge, OLS, Bayes): drawn in their own panel. */
export function isLowReference(name: string): boolean {
  return /ridge|ols|bayes/i.test(name);
}

/** 1, 2, 5, 10, 20, 50, ... within [lo, hi], and hi rounded down to one significant digit when the last tick is far below it (1..496: ..., 200, 400). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let p = 10 ** Math.floor(Math.log10(lo)); p <= hi; p *= 10) {
    for (const m of [1, 2, 5]) if (m * p >= lo && m * p <= hi) out.push(m * p);
  }
  const top = 10 ** Math.floor(Math.log10(hi));
  const end = Math.floor(hi / top) * top;
  if (out.length > 0 && end >= out[out.length - 1]! * 1.5) out.push(end);
  return out;
}

/** Default selection for the head-count figure: transformers named with H = n, GD and references. */
export function headCountMethods(ev: Evaluation): string[] {
  return Object.keys(ev.methods).filter((n) => /H\s*=\s*\d+|heads?\b/i.test(n) || /gd|gradient/i.test(n) || isReferenceMethod(n));
}

/** Figure 6: transformers with several head counts against one-step GD (same plot as figure 5); the title names the head counts drawn. */
export function headCountSpec(ev: Evaluation, opts: ErrorCurveOptions = {}): VlSpec {
  const methods = opts.methods ?? headCountMethods(ev);
  const hs = methods.map((n) => /H\s*=\s*(\d+)/.exec(n)?.[1]).filter((x): x is string => x !== undefined);
  return errorVsLengthSpec(ev, {
    title: hs.length > 0 ? `Transformers with H = ${hs.join(', ')} heads against one-step gradient descent` : 'Transformers with different head counts against one-step gradient descent',
    ...opts,
    methods: opts.methods ?? headCountMethods(ev),
  });
}
