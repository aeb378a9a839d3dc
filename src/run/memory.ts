/**
 * Memory a training run needs, estimated from its config before anything is created (io/memory.ts
 * checks it against the machine): weights with gradient and optimizer state, the logs kept for the
 * whole run (QK snapshots grow as steps / qk_every x layers x H x E^2), the batches, the work
 * arrays of one step, and the checkpoint and snapshot files, each encoded into one byte array when
 * saved (one array holds at most 2^32 bytes).
 */
import { checkMemory, type MemoryPart } from '../io/memory.js';
import { countLogged, type TrainConfig } from './config.js';

export function trainMemoryParts(c: TrainConfig): MemoryPart[] {
  const E = c.d + 1;
  const LH = c.layers * c.heads;
  const T = c.contextLength + 1;
  const nTheta = c.layers * 4 * c.heads * E * E + E;
  const optBuffers = c.optimizer === 'sgd' ? 1 : 2;
  const nSnap = countLogged(c.steps, c.qkEvery);
  const nDyn = countLogged(c.steps, c.dynamicsEvery);
  const nVal = countLogged(c.steps, c.valEvery);
  const snapBytes = 8 * nSnap * LH * (E * E + E);
  const checkpointBytes = 8 * nTheta * (2 + optBuffers); // state dict + theta + optimizer buffers
  const metricsBytes = 8 * (c.steps + 2 * nVal + nDyn * (2 * LH + 1));
  return [
    { what: 'weights, gradient and optimizer state', bytes: 8 * nTheta * (2 + optBuffers) + 4 * nTheta, largestArray: nTheta },
    { what: 'QK/OV snapshots', bytes: snapBytes, largestArray: nSnap * LH * E * E },
    { what: 'checkpoint file', bytes: checkpointBytes, largestArray: checkpointBytes },
    { what: 'snapshot file', bytes: snapBytes, largestArray: snapBytes },
    { what: 'metrics', bytes: 2 * metricsBytes, largestArray: metricsBytes },
    { what: 'training and validation batches', bytes: 8 * (c.batchSize + c.valSamples) * T * E, largestArray: Math.max(c.batchSize, c.valSamples) * T * E },
    { what: 'work arrays of a step', bytes: 8 * (c.layers > 1 ? c.layers * c.heads * T * (T + 2 * E) : c.heads * (2 * T + 2 * E * E)) },
  ];
}

/** A UsageError (before anything is created) when the run cannot fit in memory; `name` tags a run of a list. */
export function checkTrainMemory(c: TrainConfig, name?: string): void {
  checkMemory(name ? `train (run ${name})` : 'train', trainMemoryParts(c), 'lower --heads, --d, --layers or --context-length (or raise --qk-every for fewer snapshots)');
}
