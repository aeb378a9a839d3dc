/**
 * python/ (issue 22 item 17): the self-contained PyTorch module loads icl-lab model files with
 * load_state_dict(strict=True) and computes what `icl-lab predict` computes; the speed peer runs.
 * The Python comes from scripts/python-env.mjs ($ICL_LAB_PYTHON, or a venv built offline from the
 * torch wheels this machine carries). Without one the test fails and says so: it never skips.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { cli, requireDist, root, tempDir, TINY } from './cli.helpers.js';

const tmp = tempDir('python-torch');

/** Uniform(-1, 1) numbers from a seed (mulberry32): test prompts without the task sampler. */
function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}
let python = '';

function py(args: string[]) {
  const r = spawnSync(python, args, { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  requireDist();
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'python-env.mjs')], { encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`no Python with torch for python/: ${r.stderr.trim()}`);
  python = r.stdout.trim();
}, 900_000);

describe('python/icl_lab_torch.py', () => {
  const cases: [string, string[]][] = [
    ['softmax, H = 2 (the seed)', ['--heads', '2']],
    ['linear attention, H = 3', ['--heads', '3', '--attention', 'linear']],
    ['two tasks (o_proj N x E*H), H = 2', ['--heads', '2', '--d', '4', '--tasks', '0:2,2:4']],
  ];
  it.each(cases)('%s: outputs equal icl-lab predict on the same prompts (float64, <= 1e-12 relative)', (_name, flags) => {
    const dir = join(tmp, flags.join('_').replace(/[^\w]/g, ''));
    const t = cli(['train', '--out', dir, ...TINY, ...flags, '--steps', '60']);
    expect(t.code, t.stderr).toBe(0);
    const prompts = join(dir, 'p.safetensors');
    if (flags.includes('--tasks')) {
      // `prompts` writes single-task prompts only (and says so for a multi-task run): tokens [x, y1, y2] by hand
      const refused = cli(['prompts', '--run', dir, '--out', prompts]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/is a multi-task run \(--tasks 0:2,2:4\); prompts writes single-task prompts/);
      const rng = mulberry(5);
      const z = Array.from({ length: 7 * 10 * 6 }, rng);
      const zq = Array.from({ length: 7 * 6 }, (_, i) => (i % 6 < 4 ? rng() : 0));
      writeSafetensors(prompts, { z: tensorF64([7, 10, 6], z), z_q: tensorF64([7, 1, 6], zq) });
    } else expect(cli(['prompts', '--run', dir, '--out', prompts, '--batch-size', '7', '--seed', '5']).code).toBe(0);
    const ours = cli(['predict', '--model', dir, '--prompts', prompts, '--json']);
    expect(ours.code, ours.stderr).toBe(0);
    const want: number[] = JSON.parse(ours.stdout).output;
    const r = py(['python/icl_lab_torch.py', dir, prompts]);
    expect(r.code, r.stderr).toBe(0);
    const got: number[] = JSON.parse(r.stdout).output;
    expect(got.length).toBe(want.length);
    expect(want.length).toBe(flags.includes('--tasks') ? 14 : 7);
    const scale = Math.max(...want.map(Math.abs));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!) / scale).toBeLessThanOrEqual(1e-12);
  }, 300_000);

  it('a stack (two layers) is refused with a message, not a traceback', () => {
    const dir = join(tmp, 'stack');
    expect(cli(['train', '--out', dir, ...TINY, '--layers', '2', '--steps', '20']).code).toBe(0);
    const r = py(['-c', `import sys; sys.path.insert(0, "python"); from icl_lab_torch import load_model\ntry:\n  load_model(${JSON.stringify(dir)})\nexcept ValueError as e:\n  print("refused:", e)`]);
    expect(r.stdout).toMatch(/^refused: .*no attention_layer\.q_proj\.weight \(a multi-layer stack is not this module\)/);
  }, 300_000);
});

describe('python/bench_torch.py', () => {
  it('times the seed step and writes its rows (the statistic is a mean over the timed steps)', () => {
    const out = join(tmp, 'bench.json');
    const r = py(['python/bench_torch.py', '--heads', '1', '2', '--steps', '30', '--warmup', '3', '--json', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/H=2: +[\d.]+ steps\/s/);
    const rows = JSON.parse(readFileSync(out, 'utf8')).rows as { H: number; steps_per_second: number; last_loss: number }[];
    expect(rows.map((x) => x.H)).toEqual([1, 2]);
    for (const x of rows) {
      expect(x.steps_per_second).toBeGreaterThan(0);
      expect(x.last_loss).toBeGreaterThan(0); // a finite MSE of the seed task (E[y_q^2] = 5 at init)
      expect(x.last_loss).toBeLessThan(50);
    }
    expect(py(['python/bench_torch.py', '--steps', '0']).code).toBe(2);
  }, 300_000);
});
