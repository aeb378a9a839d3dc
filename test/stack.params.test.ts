// Causal stack: theta layout, state dict (seed keys, tied weights written once), inits with the
// seed's bugs fixed, and the per-layer circuit read-out.
import { describe, expect, it } from 'vitest';
import { allocStackParams, stackMetadata, stackParamCount, stackParamsFromStateDict, stackStateDict, type ShapedArray } from '../src/model/stack.js';
import { stackCircuits, stackDynamics, stackSnapshot } from '../src/model/circuits.js';
import { initStackParams } from '../src/model/stack-init.js';
import { INIT_NAMES } from '../src/model/init.js';
import { batchFromArrays } from '../src/data/batch.js';
import { flatten, loadStackFixture, randomStack, relErr, TestRng } from './stack.helpers.js';

describe('theta layout', () => {
  it('per layer [q|k|v|o], then final_linear; one block with tying', () => {
    // d=2 (E=3), H=2: q,k,v (6,3) = 18 each, o (3,6) = 18 -> block 72; final_linear 3
    expect(stackParamCount(2, 2, 3, false)).toBe(3 * 72 + 3);
    expect(stackParamCount(2, 2, 3, true)).toBe(72 + 3);
    const p = allocStackParams(2, 2, 3, false);
    p.theta.forEach((_, i) => (p.theta[i] = i));
    expect(p.layers[0]!.q[0]).toBe(0);
    expect(p.layers[0]!.k[0]).toBe(18);
    expect(p.layers[0]!.o[0]).toBe(54);
    expect(p.layers[1]!.q[0]).toBe(72);
    expect(p.layers[2]!.o[17]).toBe(215);
    expect(Array.from(p.finalLinear)).toEqual([216, 217, 218]);
    const t = allocStackParams(2, 2, 3, true);
    expect(t.nBlocks).toBe(1);
    expect(t.layers[2]).toBe(t.layers[0]);
    expect(t.finalLinear.byteOffset / 8).toBe(72);
    expect(() => allocStackParams(2, 2, 3, true, new Float64Array(10))).toThrow(/expected 75/);
    expect(() => allocStackParams(2, 2, 0, false)).toThrow(/layers/);
  });
});

describe('state dict', () => {
  it('seed keys and shapes; tied weights repeat the same view, unique form lists them once', () => {
    const p = randomStack(2, 2, 2, false, new TestRng(1));
    const sd = stackStateDict(p);
    expect(sd.map((e) => e.key)).toEqual([
      'attention_layers.0.q_proj.weight', 'attention_layers.0.k_proj.weight', 'attention_layers.0.v_proj.weight', 'attention_layers.0.o_proj.weight',
      'attention_layers.1.q_proj.weight', 'attention_layers.1.k_proj.weight', 'attention_layers.1.v_proj.weight', 'attention_layers.1.o_proj.weight',
      'final_linear.weight',
    ]);
    expect(sd[0]!.shape).toEqual([6, 3]);
    expect(sd[3]!.shape).toEqual([3, 6]);
    expect(sd[8]!.shape).toEqual([1, 3]);
    const t = randomStack(2, 2, 3, true, new TestRng(2));
    const full = stackStateDict(t);
    expect(full).toHaveLength(13);
    expect(full[4]!.data).toBe(full[0]!.data); // attention_layers.1.q_proj.weight aliases layer 0
    const uniq = stackStateDict(t, true);
    expect(uniq.map((e) => e.key)).toEqual([
      'attention_layers.0.q_proj.weight', 'attention_layers.0.k_proj.weight', 'attention_layers.0.v_proj.weight', 'attention_layers.0.o_proj.weight',
      'final_linear.weight',
    ]);
    expect(stackMetadata(t)).toEqual({ model: 'causal_stack', n_layers: '3', n_head: '2', d_model: '3', weight_tying: 'true' });
  });

  const asTensors = (entries: ReturnType<typeof stackStateDict>, f32 = false): Record<string, ShapedArray> =>
    Object.fromEntries(entries.map((e) => [e.key, { shape: e.shape, data: f32 ? Float32Array.from(e.data) : Float64Array.from(e.data) }]));

  it('round trips: untied, tied unique form (+metadata), tied seed form (repeated keys)', () => {
    const u = randomStack(3, 2, 2, false, new TestRng(3));
    const u2 = stackParamsFromStateDict(asTensors(stackStateDict(u)));
    expect(u2.weightTying).toBe(false);
    expect(u2.nLayers).toBe(2);
    expect(Array.from(u2.theta)).toEqual(Array.from(u.theta));

    const t = randomStack(3, 2, 4, true, new TestRng(4));
    const t2 = stackParamsFromStateDict(asTensors(stackStateDict(t, true)), stackMetadata(t));
    expect([t2.nLayers, t2.weightTying, t2.H, t2.d]).toEqual([4, true, 2, 3]);
    expect(Array.from(t2.theta)).toEqual(Array.from(t.theta));

    const seedForm = asTensors(stackStateDict(t));
    const t3 = stackParamsFromStateDict(seedForm, {}, { weightTying: true });
    expect(t3.nLayers).toBe(4);
    expect(Array.from(t3.theta)).toEqual(Array.from(t.theta));
    // without being told, the seed form loads as an untied model computing the same function
    const t4 = stackParamsFromStateDict(seedForm);
    expect(t4.weightTying).toBe(false);
    expect(t4.theta.length).toBe(stackParamCount(3, 2, 4, false));

    // float32 files load (values rounded to float32)
    const f = stackParamsFromStateDict(asTensors(stackStateDict(u), true));
    expect(relErr(f.theta, u.theta)).toBeLessThan(1e-7);
  });

  it('rejects inconsistent input with the offending key or shape', () => {
    const u = randomStack(2, 2, 2, false, new TestRng(5));
    const tensors = asTensors(stackStateDict(u));
    expect(() => stackParamsFromStateDict(tensors, { weight_tying: 'true' })).toThrow(/attention_layers\.1\.q_proj\.weight differs/);
    const noFinal = { ...tensors };
    delete noFinal['final_linear.weight'];
    expect(() => stackParamsFromStateDict(noFinal)).toThrow(/missing final_linear\.weight/);
    const badO = { ...tensors, 'attention_layers.1.o_proj.weight': { shape: [1, 6], data: new Float64Array(6) } };
    expect(() => stackParamsFromStateDict(badO)).toThrow(/o_proj\.weight has shape \[1, 6\], expected \[3, 6\]/);
    expect(() => stackParamsFromStateDict(tensors, { n_layers: '3' })).toThrow(/has 2 layer\(s\), need 3/);
    expect(() => stackParamsFromStateDict(tensors, { n_layers: '1' })).toThrow(/has 2 layers \(attention_layers\.0\.\.1\) but n_layers=1/);
  });
});

