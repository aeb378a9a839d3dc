/**
 * The authors' multi-task runs (icl_linear_multitask.ipynb; docs/PAPER_EXPERIMENTS.md §5): tasks
 * x[0:4] and x[2:6] of x in R^6, L = 8d = 48, batch 256, seed 1029, Adam lr 1e-3, for H = 3 and 4
 * (theirs) and 2, 8; the multi-task report with the split-up / superposition findings beside their
 * printed losses. Runs train on the WebAssembly engine when dist/wasm/attention.wasm loads
 * (asm/multitask.ts), else on the TypeScript one; a continued run keeps the engine it started on.
 */
import type { EngineName } from '../engine/model.js';
import { AUTHORS_TASKS, formatTasks } from '../data/multitask.js';
import { wasmAvailable } from '../io/wasm.js';
import { defaultTrainConfig, type TrainConfig } from '../run/config.js';
import type { MultitaskReportPlan } from '../report/plan.js';
import { AUTHORS_MULTITASK_RUNS } from './authors-values.js';
import { logEvery, type Experiment } from './experiment.js';
import { FULL_STEPS } from './seed.js';

/** The authors' multi-task run for H heads. */
export function multitaskConfig(heads: number, steps: number, engine: EngineName = wasmAvailable() ? 'wasm' : 'ts'): TrainConfig {
  const c = defaultTrainConfig();
  const every = logEvery(c, steps);
  return {
    ...c, heads, steps, d: 6, contextLength: 48, batchSize: 256, valSamples: 256, seed: 1029, noiseStd: Math.sqrt(0.1),
    task: 'multitask', tasks: formatTasks(AUTHORS_TASKS), nOut: AUTHORS_TASKS.length, engine,
    dynamicsEvery: every, qkEvery: Math.max(every, Math.round(steps / 20)), lossEvery: every, valEvery: every,
  };
}

export const MULTITASK_PLAN: MultitaskReportPlan = {
  printed: (H) => AUTHORS_MULTITASK_RUNS[H],
  authorsFigure: (H) => H === 4
    ? "The authors' H = 4 heatmaps (split-up case): each head's QK diagonal on one task's four coordinates and its OV on that task's y -> output entry, two heads per task with opposite signs."
    : H === 3
      ? "The authors' H = 3 heatmaps (superposition): heads serve both tasks at once, e.g. one head's QK diagonal positive on x1..x2 (task 1 only), negative on x5..x6 (task 2 only), its OV y1 -> out 1 about +2 and y2 -> out 2 about -5."
      : 'The authors show H = 3 and H = 4 only.',
};

export const multitaskExperiment: Experiment = {
  name: 'multitask',
  summary: `the authors' two-task runs (tasks ${formatTasks(AUTHORS_TASKS)}, H = 3, 4, 2, 8; quick 15,000 steps) with the head split-up / superposition findings`,
  heads: [3, 4, 2, 8],
  // By 15,000 steps H = 4 has split up and H = 3 is superposed; H = 8 keeps superposed heads however
  // long it trains (docs/readme/paper.md), so longer quick runs would buy nothing: split-up is judged
  // at H = 2N, H = 8 is reported as measured.
  quickSteps: 15_000,
  fullSteps: FULL_STEPS,
  out: ['runs/reproduce-multitask', 'runs/reproduce-multitask-full'],
  config: (heads, steps) => multitaskConfig(heads, steps),
  claims: (c) => c.task === 'multitask',
  async report(dirs, o) {
    const { writeMultitaskReport } = await import('../report/multitask.js');
    return writeMultitaskReport(dirs, { out: o.out, ...(o.samples !== undefined ? { samples: o.samples } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.log ? { log: o.log } : {}) }, MULTITASK_PLAN);
  },
};
