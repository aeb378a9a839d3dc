/** Messages between the playground page and its training worker. */
export interface PlaygroundSettings {
  /** The model family (src/run/model-families.ts): softmax (the seed's), linear (a_i = s_i / L), linear-sum (a_i = s_i). */
  attention: 'softmax' | 'linear' | 'linear-sum';
  heads: number;
  d: number;
  contextLength: number;
  init: 'random' | 'small_id' | 'small_id_qk' | 'oppo_small_id';
  optimizer: 'sgd' | 'adam' | 'adamw';
  lr: number;
  noiseStd: number;
  preset: 'seed' | 'paper';
  steps: number;
  batchSize: number;
  seed: number;
  engine: 'wasm' | 'ts';
}

export type ToWorker =
  | { type: 'start'; settings: PlaygroundSettings; session: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'reset' }
  | { type: 'download' };

export interface Progress {
  type: 'progress';
  /** The `session` of the start message this run came from (the page ignores older sessions' messages). */
  session: number;
  /** Steps done, target, and whether it is training now. */
  step: number;
  steps: number;
  running: boolean;
  done: boolean;
  engine: string;
  /** Steps per second while running (whole session), and over the last ~2 s. */
  stepsPerSecond: number;
  recentStepsPerSecond: number;
  loss: number;
  val: number;
  /** New entries since the last message (the page appends them). */
  trainLossFrom: number;
  trainLoss: Float64Array;
  valFrom: number;
  valLoss: Float64Array;
  valStep: Float64Array;
  dynFrom: number;
  dynStep: Float64Array;
  qkDyn: Float64Array; // [n, layers, H]
  ovDyn: Float64Array;
  /** Newest snapshot: [layers, H, E, E] and [layers, H, E] at snapStep. */
  snapStep: number;
  qk: Float64Array;
  ov: Float64Array;
  layers: number;
  heads: number;
  E: number;
}

export type FromWorker =
  | { type: 'ready'; wasm: string | null }
  | Progress
  | { type: 'error'; message: string }
  | { type: 'model'; bytes: Uint8Array; name: string };
