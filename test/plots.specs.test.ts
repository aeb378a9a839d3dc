/**
 * Figure specs (pure data -> Vega-Lite JSON): structure, encodings, cell counts, colour scales,
 * downsampling. Seeded synthetic data, rounded numbers. No rendering here (see plots.render.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/data/rng.js';
import { circuitSpec } from '../src/plots/circuits.js';
import { downsampleMinMax } from '../src/plots/downsample.js';
import { dynamicsRows, dynamicsSpec, taskDynamicsSpec } from '../src/plots/dynamics.js';
import { errorVsLengthSpec, headCountMethods, headCountSpec, isReferenceMethod, type Evaluation } from '../src/plots/error-curves.js';
import { flowSpec, trajectoryFromFlow } from '../src/plots/flow.js';
import { NOT_FINITE_GREY, valueFormat } from '../src/plots/heatmap.js';
import { lossSpec } from '../src/plots/loss.js';
import { multitaskCircuitsSpec } from '../src/plots/multitask.js';
import { contextLine, paperSpec, PAPER_FONT_SIZE, SCREEN_FONT_SIZE, withContext } from '../src/plots/theme.js';
import { evenIndices, qkEvolutionSpec } from '../src/plots/qk-evolution.js';
import { parseEvaluation } from '../src/plots/evaluation.js';
import { DARK_RED, NAVY, SEPARATOR_GREEN, WHITE, round } from '../src/plots/theme.js';

// Specs are plain JSON; tests walk them loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;

function normals(n: number, seed: number, scale = 1): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(n);
  rng.fillNormal(out);
  for (let i = 0; i < n; i++) out[i]! *= scale;
  return out;
}

const maxAbsOf = (a: ArrayLike<number>): number => Math.max(...Array.from(a, Math.abs));
const cells = (panel: J): J[] => panel.data.values.filter((r: J) => r.kind === 'cell');
const seps = (panel: J): J[] => panel.data.values.filter((r: J) => r.kind === 'sep');
const layerWithMark = (panel: J, mark: string): J => panel.layer.find((l: J) => (l.mark.type ?? l.mark) === mark);

describe('circuit figure (scaled QK^h beside OV^h)', () => {
  const qk = normals(36, 11, 0.1); // [6, 6]
  const ov = normals(6, 12, 2); // [6]
  const spec: J = circuitSpec({ qk, ov, layer: 1, head: 2 });
  const [qkPanel, ovPanel] = spec.hconcat;

  it('has (d+1)^2 QK cells and d+1 OV cells, row-major, values rounded to 6 digits', () => {
    expect(spec.hconcat).toHaveLength(2);
    expect(cells(qkPanel)).toHaveLength(36);
    expect(cells(ovPanel)).toHaveLength(6);
    const c = cells(qkPanel).find((r: J) => r.r === 2 && r.c === 4);
    expect(c.v).toBe(round(qk[2 * 6 + 4]!));
    expect(c.x0).toBe(4);
    expect(c.y0).toBe(2);
    expect(cells(ovPanel).map((r: J) => r.v)).toEqual(Array.from(ov, (v) => round(v)));
  });

  it('is titled like the seed, per layer and head', () => {
    expect(qkPanel.title.text).toBe('Layer 1, Head 2: QKʰ (scaled by 1/√(d+1))'); // math in symbols (issue 12, figures)
    expect(ovPanel.title.text).toBe('OVʰ');
  });

  it('uses diverging navy-white-red colour scales, symmetric and separate for QK and OV, interpolated in rgb', () => {
    const qkColor = layerWithMark(qkPanel, 'rect').encoding.color;
    const ovColor = layerWithMark(ovPanel, 'rect').encoding.color;
    const mq = maxAbsOf(qk);
    const mo = maxAbsOf(ov);
    expect(qkColor.scale.domain).toEqual([-mq, 0, mq]);
    expect(ovColor.scale.domain).toEqual([-mo, 0, mo]);
    expect(mq).not.toBeCloseTo(mo, 3);
    for (const c of [qkColor, ovColor]) {
      expect(c.scale.range).toEqual([NAVY, WHITE, DARK_RED]);
      expect(c.scale.interpolate).toBe('rgb');
      expect(c.field).toBe('v');
    }
    expect(spec.resolve.scale.color).toBe('independent');
  });

  it('draws green dashed separators before the y row and column (at coordinate d = 5)', () => {
    expect(seps(qkPanel)).toEqual([
      { kind: 'sep', x0: 5, x1: 5, y0: 0, y1: 6 }, // vertical, between column d-1 and d
      { kind: 'sep', x0: 0, x1: 6, y0: 5, y1: 5 }, // horizontal, between row d-1 and d
    ]);
    expect(seps(ovPanel)).toEqual([{ kind: 'sep', x0: 0, x1: 1, y0: 5, y1: 5 }]);
    const rule = layerWithMark(qkPanel, 'rule');
    expect(rule.mark.color).toBe(SEPARATOR_GREEN);
    expect(rule.mark.strokeDash.length).toBe(2);
  });

  it('prints cell values with about three significant digits, and can leave them out', () => {
    const text = layerWithMark(qkPanel, 'text');
    expect(text.encoding.text.field).toBe('label');
    expect(text.transform[3].calculate).toContain(`format(datum.v, '${valueFormat(maxAbsOf(qk))}')`);
    expect(valueFormat(0.139)).toBe('.3f');
    expect(valueFormat(3.17)).toBe('.2f');
    const bare: J = circuitSpec({ qk, ov, layer: 1, head: 1 }, { showValues: false });
    expect(layerWithMark(bare.hconcat[0], 'text')).toBeUndefined();
  });

  it('works for other d (d = 3: 16 and 4 cells, separators at 3) and rejects a non-square QK', () => {
    const s: J = circuitSpec({ qk: normals(16, 3), ov: normals(4, 4), layer: 2, head: 1 });
    expect(cells(s.hconcat[0])).toHaveLength(16);
    expect(cells(s.hconcat[1])).toHaveLength(4);
    expect(seps(s.hconcat[0])[0].x0).toBe(3);
    expect(() => circuitSpec({ qk: normals(15, 3), ov: normals(4, 4), layer: 1, head: 1 })).toThrow(/shape \[E, E\]/);
  });

  it('greys out and labels non-finite entries of a diverged run instead of drawing them as 0', () => {
    const bad = Float64Array.from(qk);
    bad[3] = Number.NaN;
    bad[4] = -Infinity;
    const s: J = circuitSpec({ qk: bad, ov, layer: 1, head: 1 });
    const c = cells(s.hconcat[0]);
    expect(c[3]).toMatchObject({ v: null, bad: 'NaN' });
    expect(c[4]).toMatchObject({ v: null, bad: '-inf' });
    expect(c[5].bad).toBeUndefined();
    const grey = s.hconcat[0].layer.find((l: J) => l.transform[0].filter.includes('datum.v === null'));
    expect(grey.mark).toMatchObject({ type: 'rect', color: NOT_FINITE_GREY });
    expect(layerWithMark(s.hconcat[0], 'rect').encoding.color.scale.domain[2]).toBe(maxAbsOf(qk.filter((_, i) => i !== 3 && i !== 4)));
  });

  it('draws a multi-task OV^h whole (E x N: columns out 1..out N) or, for a run of an earlier build, its one column titled out N', () => {
    const E = 8, N = 2;
    const ovMt = normals(E * N, 5); // [E, N] row-major
    const whole: J = circuitSpec({ qk: normals(E * E, 6), ov: ovMt, layer: 1, head: 1 }, { outputs: N, ovColumns: N, cell: 30 });
    const p = whole.hconcat[1];
    expect(p.title.text).toBe('OVʰ (E × 2)');
    expect(p.width).toBe(60);
    const c = cells(p);
    expect(c).toHaveLength(16);
    expect(c.find((x: J) => x.r === 6 && x.c === 0).v).toBe(round(ovMt[12]!)); // y1 -> out 1
    expect(c.find((x: J) => x.r === 7 && x.c === 1).v).toBe(round(ovMt[15]!)); // y2 -> out 2
    expect(layerWithMark(p, 'rect').encoding.x.axis.labelExpr).toContain("'out '");
    expect(layerWithMark(p, 'rect').encoding.color.scale.domain[2]).toBe(maxAbsOf(ovMt));
    const one: J = circuitSpec({ qk: normals(E * E, 6), ov: normals(E, 7), layer: 1, head: 1 }, { outputs: N });
    expect(one.hconcat[1].title.text).toBe('OVʰ[:, out 2]');
    expect(cells(one.hconcat[1])).toHaveLength(8);
    expect(() => circuitSpec({ qk: normals(E * E, 6), ov: ovMt, layer: 1, head: 1 }, { outputs: N })).toThrow(/ov of shape \[E\]/);
    expect(() => circuitSpec({ qk: normals(E * E, 6), ov: normals(E * 3, 1), layer: 1, head: 1 }, { outputs: N, ovColumns: 3 })).toThrow(/ovColumns 3/);
  });

  it('keeps the scale valid (limits +-1) for an all-zero head', () => {
    const s: J = circuitSpec({ qk: new Float64Array(36), ov: new Float64Array(6), layer: 1, head: 1 });
    expect(layerWithMark(s.hconcat[0], 'rect').encoding.color.scale.domain).toEqual([-1, 0, 1]);
  });
});

describe('QK evolution grid', () => {
  const nSnap = 11, layers = 2, H = 2, E = 6;
  const qk = normals(nSnap * layers * H * E * E, 21, 0.2); // [nSnap, layers, H, E, E]
  const step = Float64Array.from({ length: nSnap }, (_, i) => i * 5000);

  it('picks columns at round steps and always the last (final) step', async () => {
    const { roundStepIndices, stepIndices } = await import('../src/plots/qk-evolution.js');
    // quick preset: snapshots every 200 steps and the last step 19,999
    const quick = [...Array.from({ length: 100 }, (_, i) => i * 200), 19_999];
    expect(roundStepIndices(quick, 6).map((i) => quick[i])).toEqual([0, 4000, 8000, 12000, 16000, 19_999]);
    // the notebook: every 1,000 steps up to 500,000
    const full = Array.from({ length: 501 }, (_, i) => i * 1000);
    expect(roundStepIndices(full, 6).map((i) => full[i])).toEqual([0, 100_000, 200_000, 300_000, 400_000, 500_000]);
    const odd = [...Array.from({ length: 30 }, (_, i) => i * 100), 2999];
    expect(roundStepIndices(odd, 4).map((i) => odd[i])).toEqual([0, 1000, 2000, 2999]);
    expect(stepIndices(quick, [0, 1000, 5000]).map((i) => quick[i])).toEqual([0, 1000, 5000, 19_999]);
  });

  it('picks evenly spaced snapshot columns, first and last included', () => {
    expect(evenIndices(11, 6)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(evenIndices(3, 6)).toEqual([0, 1, 2]);
    expect(evenIndices(5, 1)).toEqual([4]);
    expect(evenIndices(0, 6)).toEqual([]);
  });

  it('has heads x columns matrices of (d+1)^2 cells, facetted by head and step, one shared symmetric scale', () => {
    const spec: J = qkEvolutionSpec({ step, qk, layers, heads: H, E }, { layer: 2 });
    const rows = spec.data.values.filter((r: J) => r.kind === 'cell');
    expect(rows).toHaveLength(H * 6 * E * E);
    expect(spec.facet.row.field).toBe('head');
    expect(spec.facet.column.field).toBe('step');
    // round steps, the last one marked (issue 12, figures)
    expect(spec.facet.column.sort).toEqual(['Step 0', 'Step 10,000', 'Step 20,000', 'Step 30,000', 'Step 40,000', 'Step 50,000 (last)']);
    // cell (head 2, step 20000 = snapshot 4, layer 2, r 1, c 3)
    const cell = rows.find((r: J) => r.head === 'Head 2' && r.step === 'Step 20,000' && r.r === 1 && r.c === 3);
    expect(cell.v).toBe(round(qk[(((4 * layers + 1) * H + 1) * E + 1) * E + 3]!));
    // the limit is max |.| over the matrices shown (layer 2, the 6 chosen snapshots) only
    let m = 0;
    for (const i of [0, 2, 4, 6, 8, 10]) {
      for (let h = 0; h < H; h++) {
        const off = ((i * layers + 1) * H + h) * E * E;
        for (let k = 0; k < E * E; k++) m = Math.max(m, Math.abs(qk[off + k]!));
      }
    }
    const color = spec.spec.layer[0].encoding.color;
    expect(color.scale.domain).toEqual([-m, 0, m]);
    expect(color.scale.range).toEqual([NAVY, WHITE, DARK_RED]);
    expect(color.scale.interpolate).toBe('rgb');
    expect(spec.title.text).toContain('scaled by 1/√(d+1), not transposed');
  });

  it('labels the coordinates x1..xd, y (one output) or x1..xd, y1..yN (multi-task), the separators at d', () => {
    // the axis' Vega labelExpr, evaluated at every tick
    const labels = (axis: J): string[] => axis.values.map((v: number) => new Function('datum', `const floor = Math.floor; return ${axis.labelExpr};`)({ value: v }));
    const one: J = qkEvolutionSpec({ step, qk, layers, heads: H, E }, { layer: 1 });
    expect(labels(one.spec.layer[0].encoding.x.axis)).toEqual(['x1', 'x2', 'x3', 'x4', 'x5', 'y']);
    const E8 = 8, snaps = 3;
    const qk8 = Float64Array.from({ length: snaps * 1 * 3 * E8 * E8 }, (_, i) => Math.sin(i));
    const mt: J = qkEvolutionSpec({ step: [0, 10, 20], qk: qk8, layers: 1, heads: 3, E: E8 }, { outputs: 2 });
    expect(labels(mt.spec.layer[0].encoding.x.axis)).toEqual(['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'y1', 'y2']);
    expect(labels(mt.spec.layer[0].encoding.y.axis)).toEqual(['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'y1', 'y2']);
    const seps = mt.data.values.filter((r: J) => r.kind === 'sep' && r.head === 'Head 1' && r.step === 'Step 0');
    expect(seps.map((r: J) => [r.x0, r.x1, r.y0, r.y1])).toEqual([[6, 6, 0, 8], [0, 8, 6, 6]]);
    expect(mt.title.text).toContain('scaled by 1/√E, E = d + N');
    expect(() => qkEvolutionSpec({ step: [0, 10, 20], qk: qk8, layers: 1, heads: 3, E: E8 }, { outputs: 8 })).toThrow(/outputs 8 not in 1..7/);
  });

  it('rejects a wrong shape and an out-of-range layer', () => {
    expect(() => qkEvolutionSpec({ step, qk: qk.subarray(1), layers, heads: H, E })).toThrow(/\[11, 2, 2, 6, 6\]/);
    expect(() => qkEvolutionSpec({ step, qk, layers, heads: H, E }, { layer: 3 })).toThrow(/layer 3 not in 1..2/);
  });
});

describe('downsampling long curves (min / max / mean per bucket)', () => {
  it('summarises contiguous buckets exactly', () => {
    const b = downsampleMinMax([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5);
    expect(b.map((x) => [x.x, x.min, x.max, x.mean])).toEqual([
      [0.5, 1, 2, 1.5], [2.5, 3, 4, 3.5], [4.5, 5, 6, 5.5], [6.5, 7, 8, 7.5], [8.5, 9, 10, 9.5],
    ]);
  });

  it('skips non-finite values (and non-positive ones for log axes), drops empty buckets', () => {
    const b = downsampleMinMax([1, Number.NaN, Number.NaN, Number.NaN, -2, 4], 3, undefined, true);
    expect(b.map((x) => [x.min, x.max, x.count])).toEqual([[1, 1, 1], [4, 4, 1]]);
  });

  it('keeps the global extremes of 500,000 noisy points in 1,000 buckets', () => {
    const v = normals(500_000, 5);
    const b = downsampleMinMax(v, 1000);
    expect(b).toHaveLength(1000);
    expect(b.every((x) => x.count === 500 && x.min <= x.mean && x.mean <= x.max)).toBe(true);
    const lo = v.reduce((a, x) => Math.min(a, x), Infinity);
    const hi = v.reduce((a, x) => Math.max(a, x), -Infinity);
    expect(Math.min(...b.map((x) => x.min))).toBe(lo);
    expect(Math.max(...b.map((x) => x.max))).toBe(hi);
    const mean = b.reduce((s, x) => s + x.mean, 0) / b.length;
    expect(mean).toBeCloseTo(v.reduce((s, x) => s + x, 0) / v.length, 12);
  });
});

describe('loss figure', () => {
  it('turns 500,000 steps into 1,000 band + mean points on a log axis, with validation points', () => {
    const n = 500_000;
    const noise = normals(n, 7, 0.05);
    const train = Float64Array.from(noise, (e, i) => 0.67 + 4 * Math.exp(-i / 3000) + Math.abs(e));
    const valStep = Float64Array.from({ length: 51 }, (_, i) => i * 10_000);
    const valLoss = Float64Array.from(valStep, (t) => 0.67 + 4 * Math.exp(-t / 3000));
    const spec: J = lossSpec({ trainLoss: train, valLoss, valStep });
    const [band, line, val] = spec.layer;
    expect(band.mark.type).toBe('area');
    expect(band.data.values).toHaveLength(1000);
    expect(band.encoding.y.field).toBe('lo');
    expect(band.encoding.y2.field).toBe('hi');
    expect(line.encoding.y.field).toBe('loss');
    expect(line.encoding.y.scale.type).toBe('log');
    expect(val.data.values).toHaveLength(51);
    expect(val.data.values[50]).toEqual({ step: 500_000, loss: round(valLoss[50]!), series: 'validation' });
    expect(spec.title.subtitle).toContain('~500 steps');
  });

  it('plots a short run point by point, linear axis on request', () => {
    const spec: J = lossSpec({ trainLoss: [3, 2, 1.5] }, { logY: false });
    expect(spec.layer).toHaveLength(2); // no validation layer
    expect(spec.layer[1].data.values.map((r: J) => r.loss)).toEqual([3, 2, 1.5]);
    expect(spec.layer[1].encoding.y.scale.type).toBeUndefined();
  });
});

describe('dynamics figure (w^h(t), mu^h(t))', () => {
  it('reads [nDyn, layers, H] row-major and draws one w panel and one mu panel per layer', () => {
    const nDyn = 5, layers = 2, H = 3;
    const qk = normals(nDyn * layers * H, 31);
    const ov = normals(nDyn * layers * H, 32);
    const step = [0, 100, 200, 300, 400];
    const rows = dynamicsRows({ step, qk, ov, layers, heads: H });
    expect(rows).toHaveLength(30);
    const r = rows.find((x) => x.step === 300 && x.layer === 2 && x.head === 'Head 1')!;
    expect(r.w).toBe(round(qk[(3 * layers + 1) * H + 0]!));
    expect(r.mu).toBe(round(ov[(3 * layers + 1) * H + 0]!));
    const spec: J = dynamicsSpec({ step, qk, ov, layers, heads: H });
    expect(spec.vconcat).toHaveLength(2);
    const [wPanel, muPanel] = spec.vconcat[1].hconcat;
    expect(wPanel.transform[0].filter).toBe('datum.layer === 2');
    expect(wPanel.encoding.y.field).toBe('w');
    expect(muPanel.encoding.y.field).toBe('mu');
    expect(wPanel.encoding.color.scale.domain).toEqual(['Head 1', 'Head 2', 'Head 3']);
    expect(wPanel.title).toBe('Layer 2 QK dynamics: wʰ(t)');
    const single: J = dynamicsSpec({ step, qk: qk.subarray(0, 15), ov: ov.subarray(0, 15), layers: 1, heads: H });
    expect(single.hconcat).toHaveLength(2);
    expect(() => dynamicsSpec({ step, qk: qk.subarray(1), ov, layers, heads: H })).toThrow(/\[5, 2, 3\]/);
  });
});

describe('error against context length', () => {
  const ev: Evaluation = {
    lengths: [5, 10, 20, 40, 80],
    methods: {
      transformer: { mse: [3.67, 2.3, 1.26, 0.672, 0.397], stderr: [0.12, 0.07, 0.04, 0.02, 0.01] },
      'one-step-gd': { mse: [6.03, 2.93, 1.47, 0.757, 0.394], stderr: [0.2, 0.09, 0.05, 0.02, 0.01] },
      'tuned-gd': { mse: [2.9, 1.88, 1.15, 0.652, 0.349], stderr: [0.1, 0.06, 0.04, 0.02, 0.01] },
      ridge: { mse: [1.5, 0.3, 8e-4, 7e-5, 3e-5], stderr: [0.1, 0.02, 1e-4, 5e-6, 2e-6] },
      ols: { mse: [Number.NaN, 0.9, 2e-3, 7.4e-5, 3e-5], stderr: [Number.NaN, 0.2, 1e-4, 5e-6, 2e-6] },
    },
  };

  it('draws mse lines with +-stderr bands, references dashed, a rule at the training L; ridge and OLS in their own panel, the main y range set by the others', () => {
    const spec: J = errorVsLengthSpec(ev, { trainL: 40 });
    const rows = spec.data.values;
    expect(rows).toHaveLength(5 * 5 - 1); // OLS is undefined at L = 5 <= d
    const t40 = rows.find((r: J) => r.method === 'transformer' && r.L === 40);
    expect(t40).toMatchObject({ mse: 0.672, lo: 0.652, hi: 0.692, kind: 'model / estimator' });
    const dashed = [...new Set(rows.filter((r: J) => r.kind === 'reference (dashed)').map((r: J) => r.method))];
    expect(dashed).toEqual(['ols', 'ridge', 'tuned-gd']); // rows in reverse legend order: the first method drawn last, on top
    // issue 12, figures: ridge/OLS (1e-5) squeezed the transformer, kernel and GD curves into one band
    expect(spec.vconcat).toHaveLength(2);
    const [main, refs] = spec.vconcat;
    expect(main.transform[0].filter.oneOf).toEqual(['transformer', 'one-step-gd', 'tuned-gd']);
    expect(refs.transform[0].filter.oneOf).toEqual(['ridge', 'ols']);
    const [band, line, rule] = main.layer;
    expect(band.mark.type).toBe('area');
    expect([band.encoding.y.field, band.encoding.y2.field]).toEqual(['lo', 'hi']);
    expect(line.encoding.strokeDash.scale.range).toEqual([[1, 0], [7, 4]]);
    expect(line.encoding.y.scale.type).toBe('log');
    const [lo, hi] = line.encoding.y.scale.domain;
    expect(lo).toBeGreaterThan(0.25); // set by the transformer and GD (min 0.349 - 0.01, less 15 % margin), far above ridge's 3e-5
    expect(lo).toBeLessThan(0.339);
    expect(hi).toBeGreaterThan(6.23);
    expect(line.mark.clip).toBe(true);
    expect(refs.layer[1].encoding.y.scale.domain[0]).toBeLessThan(3e-5);
    expect(spec.resolve.scale).toMatchObject({ color: 'shared', y: 'independent' });
    expect(rule.mark.type).toBe('rule');
    expect(rule.data.values).toEqual([{ L: 40 }]);
    expect(line.encoding.color.scale.domain).toEqual(Object.keys(ev.methods));
    // without ridge/OLS: one panel as before
    const one: J = errorVsLengthSpec(ev, { methods: ['transformer', 'one-step-gd'] });
    expect(one.layer[1].encoding.y.scale.domain).toBeUndefined();
  });

  it('draws the model above its kernel estimator (issue 22 item 15): rows in reverse legend order, the legend in the given one', () => {
    const mk: Evaluation = { lengths: [10, 40], methods: { h2: { mse: [1, 0.7], stderr: [0.1, 0.1] }, 'h2/kernel': { mse: [1, 0.7], stderr: [0.1, 0.1] }, 'one-step-gd': { mse: [2, 0.8], stderr: [0.1, 0.1] } } };
    const spec: J = errorVsLengthSpec(mk);
    // Vega draws one path per method in the order the method first appears in the data: h2 last, on top
    expect([...new Set(spec.data.values.map((r: J) => r.method))]).toEqual(['one-step-gd', 'h2/kernel', 'h2']);
    expect(spec.layer[1].encoding.color.sort).toEqual(['h2', 'h2/kernel', 'one-step-gd']);
    expect(spec.layer[1].encoding.color.scale.domain).toEqual(['h2', 'h2/kernel', 'one-step-gd']);
  });

  it('clamps the lower band edge above zero on a log axis, not on a linear one', () => {
    const wide: Evaluation = { lengths: [10, 20], methods: { a: { mse: [1, 0.5], stderr: [2, 0.1] } } };
    expect((errorVsLengthSpec(wide) as J).data.values[0].lo).toBe(0.001);
    expect((errorVsLengthSpec(wide, { logY: false }) as J).data.values[0].lo).toBe(-1);
  });

  it('selects methods, and says which names exist when one is missing', () => {
    const spec: J = errorVsLengthSpec(ev, { methods: ['transformer', 'ridge'] });
    expect(spec.data.values).toHaveLength(10);
    expect(() => errorVsLengthSpec(ev, { methods: ['kernel'] })).toThrow(/no method 'kernel'.*has: transformer, one-step-gd/);
  });

  it('recognises reference estimators by name', () => {
    expect(['tuned-gd', 'ridge', 'ols', 'one-step-gd', 'debiased-gd', 'transformer/kernel'].map(isReferenceMethod))
      .toEqual([true, true, true, false, false, false]);
  });

  it('head-count figure: H = 1, 2, 4, 8 transformers and GD on one plot', () => {
    const hc: Evaluation = { lengths: [10, 40], methods: {} };
    for (const h of [1, 2, 4, 8]) hc.methods[`H=${h}`] = { mse: [2 / h, 1 / h], stderr: [0.1, 0.05] };
    hc.methods['one-step-gd'] = { mse: [3, 0.75], stderr: [0.1, 0.02] };
    hc.methods['H=2/kernel'] = { mse: [1, 0.5], stderr: [0.1, 0.05] };
    hc.methods['debug-noise'] = { mse: [9, 9], stderr: [0, 0] };
    expect(headCountMethods(hc)).toEqual(['H=1', 'H=2', 'H=4', 'H=8', 'one-step-gd', 'H=2/kernel']);
    const spec: J = headCountSpec(hc, { trainL: 40, methods: ['H=1', 'H=2', 'H=4', 'H=8', 'one-step-gd'] });
    expect(spec.title.text).toBe('Transformers with H = 1, 2, 4, 8 heads against one-step gradient descent');
    expect(new Set(spec.data.values.map((r: J) => r.method)).size).toBe(5);
  });

  it('parses evaluation JSON with null for undefined errors', () => {
    const e = parseEvaluation({ lengths: [5, 10], methods: { ols: { mse: [null, 0.5], stderr: [null, 0.1] } } }, 'x.json');
    expect(Number.isNaN(e.methods['ols']!.mse[0])).toBe(true);
    expect(() => parseEvaluation({ lengths: [5], methods: { a: { mse: [1, 2] } } }, 'x.json')).toThrow(/one per length/);
    expect(() => parseEvaluation({ methods: {} }, 'x.json')).toThrow(/not an evaluation JSON/);
  });
});

describe('paper mode (plot --paper, issue 22 item 15)', () => {
  const ev: Evaluation = { lengths: [5, 40, 160], methods: { h2: { mse: [3, 0.7, 0.3], stderr: [0.1, 0.02, 0.01] }, 'h2/kernel': { mse: [3, 0.7, 0.3], stderr: [0.1, 0.02, 0.01] }, ridge: { mse: [0.1, 1e-4, 1e-5], stderr: [0.01, 1e-5, 1e-6] } } };
  const dyn = { step: [0, 100, 200], qk: normals(6, 3), ov: normals(6, 4), layers: 1, heads: 2 };
  const context = 'run h2 · H = 2 · d = 5 · L = 40 · seed preset, noise 0.01 · 20,000 steps';
  // every figure of `plot`, as run-figures.ts hands it to the renderer (screen: with the context line)
  const figures: Record<string, J> = {
    loss: lossSpec({ trainLoss: [3, 2, 1], valLoss: [3, 1], valStep: [0, 2] }),
    dynamics: dynamicsSpec(dyn),
    circuits: circuitSpec({ qk: normals(36, 1), ov: normals(6, 2), layer: 1, head: 1 }, { note: 'final weights' }),
    qk_evolution: qkEvolutionSpec({ step: [0, 100], qk: normals(2 * 2 * 36, 5), layers: 1, heads: 2, E: 6 }, { layer: 1, columns: 2 }),
    error_vs_length: errorVsLengthSpec(ev, { trainL: 40, subtitle: 'RUN/evaluation.json; lines: mean squared error' }),
    flow: flowSpec({ step: [0, 10], w: normals(4, 1), mu: normals(4, 2), heads: 2 }, { step: [0, 10], w: normals(4, 3), mu: normals(4, 4), heads: 2 }),
  };
  /** Every title and subtitle text in a spec (view titles, not axis or legend titles). */
  const viewTitles = (v: J, top = true): string[] => {
    const t = v.title;
    const own = t === undefined ? [] : typeof t === 'string' ? [t] : [t.text, ...(t.subtitle === undefined ? [] : [t.subtitle].flat())];
    const subs = ['layer', 'hconcat', 'vconcat', 'concat'].flatMap((k) => (Array.isArray(v[k]) ? v[k].flatMap((s: J) => viewTitles(s, false)) : []));
    return [...(top ? own.map((x) => `top: ${x}`) : own), ...subs, ...(v.spec ? viewTitles(v.spec, false) : [])];
  };

  for (const [name, spec] of Object.entries(figures)) {
    it(`${name}: no figure title, subtitle or context line; fonts at the paper size; data and encodings unchanged`, () => {
      const screen: J = withContext(spec, context);
      expect(JSON.stringify(screen)).toContain(context);
      const paper: J = paperSpec(screen);
      expect(JSON.stringify(paper)).not.toContain(context);
      expect(viewTitles(paper).filter((t) => t.startsWith('top: '))).toEqual([]);
      expect(JSON.stringify(paper.title ?? null)).toBe('null');
      expect(JSON.stringify(paper)).not.toMatch(/"subtitle"/);
      expect(paper.config.axis.labelFontSize).toBe(PAPER_FONT_SIZE);
      expect(paper.config.legend.labelFontSize).toBe(PAPER_FONT_SIZE);
      expect(paper.config.axis.titleFontSize).toBe(PAPER_FONT_SIZE + 1);
      expect(paper.config.title.fontSize).toBe(PAPER_FONT_SIZE + 2);
      expect(screen.config.axis.labelFontSize).toBe(SCREEN_FONT_SIZE); // the screen figure is not touched
      expect(paper.data).toEqual(screen.data);
      expect(JSON.stringify(paper).match(/"encoding":/g)?.length).toBe(JSON.stringify(screen).match(/"encoding":/g)?.length);
      expect((paperSpec(screen, 20) as J).config.axis.labelFontSize).toBe(20);
    });
  }

  it('keeps the panel titles that label panels (their text only), drops their subtitles and inline sizes', () => {
    const c: J = paperSpec(figures.circuits!);
    expect(c.hconcat.map((p: J) => p.title)).toEqual([{ text: 'Layer 1, Head 1: QKʰ (scaled by 1/√(d+1))' }, { text: 'OVʰ' }]);
    const e: J = paperSpec(figures.error_vs_length!);
    expect(e.vconcat[1].title).toEqual({ text: 'ridge: orders of magnitude lower, on their own scale', fontWeight: 'normal' });
    expect(e.config.style.annotation.fontSize).toBe(PAPER_FONT_SIZE); // "training L = 40"
    expect(() => paperSpec(figures.loss!, 0)).toThrow(/font size must be 4..72/);
  });
});

