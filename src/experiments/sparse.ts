/**
 * Sparse against dense tasks (Garg et al. 2022, section 5): H = 2 trained on s-sparse beta (s = 2 of
 * d = 10) and on dense beta, paper convention (sigma^2 = 0.1), L = 20, batch 256, seed 1029; the report
 * measures both models on sparse and on dense prompts over L = 4..40 beside lasso, the tuned lasso,
 * the support oracle and ridge (whose prior is the dense one).
 */
import { wasmAvailable } from '../io/wasm.js';
import { defaultTrainConfig, makeTrainConfig, type TrainConfig } from '../run/config.js';
import { logEvery, type Experiment } from './experiment.js';
import { FULL_STEPS } from './seed.js';

export const SPARSE_TASK = { d: 10, contextLength: 20, preset: 'paper' as const, noiseStd: Math.sqrt(0.1), batchSize: 256, seed: 1029 };
export const SPARSITY = 2;

function sparseConfig(sparsity: number, steps: number): TrainConfig {
  const every = logEvery(defaultTrainConfig(), steps);
  return makeTrainConfig({ ...SPARSE_TASK, heads: 2, sparsity, steps, dynamicsEvery: every, qkEvery: every, lossEvery: every, valEvery: every, valSamples: 256 }, { wasmAvailable: wasmAvailable() });
}

export const sparseExperiment: Experiment = {
  name: 'sparse',
  summary: `sparse against dense tasks (Garg et al. 2022): H = 2 trained on ${SPARSITY}-sparse and on dense beta (d = 10, L = 20, sigma^2 = 0.1), measured on both over L = 4..40 against lasso, the support oracle and ridge; quick 20,000 steps`,
  heads: [2],
  quickSteps: 20_000,
  fullSteps: FULL_STEPS,
  out: ['runs/reproduce-sparse', 'runs/reproduce-sparse-full'],
  // from L = 4: the support oracle's error is infinite in expectation for L <= s + 1
  lengths: [4, 6, 8, 10, 12, 16, 20, 25, 30, 40],
  config: (_heads, steps) => sparseConfig(0, steps),
  runs: (steps) => [{ name: `sparse${SPARSITY}`, config: sparseConfig(SPARSITY, steps) }, { name: 'dense', config: sparseConfig(0, steps) }],
  claims: (c) => c.task === 'sparse',
  async report(dirs, o) {
    const { writeSparseReport } = await import('./sparse-report.js');
    return writeSparseReport(dirs, o);
  },
};
