/**
 * The multi-task sampler against its definition (reference/seed_ref.py MultiTaskLinearReg):
 * beta_k ~ N(0, I_dx_k), y_ik = beta_k . x_i[block k] + sqrt(dx_k) noise_std eps, y_qk noise-free.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/data/rng.js';
import { parseTasks, sampleMultiTask, formatTasks } from '../src/data/multitask.js';

describe('multi-task sampler', () => {
  const d = 6, L = 20, B = 4000, noiseStd = Math.sqrt(0.1);
  const tasks = [[0, 4], [2, 6]] as const;
  const N = 2, E = d + N;
  const betas = [new Float64Array(B * 4), new Float64Array(B * 4)];
  const batch = sampleMultiTask({ d, L, batchSize: B, noiseStd, tasks }, new Rng(5), undefined, betas);
  const n = B * L;

  it('tokens are [x, y_1, y_2], the query [x_q, 0, 0], targets noise-free beta_k . x_q[block]', () => {
    expect(batch.E).toBe(8);
    let worst = 0, ySlots = 0;
    for (let b = 0; b < B; b++) {
      ySlots += Math.abs(batch.zq[b * E + 6]!) + Math.abs(batch.zq[b * E + 7]!);
      tasks.forEach(([s, e], k) => {
        let y = 0;
        for (let j = 0; j < e - s; j++) y += betas[k]![b * 4 + j]! * batch.zq[b * E + s + j]!;
        worst = Math.max(worst, Math.abs(batch.yq[b * N + k]! - y));
      });
    }
    expect(ySlots).toBe(0);
    expect(worst).toBeLessThan(1e-12);
  });

  it('context noise has variance dx_k noise_std^2 and is independent of x; y reads exactly its block', () => {
    for (const [k, [s, e]] of tasks.entries()) {
      const dxk = e - s;
      let r2 = 0, y2 = 0;
      const yx2 = new Float64Array(d); // E[y^2 x_c^2]
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < L; i++) {
          const t = (b * L + i) * E;
          let f = 0;
          for (let j = 0; j < dxk; j++) f += betas[k]![b * 4 + j]! * batch.z[t + s + j]!;
          const y = batch.z[t + d + k]!;
          r2 += (y - f) ** 2;
          y2 += y * y;
          for (let c = 0; c < d; c++) yx2[c] += y * y * batch.z[t + c]! ** 2;
        }
      }
      // residual variance dx_k * 0.1 = 0.4; relative se of a variance from 80k draws ~ 0.5 %
      expect(r2 / n).toBeGreaterThan(0.4 * 0.97);
      expect(r2 / n).toBeLessThan(0.4 * 1.03);
      // E[y^2] = dx_k (1 + noise^2) = 4.4 (beta drawn per prompt: se ~ 2 %)
      expect(Math.abs(y2 / n / 4.4 - 1)).toBeLessThan(0.08);
      // E[y^2 x_c^2] - E[y^2] = 2 for c in the block, 0 outside (Gaussian fourth moment)
      for (let c = 0; c < d; c++) {
        const excess = yx2[c]! / n - y2 / n;
        if (c >= s && c < e) expect(excess, `task ${k}, coordinate ${c}`).toBeGreaterThan(1.2);
        else expect(Math.abs(excess), `task ${k}, coordinate ${c}`).toBeLessThan(0.6);
      }
    }
  });

  it('parses task blocks and rejects bad ones with one line', () => {
    expect(parseTasks('0:4,2:6', 6)).toEqual([[0, 4], [2, 6]]);
    expect(formatTasks(parseTasks(' 0:2 , 3:5'))).toBe('0:2,3:5');
    expect(() => parseTasks('0-4')).toThrow(/'0-4' is not START:END/);
    expect(() => parseTasks('3:3')).toThrow(/must satisfy 0 <= START < END/);
    expect(() => parseTasks('0:4,2:7', 6)).toThrow(/reaches past x's 6 coordinates/);
  });
});
