/**
 * The split-up / superposition findings on hand-made multi-task models (d = 6, tasks x[0:4], x[2:6]):
 * heads whose QK is c I on some coordinates and whose OV reads y_k -> out k with a given weight.
 */
import { describe, expect, it } from 'vitest';
import { allocParams } from '../src/model/params.js';
import { multitaskCircuits, exclusiveCoordinates } from '../src/model/multitask-circuits.js';
import { mixedShare, moreHeadsFinding, moreHeadsObservation, MORE_HEADS_STEPS, splitUpFinding, superposedStrengthShare, superpositionFinding } from '../src/report/multitask-findings.js';

const tasks = [[0, 4], [2, 6]] as const;
const d = 6, N = 2, E = d + N;

/** Head h: QK diagonal qkDiag[c] on x_c (scaled QK = Wq^T Wk / sqrt(E)), OV y_k -> out k = ov[k]. */
function model(heads: { qk: number[]; ov: number[] }[]) {
  const H = heads.length;
  const p = allocParams(E - 1, H, N);
  heads.forEach((hd, h) => {
    for (let c = 0; c < d; c++) {
      const a = Math.sqrt(Math.abs(hd.qk[c]!) * Math.sqrt(E));
      p.q[(h * E + c) * E + c] = a * Math.sign(hd.qk[c]!);
      p.k[(h * E + c) * E + c] = a;
    }
    for (let k = 0; k < N; k++) {
      p.v[(h * E + d + k) * E + d + k] = 1; // W_V^h[y_k, y_k]
      p.o[k * E * H + h * E + d + k] = hd.ov[k]!; // o_proj[k, h E + d + k]
    }
  });
  return p;
}

const t1 = (s: number, mu: number) => ({ qk: [s, s, s, s, 0, 0], ov: [mu, 0.1 * mu] }); // task 1 head with a little y2 read-out
const t2 = (s: number, mu: number) => ({ qk: [0, 0, s, s, s, s], ov: [0, mu] });

