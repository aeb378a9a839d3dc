/**
 * A second hostile pass over the surfaces of issue 22/24 (run labels, the lock files of runs and
 * sweeps, sweep --dry-run's estimate): each case here broke on the build before it (checked by hand
 * with that build; see docs/readme/hardening.md "Labels, locks and the estimate").
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLabels, labelsFromJson, MAX_NAME } from '../src/run/labels.js';
import { cli, requireDist, tempDir } from './cli.helpers.js';

requireDist();
const tmp = tempDir('surfaces');
const SMALL = ['--d', '2', '--context-length', '4', '--batch-size', '4', '--steps', '20', '--progress', 'none'];
const oneLine = (s: string) => s.trim().split('\n');

describe('run labels', () => {
  it('refuse bidirectional overrides and names with nothing visible; the message shows them escaped', () => {
    const r = cli(['train', '--out', join(tmp, 'x'), '--steps', '3', '--name', '\u202eevil'], { timeout: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('icl-lab: --name "\\u202eevil" has a bidirectional override or isolate (U+202A..U+202E, U+2066..U+2069), which reorders the text shown after it; a run name is one line of at most 200 characters\n');
    expect(r.stderr).not.toContain('\u202e'); // printed raw it would reorder the terminal line
    expect(() => checkLabels({ name: '\u200b\u200d \u2060' })).toThrow(/has no visible character/);
    expect(() => checkLabels({ note: 'a\u2066b' })).toThrow(/--note has a bidirectional override/);
    // what stays allowed: emoji sequences (ZWJ), Persian's ZWNJ, right-to-left script, marks
    expect(checkLabels({ name: '👨‍👩‍👧 سلام‌ها é' }).name).toBe('👨‍👩‍👧 سلام‌ها é');
  });

  it('count characters, not UTF-16 units: 200 emoji are a name, 201 are not', () => {
    expect(checkLabels({ name: '😀'.repeat(MAX_NAME) }).name).toBe('😀'.repeat(MAX_NAME));
    expect(() => checkLabels({ name: '😀'.repeat(MAX_NAME + 1) })).toThrow(/is 201 characters long \(at most 200\)/);
  });

  it('a hand-edited run.json with a huge or wrong-typed label: one short line naming the field, in every reader', () => {
    const msg = labelsFromJson({ name: '<b>'.repeat(3_000_000) }) as string;
    expect(msg.length).toBeLessThan(200); // was the whole 9 MB name, in /api/index and on stderr
    expect(msg).toMatch(/^name "(<b>){20}…" is 9000000 characters long/);
    expect(labelsFromJson({ note: { x: 1 } })).toBe('note is {"x":1}, not a string; a note is text of at most 10000 characters');
    const run = join(tmp, 'edited');
    expect(cli(['train', '--out', run, ...SMALL], { timeout: 60_000 }).code).toBe(0);
    const j = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(run, 'run.json'), JSON.stringify({ ...j, name: 123, tags: 'x' }));
    // export tensorboard read run.json unchecked: "icl-lab: error: s.replace is not a function", exit 1
    const r = cli(['export', 'tensorboard', run, '--out', join(tmp, 'tb')], { timeout: 60_000 });
    expect(oneLine(r.stderr)).toEqual([`icl-lab: ${join(run, 'run.json')}: name 123 is not a string; a run name is one line of at most 200 characters`]);
    expect(r.code).toBe(2);
  });
});

describe('lock files that are not lock files', () => {
  it('a directory at DIR/.icl-lab.lock is refused (was: the sweep ran holding no lease at all)', () => {
    const dir = join(tmp, 'lockdir');
    mkdirSync(join(dir, '.icl-lab.lock'), { recursive: true });
    const r = cli(['sweep', '--grid', 'heads=1,2', ...SMALL, '--out', dir], { timeout: 60_000 });
    expect(r.stderr).toBe(`icl-lab: ${dir}: the lock ${join(dir, '.icl-lab.lock')} is a directory, not a lock file; remove it (no icl-lab process uses it) and run the command again\n`);
    expect(r.code).toBe(2);
  });

  it('a FIFO at D/.icl-lab.lock is refused at once (was: train blocked in the read for ever, deaf to SIGTERM)', () => {
    const dir = join(tmp, 'lockfifo');
    mkdirSync(dir);
    execFileSync('mkfifo', [join(dir, '.icl-lab.lock')]);
    const r = cli(['train', '--out', dir, ...SMALL], { timeout: 20_000 });
    expect(r.signal).toBe(null);
    expect(r.stderr).toBe(`icl-lab: ${dir}: the lock ${join(dir, '.icl-lab.lock')} is a FIFO, not a lock file; remove it (no icl-lab process uses it) and run the command again\n`);
    expect(r.code).toBe(2);
  });
});

describe('sweep --dry-run estimate', () => {
  it('a shape too large for WebAssembly memory is one line with the remedy (was: a raw WebAssembly.Memory.grow() error, exit 1)', () => {
    const r = cli(['sweep', '--grid', 'heads=4,8', '--d', '1024', '--context-length', '1000', '--batch-size', '97', '--steps', '10', '--qk-every', '100000', '--dry-run', '--out', join(tmp, 'huge')], { timeout: 60_000 });
    expect(r.stdout).toContain('total: 20 steps over 2 run(s)');
    expect(oneLine(r.stderr).at(-1)).toMatch(/^icl-lab: the wasm engine would need 1\.\d\d GiB of WebAssembly memory for one call .*more than its memory can hold .*; lower --batch-size or --val-samples, --context-length, --d or --heads, or train with --engine ts$/);
    expect(r.code).toBe(2);
  });
});

describe('train on a shape too large for WebAssembly memory', () => {
  it('is one line with the remedy and leaves the run interrupted with its resume command, not running with a dead pid', () => {
    const out = join(tmp, 'huge-train');
    const r = cli(['train', '--heads', '8', '--d', '1024', '--context-length', '1000', '--batch-size', '97', '--steps', '10', '--qk-every', '100000', '--out', out], { timeout: 60_000 });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr).at(-1)).toMatch(/^icl-lab: the wasm engine would need 1\.\d\d GiB of WebAssembly memory/);
    const j = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(j.status).toBe('interrupted');
    expect(j.step).toBe(0);
    expect(j.resume_command).toBe(`node bin/icl-lab train --resume ${out}`);
  });
});

describe('reproduce --seeds', () => {
  it('a count past 4,096 runs is refused before anything is made (was: 100,000 run folders, then training, deaf to SIGTERM)', () => {
    const out = join(tmp, 'rx');
    const r = cli(['reproduce', '--experiment', 'anisotropic', '--seeds', '100000', '--out', out], { timeout: 20_000 });
    expect(r.stderr).toBe('icl-lab: --seeds 100000: 100000 seeds x 1 run(s) of anisotropic = 100000 runs; at most 4096 (4096 seeds of this experiment)\n');
    expect(r.code).toBe(2);
    expect(existsSync(out)).toBe(false);
    const s = cli(['reproduce', '--seeds', '2000', '--out', out], { timeout: 20_000 });
    expect(s.stderr).toBe('icl-lab: --seeds 2000: 2000 seeds x 4 run(s) of seed = 8000 runs; at most 4096 (1024 seeds of this experiment)\n');
  });
});