describe('gradient-flow comparison figure', () => {
  const traj = (seed: number) => ({ step: [0, 10, 20], w: normals(6, seed), mu: normals(6, seed + 1), heads: 2 });

  it('draws both trajectories as paths in the (w, mu) plane ordered by time, and over time', () => {
    const spec: J = flowSpec(traj(1), traj(3));
    expect(spec.data.values).toHaveLength(12);
    const plane = spec.hconcat[0];
    const path = plane.layer[0];
    expect([path.encoding.x.field, path.encoding.y.field, path.encoding.order.field]).toEqual(['w', 'mu', 'step']);
    expect(path.encoding.strokeDash.scale.domain).toEqual(['observed (training)', 'gradient flow on the reduced loss']);
    expect(plane.layer[1].transform[0].filter).toBe('datum.first');
    expect(spec.data.values.filter((r: J) => r.first)).toHaveLength(4);
    expect(spec.hconcat[1].vconcat.map((p: J) => p.encoding.y.field)).toEqual(['w', 'mu']);
    expect(() => flowSpec(traj(1), { ...traj(3), heads: 3 })).toThrow(/observed has 2 heads but the prediction has 3/);
  });

  it('maps a theory FlowTrajectory (flow time = lr x steps) onto training steps', () => {
    const f = { t: Float64Array.from([0, 0.5, 1]), w: new Float64Array(6), mu: new Float64Array(6) };
    expect(Array.from(trajectoryFromFlow(f, 2, 1 / 1e-3).step)).toEqual([0, 500, 1000]);
    expect(Array.from(trajectoryFromFlow(f, 2, (t) => t * t).step)).toEqual([0, 0.25, 1]);
  });
});

