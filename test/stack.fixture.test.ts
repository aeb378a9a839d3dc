// The corrected causal stack against PyTorch float64 ground truth (fixtures/causal_stack_2layer.json),
// the seed's buggy causal layer recognised as different, and the 1-layer == single-layer equivalence.
import { describe, expect, it } from 'vitest';
import { batchFromArrays } from '../src/data/batch.js';
import { allocParams } from '../src/model/params.js';
import { forward as singleLayerForward } from '../src/engine/reference/attention.js';
import { allocStackParams, type StackParams } from '../src/model/stack.js';
import { stackForward, stackLossAndGrad } from '../src/engine/ts/stack.js';
import { stackForwardReference, stackLossAndGradReference } from '../src/engine/reference/stack.js';
import { flatten, loadStackFixture, randomBatch, randomStack, relErr, TestRng } from './stack.helpers.js';

const fx = loadStackFixture();
const { d, E, H, L, T, B, n_layers: nLayers } = fx as { d: number; E: number; H: number; L: number; T: number; B: number; n_layers: number };
const batch = batchFromArrays(B, L, d, flatten(fx.inputs.z), flatten(fx.inputs.z_q), flatten(fx.inputs.y_q));

function fixtureParams(): StackParams {
  const p = allocStackParams(d, H, nLayers, false);
  for (let l = 0; l < nLayers; l++) {
    const w = fx.weights.layers[l];
    p.layers[l]!.q.set(flatten(w.q_proj));
    p.layers[l]!.k.set(flatten(w.k_proj));
    p.layers[l]!.v.set(flatten(w.v_proj));
    p.layers[l]!.o.set(flatten(w.o_proj));
  }
  p.finalLinear.set(flatten(fx.weights.final_linear));
  return p;
}

/** Expected gradient as a theta-layout vector. */
function fixtureGrad(): Float64Array {
  const g = allocStackParams(d, H, nLayers, false);
  for (let l = 0; l < nLayers; l++) {
    const w = fx.corrected.grads[l];
    g.layers[l]!.q.set(flatten(w.q_proj));
    g.layers[l]!.k.set(flatten(w.k_proj));
    g.layers[l]!.v.set(flatten(w.v_proj));
    g.layers[l]!.o.set(flatten(w.o_proj));
  }
  g.finalLinear.set(flatten(fx.corrected.grad_final_linear));
  return g.theta;
}

const FWD_TOL = 1e-10;
const GRAD_TOL = 1e-9;

