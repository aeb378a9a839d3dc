/// <reference lib="dom" />
/**
 * The web lab's compare view with 4 runs (issue 22 item 14) in real headless Chromium, 1400 x 900:
 * the page fits the window (circuits wrap instead of overflowing), the loss chart has a legend
 * naming every run, the w^h/μ^h lines have one hue per run and a shade of it per head (the head
 * colours differ). Needs the built CLI and web app (npm run build). Screenshot in test-output/web/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireBrowserSetup, serveInBrowser, SHOTS, type ServedLab } from './web.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-web-cmp-'));
const lab = join(tmp, 'lab');
let served: ServedLab | undefined;
let page: Page;
let url = '';
let errors: string[] = [];
const RUNS = [['h2', '2', '0'], ['h3', '3', '1'], ['h3-seed2', '3', '2'], ['h4', '4', '3']] as const;

beforeAll(async () => {
  requireBrowserSetup();
  mkdirSync(lab, { recursive: true });
  for (const [name, heads, seed] of RUNS) {
    cli(['train', '--d', '5', '--heads', heads, '--seed', seed, '--context-length', '20', '--batch-size', '32', '--steps', '1500',
      '--qk-every', '300', '--dynamics-every', '50', '--val-every', '500', '--progress', 'none', '--out', join(lab, name)]);
  }
  served = await serveInBrowser(lab, join(tmp, 'profile'));
  ({ url, page, errors } = served);
}, 180_000);

afterAll(async () => {
  await served?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The texts of a chart's legend labels. */
const legendLabels = (sel: string) => page.locator(sel).evaluate((el) => Array.from(el.querySelectorAll('g.role-legend-label text')).map((t) => t.textContent ?? ''));

describe('icl-lab serve: compare 4 runs', () => {
  it('fits 1400 px, names every run in the loss legend and gives each head its own colour', async () => {
    await page.goto(`${url}#/compare?${RUNS.map(([n]) => `path=${n}`).join('&')}`);
    await page.waitForSelector('[data-testid=compare-loss] svg');
    await page.waitForSelector('[data-testid=compare-dynamics] svg');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=compare-heatmaps] svg').length >= 12); // 2 + 3 + 3 + 4 heads
    expect(await page.locator('h1').innerText()).toBe('Compare 4 runs');
    // nothing wider than the window: the circuits wrap onto further rows
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    expect(innerWidth).toBe(1400);
    expect(scrollWidth).toBeLessThanOrEqual(1400);
    const tops = await page.locator('.side-by-side > .column').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().top)));
    expect(tops).toHaveLength(4);
    expect(new Set(tops).size).toBeGreaterThan(1); // wrapped onto more than one row
    // the loss chart's legend names each run
    const lossLegend = await legendLabels('[data-testid=compare-loss]');
    expect([...lossLegend].sort()).toEqual(RUNS.map(([n]) => n).sort());
    // dynamics: a legend entry per run and head, each its own colour; one hue per run (the swatch = head 1's family)
    const dynLegend = await legendLabels('[data-testid=compare-dynamics]');
    expect(dynLegend).toHaveLength(2 + 3 + 3 + 4);
    expect(dynLegend).toContain('h4 · head 4');
    const strokes = await page.locator('[data-testid=compare-dynamics]').evaluate((el) => {
      const out: Record<string, string> = {};
      const labels = Array.from(el.querySelectorAll('g.role-legend-label text')).map((t) => t.textContent ?? '');
      const symbols = Array.from(el.querySelectorAll('g.role-legend-symbol path'));
      labels.forEach((l, i) => (out[l] = symbols[i]?.getAttribute('stroke') ?? ''));
      return out;
    });
    expect(new Set(Object.values(strokes)).size).toBe(12);
    for (const [n, h] of RUNS) {
      const ofRun = Array.from({ length: Number(h) }, (_, k) => strokes[`${n} · head ${k + 1}`]);
      expect(new Set(ofRun).size).toBe(Number(h)); // heads of one run differ
    }
    const lineStrokes = await page.locator('[data-testid=compare-dynamics]').evaluate((el) => new Set(Array.from(el.querySelectorAll('g.mark-line.role-mark path')).map((p) => p.getAttribute('stroke'))).size);
    expect(lineStrokes).toBe(12);
    const swatches = await page.locator('[data-testid=run-swatch]').evaluateAll((els) => els.map((e) => getComputedStyle(e).backgroundColor));
    expect(new Set(swatches).size).toBe(4);
    await page.screenshot({ path: join(SHOTS, 'compare-4.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