describe('error curves: log-x ticks', () => {
  it('a sweep gets 1-2-5 ticks within its range, a short list a tick per length', async () => {
    const { logTicks, errorVsLengthSpec } = await import('../src/plots/error-curves.js');
    expect(logTicks(1, 496)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 400]); // a tick above 200 (issue 12, figures)
    expect(logTicks(6, 60)).toEqual([10, 20, 50]);
    const sweep = Array.from({ length: 100 }, (_, i) => 1 + 5 * i);
    const spec = errorVsLengthSpec({ lengths: sweep, methods: { a: { mse: sweep.map((L) => 5 / L), stderr: sweep.map(() => 0.01) } } }) as { layer: { encoding: { x: { axis: { values: number[] } } } }[] };
    expect(spec.layer[0]!.encoding.x.axis.values).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 400]);
    const few = errorVsLengthSpec({ lengths: [5, 40, 320], methods: { a: { mse: [1, 0.5, 0.1] } } }) as typeof spec;
    expect(few.layer[0]!.encoding.x.axis.values).toEqual([5, 40, 320]);
  });
});

describe('contextLine (figure subtitles)', () => {
  it('prints the noise and ρ to 4 significant digits, not 17 (issue 22 item 12)', () => {
    const line = contextLine({ runs: ['h2'], heads: [2], d: 10, L: 40, preset: 'seed', steps: [20_000], noiseStd: Math.sqrt(0.1), rho: 0.5 });
    expect(line).toBe('run h2 · H = 2 · d = 10 · L = 40 · seed preset, noise 0.3162, ρ = 0.5 · 20,000 steps');
  });
});

