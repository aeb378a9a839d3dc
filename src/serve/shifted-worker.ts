/** worker_threads entry of serve/shifted.ts: one shifted evaluation of a run, posted back as a ShiftReply. */
import { parentPort, workerData } from 'node:worker_threads';
import { evaluateJob, type ShiftJob } from './shifted.js';

parentPort!.postMessage(evaluateJob(workerData as ShiftJob));
