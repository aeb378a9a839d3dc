/**
 * issue 12, misleading output 9: one Ctrl-C was lost in `reproduce` (exit 0, the job ran to the end).
 * The window: an interrupt after training (runs already complete, or a rerun that goes straight to the
 * report) was recorded but nothing looked at it. SIGINT at many points of reproduce's start-up and of
 * its report phase must always end the process with 130 (or kill it before its handler exists), never
 * run to the end; and the same command afterwards finishes the job.
 * Through the compiled CLI (run `npx tsc -p tsconfig.json` first).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, root, tempDir } from './cli.helpers.js';

const tmp = tempDir('sigint');

const args = (out: string) => ['reproduce', '--out', out, '--steps', '1000', '--context-length', '1:80:7', '--eval-samples', '300', '--samples', '1000', '--progress', 'none', '--jobs', '2'];

interface Ended { code: number | null; signal: NodeJS.Signals | null; stderr: string }

/** Start reproduce; send SIGINT after `delayMs`, or when stderr first shows `when` (then after delayMs more). */
function interrupt(out: string, delayMs: number, when?: RegExp): Promise<Ended> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args(out)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sent = false;
    const send = () => {
      if (!sent) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), delayMs);
      }
    };
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (when && when.test(stderr)) send();
    });
    if (!when) send();
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

const interrupted = (e: Ended) => e.code === 130 || (e.code === null && e.signal === 'SIGINT');

describe('reproduce: every SIGINT is honoured', () => {
  it('fresh start: SIGINT at 0.05 and 0.5 s and at each phase line stops it (130), and the same command then completes', async () => {
    const out = join(tmp, 'fresh');
    const tries: [number, RegExp?][] = [[50], [500], [0, /training H|continuing/], [0, /measuring/], [0, /drawing figures/]];
    for (const [ms, when] of tries) {
      const e = await interrupt(out, ms, when);
      expect(interrupted(e), `SIGINT ${when ? `at ${when}` : `after ${ms} ms`}: exit ${e.code} ${e.signal}\n${e.stderr}`).toBe(true);
      if (when?.source === 'training H|continuing') expect(e.stderr).toMatch(/interrupted; continue with:\n  node bin\/icl-lab reproduce --out \S+ --steps 1000\n/);
    }
    const done = await new Promise<number | null>((resolve) => spawn(process.execPath, [bin, ...args(out)], { stdio: 'ignore' }).on('exit', resolve));
    expect([0, 1]).toContain(done); // completed (1 = a finding failed on these short runs)
  }, 300_000);

  it('runs already complete (straight to the report): SIGINT at 0.3 and 1.5 s and at each report line stops it with 130 and a resume hint', async () => {
    const out = join(tmp, 'fresh'); // completed by the previous test
    for (const [ms, when] of [[300], [1500], [0, /measuring/], [100, /evaluating error/], [0, /drawing figures/]] as [number, RegExp?][]) {
      const e = await interrupt(out, ms, when);
      expect(interrupted(e), `SIGINT ${when ? `at ${when}` : `after ${ms} ms`}: exit ${e.code} ${e.signal}\n${e.stderr}`).toBe(true);
      if (e.code === 130 && /while writing the report/.test(e.stderr)) expect(e.stderr).toMatch(/\n  node bin\/icl-lab reproduce --out \S+ --steps 1000\n/);
    }
  }, 300_000);
});
