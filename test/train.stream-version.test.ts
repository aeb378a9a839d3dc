// Stream versions (src/data/stream.ts): new runs record stream_version 2; a run of an earlier build
// (no stream_version anywhere = version 1) resumes bit-identically with the version-1 sampler; a
// version this build does not know is refused with one clear line naming both.
import { nodeKernels } from '../src/io/wasm.js';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { readCheckpoint } from '../src/run/checkpoint.js';
import { parseFlags, resolveConfig, type TrainConfig } from '../src/run/config.js';
import { createState, runSteps } from '../src/run/loop.js';
import { makeRunDir, saveState } from '../src/run/run-dir.js';
import { createRun, resumeCommand, runSession } from '../src/run/run.js';
import { parseStreamVersion } from '../src/data/stream.js';
import { root, tempDir } from './cli.helpers.js';

const tmp = tempDir('stream-version');

function small(engine: string): TrainConfig {
  return resolveConfig(parseFlags({
    d: '3', contextLength: '10', batchSize: '16', steps: '120', dynamicsEvery: '10', qkEvery: '20', valEvery: '10',
    printEvery: '100', lossEvery: '10', seed: '5', engine,
  }));
}
const runJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** A run directory as an earlier build wrote it: version-1 stream, no stream_version in run.json or the checkpoint. */
function oldRun(dir: string, c: TrainConfig, steps: number): void {
  makeRunDir(dir);
  const s = createState(c, nodeKernels(), 1);
  runSteps(s, steps);
  saveState(dir, s, { status: 'interrupted', createdAt: new Date().toISOString(), wallSeconds: 1, stepsPerSecond: 1, sessions: 1, resumeCommand: resumeCommand(dir) });
  const r = runJson(dir);
  delete r.stream_version;
  writeFileSync(join(dir, 'run.json'), JSON.stringify(r));
  const ck = join(dir, 'checkpoint.safetensors');
  const { tensors, metadata } = readSafetensors(ck);
  delete metadata.stream_version;
  writeSafetensors(ck, tensors, metadata);
}

function setCheckpointVersion(dir: string, v: string): void {
  const ck = join(dir, 'checkpoint.safetensors');
  const { tensors, metadata } = readSafetensors(ck);
  metadata.stream_version = v;
  writeSafetensors(ck, tensors, metadata);
}

describe('stream_version', () => {
  it('parses: absent = 1, "1"/"2"/1/2 accepted, anything else refused naming both versions', () => {
    expect(parseStreamVersion(undefined, 'x')).toBe(1);
    expect(parseStreamVersion('2', 'x')).toBe(2);
    expect(parseStreamVersion(1, 'x')).toBe(1);
    expect(() => parseStreamVersion('3', 'checkpoint')).toThrow(/checkpoint: stream_version "3" is not known to this build of icl-lab \(it knows versions 1 and 2\)/);
    expect(() => parseStreamVersion('two', 'run.json')).toThrow(/stream_version "two"/);
  });

  it.each(['ts', 'wasm'])('engine %s: a new run records version 2 in run.json and the checkpoint', async (engine) => {
    const dir = join(tmp, `new-${engine}`);
    createRun(dir, small(engine));
    await runSession(dir, 'new', 30);
    expect(runJson(dir).stream_version).toBe(2);
    expect(readSafetensors(join(dir, 'checkpoint.safetensors')).metadata.stream_version).toBe('2');
    const ck = readCheckpoint(join(dir, 'checkpoint.safetensors'));
    expect(ck.streamVersion).toBe(2);
    expect(ck.rng).toHaveLength(16);
  });

  it.each(['ts', 'wasm'])('engine %s: a run of an earlier build (no stream_version) resumes bit-identically on the version-1 stream', async (engine) => {
    const c = small(engine);
    const straight = createState(c, nodeKernels(), 1);
    runSteps(straight, 120);
    const dir = join(tmp, `old-${engine}`);
    oldRun(dir, c, 50);
    expect(runJson(dir).stream_version).toBeUndefined();
    expect(readCheckpoint(join(dir, 'checkpoint.safetensors')).streamVersion).toBe(1);
    const sum = await runSession(dir, 'old', 120);
    expect(sum.status).toBe('completed');
    const ck = readCheckpoint(join(dir, 'checkpoint.safetensors'));
    expect(ck.streamVersion).toBe(1); // the run keeps its own version
    expect(ck.rng).toEqual(straight.stream.getState());
    expect(bits(ck.theta)).toBe(bits(straight.model.theta));
    expect(runJson(dir).stream_version).toBe(1);
    // and it differs from the same config on version 2 (the versions really are different streams)
    const v2 = createState(c, nodeKernels(), 2);
    runSteps(v2, 120);
    expect(bits(v2.model.theta)).not.toBe(bits(straight.model.theta));
  });

  it('a version this build does not know is refused: one line naming both versions, exit 2, the run untouched', () => {
    const dir = join(tmp, 'future');
    createRun(dir, small('wasm'));
    setCheckpointVersion(dir, '3');
    const before = readFileSync(join(dir, 'checkpoint.safetensors'));
    const r = spawnSync(process.execPath, [join(root, 'bin', 'icl-lab'), 'train', '--resume', dir], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/stream_version "3" is not known to this build of icl-lab \(it knows versions 1 and 2\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(join(dir, 'checkpoint.safetensors')).equals(before)).toBe(true);
  });

  it('run.json and the checkpoint disagreeing on the version is refused', async () => {
    const dir = join(tmp, 'disagree');
    createRun(dir, small('ts'));
    setCheckpointVersion(dir, '1');
    // the 16-number state does not fit version 1: refused as a bad checkpoint
    await expect(runSession(dir, 'x', 10)).rejects.toThrow(/RNG state must be an array of 6 numbers/);
    const r = runJson(dir);
    r.stream_version = 1;
    writeFileSync(join(dir, 'run.json'), JSON.stringify(r));
    setCheckpointVersion(dir, '2');
    await expect(runSession(dir, 'x', 10)).rejects.toThrow(/run.json says stream_version 1 but the checkpoint says 2/);
  });
});
