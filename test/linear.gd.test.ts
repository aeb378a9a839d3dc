// The GD construction (model/gd-construction.ts) as weights, as an evaluate method (linear-gd) and
// as the yardstick of analyze's linear read-out (analysis/linear-readout.ts).
import { describe, expect, it } from 'vitest';
import { gdConstruction } from '../src/model/gd-construction.js';
import { linearForward } from '../src/engine/ts/linear-attention.js';
import { oneStepGd, preconditionedGd } from '../src/analysis/estimators.js';
import { methodFromSpec, parseMethodSpec } from '../src/analysis/estimator-methods.js';
import { linearReadout } from '../src/analysis/linear-readout.js';
import { ar1Covariance, optimalPreconditioner } from '../src/analysis/anisotropy.js';
import { optimalEta, riskParams } from '../src/analysis/theory.js';
import { withAttention } from '../src/model/attention-name.js';
import { sampleBatch } from '../src/data/task.js';
import { Rng } from '../src/data/rng.js';
import { batchFromFixture, flat, loadFixture, relErr, thetaFromFixture } from './fixtures.helpers.js';

const fx = loadFixture('linear_attention_H1_fwd_bwd.json');
const g = fx.gd_construction;
const batch = batchFromFixture(g.inputs, fx.B, fx.L, fx.d);

describe('gdConstruction', () => {
  it("builds the fixture's weights (w = 0.3, eta = 0.75) and its output is one-step GD to <= 1e-12", () => {
    const p = gdConstruction(fx.d, g.eta, g.w);
    expect(p.attention).toBe('linear');
    expect(relErr(p.theta, thetaFromFixture(g.weights))).toBeLessThan(1e-15);
    const out = new Float64Array(fx.B), gd = new Float64Array(fx.B);
    linearForward(p, batch, 'linear', out);
    oneStepGd(batch, g.eta, gd);
    expect(relErr(out, flat(g.one_step_gd_output))).toBeLessThan(1e-12);
    expect(relErr(out, gd)).toBeLessThan(1e-12);
  });
  it('a negative w (and eta) still gives one-step GD; under linear-sum the output is L times it', () => {
    const p = gdConstruction(fx.d, -0.4, -0.2);
    const out = new Float64Array(fx.B), gd = new Float64Array(fx.B), sum = new Float64Array(fx.B);
    linearForward(p, batch, 'linear', out);
    oneStepGd(batch, -0.4, gd);
    expect(relErr(out, gd)).toBeLessThan(1e-12);
    linearForward(withAttention(p, 'linear-sum'), batch, 'linear-sum', sum);
    expect(relErr(sum, gd.map((x) => x * fx.L))).toBeLessThan(1e-12);
  });
  it('refuses w = 0', () => expect(() => gdConstruction(3, 1, 0)).toThrow(/w != 0/));
});

describe('evaluate --method linear-gd', () => {
  const spec = { d: 5, noiseStd: Math.sqrt(0.1), preset: 'paper' as const };
  const r = riskParams({ d: 5, L: 1, noiseStd: spec.noiseStd, preset: 'paper' });
  it('default: the construction at eta* of each L (0.8602 at L = 40 in the paper convention) = tuned one-step GD', () => {
    expect(optimalEta(40, 5, r.sigma2, r.priorVar)).toBeCloseTo(0.8602, 4);
    const m = methodFromSpec(parseMethodSpec('linear-gd')[0]!, spec);
    for (const L of [7, 40]) {
      const b = sampleBatch({ d: 5, L, batchSize: 16, noiseStd: spec.noiseStd, preset: 'paper' }, new Rng(L));
      const out = new Float64Array(16), gd = new Float64Array(16);
      m.run(b, out);
      oneStepGd(b, optimalEta(L, 5, r.sigma2, r.priorVar), gd);
      expect(relErr(out, gd)).toBeLessThan(1e-12);
    }
  });
  it(':L=40 fixes eta* at 40, :eta=X takes X; bad specs are refused', () => {
    const b = sampleBatch({ d: 5, L: 100, batchSize: 8, noiseStd: spec.noiseStd, preset: 'paper' }, new Rng(3));
    const a = new Float64Array(8), c = new Float64Array(8), gd = new Float64Array(8);
    methodFromSpec(parseMethodSpec('linear-gd:L=40')[0]!, spec).run(b, a);
    oneStepGd(b, optimalEta(40, 5, r.sigma2, r.priorVar), gd);
    expect(relErr(a, gd)).toBeLessThan(1e-12);
    methodFromSpec(parseMethodSpec('linear-gd:eta=1.5:name=big')[0]!, spec).run(b, c);
    oneStepGd(b, 1.5, gd);
    expect(relErr(c, gd)).toBeLessThan(1e-12);
    expect(() => parseMethodSpec('linear-gd:eta=1:L=40')).toThrow(/give eta or L, not both/);
    expect(() => parseMethodSpec('linear-gd:w=1')).toThrow(/linear-gd takes eta, L, name, not 'w'/);
  });
});

