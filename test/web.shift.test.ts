/// <reference lib="dom" />
/**
 * The run view's shifted prompts (issue 19) in real headless Chromium: the error-vs-L panel's shift
 * controls, api/evaluate's numbers against `icl-lab evaluate --json` with the same shift, prompts,
 * seed and lengths, the shift in the URL (a reload restores it), and api/evaluate's bad input.
 * Needs the built CLI and web app (npm run build). Screenshot: test-output/web/run-shift.png.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShiftedEvaluation } from '../src/serve/api.js';
import { cli, launchBrowser, requireBrowserSetup, SERVE_READY, SHOTS, start } from './web.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-shift-'));
const lab = join(tmp, 'lab');
const run = join(lab, 'r1');
const children: ChildProcess[] = [];
let ctx: BrowserContext;
let page: Page;
let url = '';

beforeAll(async () => {
  requireBrowserSetup();
  mkdirSync(lab, { recursive: true });
  cli(['train', '--out', run, '--heads', '2', '--d', '5', '--context-length', '20', '--steps', '3000', '--qk-every', '500', '--dynamics-every', '50', '--val-every', '500', '--progress', 'none']);
  cli(['evaluate', run, '--context-length', '1,2,5,10,20,40', '--samples', '500', '--out', join(run, 'evaluation.json')]);
  const s = await start(children, ['serve', lab, '--port', '0'], SERVE_READY);
  url = s.match[1]!;
  ctx = await launchBrowser(join(tmp, 'profile'));
  page = ctx.pages()[0] ?? await ctx.newPage();
  await page.setViewportSize({ width: 1400, height: 900 });
  page.on('pageerror', (e) => console.error('page error:', e.message));
}, 180_000);

afterAll(async () => {
  await ctx?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

type EvalJson = ShiftedEvaluation['result'];

/** `icl-lab evaluate r1 --FLAG VALUE` at api/evaluate's prompts, seed and lengths. */
function evaluateCli(flag: string, value: string, r: EvalJson): EvalJson {
  return JSON.parse(cli(['evaluate', run, `--${flag}`, value, '--samples', String(r.samples), '--seed', String(r.seed), '--context-length', r.lengths.join(','), '--json'])) as EvalJson;
}

/** The server's numbers are the CLI's, bit for bit (both JSON: NaN is null in both). */
function expectSameNumbers(api: EvalJson, ref: EvalJson): void {
  expect(api.lengths).toEqual(ref.lengths);
  expect(Object.keys(api.methods)).toEqual(Object.keys(ref.methods));
  for (const [name, m] of Object.entries(ref.methods)) {
    expect(api.methods[name]!.mse, name).toEqual(m.mse);
    expect(api.methods[name]!.stderr, name).toEqual(m.stderr);
  }
  expect(api.models.map((m) => [m.name, m.out_of_distribution])).toEqual(ref.models.map((m) => [m.name, m.out_of_distribution]));
  expect(api.tasks).toEqual(ref.tasks);
}

/** The rows a Vega-Lite spec plots ({L, method, mse, ...}), wherever its data sits. */
function plottedRows(spec: unknown): { L: number; method: string; mse: number }[] {
  const out: { L: number; method: string; mse: number }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o['values']) && (o['values'] as Record<string, unknown>[])[0]?.['mse'] !== undefined) out.push(...(o['values'] as { L: number; method: string; mse: number }[]));
      else Object.values(o).forEach(walk);
    }
  };
  walk(spec);
  return out;
}

const evaluateResponse = (value: string) => (r: Response) => r.url().includes('api/evaluate') && r.url().includes(`value=${encodeURIComponent(value)}`);

