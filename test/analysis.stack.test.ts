/** `analyze` on a multi-layer stack: per-layer, per-head statistics in the seed's convention. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allocStackParams, stackMetadata, stackStateDict } from '../src/model/stack.js';
import { stackCircuits } from '../src/model/circuits.js';
import { tensorF32, tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { analyzeStack } from '../src/analysis/analyze.js';
import { loadStackTarget } from '../src/analysis/targets.js';
import { runEvaluate } from '../src/analysis/evaluate-models.js';
import { expectClose } from './estimators-fixture.helpers.js';
import { tempDir } from './cli.helpers.js';

const tmp = tempDir('analysis-stack');

function randomStack(nLayers: number, tying: boolean) {
  const p = allocStackParams(3, 2, nLayers, tying);
  for (let i = 0; i < p.theta.length; i++) { const s = Math.sin(i * 12.9898 + 78.233) * 43758.5453; p.theta[i] = 0.8 * (s - Math.floor(s)) - 0.4; }
  return p;
}

function save(p: ReturnType<typeof randomStack>, file: string) {
  const t: Record<string, ReturnType<typeof tensorF64>> = {};
  for (const e of stackStateDict(p, true)) t[e.key] = tensorF64(e.shape, e.data);
  writeSafetensors(file, t, stackMetadata(p));
}

describe('analyze: multi-layer stacks', () => {
  it('QK per layer equals model/stack stackCircuits; mu = y->y entry in every layer (as train logs it), last layer also through final_linear (muOut)', () => {
    const p = randomStack(3, false);
    const file = join(tmp, 'stack3.safetensors');
    save(p, file);
    const t = loadStackTarget(file)!;
    expect(t.name).toBe('stack3');
    const a = analyzeStack(t);
    const ref = stackCircuits(p);
    expect(a.nLayers).toBe(3);
    expect(a.statistics.filter((l) => l.startsWith('Layer 3, Head 2'))).toHaveLength(3); // two statistics lines and the summary, numbered from 1
    for (let l = 0; l < 3; l++) {
      for (let h = 0; h < 2; h++) {
        const got = a.layers[l]!.heads[h]!, r = ref[l]![h]!;
        expectClose(got.qk, r.qk, 1e-12, `qk ${l}/${h}`);
        expect(got.w).toBeCloseTo(r.w, 12);
        const E = 4;
        expect(got.mu).toBeCloseTo(r.mu, 12);
        expectClose(got.ov, Array.from({ length: E }, (_, i) => r.ov[i * E + E - 1]!), 1e-12, `ov ${l}/${h}`);
        if (l < 2) {
          expect(got.muOut).toBeUndefined();
        } else {
          expect(got.muOut!).toBeCloseTo(r.muOut!, 12);
          expectClose(got.ovOut!, r.ovOut!, 1e-12, `ovOut ${h}`);
        }
      }
    }
    expect(a.effectiveLearningRate).toBeNull();
  });

  it('tied weights: every layer reads the same block; a one-layer file is not a stack', () => {
    const p = randomStack(2, true);
    const file = join(tmp, 'tied.safetensors');
    save(p, file);
    const a = analyzeStack(loadStackTarget(file)!);
    expect(a.weightTying).toBe(true);
    expect(a.layers[0]!.heads[0]!.qk).toEqual(a.layers[1]!.heads[0]!.qk);
    const single = join(tmp, 'single.safetensors');
    writeSafetensors(single, {
      'attention_layer.q_proj.weight': tensorF32([4, 4], new Array(16).fill(0.1)),
      'attention_layer.k_proj.weight': tensorF32([4, 4], new Array(16).fill(0.1)),
      'attention_layer.v_proj.weight': tensorF32([4, 4], new Array(16).fill(0.1)),
      'attention_layer.o_proj.weight': tensorF32([1, 4], new Array(4).fill(0.1)),
    });
    expect(loadStackTarget(single)).toBeUndefined();
  });

  it('evaluate: a stack is evaluated with stackForward under its file name (no kernel), on d from the stack', () => {
    const p = randomStack(2, false);
    const file = join(tmp, 'deep.safetensors');
    save(p, file);
    const r = runEvaluate([loadStackTarget(file)!], { lengths: [4, 9], samples: 50, seed: 1, chunk: 20, kernel: true });
    expect(Object.keys(r.methods)).toEqual(['deep', 'one-step-gd', 'tuned-gd', 'debiased-gd', 'ridge', 'ols']);
    expect(r.d).toBe(3);
    for (const v of r.methods['deep']!.mse) expect(Number.isFinite(v) && v > 0).toBe(true);
  });
});

// issue 12, misleading output 5: analyze printed layers/heads 0-based (figures and files 1-based); for a
// stack its summary renumbered heads across layers ("Head 0..5") and showed mu_out where its table showed mu.
describe('analyze: one numbering (from 1) and one meaning per symbol', () => {
  it('3-layer stack: statistics lines and summary name (layer, head) from 1, the last layer\'s value through final_linear is mu_out^h, the others mu^h equal to the table', async () => {
    const { formatStackAnalysis } = await import('../src/cli/commands/analyze.js');
    const p = randomStack(3, false);
    const file = join(tmp, 'numbered.safetensors');
    save(p, file);
    const a = analyzeStack(loadStackTarget(file)!);
    const f4 = (x: number) => x.toFixed(4);
    const h11 = a.layers[0]!.heads[0]!, h32 = a.layers[2]!.heads[1]!;
    expect(a.statistics).toContain(`Layer 1, Head 1: mu^h = ${f4(h11.mu)}, sup-norm of rest of OV entries = ${f4(a.layers[0]!.heads[0]!.supOv)}`);
    expect(a.statistics.some((l) => l.startsWith(`Layer 3, Head 2: mu_out^h = ${f4(h32.muOut!)},`))).toBe(true);
    expect(a.statistics).toContain(`Layer 3, Head 2: mu_out^h = ${f4(h32.muOut!)}, w^h = ${f4(h32.w)}`);
    expect(a.statistics).toContain(`Layer 1, Head 1: mu^h = ${f4(h11.mu)}, w^h = ${f4(h11.w)}`);
    expect(a.statistics.some((l) => /Layer 0|Head 0|Head [3-9]/.test(l))).toBe(false);
    const text = formatStackAnalysis(a);
    expect(text).toMatch(/^\s+1\s+1\s+[+-]\d/m);
    expect(text).toMatch(/^\s+3\s+2\s+[+-]\d/m);
    expect(text).not.toMatch(/^\s+0\s+0\s+[+-]\d/m);
    expect(text).toContain('numbered from 1');
  });
});