describe('inits (seed bugs #10, #11 fixed)', () => {
  it('random: nn.Linear bounds, q/k/v/final 1/sqrt(E), o 1/sqrt(E*H)', () => {
    const p = initStackParams(5, 2, 3, false, 'random', new TestRng(11));
    const E = 6;
    const maxAbs = (a: Float64Array): number => Math.max(...Array.from(a, Math.abs));
    for (const w of p.layers) {
      for (const k of ['q', 'k', 'v'] as const) {
        expect(maxAbs(w[k])).toBeLessThanOrEqual(1 / Math.sqrt(E));
        expect(maxAbs(w[k])).toBeGreaterThan(0.8 / Math.sqrt(E));
      }
      expect(maxAbs(w.o)).toBeLessThanOrEqual(1 / Math.sqrt(E * 2));
      expect(maxAbs(w.o)).toBeGreaterThan(0.8 / Math.sqrt(E * 2));
    }
    expect(maxAbs(p.finalLinear)).toBeLessThanOrEqual(1 / Math.sqrt(E));
    expect(p.layers[0]!.q[0]).not.toBe(p.layers[1]!.q[0]);
    // deterministic for a seed, and tying draws one block
    expect(Array.from(initStackParams(5, 2, 3, false, 'random', new TestRng(11)).theta)).toEqual(Array.from(p.theta));
    expect(initStackParams(5, 2, 3, true, 'random', new TestRng(11)).theta.length).toBe(stackParamCount(5, 2, 3, true));
  });

  it('small_id sets o_proj too; oppo_small_id gives half the heads QK = -1e-12 I; final_linear shared across methods', () => {
    const [d, H, n] = [3, 4, 2];
    const E = d + 1;
    const s = initStackParams(d, H, n, false, 'small_id', new TestRng(12));
    for (const w of s.layers) {
      for (let c = 0; c < E; c++) for (let m = 0; m < E * H; m++) expect(w.o[c * E * H + m]).toBe(m % E === c ? 1e-6 : 0);
      for (let m = 0; m < E * H; m++) for (let c = 0; c < E; c++) expect(w.q[m * E + c]).toBe(m % E === c ? 1e-6 : 0);
    }
    const circ = stackCircuits(s);
    for (const layer of circ) for (const hc of layer) expect(hc.mu).toBeCloseTo(1e-12, 25);

    const o = initStackParams(d, H, n, false, 'oppo_small_id', new TestRng(12));
    for (const layer of stackCircuits(o)) {
      layer.forEach((hc, h) => {
        const sign = h < H / 2 ? 1 : -1;
        for (let a = 0; a < E; a++) for (let b = 0; b < E; b++) expect(hc.qk[a * E + b]).toBeCloseTo(a === b ? (sign * 1e-12) / Math.sqrt(E) : 0, 25);
        expect(hc.mu).toBeCloseTo(1e-12, 25); // OV is not negated
      });
    }
    const qk = initStackParams(d, H, n, false, 'small_id_qk', new TestRng(12));
    expect(qk.layers[0]!.q[0]).toBe(1e-4);
    expect(Math.abs(qk.layers[0]!.v[1])).toBeGreaterThan(0); // v, o stay random
    const r = initStackParams(d, H, n, false, 'random', new TestRng(12));
    for (const p of [s, o, qk]) expect(Array.from(p.finalLinear)).toEqual(Array.from(r.finalLinear));
    expect(() => initStackParams(d, 3, n, false, 'oppo_small_id', new TestRng(1))).toThrow(/even number of heads, got H=3/);
    expect(() => initStackParams(d, 2, n, false, 'nope' as never, new TestRng(1))).toThrow(/allowed: random, small_id/);
    expect(INIT_NAMES).toHaveLength(5);
    expect(() => initStackParams(d, 2, n, false, 'zfb', new TestRng(1))).toThrow(/one-layer regression model, not a stack/);
  });
});