describe('multi-task findings', () => {
  it('own coordinates: x1, x2 for task 1 and x5, x6 for task 2', () => {
    expect(exclusiveCoordinates(tasks, 0)).toEqual([0, 1]);
    expect(exclusiveCoordinates(tasks, 1)).toEqual([4, 5]);
  });

  it('a split-up H = 4 model passes split-up; its mixed shares are ~0 although task-1 heads read a little y2', () => {
    const p = model([t1(0.17, 2.7), t2(0.17, 2.4), t2(-0.17, -2.5), t1(-0.17, -2.7)]);
    const cs = multitaskCircuits(p, d, tasks);
    expect(cs[0]!.wTask[0]).toBeCloseTo(0.17, 10);
    expect(cs[0]!.muTask).toEqual([expect.closeTo(2.7, 10), expect.closeTo(0.27, 10)]);
    expect(cs[0]!.ovShare[1]).toBeCloseTo(0.27 / 2.97, 10);
    expect(cs[0]!.qkExclusive).toEqual([1, 0]);
    expect(Math.max(...cs.map(mixedShare))).toBe(0);
    const f = splitUpFinding([{ name: 'h4', heads: 4, circuits: cs }], N);
    expect(f.pass).toBe(true);
    expect(superpositionFinding([{ name: 'h4', heads: 4, circuits: cs }], N).checks).toHaveLength(0); // H = 4 is not 2 < H < 2N
  });

  it("the authors' H = 3 head (QK + on x1..x2, - on x5..x6; OV +2 / -5) is superposed", () => {
    const mixed = { qk: [0.1, 0.1, 0, 0, -0.1, -0.1], ov: [2, -5] };
    const p = model([mixed, t1(0.15, 3), t2(-0.15, -3)]);
    const cs = multitaskCircuits(p, d, tasks);
    expect(mixedShare(cs[0]!)).toBeCloseTo(2 / 7, 10); // min(read-out share 2/7, QK own share 1/2)
    const f = superpositionFinding([{ name: 'h3', heads: 3, circuits: cs }], N);
    expect(f.pass).toBe(true);
    expect(f.value).toBeCloseTo(2 / 7, 10);
    // the same heads fail split-up if judged as an H >= 2N model: one head is mixed
    const s = splitUpFinding([{ name: 'x', heads: 4, circuits: [...cs, { ...cs[1]!, head: 3 }] }], N);
    expect(s.pass).toBe(false);
  });

  it('split-up is judged at H = 2N only; a model with more heads is measured (moreHeadsObservation), not judged', () => {
    const mixed = { qk: [0.1, 0.1, 0, 0, -0.1, -0.1], ov: [2, -5] };
    const h8 = model([t1(0.17, 2.7), t2(0.17, 2.4), t2(-0.17, -2.5), t1(-0.17, -2.7), mixed, t1(0.15, 3), { qk: [0, 0, 0, 0, 0, 0], ov: [0, 0] }, t2(0.001, 0.01)]);
    const ev = { name: 'h8', heads: 8, circuits: multitaskCircuits(h8, d, tasks) };
    const only8 = splitUpFinding([ev], N);
    expect(only8.result).toBe('n/a');
    expect(only8.checks).toHaveLength(0);
    const h4 = { name: 'h4', heads: 4, circuits: multitaskCircuits(model([t1(0.17, 2.7), t2(0.17, 2.4), t2(-0.17, -2.5), t1(-0.17, -2.7)]), d, tasks) };
    const both = splitUpFinding([h4, ev], N);
    expect(both.pass).toBe(true);
    expect(both.checks.every((c) => c.name.startsWith('h4:'))).toBe(true);
    const [o] = moreHeadsObservation([h4, ev], N);
    expect(o).toMatchObject({ name: 'h8', heads: 8, active: 6, single: 5 }); // heads 7 (zero) and 8 (tiny) inactive
    expect(o!.mixed).toEqual([{ head: 5, mixed: expect.closeTo(2 / 7, 10), strength: expect.closeTo(0.05 * 2 + 0.05 * 5, 10) }]); // |w1 mu1| + |w2 mu2|, w = mean QK diagonal on the block
  });

  it('more-heads (H > 2N): the strength share of heads serving both tasks, judged from 300,000 steps; shorter runs n/a (issue 26)', () => {
    const mixed = { qk: [0.05, 0.05, 0, 0, -0.05, -0.05], ov: [2, -5] }; // active (strength 0.175) but weak
    const heads = [t1(0.17, 2.7), t2(0.17, 2.4), t2(-0.17, -2.5), t1(-0.17, -2.7), t1(0.15, 3), { qk: [0, 0, 0, 0, 0, 0], ov: [0, 0] }, t2(0.001, 0.01)];
    const weak = { name: 'weak', heads: 8, circuits: multitaskCircuits(model([...heads.slice(0, 4), mixed, ...heads.slice(4)]), d, tasks) };
    const share = superposedStrengthShare(weak);
    // the mixed head's strength 0.175 over the six active heads' total
    const total = weak.circuits.filter((c) => c.strength > 0.05).reduce((a, c) => a + c.strength, 0);
    expect(share).toBeCloseTo(0.175 / total, 10);
    expect(share).toBeLessThan(0.1);
    // the same weak mixed head fails nothing once converged; a strong one (OV x 10) does
    const strongMixed = { qk: [1, 1, 0, 0, -1, -1], ov: [2, -5] };
    const strong = { name: 'strong', heads: 8, circuits: multitaskCircuits(model([...heads.slice(0, 4), strongMixed, ...heads.slice(4)]), d, tasks) };
    const at = (m: typeof weak, step: number) => ({ ...m, step });
    expect(moreHeadsFinding([at(weak, MORE_HEADS_STEPS)], N).result).toBe('pass');
    expect(moreHeadsFinding([at(strong, MORE_HEADS_STEPS)], N).result).toBe('FAIL');
    const early = moreHeadsFinding([at(strong, 15_000)], N);
    expect(early.result).toBe('n/a');
    expect(early.why).toMatch(/Not converged \(n\/a for them\): strong \(step 15,000\)/);
    expect(moreHeadsFinding([], N).result).toBe('n/a');
  });

  it('split-up needs two heads of opposite sign per task', () => {
    const p = model([t1(0.17, 2.7), t1(0.17, 2.7), t2(0.17, 2.4), t2(-0.17, -2.5)]);
    const f = splitUpFinding([{ name: 'h4', heads: 4, circuits: multitaskCircuits(p, d, tasks) }], N);
    expect(f.pass).toBe(false);
    expect(f.checks.find((c) => !c.pass)!.name).toMatch(/task 1 served by heads 1 .*2 .*min\(#w>0, #w<0\)/);
  });
});