describe('per-task dynamics of a multi-task run (w^h_k, mu^h_k)', () => {
  it('one row per task, w beside mu, rows with the task and head of each value', () => {
    const n = 3, H = 2, N = 2;
    const qk = Float64Array.from({ length: n * H * N }, (_, i) => i / 10); // [n, 1, H, N]
    const ov = Float64Array.from({ length: n * H * N }, (_, i) => -i);
    const s: J = taskDynamicsSpec({ step: [0, 10, 20], qk, ov, layers: 1, heads: H, tasks: N }, { taskNames: ['x1..x4', 'x3..x6'] });
    expect(s.vconcat).toHaveLength(2);
    expect(s.vconcat[1].hconcat.map((p: J) => p.title.text)).toEqual(['Task 2: wʰ₂(t)', 'Task 2: μʰ₂(t)']);
    expect(s.vconcat[1].hconcat[0].title.subtitle).toContain('x3..x6');
    expect(s.vconcat[1].hconcat[1].title.subtitle).toBe('OVʰ[y2, out 2]: y2 → output 2');
    // step 10 (t = 1), head 2, task 2: index ((1 * 1 + 0) * 2 + 1) * 2 + 1 = 7
    expect(s.data.values.find((r: J) => r.step === 10 && r.head === 'Head 2' && r.task === 2)).toEqual({ step: 10, task: 2, head: 'Head 2', w: 0.7, mu: -7 });
    expect(() => taskDynamicsSpec({ step: [0], qk, ov, layers: 1, heads: H, tasks: N })).toThrow(/\[1, 1, 2, 2\]/);
  });
});

