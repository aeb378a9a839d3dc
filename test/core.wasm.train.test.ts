// Training on the wasm engine: config field `engine` (default wasm when the module loads),
// trajectories next to the TS engine, bit-identical resume within the engine, run.json/CLI.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeKernels, wasmAvailable } from '../src/io/wasm.js';
import { readCheckpoint, writeCheckpoint } from '../src/run/checkpoint.js';
import { configFromJson, configToJson, parseFlags, resolveConfig, type TrainConfig } from '../src/run/config.js';
import { createState, ensureCapacity, restoreState, resumable, runSteps } from '../src/run/loop.js';
import { relErr } from './fixtures.helpers.js';
import { bin, root, tempDir } from './cli.helpers.js';

const tmp = tempDir('wasm-train');
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'wasm', 'attention.wasm'))) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
});

function small(extra: Record<string, string> = {}): TrainConfig {
  return resolveConfig(parseFlags({
    d: '3', contextLength: '10', batchSize: '16', steps: '300', dynamicsEvery: '10', qkEvery: '20', valEvery: '10',
    printEvery: '100', lossEvery: '10', seed: '7', ...extra,
  }), new Set(), { wasmAvailable: wasmAvailable() });
}
const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('config field engine', () => {
  it('defaults to wasm when the module loads (one layer and a stack); ts on request; old run.json = ts', () => {
    expect(wasmAvailable()).toBe(true);
    expect(small().engine).toBe('wasm');
    expect(small({ engine: 'ts' }).engine).toBe('ts');
    expect(small({ layers: '2' }).engine).toBe('wasm');
    expect(small({ layers: '2', engine: 'ts' }).engine).toBe('ts');
    expect(() => small({ engine: 'gpu' })).toThrow(/--engine/);
    const json = configToJson(small());
    expect(json.engine).toBe('wasm');
    expect(configFromJson(json).engine).toBe('wasm');
    const { engine: _e, ...old } = json;
    expect(configFromJson(old).engine).toBe('ts'); // runs from before the field: trained on the TS kernel
  });
});

describe('training on the wasm engine', () => {
  it('300 steps: losses and weights within 1e-9 of the ts engine (Adam, H=3)', () => {
    const a = createState(small({ engine: 'ts', heads: '3' }), nodeKernels());
    const b = createState(small({ engine: 'wasm', heads: '3' }), nodeKernels());
    runSteps(a, 300);
    runSteps(b, 300);
    expect(relErr(b.logs.trainLoss, a.logs.trainLoss)).toBeLessThan(1e-9);
    expect(relErr(b.logs.valLoss.subarray(0, b.logs.nVal), a.logs.valLoss.subarray(0, a.logs.nVal))).toBeLessThan(1e-9);
    expect(relErr(b.model.theta, a.model.theta)).toBeLessThan(1e-9);
    expect(bits(b.model.theta)).not.toBe(bits(a.model.theta)); // two engines, not the same code path
  });

  it('resume is bit-identical within the engine: 300 straight == 150 + checkpoint + 150', () => {
    const c = small({ engine: 'wasm' });
    const a = createState(c, nodeKernels());
    runSteps(a, 300);
    const b0 = createState({ ...c, steps: 150 }, nodeKernels());
    runSteps(b0, 150);
    const path = join(tmp, 'ck.safetensors');
    writeCheckpoint(path, b0.config, resumable(b0));
    const ck = readCheckpoint(path);
    expect(ck.config.engine).toBe('wasm');
    const b = restoreState(c, ck, b0.logs, nodeKernels());
    ensureCapacity(b, 300);
    runSteps(b, 300);
    expect(bits(b.model.theta)).toBe(bits(a.model.theta));
    expect(bits(b.logs.trainLoss)).toBe(bits(a.logs.trainLoss));
    expect(bits(b.logs.qkDynamics)).toBe(bits(a.logs.qkDynamics));
  });

  it('icl-lab train stores engine in run.json; --engine ts is honoured', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
    for (const engine of ['wasm', 'ts']) {
      const out = join(tmp, `run-${engine}`);
      const r = run('train', '--steps', '30', '--d', '3', '--context-length', '8', '--batch-size', '8', '--engine', engine, '--out', out, '--progress', 'none');
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).config.engine).toBe(engine);
    }
    const d = join(tmp, 'run-default');
    expect(run('train', '--steps', '10', '--d', '2', '--context-length', '4', '--batch-size', '4', '--out', d, '--progress', 'none').status).toBe(0);
    expect(JSON.parse(readFileSync(join(d, 'run.json'), 'utf8')).config.engine).toBe('wasm');
  });
});
