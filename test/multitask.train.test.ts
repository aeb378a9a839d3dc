/**
 * Multi-task runs end to end through the CLI: train --tasks (n_out = N, wasm engine by default), the state dict's
 * o_proj.weight (N, E*H), resume, analyze; bad task layouts give one line and exit 2.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/io/safetensors.js';
import { parseConfigObject, parseFlags, resolveConfig } from '../src/run/config.js';
import { tempDir } from './cli.helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'bin', 'icl-lab');
const dir = tempDir('mt-train');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: dir });

describe('train --tasks', () => {
  it('trains, saves o_proj (N, E*H), resumes and analyzes', () => {
    const out = join(dir, 'mt');
    const r = run('train', '--tasks', '0:2,1:3', '--d', '3', '--context-length', '6', '--batch-size', '16', '--heads', '2', '--steps', '40', '--out', out, '--progress', 'none', '--val-every', '10');
    expect(r.status, r.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).config;
    expect(cfg.tasks).toBe('0:2,1:3');
    expect(cfg.n_out).toBe(2);
    expect(cfg.engine).toBe('wasm'); // the default where dist/wasm/attention.wasm loads
    const m = readSafetensors(join(out, 'model.safetensors'));
    expect(m.tensors['attention_layer.o_proj.weight']!.shape).toEqual([2, 5 * 2]); // E = d + N = 5
    expect(m.tensors['attention_layer.q_proj.weight']!.shape).toEqual([10, 5]);
    expect(m.metadata['tasks']).toBe('0:2,1:3');
    const val = readSafetensors(join(out, 'metrics.safetensors')).tensors['val_loss']!;
    expect(val.shape).toEqual([5]); // steps 0, 10, 20, 30 and the final step 39 (always logged)
    const rr = run('train', '--resume', out, '--steps', '60', '--progress', 'none');
    expect(rr.status, rr.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).step).toBe(60);
    const a = run('analyze', out, '--json');
    expect(a.status, a.stderr).toBe(0);
    const j = JSON.parse(a.stdout);
    expect(j.tasks).toBe('0:2,1:3');
    expect(j.heads).toHaveLength(2);
    expect(j.heads[0].ov).toHaveLength(5);
    expect(j.heads[0].ov[0]).toHaveLength(2);
    // numbered from 1 and snake_case keys, as single-task runs (test/analysis.cli.test.ts)
    expect(j.heads.map((h: { head: number }) => h.head)).toEqual([1, 2]);
    const keys: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { keys.push(k); walk(x); }
    };
    walk(j);
    expect(keys.filter((k) => /[a-z][A-Z]/.test(k))).toEqual([]);
    expect(Object.keys(j.heads[0]).sort()).toEqual(['active', 'head', 'mu_task', 'ov', 'ov_share', 'qk', 'qk_exclusive', 'qk_share', 'serves', 'strength', 'w_task']);
    const text = run('analyze', out).stdout;
    expect(text).toMatch(/^Head 1: /m);
    expect(text).not.toMatch(/Head 0/);
  });

  it('--threads 2 trains the same run as --threads 1 (a multi-task model samples on its own thread)', () => {
    const bits: string[] = [];
    for (const threads of ['1', '2']) {
      const out = join(dir, `threads${threads}`);
      const r = run('train', '--tasks', '0:2,1:3', '--d', '3', '--context-length', '6', '--batch-size', '16', '--heads', '2', '--steps', '60', '--out', out, '--progress', 'none', '--threads', threads);
      expect(r.status, r.stderr).toBe(0);
      bits.push(Buffer.from(readSafetensors(join(out, 'model.safetensors')).tensors['attention_layer.o_proj.weight']!.data.buffer).toString('hex'));
    }
    expect(bits[1]).toBe(bits[0]);
  });

  it('refuses bad layouts with one line (exit 2)', () => {
    const bad = [
      [['--tasks', '0:4,2:7', '--d', '6'], /--tasks 0:4,2:7 reads x up to coordinate 7, but --d is 6/],
      [['--tasks', '0-4'], /--tasks: '0-4' is not START:END/],
      [['--tasks', '0:2,2:4', '--n-out', '3'], /--n-out 3 does not match --tasks 0:2,2:4 \(2 tasks: n_out = 2\)/],
      [['--n-out', '2'], /several outputs come with --tasks/],
    ] as const;
    for (const [args, msg] of bad) {
      const r = run('train', ...args, '--steps', '5', '--out', join(dir, 'bad'));
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('a config file may give the tasks as a list of blocks', () => {
    expect(resolveConfig(parseFlags({})).tasks).toBe('');
    const c = resolveConfig(parseConfigObject({ tasks: [[0, 4], [2, 6]], d: 6 }));
    expect(c.tasks).toBe('0:4,2:6');
    expect(c.nOut).toBe(2);
    expect(() => parseConfigObject({ tasks: [[0, 4], [5, 5]] })).toThrow(/config key "tasks": block 5:5 must satisfy 0 <= START < END/);
  });
});
