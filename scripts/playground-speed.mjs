#!/usr/bin/env node
// The playground's training speed in headless Chromium against `icl-lab bench --heads 2 --no-stack`
// on the same machine, interleaved: bench, playground, bench, playground, bench.
// Usage: node scripts/playground-speed.mjs [seconds per measurement, default 8]. Needs npm run build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.argv[2] ?? 8);
const web = join(root, 'dist', 'web');
if (!existsSync(join(web, 'playground.html'))) throw new Error('dist/web is not built: npm run build');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
const site = createServer((req, res) => {
  const p = join(web, (req.url ?? '/').split('?')[0].replace(/\.\.+/g, ''));
  if (!existsSync(p)) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': types[p.slice(p.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(readFileSync(p));
});
await new Promise((r) => site.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${site.address().port}/playground.html`;
const profile = mkdtempSync(join(tmpdir(), 'icl-speed-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = ctx.pages()[0] ?? await ctx.newPage();

function bench() {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'icl-lab'), 'bench', '--heads', '2', '--no-stack', '--seconds', String(seconds), '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout).rows[0].stepsPerSecond;
}
async function playground() {
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('[data-testid=pg-status]')?.textContent === 'idle');
  await page.fill('[data-testid=pg-steps]', '1000000');
  await page.locator('[data-testid=pg-steps]').dispatchEvent('change');
  await page.click('[data-testid=pg-train]');
  await page.waitForTimeout(1000); // warm-up
  const read = async () => ({ t: performance.now(), step: Number((await page.locator('[data-testid=pg-step]').innerText()).replace(/,/g, '')) });
  const a = await read();
  await page.waitForTimeout(seconds * 1000);
  const b = await read();
  await page.click('[data-testid=pg-pause]');
  return ((b.step - a.step) * 1000) / (b.t - a.t);
}

const rows = [];
rows.push(['bench', bench()]);
for (let i = 0; i < 2; i++) {
  rows.push(['playground', await playground()]);
  rows.push(['bench', bench()]);
}
await ctx.close();
site.close();
rmSync(profile, { recursive: true, force: true });
for (const [what, sps] of rows) console.log(`${what.padEnd(11)} ${Math.round(sps)} steps/s`);
const mean = (k) => rows.filter((r) => r[0] === k).reduce((s, r) => s + r[1], 0) / rows.filter((r) => r[0] === k).length;
console.log(`playground / bench = ${(mean('playground') / mean('bench') * 100).toFixed(0)} % (H = 2, d = 5, L = 40, B = 128, Adam; wasm engine in both; ${seconds} s each, interleaved)`);