describe('causal stack vs PyTorch fixture (corrected)', () => {
  const p = fixtureParams();
  const expOut = flatten(fx.corrected.output);
  const expHidden = flatten(fx.corrected.hidden); //  [layers, B, T, E]
  const expAttn = flatten(fx.corrected.attn_weights); // [layers, B, H, T, T]

  it('fast forward: output, hidden states and attention weights to 1e-10', () => {
    const out = new Float64Array(B);
    const hidden = new Float64Array(nLayers * B * T * E);
    const attn = new Float64Array(nLayers * B * H * T * T);
    stackForward(p, batch, out, { hidden, attn });
    expect(relErr(out, expOut)).toBeLessThan(FWD_TOL);
    expect(relErr(hidden, expHidden)).toBeLessThan(FWD_TOL);
    expect(relErr(attn, expAttn)).toBeLessThan(FWD_TOL);
    // the plain forward (query row only in the last layer) gives the same outputs
    const out2 = new Float64Array(B);
    stackForward(p, batch, out2);
    expect(relErr(out2, expOut)).toBeLessThan(FWD_TOL);
    // strict causality: token 0 has zero output after every layer, row 0 and j >= i carry no weight
    for (let l = 0; l < nLayers; l++) {
      for (let b = 0; b < B; b++) for (let c = 0; c < E; c++) expect(hidden[((l * B + b) * T + 0) * E + c]).toBe(0);
      for (let bh = 0; bh < B * H; bh++) {
        for (let i = 0; i < T; i++) {
          let rowSum = 0;
          for (let j = 0; j < T; j++) {
            const a = attn[((l * B * H + bh) * T + i) * T + j]!;
            if (j >= i) expect(a).toBe(0);
            rowSum += a;
          }
          expect(rowSum).toBeCloseTo(i === 0 ? 0 : 1, 14);
        }
      }
    }
  });

  it('fast loss and every gradient (incl. final_linear) to 1e-10 / 1e-9', () => {
    const grad = new Float64Array(p.theta.length);
    const out = new Float64Array(B);
    const loss = stackLossAndGrad(p, batch, grad, out);
    expect(Math.abs(loss - fx.corrected.loss) / Math.abs(fx.corrected.loss)).toBeLessThan(FWD_TOL);
    expect(relErr(out, expOut)).toBeLessThan(FWD_TOL);
    const exp = fixtureGrad();
    expect(relErr(grad, exp)).toBeLessThan(GRAD_TOL);
    // per weight too, so a small tensor cannot hide behind a large one
    const gp = allocStackParams(d, H, nLayers, false, grad);
    const ep = allocStackParams(d, H, nLayers, false, exp);
    for (let l = 0; l < nLayers; l++) {
      for (const name of ['q', 'k', 'v', 'o'] as const) expect(relErr(gp.layers[l]![name], ep.layers[l]![name])).toBeLessThan(GRAD_TOL);
    }
    expect(relErr(gp.finalLinear, ep.finalLinear)).toBeLessThan(GRAD_TOL);
  });

  it('reference oracle matches the fixture too', () => {
    const grad = new Float64Array(p.theta.length);
    const r = stackLossAndGradReference(p, batch, grad);
    expect(Math.abs(r.loss - fx.corrected.loss) / Math.abs(fx.corrected.loss)).toBeLessThan(FWD_TOL);
    expect(relErr(r.output, expOut)).toBeLessThan(FWD_TOL);
    const hidden = new Float64Array(nLayers * B * T * E);
    const attn = new Float64Array(nLayers * B * H * T * T);
    r.hidden.forEach((h, l) => hidden.set(h, l * B * T * E));
    r.attn.forEach((a, l) => attn.set(a, l * B * H * T * T));
    expect(relErr(hidden, expHidden)).toBeLessThan(FWD_TOL);
    expect(relErr(attn, expAttn)).toBeLessThan(FWD_TOL);
    expect(relErr(grad, fixtureGrad())).toBeLessThan(GRAD_TOL);
  });
});

/** The seed's CausalMultiHeadAttention as written: softmax, mask probabilities with -1e9, softmax again. */
function seedFaithfulHidden(p: StackParams): Float64Array {
  const hidden = new Float64Array(nLayers * B * T * E);
  const EH = E * H;
  let x = new Float64Array(B * T * E);
  for (let b = 0; b < B; b++) {
    x.set(batch.z.subarray(b * L * E, (b + 1) * L * E), b * T * E);
    x.set(batch.zq.subarray(b * E, (b + 1) * E), (b * T + L) * E);
  }
  for (let l = 0; l < nLayers; l++) {
    const w = p.layers[l]!;
    const y = new Float64Array(B * T * E);
    const proj = (W: Float64Array, b: number, i: number, m: number): number => {
      let s = 0;
      for (let c = 0; c < E; c++) s += x[(b * T + i) * E + c]! * W[m * E + c]!;
      return s;
    };
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < T; i++) {
        const cat = new Float64Array(EH);
        for (let h = 0; h < H; h++) {
          const s = Array.from({ length: T }, (_, j) => {
            let dot = 0;
            for (let e = 0; e < E; e++) dot += proj(w.q, b, i, h * E + e) * proj(w.k, b, j, h * E + e);
            return dot / Math.sqrt(E);
          });
          const soft = (v: number[]): number[] => {
            const m = Math.max(...v);
            const ex = v.map((t) => Math.exp(t - m));
            const z = ex.reduce((a, t) => a + t, 0);
            return ex.map((t) => t / z);
          };
          const a = soft(soft(s).map((pr, j) => (j < i ? pr : -1e9)));
          for (let e = 0; e < E; e++) {
            let acc = 0;
            for (let j = 0; j < T; j++) acc += a[j]! * proj(w.v, b, j, h * E + e);
            cat[h * E + e] = acc;
          }
        }
        for (let r = 0; r < E; r++) {
          let acc = 0;
          for (let m = 0; m < EH; m++) acc += cat[m]! * w.o[r * EH + m]!;
          y[(b * T + i) * E + r] = acc;
        }
      }
    }
    hidden.set(y, l * B * T * E);
    x = y;
  }
  return hidden;
}

