import { describe, expect, it } from 'vitest';
import {
  effectiveLearningRate, formatFixed, groupHeads, layerCircuits, ovDynamics, qkDynamics, statisticsLines,
} from '../src/model/circuits.js';
import { allocParams } from '../src/model/params.js';
import { expectClose, fixtureParams, flat, fx } from './estimators-fixture.helpers.js';

describe('circuits: seed calculate_statistics on test/fixtures/estimators.json', () => {
  for (const name of ['random', 'structured'] as const) {
    const set = fx.weight_sets[name];
    it(`${name}: QK, OV and per-head statistics to 1e-10`, () => {
      const heads = layerCircuits(fixtureParams(set));
      expect(heads).toHaveLength(fx.H);
      heads.forEach((c, h) => {
        const ref = set.statistics.per_head[h]!;
        expect(c.layer).toBe(0);
        expect(c.head).toBe(h);
        expectClose(c.qk, flat(ref.QK), 1e-10, `${name} QK^${h}`);
        expectClose(c.ov, flat(ref.OV), 1e-10, `${name} OV^${h}`);
        expectClose([c.w, c.varDiag, c.supOffDiag, c.mu, c.supOv], [ref.w_h, ref.var_diag, ref.sup_offdiag_dxd, ref.mu_h, ref.sup_OV_x_to_out], 1e-10, `${name} stats^${h}`);
      });
      expectClose(heads.map((c) => c.w), set.statistics.w_h, 1e-10, `${name} w_h`);
      expectClose(heads.map((c) => c.mu), set.statistics.mu_h, 1e-10, `${name} mu_h`);
    });
    it(`${name}: QK_dyn_stack / OV_dyn_stack to 1e-10`, () => {
      const p = fixtureParams(set);
      expectClose(qkDynamics(p), set.QK_dyn_stack, 1e-10, `${name} QK_dyn_stack`);
      expectClose(ovDynamics(p), set.OV_dyn_stack, 1e-10, `${name} OV_dyn_stack`);
    });
  }

  it('prints the seed statistics lines with its wording and 4 decimals', () => {
    const lines = statisticsLines(layerCircuits(fixtureParams(fx.weight_sets.structured)), fx.d, { seedNumbering: true });
    expect(lines).toEqual([
      'Layer 0, Head 0: w^h = -0.1399, variance of first 5 diagonal elements = 0.0000, sup-norm of rest of d x d block entries = 0.0107',
      'Layer 0, Head 0: mu^h = -3.2232, sup-norm of rest of OV entries = 0.2370',
      'Layer 0, Head 1: w^h = 0.1373, variance of first 5 diagonal elements = 0.0000, sup-norm of rest of d x d block entries = 0.0131',
      'Layer 0, Head 1: mu^h = 3.0960, sup-norm of rest of OV entries = 0.1638',
      '',
      'Summary of w^h and mu^h for each head:',
      'Head 0: mu^h = -3.2232, w^h = -0.1399',
      'Head 1: mu^h = 3.0960, w^h = 0.1373',
      '',
      'Hypothesized value of w^h: 1/sqrt(d) = 0.4472',
    ]);
  });

  it('formats like Python f"{x:.4f}" (ties to even on the exact value, -0.0000, nan)', () => {
    expect(formatFixed(0.03125)).toBe('0.0312'); // exact binary tie: Python rounds half to even
    expect(formatFixed(-0.03125)).toBe('-0.0312');
    expect(formatFixed(0.09375)).toBe('0.0938');
    expect(formatFixed(-0.00001)).toBe('-0.0000');
    expect(formatFixed(0.00015)).toBe('0.0001'); // 0.00015 is stored just below the tie
    expect(formatFixed(2.5, 0)).toBe('2');
    expect(formatFixed(3.5, 0)).toBe('4');
    expect(formatFixed(NaN)).toBe('nan');
    expect(formatFixed(0.44721359549995793)).toBe('0.4472');
  });

  it('reads a pure kernel model: QK = w I on x, OV = mu e_y gives exact w, mu, zero leakage', () => {
    const d = 3, H = 2, E = d + 1;
    const p = allocParams(d, H);
    const wTrue = [0.25, -0.5], muTrue = [2, -1.5];
    for (let h = 0; h < H; h++) {
      // W_Q^h = sqrt(w sqrt(E)) I, W_K^h = same sign-adjusted so that QK = w I on the x block.
      const a = Math.sqrt(Math.abs(wTrue[h]!) * Math.sqrt(E));
      for (let c = 0; c < d; c++) {
        p.q[(h * E + c) * E + c] = a * Math.sign(wTrue[h]!);
        p.k[(h * E + c) * E + c] = a;
      }
      p.v[(h * E + d) * E + d] = 1; // W_V^h maps y to head coordinate d
      p.o[h * E + d] = muTrue[h]!;
    }
    const heads = layerCircuits(p);
    expectClose(heads.map((c) => c.w), wTrue, 1e-14, 'w');
    expectClose(heads.map((c) => c.mu), muTrue, 1e-14, 'mu');
    for (const c of heads) expect([c.varDiag, c.supOffDiag, c.supOv]).toEqual([0, 0, 0]);
  });
});