describe('the linear read-out', () => {
  it('Gamma* is eta* I for Sigma = I and solves ((1 + 1/L) Sigma + (tr Sigma + s)/L I) Gamma* = I otherwise', () => {
    const eye = optimalPreconditioner(ar1Covariance(5, 0), 5, 40, 0.5);
    for (let i = 0; i < 25; i++) expect(eye[i]).toBeCloseTo(i % 6 === 0 ? 40 / 46.5 : 0, 14);
    const S = ar1Covariance(4, 0.5), G = optimalPreconditioner(S, 4, 10, 0.3);
    const tr = 4;
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += ((1 + 1 / 10) * S[i * 4 + k]! + (k === i ? (tr + 0.3) / 10 : 0)) * G[k * 4 + j]!;
      expect(s).toBeCloseTo(i === j ? 1 : 0, 12);
    }
  });
  it('preconditionedGd with eta I is oneStepGd', () => {
    const gam = new Float64Array(25);
    for (let j = 0; j < 5; j++) gam[j * 6] = 0.7;
    const a = new Float64Array(fx.B), b = new Float64Array(fx.B);
    preconditionedGd(batch, gam, a);
    oneStepGd(batch, 0.7, b);
    expect(relErr(a, b)).toBeLessThan(1e-13);
  });
  it('the construction at eta* reads back as gap 0, Gamma = Gamma* = eta* I, no extra entries; a softmax model has none', () => {
    const spec = { d: 5, noiseStd: Math.sqrt(0.1), preset: 'paper' as const };
    const eta = 40 / 46.5;
    const r = linearReadout(gdConstruction(5, eta, 0.4), spec, 40, 2000, new Rng(1))!;
    expect(r.gap).toBeLessThan(1e-25);
    expect(r.tunedEta).toBeCloseTo(eta, 14);
    expect(r.toIdentity.rel).toBeLessThan(1e-14);
    expect(r.toGammaStar.absolute).toBeLessThan(1e-14);
    expect(r.toIdentity.scale).toBeCloseTo(eta, 13);
    expect(Math.abs(r.modelMse - r.gdMse)).toBeLessThan(1e-14);
    expect(Math.abs(r.gammaStarMse - r.gdMse)).toBeLessThan(1e-12);
    expect(r.modelMse).toBeGreaterThan(0.2);
    expect(r.modelMse).toBeLessThan(0.28); // the closed form 0.2398, 2000 prompts
    expect(r.extra).toEqual({ qkXY: 0, qkYX: 0, qkYY: 0, ovX: 0 });
    const soft = gdConstruction(5, eta, 0.4);
    expect(linearReadout(withAttention(soft, 'softmax'), spec, 40, 10, new Rng(1))).toBeNull();
  });
});

describe('analyze on a linear model file', () => {
  it('reads the attention from the file and reports the linear section in --json (snake_case); a softmax file has none', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { saveModel } = await import('../src/io/model-file.js');
    const { loadTarget } = await import('../src/analysis/targets.js');
    const { analyzeTarget } = await import('../src/analysis/analyze.js');
    const { analysisJson } = await import('../src/cli/commands/analyze.js');
    const dir = mkdtempSync(join(tmpdir(), 'icl-linear-analyze-'));
    try {
      const p = gdConstruction(5, 0.75, 0.3);
      saveModel(join(dir, 'gd.safetensors'), p, 'F64');
      saveModel(join(dir, 'soft.safetensors'), withAttention(p, 'softmax'), 'F64');
      const a = JSON.parse(analysisJson(analyzeTarget(loadTarget(join(dir, 'gd.safetensors')), { samples: 500 })));
      expect(a.linear.attention).toBe('linear');
      expect(a.linear.to_identity.rel).toBeLessThan(1e-12);
      expect(a.linear.to_identity.scale).toBeCloseTo(0.75, 12);
      expect(a.linear.gamma_star_mse).toBeGreaterThan(0);
      const s = JSON.parse(analysisJson(analyzeTarget(loadTarget(join(dir, 'soft.safetensors')), { samples: 500 })));
      expect('linear' in s).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--init zfb', () => {
  it('every head starts as a small GD construction (QK x-block 0.1 I, OV y-entry 0.1, all else 0), drawing as much randomness as random', async () => {
    const { initParams } = await import('../src/model/init.js');
    const { layerCircuits } = await import('../src/model/circuits.js');
    const a = new Rng(9), b = new Rng(9);
    const p = initParams(4, 3, 'zfb', a);
    initParams(4, 3, 'random', b);
    expect(a.getState()).toEqual(b.getState());
    for (const c of layerCircuits(p)) {
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(c.qk[i * 5 + j]).toBeCloseTo(i === j && i < 4 ? 0.1 : 0, 14);
      expect(Array.from(c.ov)).toEqual([0, 0, 0, 0, expect.closeTo(0.1, 14)]);
    }
  });
  it('is the one-layer single-task model only', async () => {
    const { makeTrainConfig } = await import('../src/run/config.js');
    expect(makeTrainConfig({ init: 'zfb', attention: 'linear' }).init).toBe('zfb');
    expect(() => makeTrainConfig({ init: 'zfb', layers: 2 })).toThrow(/--init zfb .* needs --layers 1 and no --tasks/);
  });
});
