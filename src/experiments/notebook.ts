/**
 * What the seed notebook printed after 500,001 steps on an H100 (seed/000_cfc54dc63bedde84.txt,
 * `calculate_statistics` and the last `After 500000 steps` line of each run). Shown beside our
 * numbers in the report. Its trajectories cannot be replayed (docs/SEED_NOTES.md #11): compare
 * statistics, not curves.
 */
import type { PrintedRun } from '../report/plan.js';

export type NotebookRun = PrintedRun;

export const NOTEBOOK_RUNS: NotebookRun[] = [
  { heads: 1, w: [-0.5177], mu: [-1.5523], trainLoss: 1.27, valLoss: 1.251 },
  { heads: 2, w: [-0.1393, 0.142], mu: [-3.1719, 3.1868], trainLoss: 0.9016, valLoss: 0.5282 },
  {
    heads: 4,
    w: [-0.1372, -0.1388, 0.1422, 0.1343],
    mu: [-1.1908, -2.0372, 2.721, 0.4412],
    trainLoss: 0.7853,
    valLoss: 0.6087,
  },
  {
    heads: 8,
    w: [-0.1396, 0.1393, -0.1417, 0.1296, -0.0013, -0.1396, -0.135, 0.0092],
    mu: [-0.7766, 2.9165, -1.2395, 0.2509, 0.0, -0.872, -0.3324, -0.001],
    trainLoss: 0.5503,
    valLoss: 0.7719,
  },
];

export function notebookRun(heads: number): NotebookRun | undefined {
  return NOTEBOOK_RUNS.find((r) => r.heads === heads);
}