describe('the seed as written (seed_faithful) is recognised and is NOT what we compute', () => {
  const p = fixtureParams();
  const faithful = flatten(fx.seed_faithful.hidden);

  it('our hidden states differ from seed_faithful by a clear margin', () => {
    const out = new Float64Array(B);
    const hidden = new Float64Array(nLayers * B * T * E);
    stackForward(p, batch, out, { hidden });
    for (let l = 0; l < nLayers; l++) {
      const ours = hidden.subarray(l * B * T * E, (l + 1) * B * T * E);
      const theirs = faithful.subarray(l * B * T * E, (l + 1) * B * T * E);
      expect(relErr(ours, theirs)).toBeGreaterThan(0.3);
    }
    expect(relErr(out, flatten(fx.seed_faithful.output))).toBeGreaterThan(0.3);
    // the seed's token 0 is not zero (it averages every token, the query included); ours is
    let maxRow0 = 0;
    for (let b = 0; b < B; b++) for (let c = 0; c < E; c++) maxRow0 = Math.max(maxRow0, Math.abs(faithful[(b * T) * E + c]!));
    expect(maxRow0).toBeGreaterThan(0.01);
  });

  it('the double-softmax formula reproduces seed_faithful (so the fixture means what we think)', () => {
    expect(relErr(seedFaithfulHidden(p), faithful)).toBeLessThan(1e-10);
  });
});

describe('1-layer causal stack + final_linear == single-layer model with o_proj = final_linear @ o_proj', () => {
  for (const [dd, HH, LL] of [[5, 2, 40], [3, 3, 7], [1, 1, 1]] as const) {
    it(`d=${dd}, H=${HH}, L=${LL}`, () => {
      const rng = new TestRng(100 + dd * 10 + HH);
      const p = randomStack(dd, HH, 1, false, rng);
      const bt = randomBatch(4, LL, dd, rng);
      const EE = dd + 1;
      const single = allocParams(dd, HH);
      single.q.set(p.layers[0]!.q);
      single.k.set(p.layers[0]!.k);
      single.v.set(p.layers[0]!.v);
      for (let m = 0; m < EE * HH; m++) {
        let s = 0;
        for (let c = 0; c < EE; c++) s += p.finalLinear[c]! * p.layers[0]!.o[c * EE * HH + m]!;
        single.o[m] = s; // (1, E) @ (E, E*H)
      }
      const ours = new Float64Array(4);
      stackForward(p, bt, ours);
      const theirs = new Float64Array(4);
      singleLayerForward(single, bt, theirs);
      expect(relErr(ours, theirs)).toBeLessThan(1e-13);
      // inline single-layer formula (query attends to the L context tokens only)
      const inline = new Float64Array(4);
      for (let b = 0; b < 4; b++) {
        let y = 0;
        for (let h = 0; h < HH; h++) {
          const proj = (W: Float64Array, tok: Float64Array, m: number): number => {
            let s = 0;
            for (let c = 0; c < EE; c++) s += tok[c]! * W[m * EE + c]!;
            return s;
          };
          const zq = bt.zq.subarray(b * EE, (b + 1) * EE);
          const toks = Array.from({ length: LL }, (_, i) => bt.z.subarray((b * LL + i) * EE, (b * LL + i + 1) * EE));
          const s = toks.map((t) => {
            let dot = 0;
            for (let e = 0; e < EE; e++) dot += proj(single.q, zq, h * EE + e) * proj(single.k, t, h * EE + e);
            return dot / Math.sqrt(EE);
          });
          const m = Math.max(...s);
          const ex = s.map((v) => Math.exp(v - m));
          const den = ex.reduce((a, v) => a + v, 0);
          for (let e = 0; e < EE; e++) {
            let acc = 0;
            toks.forEach((t, i) => (acc += (ex[i]! / den) * proj(single.v, t, h * EE + e)));
            y += acc * single.o[h * EE + e]!;
          }
        }
        inline[b] = y;
      }
      expect(relErr(ours, inline)).toBeLessThan(1e-13);
    });
  }
});
