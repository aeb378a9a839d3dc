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
import { f64, readSafetensors, tensorF64, writeSafetensors } from '../src/io/safetensors.js';
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
  oldFormat(join(lab, 'mt'), join(lab, 'mt-old'));
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

/**
 * A copy of run `from` as builds before issue 22 wrote it: snapshots' ov [T, 1, H, E] (the last
 * output's column only), no per-task dynamics.
 */
function oldFormat(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
  const sp = join(to, 'snapshots.safetensors');
  const s = readSafetensors(sp);
  const [T, L, H, E, N] = s.tensors['ov']!.shape as number[];
  const ov = f64(s.tensors['ov']!);
  writeSafetensors(sp, { ...s.tensors, ov: tensorF64([T!, L!, H!, E!], Float64Array.from({ length: T! * L! * H! * E! }, (_, i) => ov[i * N! + N! - 1]!)) }, s.metadata);
  const mp = join(to, 'metrics.safetensors');
  const m = readSafetensors(mp);
  writeSafetensors(mp, Object.fromEntries(Object.entries(m.tensors).filter(([k]) => !k.endsWith('_task'))), m.metadata);
}

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
    // OV^h whole in every snapshot (issue 22 item 1): both output columns, labelled out 1 and out 2
    const heatText = await page.locator('[data-testid=heatmaps]').innerText();
    expect(heatText).toContain('OVʰ (E × 2)');
    expect(heatText).not.toContain('OVʰ[:, out 2]');
    for (const l of ['out 1', 'out 2']) expect(snapLabels).toContain(l);
    // 3 heads x (QK 8 x 8 + OV 8 x 2) cells in the snapshot heatmaps
    const snapCells = await page.locator('[data-testid=heatmaps]').evaluate((el) => el.querySelectorAll('g.mark-rect.role-mark path, g.mark-rect.role-mark rect').length);
    expect(snapCells).toBeGreaterThanOrEqual(3 * (64 + 16));
    expect(await page.locator('[data-testid=ov-one-column]').count()).toBe(0);
    // the dynamics per task: w^h_k and mu^h_k, one row of panels per task, named so
    const dyn = await page.locator('[data-testid=dynamics-chart]').innerText();
    for (const t of ['Task 1: wʰ₁(t)', 'Task 1: μʰ₁(t)', 'Task 2: wʰ₂(t)', 'Task 2: μʰ₂(t)', 'OVʰ[y2, out 2]', 'x3..x6']) expect(dyn).toContain(t);
    expect(await page.locator('section', { hasText: 'Circuit dynamics' }).locator('h2').innerText()).toContain('per task');
    // the saved weights: QK^h 8 x 8 and OV^h 8 x 2 per head, 3 heads = 3 * (64 + 16) cells
    const mt = page.locator('[data-testid=multitask-circuits]');
    const mtLabels = await axisLabels('[data-testid=multitask-circuits]');
    for (const l of ['x1', 'x6', 'y1', 'y2', 'out 1', 'out 2']) expect(mtLabels).toContain(l);
    const cells = await mt.evaluate((el) => el.querySelectorAll('g.mark-rect.role-mark path, g.mark-rect.role-mark rect').length);
    expect(cells).toBeGreaterThanOrEqual(3 * (64 + 16));
    const text = await mt.innerText();
    for (const h of [1, 2, 3]) expect(text).toContain(`Head ${h}: QKʰ`);
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

  it('draws a run of an earlier build (one OV^h column) with that column titled and a note', async () => {
    await page.goto(`${url}#/run/mt-old`);
    await page.waitForSelector('[data-testid=heatmaps] svg');
    await page.waitForSelector('[data-testid=dynamics-chart] svg');
    expect(await page.locator('[data-testid=heatmaps]').innerText()).toContain('OVʰ[:, out 2]');
    expect(await page.locator('[data-testid=ov-one-column]').innerText()).toContain('only the last output');
    const dyn = await page.locator('[data-testid=dynamics-chart]').innerText();
    expect(dyn).toContain('μʰ(t) = Σₖ OVʰ[yₖ, out k]');
    expect(dyn).not.toContain('Task 1');
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
