/**
 * Timing of a training step split into its three phases, shared by the single-layer and the stack
 * benchmarks: warm-up (JIT), then chunks of 20 steps until `seconds` have passed; the mean over the
 * whole measured run and the fastest chunk (which a shared machine's load disturbs least).
 */

/** One training step, phase by phase. */
export interface PhasedStep {
  sample(): void;
  lossAndGrad(): number;
  update(): void;
}

export interface StepTiming {
  steps: number;
  stepsPerSecond: number;
  msPerStep: number;
  samplingMs: number;
  forwardBackwardMs: number;
  optimizerMs: number;
  /** Steps/s of the fastest 20-step chunk. */
  bestStepsPerSecond: number;
  lastLoss: number;
}

export const CHUNK = 20;

/** Time `s` for `seconds` after `warmupSeconds` of warm-up; `now` is the clock in milliseconds (tests pass a fake one). */
export function timeSteps(s: PhasedStep, seconds: number, warmupSeconds: number, now: () => number = () => performance.now()): StepTiming {
  let loss = NaN;
  const w0 = now();
  while (now() - w0 < warmupSeconds * 1000) {
    for (let i = 0; i < CHUNK; i++) {
      s.sample();
      loss = s.lossAndGrad();
      s.update();
    }
  }
  let tSample = 0, tFb = 0, tOpt = 0, steps = 0;
  const start = now();
  let end = start, bestChunk = Infinity;
  while (end - start < seconds * 1000) {
    const c0 = now();
    for (let i = 0; i < CHUNK; i++) {
      const a = now();
      s.sample();
      const b = now();
      loss = s.lossAndGrad();
      const c = now();
      s.update();
      const e = now();
      tSample += b - a;
      tFb += c - b;
      tOpt += e - c;
    }
    steps += CHUNK;
    end = now();
    bestChunk = Math.min(bestChunk, end - c0);
  }
  const ms = end - start;
  return {
    steps,
    stepsPerSecond: (steps / ms) * 1000,
    msPerStep: ms / steps,
    samplingMs: tSample / steps,
    forwardBackwardMs: tFb / steps,
    optimizerMs: tOpt / steps,
    bestStepsPerSecond: (CHUNK / bestChunk) * 1000,
    lastLoss: loss,
  };
}
