/**
 * Task diversity (Raventós et al. 2023, "Pretraining task diversity and the emergence of non-Bayesian
 * in-context learning"): the one-layer model trained on finite pools of M tasks, M = 1, 4, ..., 16384,
 * and on fresh tasks (M = infinity), in the setting d = 8, L = 16, sigma^2 = 0.25 on context and query,
 * beta ~ N(0, I/d) (the paper convention), H = 2, batch 256, seed 1029. The report measures each
 * model on its pool tasks and on fresh tasks beside dMMSE (the discrete prior's posterior mean) and
 * ridge (the Gaussian prior's), and says where the model moves from one to the other.
 */
import { wasmAvailable } from '../io/wasm.js';
import { defaultTrainConfig, makeTrainConfig, type TrainConfig } from '../run/config.js';
import { logEvery, type Experiment } from './experiment.js';
import { FULL_STEPS } from './seed.js';

export const DIVERSITY_POOLS: readonly number[] = [1, 4, 16, 64, 256, 1024, 4096, 16384];
/** The setting: d, L, noise of Raventós et al.'s smallest runs, in the paper convention. */
export const DIVERSITY_TASK = { d: 8, contextLength: 16, preset: 'paper' as const, noiseStd: 0.5, batchSize: 256, seed: 1029 };

function diversityConfig(taskPool: number, steps: number): TrainConfig {
  const every = logEvery(defaultTrainConfig(), steps);
  return makeTrainConfig({ ...DIVERSITY_TASK, heads: 2, taskPool, steps, dynamicsEvery: every, qkEvery: every, lossEvery: every, valEvery: every, valSamples: 256 }, { wasmAvailable: wasmAvailable() });
}

/** Run folder of pool size M (0: fresh tasks). */
export const diversityRunName = (M: number): string => (M === 0 ? 'fresh' : `M${M}`);

export const taskDiversityExperiment: Experiment = {
  name: 'task-diversity',
  summary: `task diversity (Raventós et al. 2023): H = 2 trained on pools of M = ${DIVERSITY_POOLS.join(', ')} tasks and on fresh tasks (d = 8, L = 16, sigma^2 = 0.25), measured on pool and fresh tasks against dMMSE and ridge; quick 20,000 steps`,
  heads: [2],
  quickSteps: 20_000,
  fullSteps: FULL_STEPS,
  out: ['runs/reproduce-task-diversity', 'runs/reproduce-task-diversity-full'],
  config: (_heads, steps) => diversityConfig(0, steps),
  runs: (steps) => [...DIVERSITY_POOLS, 0].map((M) => ({ name: diversityRunName(M), config: diversityConfig(M, steps) })),
  claims: (c) => c.task === 'pool',
  async report(dirs, o) {
    const { writeTaskDiversityReport } = await import('./task-diversity-report.js');
    return writeTaskDiversityReport(dirs, o);
  },
};