describe('shifted prompts in the run view', () => {
  it('picks a shift: the title names it, the model is out of distribution, the numbers are evaluate --json\'s; a reload restores it', async () => {
    await page.goto(`${url}#/run/r1`);
    await page.waitForSelector('[data-testid=evaluation-chart] svg');
    expect(await page.getByTestId('evaluation-title').innerText()).toBe('Error against context length');
    await page.getByTestId('shift-kind').selectOption('x-scale');
    expect(await page.getByTestId('shift-value').inputValue()).toBe('2');
    const answered = page.waitForResponse(evaluateResponse('3'));
    await page.getByTestId('shift-value').fill('3');
    await page.getByTestId('shift-value').press('Tab'); // commits the value (change event)
    const body = (await (await answered).json()) as ShiftedEvaluation;
    await page.waitForSelector('[data-testid=shift-chart] svg');
    expect(await page.getByTestId('evaluation-title').innerText()).toBe('Error against context length, shifted prompts: x ×3');
    expect(await page.getByTestId('shift-ood').innerText()).toBe('r1: OUT OF DISTRIBUTION, trained on d=5, preset seed, noise_std 0.01, rho 0');
    const legend = await page.locator('[data-testid=shift-chart] svg.marks').innerHTML();
    expect(legend).toContain('r1 (out of distribution)');
    expect(await page.getByTestId('shift-command').innerText()).toContain('evaluate r1 --x-scale 3 --samples 2000 --seed 0 --context-length 1,2,5,10,20,40 --json');
    expect([body.result.samples, body.result.seed, body.result.nested]).toEqual([2000, 0, true]); // evaluate's seed, nested prompts
    expect(body.result.lengths).toEqual([1, 2, 5, 10, 20, 40]); // the panel's lengths (evaluation.json)
    expect(body.result.models[0]!.out_of_distribution).toBe(true);
    expect(body.result.tasks[0]!.shift).toEqual({ x_scale: 3, beta_scale: 1, query: null });
    const ref = evaluateCli('x-scale', '3', body.result);
    expectSameNumbers(body.result, ref);
    // what the chart draws: the model's curve at 6 significant digits (plots/theme.ts round)
    const drawn = plottedRows(body.evaluation).filter((r) => r.method === 'r1 (out of distribution)');
    expect(drawn.map((r) => r.L)).toEqual(ref.lengths);
    drawn.forEach((r, i) => expect(Math.abs(r.mse - ref.methods['r1']!.mse[i]!) / ref.methods['r1']!.mse[i]!).toBeLessThan(1e-5));
    // the shift is in the URL: a reload (or the copied link) reopens the same view
    expect(new URLSearchParams(await page.evaluate(() => location.hash.split('?')[1] ?? '')).toString()).toBe('shift=x-scale&value=3');
    await page.getByTestId('error-vs-length').scrollIntoViewIfNeeded();
    await page.waitForTimeout(300); // let the chart finish drawing
    await page.screenshot({ path: join(SHOTS, 'run-shift.png') });
    await page.reload();
    await page.waitForSelector('[data-testid=shift-chart] svg');
    expect(await page.getByTestId('shift-kind').inputValue()).toBe('x-scale');
    expect(await page.getByTestId('shift-value').inputValue()).toBe('3');
    expect(await page.getByTestId('evaluation-title').innerText()).toBe('Error against context length, shifted prompts: x ×3');
    // back to no shift: the run's own evaluation, and the hash loses the shift
    await page.getByTestId('shift-kind').selectOption('none');
    await page.waitForSelector('[data-testid=evaluation-chart] svg');
    expect(await page.evaluate(() => location.hash)).toBe('#/run/r1');
  }, 120_000);

  it('queries from the opposite orthant (a select of the kinds), and another rho through the API: evaluate --json\'s numbers', async () => {
    await page.goto(`${url}#/run/r1`);
    await page.waitForSelector('[data-testid=evaluation-chart] svg');
    const answered = page.waitForResponse(evaluateResponse('opposite-orthant'));
    await page.getByTestId('shift-kind').selectOption('query');
    const body = (await (await answered).json()) as ShiftedEvaluation;
    await page.waitForSelector('[data-testid=shift-chart] svg');
    expect(await page.getByTestId('shift-value').inputValue()).toBe('opposite-orthant');
    expect(await page.getByTestId('evaluation-title').innerText()).toBe('Error against context length, shifted prompts: queries opposite-orthant');
    expectSameNumbers(body.result, evaluateCli('query', 'opposite-orthant', body.result));
    // rho is a task of its own (not data/shift.ts): out of distribution because it differs from training's 0
    const res = await fetch(`${url}api/evaluate?path=r1&shift=rho&value=0.50`);
    expect(res.status).toBe(200);
    const rho = (await res.json()) as ShiftedEvaluation;
    expect([rho.value, rho.label, rho.result.rho, rho.result.models[0]!.out_of_distribution]).toEqual(['0.5', 'rho 0.5', 0.5, true]);
    expectSameNumbers(rho.result, evaluateCli('rho', '0.5', rho.result));
  }, 120_000);

  it('api/evaluate refuses bad input with 400 and one line naming what is allowed', async () => {
    const get = async (q: string) => {
      const r = await fetch(`${url}api/evaluate?${q}`);
      return [r.status, ((await r.json()) as { error: string }).error];
    };
    expect(await get('path=r1&shift=x-scal&value=2')).toEqual([400, 'unknown ?shift=x-scal; allowed: x-scale, beta-scale, noise-std, rho, query. did you mean "x-scale"?']);
    expect(await get('path=r1&value=2')).toEqual([400, 'missing ?shift= (one of x-scale, beta-scale, noise-std, rho, query)']);
    expect(await get('path=r1&shift=x-scale')).toEqual([400, 'missing ?value= (x-scale takes a number > 0 (every x times it))']);
    expect(await get('path=r1&shift=x-scale&value=-1')).toEqual([400, '?value=-1: x-scale takes a number > 0 (every x times it)']);
    expect(await get('path=r1&shift=rho&value=1')).toEqual([400, '?value=1: rho takes a number in [0, 1) (x covariance rho^|i-j|)']);
    expect(await get('path=r1&shift=noise-std&value=abc')).toEqual([400, '?value=abc: noise-std takes a number >= 0 (the noise_std of the prompts)']);
    expect(await get('path=r1&shift=query&value=orthogonall')).toEqual([400, '?value=orthogonall is not a query shift; query takes opposite-orthant or orthogonal. did you mean "orthogonal"?']);
    expect(await get('shift=x-scale&value=2')).toEqual([400, 'missing ?path= (the run\'s path below the served folder)']);
    // the run must be one below the served folder
    expect(await get('path=..%2F..&shift=x-scale&value=2')).toEqual([403, 'outside the served folder: ../..']);
    expect(await get('path=r2&shift=x-scale&value=2')).toEqual([404, 'not found: r2']);
    // the page shows the reason
    await page.goto(`${url}#/run/r1?shift=rho&value=2`);
    expect(await page.getByTestId('shift-error').innerText()).toBe('?value=2: rho takes a number in [0, 1) (x covariance rho^|i-j|)');
  }, 60_000);
});
