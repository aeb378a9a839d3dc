/// <reference lib="dom" />
/**
 * The runs table's names, tags, groups and held-out loss, and the overlay view (issue 22 items 11,
 * 13) in real headless Chromium at 1400 x 900: filter by tag, group by experiment / sweep, a group's
 * runs overlaid with one line and one legend entry per run; the page never wider than the window;
 * a name that is HTML shows as text. Needs the built CLI and web app (npm run build).
 * Screenshots in test-output/web/ (runs-grouped.png, overlay.png).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireBrowserSetup, serveInBrowser, SHOTS, type ServedLab } from './web.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-web-overlay-'));
const lab = join(tmp, 'lab');
let served: ServedLab | undefined;
let page: Page;
let url = '';
let errors: string[] = [];
const HOSTILE = '<img src=x onerror="document.title=\'pwned\'">';
const SMALL = ['--d', '5', '--context-length', '20', '--batch-size', '32', '--steps', '800', '--qk-every', '400', '--dynamics-every', '40', '--val-every', '200', '--progress', 'none'];

beforeAll(async () => {
  requireBrowserSetup();
  mkdirSync(lab, { recursive: true });
  cli(['sweep', '--grid', 'heads=1,2,3', '--d', '5', '--context-length', '20', '--batch-size', '32', '--steps', '800', '--out', join(lab, 'heads-scan'), '--jobs', '1', '--progress', 'none']);
  cli(['train', ...SMALL, '--heads', '2', '--name', 'baseline H=2', '--tag', 'baseline', '--note', 'the notebook run, short', '--out', join(lab, 'baseline')]);
  cli(['train', ...SMALL, '--heads', '2', '--seed', '7', '--name', HOSTILE, '--tag', 'baseline', '--out', join(lab, 'odd-name')]);
  cli(['train', ...SMALL, '--heads', '4', '--out', join(lab, 'scratch')]);
  served = await serveInBrowser(lab, join(tmp, 'profile'));
  ({ url, page, errors } = served);
}, 240_000);

afterAll(async () => {
  await served?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const widths = () => page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
const rowPaths = () => page.locator('[data-testid=run-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-path')));

describe('icl-lab serve: names, tags, groups, held-out loss, overlay', () => {
  it('the runs table shows names and tags, filters by tag and groups by experiment / sweep', async () => {
    await page.goto(url);
    await page.waitForSelector('[data-testid=run-row]');
    expect(await rowPaths()).toHaveLength(6);
    expect(await widths()).toEqual({ scrollWidth: 1400, innerWidth: 1400 });
    // names as text: the HTML name is shown, never parsed
    expect(await page.locator('[data-testid=run-name]').allInnerTexts()).toContain(HOSTILE);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.title()).not.toBe('pwned');
    // the held-out loss column: every completed run, "mse ± se", the prompt count in the line above and the title
    expect(await page.locator('[data-testid=held-out]').count()).toBe(6);
    expect(await page.locator('[data-testid=loss-legend]').innerText()).toContain('20,000 held-out prompts');
    expect(await page.locator('[data-testid=held-out]').first().getAttribute('title')).toContain('20,000 held-out prompts');
    expect(await page.locator('[data-testid=held-out]').first().innerText()).toMatch(/^\d\.\d{4} ± \d\.\d{4}$/);
    // differs: heads and seed, never the logging fields
    const differs = (await page.locator('td.differs').allInnerTexts()).join(' ');
    expect(differs).toContain('heads=');
    expect(differs).not.toMatch(/dynamics_every|qk_every|val_every/);
    // filter by tag: the select, then a tag chip
    await page.selectOption('[data-testid=tag-filter]', 'baseline');
    expect((await rowPaths()).sort()).toEqual(['baseline', 'odd-name']);
    // "differs" among the runs shown: the two baseline runs differ by their seed only
    expect((await page.locator('td.differs').allInnerTexts()).sort()).toEqual(['seed=1024', 'seed=7']);
    await page.click('[data-testid=clear-tag]');
    expect(await rowPaths()).toHaveLength(6);
    await page.locator('[data-testid=run-row][data-path="heads-scan/runs/h1"] [data-testid=tag]').click();
    expect(await rowPaths()).toEqual(['heads-scan/runs/h1', 'heads-scan/runs/h2', 'heads-scan/runs/h3']);
    await page.click('[data-testid=clear-tag]');
    // group by experiment / sweep: the sweep's runs (tagged sweep:heads-scan), then the rest
    await page.selectOption('[data-testid=group-by]', 'experiment');
    const groups = await page.locator('[data-testid=run-group]').evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-group'), g.querySelectorAll('[data-testid=run-row]').length]));
    expect(groups).toEqual([['sweep:heads-scan', 3], ['(no experiment or sweep tag)', 3]]);
    expect(await widths()).toEqual({ scrollWidth: 1400, innerWidth: 1400 });
    await page.screenshot({ path: join(SHOTS, 'runs-grouped.png') });
    // a group's checkbox picks its runs; Overlay opens them
    await page.locator('[data-testid=run-group][data-group="sweep:heads-scan"] [data-testid=select-group]').check();
    expect(await page.locator('[data-testid=overlay-button]').innerText()).toBe('Overlay (3)');
    await page.click('[data-testid=overlay-button]');
    await page.waitForSelector('[data-testid=overlay-chart] svg');
    expect(await page.locator('h1').innerText()).toBe('Overlay 3 runs');
    expect(errors).toEqual([]);
  });

  it('the overlay view draws one line and one legend entry per run, each its own colour, and fits 1400 px', async () => {
    const paths = ['heads-scan/runs/h1', 'heads-scan/runs/h2', 'heads-scan/runs/h3', 'baseline', 'odd-name', 'scratch'];
    await page.goto(`${url}#/overlay?${paths.map((p) => `path=${encodeURIComponent(p)}`).join('&')}&metric=loss`);
    await page.waitForSelector('[data-testid=overlay-chart] svg');
    expect(await page.locator('h1').innerText()).toBe('Overlay 6 runs');
    const chart = page.locator('[data-testid=overlay-chart]');
    const legend = await chart.evaluate((el) => Array.from(el.querySelectorAll('g.role-legend-label text')).map((t) => t.textContent ?? ''));
    expect([...legend].sort()).toEqual(['heads-scan/runs/h1', 'heads-scan/runs/h2', 'heads-scan/runs/h3', 'baseline H=2', HOSTILE, 'scratch'].sort());
    const strokes = await chart.evaluate((el) => Array.from(el.querySelectorAll('g.mark-line.role-mark path')).map((p) => p.getAttribute('stroke')));
    expect(strokes).toHaveLength(6);
    expect(new Set(strokes).size).toBe(6);
    const symbols = await chart.evaluate((el) => Array.from(el.querySelectorAll('g.role-legend-symbol path')).map((p) => p.getAttribute('stroke')));
    expect([...symbols].sort()).toEqual([...strokes].sort()); // a legend swatch for every line's colour
    // the table below: the same colour beside each run as its line and legend entry
    const swatches = await page.locator('[data-testid=overlay-swatch]').evaluateAll((els) => els.map((e) => getComputedStyle(e).backgroundColor.match(/\d+/g)!.map((c) => Number(c).toString(16).padStart(2, '0')).join('')));
    expect(swatches.map((c) => `#${c}`).sort()).toEqual(strokes.map((c) => c!.toLowerCase()).sort());
    expect(await page.locator('img').count()).toBe(0);
    expect(await widths()).toEqual({ scrollWidth: 1400, innerWidth: 1400 });
    await page.screenshot({ path: join(SHOTS, 'overlay.png') });
    // another metric: η_TF(t), the same runs
    await page.selectOption('[data-testid=overlay-metric]', 'eta');
    await page.waitForFunction(() => document.querySelector('[data-testid=overlay-chart] .role-title-text')?.textContent?.startsWith('η_TF'));
    expect(await chart.evaluate((el) => el.querySelectorAll('g.mark-line.role-mark path').length)).toBe(6);
    expect(page.url()).toContain('metric=eta');
    expect(errors).toEqual([]);
  });
});
