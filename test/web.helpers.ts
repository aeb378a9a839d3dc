/**
 * Set-up shared by the browser tests (web.e2e, web.multitask): the build and Chromium checks, the
 * CLI (one-shot and long-lived), and one headless Chromium profile.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { bin, root } from './cli.helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = join(root, 'test-output', 'web');

/** Throws with what to run when the CLI, the web app or Chromium is missing (never a silent skip). */
export function requireBrowserSetup(): void {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js')) || !existsSync(join(root, 'dist', 'web', 'index.html'))) {
    throw new Error('dist/ or dist/web/ is not built: run `npm run build` first');
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run node scripts/system-deps.mjs (apt-get install chromium)`);
  mkdirSync(SHOTS, { recursive: true });
}

/** `icl-lab ARGS`; throws with its stderr unless it exits 0. */
export function cli(args: string[], timeout = 120_000): string {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`icl-lab ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Start a long-lived icl-lab process (pushed onto `children`); resolves once `ready` matches its stdout. */
export function start(children: ChildProcess[], args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray; ms: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${ready} from icl-lab ${args.join(' ')}: ${out} ${err}`)), 30_000);
    child.stderr!.on('data', (b) => (err += b));
    child.stdout!.on('data', (b) => {
      out += b;
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m, ms: performance.now() - t0 });
      }
    });
    child.on('exit', (code) => reject(new Error(`icl-lab ${args.join(' ')} exited ${code}: ${err}`)));
  });
}

/** The URL `icl-lab serve` prints when it listens. */
export const SERVE_READY = /at (http:\/\/127\.0\.0\.1:\d+\/)/;

/** Headless Chromium with its own profile in `profileDir`. */
export function launchBrowser(profileDir: string, acceptDownloads = false): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads,
    viewport: { width: 1360, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** `icl-lab serve LAB` and one Chromium page on it at 1400 x 900, collecting the page's errors. */
export interface ServedLab {
  url: string;
  page: Page;
  errors: string[];
  /** closes the browser and kills the server */
  close(): Promise<void>;
}

export async function serveInBrowser(lab: string, profileDir: string): Promise<ServedLab> {
  const children: ChildProcess[] = [];
  const url = (await start(children, ['serve', lab, '--port', '0'], SERVE_READY)).match[1]!;
  const ctx = await launchBrowser(profileDir);
  const page = ctx.pages()[0] ?? await ctx.newPage();
  await page.setViewportSize({ width: 1400, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return {
    url, page, errors,
    close: async () => {
      await ctx.close();
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    },
  };
}
