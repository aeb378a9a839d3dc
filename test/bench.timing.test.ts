/**
 * bench/timing.ts on a fake clock: a step whose phases take known times, so every number timeSteps
 * reports has a hand-computed value (these replace CLI-level checks that held by construction).
 */
import { describe, expect, it } from 'vitest';
import { CHUNK, timeSteps, type PhasedStep } from '../src/bench/timing.js';

/** A step that advances the clock by 1 ms (sample), 3 ms (loss and grad; 13 ms for call `slowCall`), 0.5 ms (update). */
function fakeStep(slowCall: number) {
  let t = 0;
  let calls = 0;
  const step: PhasedStep = {
    sample: () => { t += 1; },
    lossAndGrad: () => { calls++; t += calls === slowCall ? 13 : 3; return calls; },
    update: () => { t += 0.5; },
  };
  return { step, now: () => t };
}

describe('timeSteps (fake clock)', () => {
  it('measures whole chunks until the time is up, splits the phases, and reports the fastest chunk', () => {
    expect(CHUNK).toBe(20);
    // warm-up 0.05 s: one chunk of 20 steps (90 ms >= 50 ms). Measured: loss call 21 is the slow one,
    // so chunk 1 takes 20 * 4.5 + 10 = 100 ms, chunks 2 and 3 take 90 ms; 280 ms >= 200 ms after 3 chunks.
    const { step, now } = fakeStep(21);
    const r = timeSteps(step, 0.2, 0.05, now);
    expect(r.steps).toBe(60);
    expect(r.stepsPerSecond).toBeCloseTo(60 / 0.28, 9);
    expect(r.msPerStep).toBeCloseTo(280 / 60, 12);
    expect(r.samplingMs).toBeCloseTo(1, 12);
    expect(r.forwardBackwardMs).toBeCloseTo((60 * 3 + 10) / 60, 12);
    expect(r.optimizerMs).toBeCloseTo(0.5, 12);
    // nothing but the phases advances this clock, so they add up to the whole step
    expect(r.samplingMs + r.forwardBackwardMs + r.optimizerMs).toBeCloseTo(r.msPerStep, 12);
    expect(r.bestStepsPerSecond).toBeCloseTo(20 / 0.09, 9); // the 90 ms chunks, not the 100 ms one
    expect(r.lastLoss).toBe(80); // 20 warm-up + 60 measured calls
  });

  it('no warm-up: the slow step is measured in the first chunk; a whole chunk even when 1 ms is asked for', () => {
    const { step, now } = fakeStep(1);
    const r = timeSteps(step, 0.001, 0, now);
    expect(r.steps).toBe(CHUNK);
    expect(r.msPerStep).toBeCloseTo(100 / 20, 12);
    expect(r.bestStepsPerSecond).toBeCloseTo(r.stepsPerSecond, 9);
    expect(r.lastLoss).toBe(20);
  });
});
