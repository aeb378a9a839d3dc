/**
 * A reader that stops early (`icl-lab sweep --dry-run | head -2`) closes stdout's pipe: the command
 * drops the rest of its output and ends as it would have (exit 0 here), with no EPIPE stack trace.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bin, requireDist, tempDir } from './cli.helpers.js';

const tmp = tempDir('epipe');
beforeAll(() => requireDist());

describe('stdout closed by its reader', () => {
  it('sweep --dry-run of 3,000 runs read for its first lines only: exit 0, nothing on stderr', async () => {
    // 3,000 run lines (~150 KB) are more than a pipe holds, so writes are still to come when the reader leaves
    const child = spawn(process.execPath, [bin, 'sweep', '--seeds', '3000', '--out', join(tmp, 'dry'), '--dry-run', '--no-estimate'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let first = '';
    child.stdout.once('data', (d) => {
      first = String(d);
      child.stdout.destroy(); // as head does after its lines
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(first).toMatch(/^3000 runs, all valid \(nothing created\):/);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
