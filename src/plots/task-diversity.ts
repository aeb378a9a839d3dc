/**
 * The task-diversity figure (Raventós et al. 2023's): error at the training context length against
 * the number of pretraining tasks M (log2 axis), for the trained model on its pool tasks and on fresh
 * tasks from the prior, beside dMMSE (the discrete-prior posterior mean) on both and ridge (the
 * Gaussian prior's Bayes estimator) on fresh tasks; each point mse ± one standard error.
 */
import { CATEGORY, round, topLevel, type VlSpec } from './theme.js';

export interface DiversityPoint {
  M: number;
  /** Series name ("model, pool tasks", ...). */
  series: string;
  mse: number;
  stderr: number;
}

export function taskDiversitySpec(points: readonly DiversityPoint[], o: { title?: string; subtitle?: string; width?: number; height?: number } = {}): VlSpec {
  if (points.length === 0) throw new Error('taskDiversity: no points');
  const series = [...new Set(points.map((p) => p.series))];
  const rows = points.filter((p) => Number.isFinite(p.mse) && p.mse > 0).map((p) => ({ ...p, mse: round(p.mse), lo: round(Math.max(p.mse - p.stderr, p.mse * 1e-3)), hi: round(p.mse + p.stderr), stderr: round(p.stderr) }));
  const Ms = [...new Set(rows.map((r) => r.M))].sort((a, b) => a - b);
  const color = { field: 'series', type: 'nominal', title: null, sort: series, scale: { domain: series, range: series.map((_, i) => CATEGORY[i % CATEGORY.length]) }, legend: { symbolType: 'stroke', symbolStrokeWidth: 3, labelLimit: 320 } };
  const x = { field: 'M', type: 'quantitative', title: 'Pretraining tasks M', scale: { type: 'log', base: 2, nice: false }, axis: { values: Ms, format: 'd' } };
  const y = { field: 'mse', type: 'quantitative', title: 'MSE at the training L', scale: { type: 'log' } };
  return topLevel({
    ...(o.title ? { title: { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) } } : {}),
    width: o.width ?? 560,
    height: o.height ?? 340,
    data: { values: rows },
    layer: [
      { mark: { type: 'errorbar', ticks: true }, encoding: { x, y: { field: 'lo', type: 'quantitative', scale: { type: 'log' }, title: 'MSE at the training L' }, y2: { field: 'hi' }, color } },
      { mark: { type: 'line', strokeWidth: 2, point: { filled: true, size: 40 } }, encoding: { x, y, color, tooltip: [{ field: 'series' }, { field: 'M' }, { field: 'mse' }, { field: 'stderr' }] } },
    ],
  });
}