describe('head grouping and eta_TF', () => {
  it('eta_TF of the seed H=2 run is 0.894 (docs/THEORY.md)', () => {
    expect(effectiveLearningRate([-0.1393, 0.1420], [-3.172, 3.187])).toBeCloseTo(0.8944, 4);
  });

  it('groups the REFERENCE_RUNS H=8 model (seed 1024): dummies, sign groups, equivalent two-head model', () => {
    const w = [0.035, -0.003, 0.013, 0.128, 0.168, -0.117, -0.171, -0.167];
    const mu = [0.07, 0.02, 0.0, 0.13, 2.44, -0.21, -1.11, -1.32];
    const g = groupHeads(w, mu);
    expect(g.threshold).toBe(0.05);
    expect(g.active).toEqual([4, 6, 7]);
    expect(g.dummy).toEqual([0, 1, 2, 3, 5]);
    expect(g.signGroups.map((s) => s.heads)).toEqual([[0, 2, 3, 4], [1, 5, 6, 7]]);
    expect(g.signGroups[0]!.totalMu).toBeCloseTo(2.64, 12);
    expect(g.signGroups[1]!.totalMu).toBeCloseTo(-2.62, 12);
    // the two-head model keeps eta_TF and sum mu
    const eta = effectiveLearningRate(w, mu);
    expect(effectiveLearningRate(g.twoHead.w, g.twoHead.mu)).toBeCloseTo(eta, 12);
    expect(g.twoHead.mu[0]! + g.twoHead.mu[1]!).toBeCloseTo(0.02, 12);
    expect(g.twoHead.w[0]).toBeCloseTo((0.035 * 0.07 + 0.013 * 0 + 0.128 * 0.13 + 0.168 * 2.44) / 2.64, 12);
    expect(groupHeads(w, mu, 0.02).active).toEqual([4, 5, 6, 7]);
  });
});

describe('a model trained by the seed\'s own PyTorch code (float32 state_dict with final_linear)', () => {
  it('reproduces the seed\'s calculate_statistics printout byte for byte', async () => {
    const { decodeSafetensors } = await import('../src/io/safetensors.js');
    const { parseModelTensors } = await import('../src/io/model-file.js');
    const { SEED_MODEL_BASE64, SEED_STATISTICS_PRINTOUT } = await import('./analysis.seed-model.js');
    const { tensors } = decodeSafetensors(new Uint8Array(Buffer.from(SEED_MODEL_BASE64, 'base64')));
    expect(tensors['final_linear.weight']?.dtype).toBe('F32');
    const m = parseModelTensors(tensors, 'seed_h2_3k.safetensors');
    if (m.kind !== 'single-layer') throw new Error('expected a one-layer model');
    const p = m.params;
    expect(statisticsLines(layerCircuits(p), p.d, { seedNumbering: true })).toEqual(SEED_STATISTICS_PRINTOUT);
    // what analyze prints: the same lines, layers and heads numbered from 1 (issue 12, item 5)
    const ours = statisticsLines(layerCircuits(p), p.d);
    expect(ours).toHaveLength(SEED_STATISTICS_PRINTOUT.length);
    expect(ours[0]).toBe(SEED_STATISTICS_PRINTOUT[0]!.replace('Layer 0, Head 0', 'Layer 1, Head 1'));
  });
});
