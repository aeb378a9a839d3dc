/// <reference lib="dom" />
/**
 * The web lab's run view on a multi-task run (train --tasks: n_out = N = 2, E = d + N) in real
 * headless Chromium (as test/web.e2e.test.ts): the snapshot heatmaps label the coordinates
 * x1..xd, y1, y2; the saved weights' QK^h (E x E) and OV^h (E x N) are drawn for every head; the
 * single-task statistics are replaced by a note. Needs the built CLI and web app (npm run build).
 * Screenshots go to test-output/web/ (gitignored).
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, launchBrowser, requireBrowserSetup, SERVE_READY, SHOTS, start } from './web.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-web-mt-'));
const lab = join(tmp, 'lab');
const children: ChildProcess[] = [];
let ctx: BrowserContext;
let page: Page;
let url = '';
const errors: string[] = [];

beforeAll(async () => {
  requireBrowserSetup();
  mkdirSync(lab, { recursive: true });
  // the authors' layout, small: d = 6, tasks x[0:4] and x[2:6], E = 8, H = 3
  cli(['train', '--tasks', '0:4,2:6', '--d', '6', '--heads', '3', '--context-length', '12', '--batch-size', '32',
    '--steps', '400', '--qk-every', '100', '--dynamics-every', '20', '--val-every', '100', '--progress', 'none', '--out', join(lab, 'mt')]);
  cpSync(join(lab, 'mt'), join(lab, 'mt-copy'), { recursive: true }); // compare takes each run once
  url = (await start(children, ['serve', lab, '--port', '0'], SERVE_READY)).match[1]!;
  ctx = await launchBrowser(join(tmp, 'profile'));
  page = ctx.pages()[0] ?? await ctx.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
}, 180_000);

afterAll(async () => {
  await ctx?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** The tick labels of a chart's SVG (Vega draws them as <text> in the axis label groups). */
const axisLabels = (sel: string) => page.locator(sel).first().evaluate((el) => Array.from(el.querySelectorAll('g.role-axis-label text')).map((t) => t.textContent ?? ''));

describe('icl-lab serve: a multi-task run', () => {
  it('draws its heatmaps with x1..x6, y1, y2 and the full OV^h (E x N) of every head, without page errors', async () => {
    await page.goto(`${url}#/run/mt`);
    await page.waitForSelector('[data-testid=loss-chart] svg');
    await page.waitForSelector('[data-testid=heatmaps] svg');
    await page.waitForSelector('[data-testid=multitask-circuits] svg');
    expect(await page.locator('.config').innerText()).toContain('tasks 0:4,2:6 (n_out = 2)');
    // snapshot heatmaps: one figure per head, coordinates x1..x6, y1, y2 (never a bare y or x7)
    expect(await page.locator('[data-testid=heatmaps] svg.marks').count()).toBe(3);
    const snapLabels = await axisLabels('[data-testid=heatmaps]');
    for (const l of ['x1', 'x6', 'y1', 'y2']) expect(snapLabels).toContain(l);
    expect(snapLabels).not.toContain('x7');
    expect(snapLabels).not.toContain('y');
    expect(await page.locator('[data-testid=heatmaps]').innerText()).toContain('OVʰ[:, out 2]');
    // the saved weights: QK^h 8 x 8 and OV^h 8 x 2 per head, 3 heads = 3 * (64 + 16) cells
    const mt = page.locator('[data-testid=multitask-circuits]');
    const mtLabels = await axisLabels('[data-testid=multitask-circuits]');
    for (const l of ['x1', 'x6', 'y1', 'y2', 'out 1', 'out 2']) expect(mtLabels).toContain(l);
    const cells = await mt.evaluate((el) => el.querySelectorAll('g.mark-rect.role-mark path, g.mark-rect.role-mark rect').length);
    expect(cells).toBeGreaterThanOrEqual(3 * (64 + 16));
    const text = await mt.innerText();
    for (const h of [1, 2, 3]) expect(text).toContain(`Head ${h}: QK^h`);
    // no η_TF chart or single-task statistics for a multi-task model: a note instead
    expect(await page.locator('[data-testid=eta-chart]').count()).toBe(0);
    expect(await page.locator('[data-testid=eta-tf]').count()).toBe(0);
    expect(await page.locator('section', { hasText: 'Statistics' }).innerText()).toContain('multi-task model (tasks 0:4,2:6, n_out = 2)');
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, 'run-multitask.png'), fullPage: true });
    // the slider still redraws the snapshot heatmaps
    const before = await page.locator('[data-testid=heatmaps]').innerHTML();
    await page.locator('[data-testid=step-slider]').fill('0');
    await page.waitForFunction((b) => document.querySelector('[data-testid=heatmaps]')?.innerHTML !== b, before);
    expect(await axisLabels('[data-testid=heatmaps]')).toContain('y2');
    expect(errors).toEqual([]);
  });

  it('compares the multi-task run with a copy of itself: circuits side by side with the same labels', async () => {
    await page.goto(`${url}#/compare?path=mt&path=mt-copy`);
    await page.waitForSelector('[data-testid=compare-heatmaps] svg');
    const labels = await axisLabels('[data-testid=compare-heatmaps]');
    expect(labels).toContain('y2');
    expect(labels).not.toContain('x7');
    expect(errors).toEqual([]);
  });
});
