/**
 * `icl-lab serve [DIR] [--port N] [--host H] [--open]`: the web lab over every run, report and
 * sweep below DIR (src/serve/), plus the in-browser playground. Read-only; binds 127.0.0.1 unless
 * told otherwise; runs until Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseNonNegativeInt } from '../options.js';
import { onInterrupt } from '../signals.js';

export interface ServeCliOptions {
  port: number;
  host: string;
  open?: boolean;
}

function parsePort(v: string): number {
  const n = parseNonNegativeInt('--port', v);
  if (n > 65535) throw new UsageError(`--port: expected a port number 0..65535 (0 = any free port), got ${v}`);
  return n;
}

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`icl-lab: could not open a browser (${cmd}); open ${url} yourself\n`));
    child.unref();
  } catch {
    process.stderr.write(`icl-lab: could not open a browser; open ${url} yourself\n`);
  }
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('web lab over the runs, reproductions and sweeps below DIR: live runs table, loss / w^h / mu^h / eta_TF figures, QK^h and OV^h heatmaps with a step slider, compare, reports, and the in-browser playground (read-only; Ctrl-C stops it)')
    .argument('[dir]', '[path] folder searched recursively for run directories, reports and sweeps', 'runs')
    .option('--port <n>', '[int] port to listen on, 0 = any free port', parsePort, 8080)
    .option('--host <h>', '[string] address to bind; 0.0.0.0 exposes the lab to your network', '127.0.0.1')
    .option('--open', '[flag] open the lab in the default browser', false)
    .action(async (dir: string, o: ServeCliOptions) => {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        throw new UsageError(`DIR ${dir} is not a directory (give the folder that holds your runs, e.g. icl-lab serve runs)`);
      }
      const { startServer, assetDir } = await import('../../serve/server.js');
      let lab;
      try {
        lab = await startServer({ root: dir, port: o.port, host: o.host });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new UsageError(`--port ${o.port} is in use; pick another (--port 0 = any free port)`);
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`--host ${o.host} is not an address of this machine`);
        throw e;
      }
      if (!assetDir()) process.stderr.write('icl-lab: the web app is not built (npm run build:web); only the API answers\n');
      process.stdout.write(`icl-lab serve: ${dir} at ${lab.url}  (playground: ${lab.url}playground.html; Ctrl-C stops)\n`);
      if (o.open) openBrowser(lab.url);
      await new Promise<void>((done) => {
        const off = onInterrupt(() => {
          off();
          void lab.close().then(done);
        });
      });
    });
}
