/**
 * Length generalisation: softmax against linear attention (issue 25). Trained at L = 40 in the
 * paper convention (PAPER_RUN: beta ~ N(0, I/d), noise variance 0.1 on context and query, batch 256,
 * seed 1029), then measured on shared prompts up to L = 200 beside the closed forms:
 *
 *   linear      (a_i = s_i / L)  one-step GD at the training eta*(40) = 0.8602 at every L: R(eta*(40), L)
 *   linear-sum  (a_i = s_i)      the same weights sum L terms: GD at eta*(40) L / 40, R(eta*(40) L/40, L)
 *   softmax H = 2                the seed's model (its kernel regressor)
 *
 * and tuned one-step GD (eta*(L) at each L) and ridge for reference. The report and its findings:
 * length-generalization-report.ts.
 */
import { wasmAvailable } from '../io/wasm.js';
import { defaultTrainConfig, type AttentionName } from '../run/config.js';
import { logEvery, type Experiment } from './experiment.js';
import { PAPER_RUN } from './paper.js';

/** The runs: attention and heads, folder `<attention>-h<H>`. */
export const LENGTH_RUNS: readonly { attention: AttentionName; heads: number }[] = [
  { attention: 'linear', heads: 1 },
  { attention: 'linear', heads: 2 },
  { attention: 'linear-sum', heads: 1 },
  { attention: 'linear-sum', heads: 2 },
  { attention: 'softmax', heads: 2 },
];

export const LENGTH_LENGTHS: readonly number[] = [5, 10, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200];

function config(attention: AttentionName, heads: number, steps: number) {
  const c = { ...defaultTrainConfig({ wasmAvailable: wasmAvailable() }), ...PAPER_RUN, attention };
  c.valSamples = c.batchSize;
  const every = logEvery(c, steps);
  return { ...c, heads, steps, dynamicsEvery: every, qkEvery: every, lossEvery: every, valEvery: every };
}

const runs = (steps: number) => LENGTH_RUNS.map((r) => ({ name: `${r.attention}-h${r.heads}`, config: config(r.attention, r.heads, steps) }));

export const lengthGeneralizationExperiment: Experiment = {
  name: 'length-generalization',
  summary: 'softmax H = 2 against linear and linear-sum attention (H = 1, 2), paper convention, trained at L = 40 (quick 40,000 steps), measured to L = 200 beside the closed forms of one-step GD',
  heads: LENGTH_RUNS.map((r) => r.heads),
  quickSteps: 40_000,
  fullSteps: 150_000,
  out: ['runs/reproduce-length-generalization', 'runs/reproduce-length-generalization-full'],
  lengths: LENGTH_LENGTHS,
  runs,
  config: (heads, steps) => config('linear', heads, steps),
  // a linear attention run is this experiment's (softmax runs of the paper convention are the paper experiment's)
  claims: (c) => c.task === 'gaussian' && c.attention !== 'softmax',
  async report(dirs, o) {
    const { writeLengthReport } = await import('./length-generalization-report.js');
    return writeLengthReport(dirs, { ...o, lengths: o.lengths ?? LENGTH_LENGTHS });
  },
};
