/**
 * Hostile names and requests against `icl-lab serve` (issue 24, items 2 and 9), in real headless
 * Chromium: a run directory named as inline HTML is text in report.md and report.html and runs no
 * script in any view (the lab's report view, the report opened on its own); the DNS-rebinding
 * Host check holds for every loopback spelling; /api/compare is bounded.
 */
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, launchBrowser, requireBrowserSetup, SERVE_READY, start } from './web.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-hostile-web-'));
const lab = join(tmp, 'lab');
const children: ChildProcess[] = [];
let browser: BrowserContext;
let url: string;
/** A folder name (no slash) that is valid inline HTML: it would retitle the lab's page if it ran. */
const PAYLOAD = `<img src=x onerror="top.document.title='pwned';document.title='pwned'">`;
const TINY = ['--d', '3', '--context-length', '10', '--batch-size', '16', '--steps', '300', '--progress', 'none'];

beforeAll(async () => {
  requireBrowserSetup();
  mkdirSync(join(lab, 'runs'), { recursive: true });
  cli(['train', '--out', join(lab, 'runs', PAYLOAD), ...TINY]);
  cli(['train', '--out', join(lab, 'runs', 'labelled'), ...TINY, '--name', PAYLOAD, '--tag', 'x:y', '--note', `${PAYLOAD} <script>top.document.title='pwned'</script> [a](javascript:top.document.title='pwned')`]);
  cli(['report', join(lab, 'runs', PAYLOAD), '--out', join(lab, 'rep'), '--lengths', '5,10', '--eval-samples', '50', '--samples', '200']);
  const s = await start(children, ['serve', lab, '--port', '0'], SERVE_READY);
  url = s.match[1]!;
  browser = await launchBrowser(join(tmp, 'profile'));
}, 180_000);
afterAll(async () => {
  await browser?.close();
  for (const c of children) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

function get(port: number, path: string, host: string, addr = '127.0.0.1'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: addr, port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('item 2: a run name that is inline HTML runs nowhere', () => {
  it('report.md and report.html show it as text', () => {
    const dir = existsSync(join(lab, 'rep', 'report.html')) ? join(lab, 'rep') : join(lab, 'rep', 'report');
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(md).toContain('&lt;img src=x onerror=');
    expect(md).not.toContain('<img src=x');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=');
  });

  it('in Chromium: the lab\'s report view and the report opened on its own keep their titles; files are served sandboxed', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}#/report/rep`);
    await page.waitForSelector('[data-testid=findings] tbody tr');
    const frame = page.frameLocator('[data-testid=report-frame]');
    await frame.locator('h1').first().waitFor();
    // the name is shown, as text, inside the report
    await frame.getByText('onerror=', { exact: false }).first().waitFor();
    const title = await page.title();
    expect(title).not.toBe('pwned');
    expect(await page.getAttribute('[data-testid=report-frame]', 'sandbox')).toBe('');
    const files = (await page.getAttribute('[data-testid=report-frame]', 'src'))!;
    const direct = await browser.newPage();
    const resp = await direct.goto(new URL(files, url).href);
    expect(resp!.headers()['content-security-policy']).toMatch(/^sandbox; default-src 'none'/);
    await direct.locator('h1').first().waitFor();
    expect(await direct.title()).toBe('icl-lab report');
    expect(errors).toEqual([]);
    await direct.close();
    await page.close();
  });
});

describe('run labels that are inline HTML run nowhere (hostile pass 2; held before: a guard)', () => {
  it('in Chromium: runs table, run view, overlay and compare show the name as text, inject no element, keep the title', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => { errors.push(`dialog ${d.message()}`); void d.dismiss(); });
    const both = `path=${encodeURIComponent(`runs/${PAYLOAD}`)}&path=runs%2Flabelled`;
    for (const [hash, ready] of [['#/', '[data-testid=run-name]'], ['#/run/runs%2Flabelled', '[data-testid=run-loss]'], [`#/overlay?${both}&metric=loss`, 'svg'], [`#/compare?${both}`, 'svg']] as const) {
      await page.goto(`${url}${hash}`);
      await page.waitForSelector(ready);
      await page.getByText('onerror=', { exact: false }).first().waitFor(); // the name, as text
      for (const el of (await page.$$('.note-mark, svg path')).slice(0, 4)) await el.hover({ timeout: 200, force: true }).catch(() => {}); // title tooltips, Vega's tooltip
      expect(await page.title(), hash).toBe('icl-lab');
      expect(await page.evaluate(() => document.querySelectorAll('img[src="x"], body script, a[href^="javascript:"]').length), hash).toBe(0);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('item 9: the Host check and /api/compare', () => {
  it('a foreign Host is refused on every loopback spelling the lab binds', async () => {
    for (const host of ['127.0.0.1', '::ffff:127.0.0.1']) {
      const s = await start(children, ['serve', lab, '--port', '0', '--host', host], /at (http:\/\/\S+)/);
      const port = Number(/:(\d+)\/?$/.exec(s.match[1]!)![1]);
      const evil = await get(port, '/api/index', 'evil.example:80');
      expect(evil.status, host).toBe(403);
      expect(evil.body).toMatch(/Host evil\.example:80 refused/);
      const ok = await get(port, '/api/index', `localhost:${port}`);
      expect(ok.status, host).toBe(200);
      s.child.kill('SIGTERM');
    }
  });

  it('/api/compare with one run 1,500 times, or over 64 runs: 400 with the reason, at once', async () => {
    const port = Number(/:(\d+)\/?$/.exec(url)![1]);
    const p = encodeURIComponent(`runs/${PAYLOAD}`);
    const t0 = Date.now();
    const dup = await get(port, `/api/compare?${Array.from({ length: 1500 }, () => 'path=a').join('&')}`, `127.0.0.1:${port}`);
    expect(dup.status).toBe(400);
    expect(JSON.parse(dup.body).error).toBe('compare takes at most 64 runs, got 1500');
    const two = await get(port, `/api/compare?path=${p}&path=${p}`, `127.0.0.1:${port}`);
    expect(two.status).toBe(400);
    expect(JSON.parse(two.body).error).toMatch(/is given twice; compare each run once/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