describe('multi-task circuits figure (QKʰ E x E beside the whole OVʰ E x N)', () => {
  const tasks: [number, number][] = [[0, 4], [2, 6]];
  const dx = 6, N = 2, E = dx + N;
  const head = (h: number, seed: number) => ({
    head: h, qk: normals(E * E, seed, 0.1), ov: normals(E * N, seed + 1, 2),
    wTask: [0.1, -0.2], muTask: [1, -2], qkShare: [0.9, 0.1], qkExclusive: [0.9, 0.1], ovShare: [0.8, 0.2], strength: 0.5,
  });
  const spec: J = multitaskCircuitsSpec([head(0, 21), head(1, 23)], dx, tasks);
  const panels = (row: J): J[] => row.hconcat;

  it('has one row per head, titled with symbols, and OVʰ with every output column', () => {
    expect(spec.vconcat).toHaveLength(2);
    const [qkPanel, ovPanel] = panels(spec.vconcat[1]);
    expect(qkPanel.title.text).toBe('Head 2: QKʰ (scaled)');
    expect(ovPanel.title.text).toBe('OVʰ');
    expect(ovPanel.title.subtitle).toMatch(/y_k→k share 0\.80 \/ 0\.20$/);
    expect(JSON.stringify(spec)).not.toMatch(/\^h|->/);
    expect(cells(qkPanel)).toHaveLength(E * E);
    expect(cells(ovPanel)).toHaveLength(E * N);
  });
});
