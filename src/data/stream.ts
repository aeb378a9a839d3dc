/**
 * The batch stream of a run and its version. A run draws its initial weights from `Rng(seed)`
 * and then every batch (training and validation, in the loop's order) from its stream:
 *
 *   version 1  data/rng.ts Rng (xoshiro128**, 128-layer ziggurat) + data/task.ts sampleBatch;
 *              state: the Rng's 6 numbers. Runs recorded without a version are version 1.
 *   version 2  data/normal2.ts (four xoshiro128** lanes, 256-layer ziggurat on 52-bit uniforms,
 *              x, beta and noise in one pass), seeded by 16 draws of the Rng after the initial
 *              weights; state: 16 numbers. The wasm engine runs asm/sampler2.ts, the same
 *              doubles bit for bit. New runs use version 2.
 *
 * A resume keeps the run's own version, so an old run continues bit-identically; a version this
 * build does not know is refused with a message naming both. Pure: no node:* imports.
 */
import type { Batch } from './batch.js';
import { hasBetaPrior } from './beta-prior.js';
import { NormalStream2, sampleBatch2 } from './normal2.js';
import { Rng } from './rng.js';
import { sampleBatch, type TaskSpec } from './task.js';

export type StreamVersion = 1 | 2;
/** The versions this build can continue. */
export const STREAM_VERSIONS: readonly StreamVersion[] = [1, 2];
/** The version new runs get. */
export const CURRENT_STREAM_VERSION: StreamVersion = 2;

/** What a model may offer to draw batches faster (the wasm engine: straight into its memory). */
export interface FastSampler {
  sampleBatch?(spec: TaskSpec, rng: Rng, out: Batch): Batch;
  sampleBatch2?(spec: TaskSpec, stream: NormalStream2, out: Batch): Batch;
}

export interface BatchStream {
  readonly version: StreamVersion;
  /**
   * The next batch, into `out` (`fast`: the model's sampler, the same batch bit for bit). Returns
   * the batch to use: `out`, or (run/prefetch.ts) a buffer that already holds it.
   */
  sample(spec: TaskSpec, out: Batch, fast?: FastSampler): Batch;
  /** The complete state as JSON-safe numbers (checkpoint `rng_state`). */
  getState(): number[];
  /** An independent copy continuing the same stream. */
  clone(): BatchStream;
}

/**
 * The version of a run from its record (`stream_version` in run.json or checkpoint metadata):
 * absent = 1. Throws Error with a clear line for anything else than a known version.
 */
export function parseStreamVersion(v: unknown, where: string): StreamVersion {
  if (v === undefined || v === null) return 1;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (n === 1 || n === 2) return n;
  const known = STREAM_VERSIONS.join(' and ');
  throw new Error(
    `${where}: stream_version ${JSON.stringify(v)} is not known to this build of icl-lab (it knows versions ${known}); ` +
    `the run was recorded by another version, resume it with that one`,
  );
}

function v1(rng: Rng): BatchStream {
  return {
    version: 1,
    // the fast samplers know the Gaussian prior only (a pool or sparse beta: the TypeScript sampler)
    sample: (spec, out, fast) => (fast?.sampleBatch && !hasBetaPrior(spec) ? fast.sampleBatch(spec, rng, out) : sampleBatch(spec, rng, out)),
    getState: () => rng.getState(),
    clone: () => v1(rng.clone()),
  };
}

function v2(stream: NormalStream2): BatchStream {
  return {
    version: 2,
    sample: (spec, out, fast) => (fast?.sampleBatch2 && !hasBetaPrior(spec) ? fast.sampleBatch2(spec, stream, out) : sampleBatch2(spec, stream, out)),
    getState: () => stream.getState(),
    clone: () => v2(stream.clone()),
  };
}

/** The stream of a fresh run: `rng` is the run's Rng after the initial weights were drawn. */
export function createStream(version: StreamVersion, rng: Rng): BatchStream {
  return version === 1 ? v1(rng) : v2(NormalStream2.fromRng(rng));
}

/** The stream of a resumed run from its saved state (RangeError when the state does not fit the version). */
export function restoreStream(version: StreamVersion, state: readonly number[]): BatchStream {
  return version === 1 ? v1(Rng.fromState(state)) : v2(NormalStream2.fromState(state));
}
