import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressDisplay, progressLine } from '../src/run/progress.js';

describe('train progress (plain lines when not a terminal)', () => {
  it('formats step, percent, steps/s, ETA and loss', () => {
    expect(progressLine('h2', { step: 1200, total: 3000, startStep: 0, loss: 0.123456, stepsPerSecond: 850.4 }))
      .toBe('[h2] step 1200/3000 (40.0%)  850 steps/s  ETA 2s  loss 0.1235');
    expect(progressLine('', { step: 0, total: 10, startStep: 0, loss: NaN, stepsPerSecond: 0 })).toBe('step 0/10 (0.0%)  0 steps/s  ETA ?  loss -');
    expect([formatDuration(59.4), formatDuration(61), formatDuration(3725), formatDuration(NaN)]).toEqual(['59s', '1m01s', '1h02m', '?']);
  });
  it('lines mode prints at most one line per run per interval, to stderr; seed lines go to stdout', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const d = new ProgressDisplay('lines', (s) => out.push(s), (s) => err.push(s), 30);
    const p = { step: 5, total: 10, startStep: 0, loss: 1, stepsPerSecond: 5 };
    d.update('a', p); // first call only starts the clock
    d.update('a', p);
    expect(err).toEqual([]);
    await new Promise((r) => setTimeout(r, 40));
    d.update('a', { ...p, step: 6 });
    d.update('a', { ...p, step: 7 });
    expect(err).toEqual(['[a] step 6/10 (60.0%)  5 steps/s  ETA 1s  loss 1.0000\n']);
    d.line('After 0 steps, Training Loss: 1.0000, Validation Loss: 2.0000');
    expect(out).toEqual(['After 0 steps, Training Loss: 1.0000, Validation Loss: 2.0000\n']);
    const none = new ProgressDisplay('none', (s) => out.push(s), (s) => err.push(s), 0);
    none.update('b', p);
    none.update('b', p);
    none.note('x');
    expect(err).toHaveLength(1);
  });
});
