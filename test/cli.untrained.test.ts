// analyze / evaluate / plot say so when given a run that has not trained yet (step 0).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTrainConfig } from '../src/run/config.js';
import { createRun } from '../src/run/run.js';
import { bin, root, tempDir } from './cli.helpers.js';

const tmp = tempDir('untrained');
const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
const fresh = join(tmp, 'fresh');
const trained = join(tmp, 'trained');

beforeAll(() => {
  createRun(fresh, makeTrainConfig({ d: 2, contextLength: 6, batchSize: 8, steps: 20 })); // step 0, status interrupted
  expect(cli(['train', '--out', trained, '--d', '2', '--context-length', '6', '--batch-size', '8', '--steps', '20', '--progress', 'none']).status).toBe(0);
});

describe('a step-0 run', () => {
  it.each([
    ['analyze', ['--samples', '50']],
    ['evaluate', ['--lengths', '6', '--samples', '20']],
    ['plot', ['--out', join(tmp, 'figs')]],
  ])('%s warns on stderr and still works', (cmd, extra) => {
    const r = cli([cmd, fresh, ...extra]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/icl-lab: warning: .*fresh is at step 0 \(untrained/);
  });

  it('a trained run gets no warning', () => {
    const r = cli(['analyze', trained, '--samples', '50']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
  });
});
