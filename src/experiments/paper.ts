/**
 * The authors' own runs (icl_linear.ipynb, docs/PAPER_EXPERIMENTS.md §1): the paper convention
 * (beta ~ N(0, I/d), noise variance 0.1 on context and query), batch 256, seed 1029, H = 2, 1, 4, 8;
 * the report adds their estimator comparison (§2), the reduced loss against the exact loss along the ± valley
 * and mu*(w) (§4), and puts their
 * printed runs beside ours.
 */
import { wasmAvailable } from '../io/wasm.js';
import { defaultTrainConfig } from '../run/config.js';
import type { PrintedRun } from '../report/plan.js';
import { AUTHORS_PAPER_RUNS } from './authors-values.js';
import { logEvery, type Experiment } from './experiment.js';
import { PAPER_LENGTHS } from './paper-sections.js';
import { FULL_STEPS } from './seed.js';

/** The authors' paper-convention training settings (docs/PAPER_EXPERIMENTS.md §1). */
export const PAPER_RUN = { preset: 'paper' as const, noiseStd: Math.sqrt(0.1), batchSize: 256, seed: 1029 };

/** The authors' paper-convention run with H heads (w, mu empty where they gave none). */
export function authorsPaperRun(H: number): PrintedRun | undefined {
  const r = AUTHORS_PAPER_RUNS[H];
  return r ? { heads: H, w: r.w ?? [], mu: r.mu ?? [], trainLoss: r.train, valLoss: r.val } : undefined;
}

export const PAPER_PRINTED = {
  who: "authors'",
  heading: "the authors' runs",
  note: "The comparison columns hold the authors' own runs (icl_linear.ipynb, step 500,000; w, mu from their figure script, H = 2 only; docs/PAPER_EXPERIMENTS.md §1), from another random history: compare statistics, not trajectories.",
  run: authorsPaperRun,
  endRemark: "the authors' w = 0.13 after 500,000 steps, ",
};

export const paperExperiment: Experiment = {
  name: 'paper',
  summary: "the authors' own runs (paper convention sigma^2 = 0.1, batch 256, RNG seed 1029, H = 2, 1, 4, 8; quick 80,000 steps) plus their estimator comparison and the reduced loss against the exact loss along the ± valley",
  heads: [2, 1, 4, 8],
  // In the paper convention the two heads of H = 2 first sit together at the single-head point
  // w = 1/sqrt(d) and split only after ~30,000-40,000 steps (our seed-1029 run: +/- split at 40k,
  // w = +/-0.144 at 60k, +/-0.134 at 100k): the quick length is 80,000 steps to be past it.
  quickSteps: 80_000,
  fullSteps: FULL_STEPS,
  out: ['runs/reproduce-paper', 'runs/reproduce-paper-full'],
  lengths: PAPER_LENGTHS,
  config(heads, steps) {
    const c = { ...defaultTrainConfig({ wasmAvailable: wasmAvailable() }), ...PAPER_RUN };
    c.valSamples = c.batchSize;
    const every = logEvery(c, steps);
    return { ...c, heads, steps, dynamicsEvery: every, qkEvery: every, lossEvery: every, valEvery: every };
  },
  claims: (c) => c.task === 'gaussian' && c.preset === 'paper' && c.attention === 'softmax',
  async report(dirs, o) {
    const [{ writeReport }, { paperExtras }] = await Promise.all([import('../report/report.js'), import('./paper-report.js')]);
    return writeReport(dirs, o, { printed: PAPER_PRINTED, extras: paperExtras });
  },
};
