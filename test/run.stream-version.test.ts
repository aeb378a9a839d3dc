// Every checkpoint records the random-stream version of its run; a resume continues only on that
// stream (runs written before the field existed are version 1) and refuses another clearly.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { STREAM_VERSION } from '../src/data/rng.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { readCheckpoint } from '../src/run/checkpoint.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'icl-lab');
const tmp = mkdtempSync(join(tmpdir(), 'icl-stream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const FLAGS = ['--d', '3', '--context-length', '8', '--batch-size', '16', '--heads', '2', '--progress', 'none', '--checkpoint-every', '100', '--dynamics-every', '50', '--qk-every', '50', '--val-every', '50', '--print-every', '1000000'];
const train = (args: string[]) => spawnSync(process.execPath, [bin, 'train', ...args], { encoding: 'utf8', timeout: 60_000 });

function setStreamVersion(ckpt: string, version: string | null): void {
  const { tensors, metadata } = readSafetensors(ckpt);
  if (version === null) delete metadata.stream_version;
  else metadata.stream_version = version;
  writeSafetensors(ckpt, tensors, metadata);
}

describe('random-stream version', () => {
  it('is written to the checkpoint and run.json', () => {
    const dir = join(tmp, 'v');
    expect(train(['--out', dir, '--steps', '100', ...FLAGS]).status).toBe(0);
    expect(readCheckpoint(join(dir, 'checkpoint.safetensors')).streamVersion).toBe(STREAM_VERSION);
    expect(readSafetensors(join(dir, 'checkpoint.safetensors')).metadata.stream_version).toBe(String(STREAM_VERSION));
    expect(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).stream_version).toBe(STREAM_VERSION);
  });

  it('a checkpoint written before the field existed is version 1 and resumes bit-identically', () => {
    const straight = join(tmp, 'straight');
    const old = join(tmp, 'old');
    expect(train(['--out', straight, '--steps', '200', ...FLAGS]).status).toBe(0);
    expect(train(['--out', old, '--steps', '100', ...FLAGS]).status).toBe(0);
    setStreamVersion(join(old, 'checkpoint.safetensors'), null);
    expect(readCheckpoint(join(old, 'checkpoint.safetensors')).streamVersion).toBe(1);
    const r = train(['--resume', old, '--steps', '200', '--progress', 'none']);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['model.safetensors', 'metrics.safetensors', 'snapshots.safetensors']) {
      expect(readFileSync(join(old, f)).equals(readFileSync(join(straight, f))), f).toBe(true);
    }
  });

  it('another version is refused with a message naming both versions (exit 2, no stack trace)', () => {
    const dir = join(tmp, 'future');
    expect(train(['--out', dir, '--steps', '100', ...FLAGS]).status).toBe(0);
    setStreamVersion(join(dir, 'checkpoint.safetensors'), '99');
    const r = train(['--resume', dir, '--steps', '200', '--progress', 'none']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`random-stream version 99.*draws version ${STREAM_VERSION}`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
