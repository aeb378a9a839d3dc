/**
 * worker_threads entry of report/evaluate-parallel.ts: the error sweep of its share of the lengths,
 * on its own wasm instance, posted back as one FullEvaluation.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { evaluateErrors } from '../analysis/evaluate.js';
import { Rng } from '../data/rng.js';
import { nodeForward } from '../io/wasm.js';
import { sweepMethods, type SweepJob } from './evaluate-parallel.js';

const job = workerData as SweepJob;
parentPort!.postMessage(evaluateErrors(sweepMethods(job, nodeForward()), job.spec, job.lengths, job.samples, Rng.fromState(job.rngState)));
