/**
 * The sweep report's headline figure, eta-vs-l (issue 22 item 4): x tick labels that do not collide
 * (a few, two decimals), no one-entry legend for a single d, and the symbols every run figure uses.
 */
import { describe, expect, it } from 'vitest';
import { specToSvg } from '../src/plots/render.js';
import { etaSpec } from '../src/sweep/report.js';

const row = (name: string, heads: number, L: number, d: number, eta: number) => ({
  name, status: 'completed', heads, context_length: L, d, seed: 1, mse_model: 0.5, eta_tf: eta, l_over_l_plus_d: L / (L + d),
});
// twelve lengths at d = 5: L/(L+d) from 0.62 to 0.97, the case whose tick labels ran together
const rows = [8, 10, 12, 15, 20, 25, 30, 40, 60, 80, 120, 160].flatMap((L) => [row(`h1-L${L}`, 1, L, 5, 0.3), row(`h2-L${L}`, 2, L, 5, 0.9 * L / (L + 5))]);
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('sweep figure eta-vs-l', () => {
  it('has at most 8 ticks per axis with two decimals, symbols in its titles, and no shape legend for one d', async () => {
    const t = texts(await specToSvg(etaSpec(rows)));
    const ticks = t.filter((s) => /^\d\.\d\d$/.test(s));
    expect(ticks.length).toBeGreaterThan(3);
    expect(ticks.length).toBeLessThanOrEqual(16); // x and y axes, at most 8 each (tickCount 6, rounded to 0.1 steps)
    expect(t).toContain('Effective step size η_TF against L/(L + d)');
    expect(t).toContain('η_TF = Σ_h μʰ wʰ');
    expect(t.some((s) => /eta_TF|sum_h|mu\^h/.test(s))).toBe(false);
    expect(t).not.toContain('d'); // no legend titled d
    expect(t.join(' ')).toMatch(/d = 5/); // said once, in the subtitle
  });

  it('keeps the d legend when the sweep varies d', async () => {
    const t = texts(await specToSvg(etaSpec([...rows, row('h2-d10', 2, 40, 10, 0.7)])));
    expect(t).toContain('d');
  });
});