describe('circuits per layer', () => {
  const fx = loadStackFixture();
  const { d, E, H, L, T, B } = fx as { d: number; E: number; H: number; L: number; T: number; B: number };
  const p = allocStackParams(d, H, 2, false);
  for (let l = 0; l < 2; l++) {
    const w = fx.weights.layers[l];
    p.layers[l]!.q.set(flatten(w.q_proj));
    p.layers[l]!.k.set(flatten(w.k_proj));
    p.layers[l]!.v.set(flatten(w.v_proj));
    p.layers[l]!.o.set(flatten(w.o_proj));
  }
  p.finalLinear.set(flatten(fx.weights.final_linear));
  const batch = batchFromArrays(B, L, d, flatten(fx.inputs.z), flatten(fx.inputs.z_q), flatten(fx.inputs.y_q));
  const hidden = flatten(fx.corrected.hidden); // [2, B, T, E]
  const attn = flatten(fx.corrected.attn_weights); // [2, B, H, T, T]
  const input = (l: number, b: number, i: number): Float64Array => {
    if (l > 0) return hidden.subarray((((l - 1) * B + b) * T + i) * E, (((l - 1) * B + b) * T + i + 1) * E);
    return i < L ? batch.z.subarray((b * L + i) * E, (b * L + i + 1) * E) : batch.zq.subarray(b * E, (b + 1) * E);
  };
  const circ = stackCircuits(p);

  it('QK^h: PyTorch attention weights are softmax_j(x_i^T QK^h x_j) over j < i, per layer', () => {
    let worst = 0;
    for (let l = 0; l < 2; l++) {
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const qk = circ[l]![h]!.qk;
          const i = T - 1 - b; // a few rows
          const s = Array.from({ length: i }, (_, j) => {
            let acc = 0;
            for (let a = 0; a < E; a++) for (let c = 0; c < E; c++) acc += input(l, b, i)[a]! * qk[a * E + c]! * input(l, b, j)[c]!;
            return acc;
          });
          const m = Math.max(...s);
          const den = s.reduce((t, v) => t + Math.exp(v - m), 0);
          s.forEach((v, j) => (worst = Math.max(worst, Math.abs(Math.exp(v - m) / den - attn[((((l * B + b) * H + h) * T + i) * T) + j]!))));
        }
      }
    }
    expect(worst).toBeLessThan(1e-13);
  });

  it('OV^h: layer output x_i = sum_h OV^h^T sum_j a_ij x_j; last layer output = sum_h ovOut^h . r_h', () => {
    let worst = 0;
    let worstOut = 0;
    for (let l = 0; l < 2; l++) {
      for (let b = 0; b < B; b++) {
        for (const i of [1, 4, T - 1]) {
          const pred = new Float64Array(E);
          let predOut = 0;
          for (let h = 0; h < H; h++) {
            const r = new Float64Array(E);
            for (let j = 0; j < i; j++) for (let a = 0; a < E; a++) r[a]! += attn[((((l * B + b) * H + h) * T + i) * T) + j]! * input(l, b, j)[a]!;
            const ov = circ[l]![h]!.ov;
            for (let c = 0; c < E; c++) for (let a = 0; a < E; a++) pred[c]! += ov[a * E + c]! * r[a]!;
            if (l === 1) for (let a = 0; a < E; a++) predOut += circ[l]![h]!.ovOut![a]! * r[a]!;
          }
          const got = hidden.subarray(((l * B + b) * T + i) * E, ((l * B + b) * T + i + 1) * E);
          worst = Math.max(worst, relErr(pred, got));
          if (l === 1 && i === T - 1) worstOut = Math.max(worstOut, Math.abs(predOut - fx.corrected.output[b][0][0]));
        }
      }
    }
    expect(worst).toBeLessThan(1e-12);
    expect(worstOut).toBeLessThan(1e-12);
  });

  it('w^h, mu^h (y -> y for every layer), muOut only on the last layer; stackDynamics agrees', () => {
    for (let l = 0; l < 2; l++) {
      for (let h = 0; h < H; h++) {
        const c = circ[l]![h]!;
        let w = 0;
        for (let a = 0; a < d; a++) w += c.qk[a * E + a]!;
        expect(c.w).toBeCloseTo(w / d, 15);
        // mu = (W_V^h W_O^h)[-1,-1] = sum_e v[hE+e, E-1] o[E-1, hE+e]
        let mu = 0;
        for (let e = 0; e < E; e++) mu += p.layers[l]!.v[(h * E + e) * E + E - 1]! * p.layers[l]!.o[(E - 1) * E * H + h * E + e]!;
        expect(c.mu).toBeCloseTo(mu, 15);
        expect(c.muOut === undefined).toBe(l === 0);
      }
    }
    const w = new Float64Array(2 * H);
    const mu = new Float64Array(2 * H);
    stackDynamics(p, w, mu);
    expect(Array.from(w)).toEqual(circ.flat().map((c) => expect.closeTo(c.w, 14)));
    expect(Array.from(mu)).toEqual(circ.flat().map((c) => expect.closeTo(c.mu, 14)));
    expect(new Set(Array.from(mu)).size).toBe(2 * H); // four distinct heads, not a constant
    const muSeed = new Float64Array(2 * H);
    stackDynamics(p, w, muSeed, 'seed-statistics');
    expect(Array.from(muSeed)).toEqual([circ[0]![0]!.mu, circ[0]![1]!.mu, circ[1]![0]!.muOut, circ[1]![1]!.muOut].map((v) => expect.closeTo(v!, 14)));
    expect(Math.abs(muSeed[2]! - mu[2]!)).toBeGreaterThan(1e-3); // the two conventions really differ on the last layer
    const qkS = new Float64Array(2 * H * E * E);
    const ovS = new Float64Array(2 * H * E);
    stackSnapshot(p, qkS, ovS);
    circ.flat().forEach((c, lh) => {
      expect(relErr(qkS.subarray(lh * E * E, (lh + 1) * E * E), c.qk)).toBeLessThan(1e-15);
      expect(relErr(ovS.subarray(lh * E, (lh + 1) * E), Array.from({ length: E }, (_, a) => c.ov[a * E + E - 1]!))).toBeLessThan(1e-15);
      expect(ovS[lh * E + E - 1]).toBeCloseTo(c.mu, 15);
    });
    expect(() => stackSnapshot(p, new Float64Array(3), ovS)).toThrow(/expected \[layers,H,E,E\] = 144/);
  });

  it('1-layer stack: muOut is the single-layer mu of the equivalent model (o = final_linear @ o_proj)', () => {
    const q = randomStack(4, 2, 1, false, new TestRng(77));
    const c = stackCircuits(q)[0]!;
    const E1 = 5;
    for (let h = 0; h < 2; h++) {
      let mu = 0; // single-layer OV[-1, 0] = sum_e v[hE+e, E-1] o'[0, hE+e],  o' = f @ o
      for (let e = 0; e < E1; e++) {
        let oe = 0;
        for (let r = 0; r < E1; r++) oe += q.finalLinear[r]! * q.layers[0]!.o[r * E1 * 2 + h * E1 + e]!;
        mu += q.layers[0]!.v[(h * E1 + e) * E1 + E1 - 1]! * oe;
      }
      expect(c[h]!.muOut).toBeCloseTo(mu, 14);
    }
  });
});
