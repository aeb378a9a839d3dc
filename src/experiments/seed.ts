/**
 * The seed notebook (config_1, docs/SEED_NOTES.md #8): one-layer softmax attention with H = 2, 1, 4, 8
 * heads on the seed convention (beta ~ N(0, I), noise_std 0.1 on the context), batch 128, seed 1024,
 * Adam lr 1e-3; 500,001 steps in the notebook. The report measures the five findings and puts the
 * notebook's printed statistics beside ours.
 */
import { wasmAvailable } from '../io/wasm.js';
import { defaultTrainConfig } from '../run/config.js';
import { logEvery, type Experiment } from './experiment.js';
import { notebookRun } from './notebook.js';

/** Quick length: every H is on its loss plateau by 20,000 steps (docs/REFERENCE_RUNS.md). */
export const QUICK_STEPS = 20_000;
/** The notebook's run length. */
export const FULL_STEPS = 500_001;

export const SEED_PRINTED = {
  who: 'notebook',
  heading: 'the notebook',
  note: "The notebook's values are after 500,001 steps on a GPU from another random history (docs/SEED_NOTES.md #11): compare statistics, not trajectories.",
  run: notebookRun,
};

export const seedExperiment: Experiment = {
  name: 'seed',
  summary: 'the seed notebook (its task convention, batch 128, RNG seed 1024, H = 2, 1, 4, 8)',
  heads: [2, 1, 4, 8],
  quickSteps: QUICK_STEPS,
  fullSteps: FULL_STEPS,
  out: ['runs/reproduce', 'runs/reproduce-full'],
  config(heads, steps) {
    const c = defaultTrainConfig({ wasmAvailable: wasmAvailable() });
    const every = logEvery(c, steps);
    return { ...c, heads, steps, dynamicsEvery: every, qkEvery: every, lossEvery: every, valEvery: every };
  },
  // runs with rho != 0 are the anisotropic experiment's
  claims: (c) => c.task === 'gaussian' && c.preset === 'seed' && c.attention === 'softmax' && c.rho === 0,
  async report(dirs, o) {
    const { writeReport } = await import('../report/report.js');
    return writeReport(dirs, o, { printed: SEED_PRINTED });
  },
};
