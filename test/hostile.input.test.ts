/**
 * Hostile input to predict / analyze / evaluate / train (issue 12, items 3, 4, 5, 6, 7, 10): every
 * case is one line on stderr, exit 2, fast (no out-of-memory abort, no hang), naming the path and
 * what to do.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensorF32, writeSafetensors } from '../src/io/safetensors.js';
import { cli, NOBODY, oneLine, publicCli, requireDist, requireOpenToOthers, tempDir, TINY } from './cli.helpers.js';

const tmp = tempDir('hostile-input');
const at = (f: string) => join(tmp, f);
const E = 3;
const w = (rows = E) => tensorF32([rows, E], new Float32Array(rows * E).fill(0.1));

beforeAll(() => {
  requireDist();
  expect(cli(['train', '--out', at('run'), '--steps', '20', ...TINY]).code).toBe(0); // d = 3
  writeSafetensors(at('prompts.safetensors'), { z: tensorF32([2, 4, E], new Float32Array(2 * 4 * E).fill(0.5)), z_q: tensorF32([2, 1, E]), y_q: tensorF32([2, 1, 1]) });
});
const copies: string[] = []; // copies of the CLI made for another user (publicCli)
afterAll(() => { for (const d of copies) rmSync(d, { recursive: true, force: true }); });

function expectUsage(args: string[], pattern: RegExp, opts: Parameters<typeof cli>[1] = {}): string {
  const r = cli(args, { timeout: 20_000, ...opts });
  expect(r.signal, `killed (${r.ms} ms): ${r.stderr}`).toBe(null);
  expect(r.code, r.stderr).toBe(2);
  expect(oneLine(r.stderr), r.stderr).toBe(true);
  expect(r.stderr).toMatch(pattern);
  return r.stderr;
}

describe('item 3: sizes a model file claims are checked before allocating', () => {
  it('a 1 KB tied stack claiming n_layers = 1e9 is a clear error in predict, analyze and evaluate', () => {
    const f = at('bomb.safetensors');
    writeSafetensors(f, {
      'attention_layers.0.q_proj.weight': w(), 'attention_layers.0.k_proj.weight': w(), 'attention_layers.0.v_proj.weight': w(),
      'attention_layers.0.o_proj.weight': w(), 'final_linear.weight': tensorF32([1, E]),
    }, { n_layers: '1000000000', weight_tying: 'true' });
    expect(statSync(f).size).toBeLessThan(1024);
    for (const args of [['predict', '--model', f, '--prompts', at('prompts.safetensors'), '--out', at('o.safetensors')], ['analyze', f], ['evaluate', f, '--lengths', '5', '--samples', '10']]) {
      expectUsage(args, /bomb\.safetensors: metadata n_layers="1000000000" is not an integer in 1\.\.64/);
    }
  });
});

describe('item 4: predict refuses an --out that is one of its inputs', () => {
  it('--out = --model, --prompts, or the run directory\'s model.safetensors (also via a symbolic link): refused, input intact', () => {
    const model = at('run/model.safetensors');
    const before = readFileSync(model);
    const pBefore = readFileSync(at('prompts.safetensors'));
    execFileSync('ln', ['-sf', model, at('link.safetensors')]);
    for (const [m, out] of [[model, model], [at('run'), model], [at('run'), at('prompts.safetensors')], [at('run'), at('link.safetensors')]] as const) {
      expectUsage(['predict', '--model', m, '--prompts', at('prompts.safetensors'), '--out', out], /predict would overwrite its own input; choose another --out/);
    }
    expect(readFileSync(model).equals(before)).toBe(true);
    expect(readFileSync(at('prompts.safetensors')).equals(pBefore)).toBe(true);
  });
});

describe('item 5: memory a command needs is checked up front, naming what to lower', () => {
  const cases: [string, string[], RegExp][] = [
    ['train --heads 64 --d 1024', ['train', '--out', at('huge'), '--heads', '64', '--d', '1024', '--steps', '10'], /lower --heads, --d/],
    ['evaluate --lengths 1000000000', ['evaluate', '--lengths', '1000000000'], /lower the largest of --lengths/],
    ['analyze --L 1000000000', ['analyze', at('run'), '--L', '1000000000'], /lower --L/],
    ['evaluate --d 1024 --samples 1000000 (8 GB allowed)', ['evaluate', '--d', '1024', '--samples', '1000000'], /evaluate would need about .* GB of memory.*--chunk/],
  ];
  for (const [name, args, re] of cases) {
    it(`${name}: exit 2 within seconds, nothing created`, () => {
      expectUsage(args, re, { env: { ...process.env, ICL_LAB_MEMORY_BYTES: String(8e9) } });
      expect(() => statSync(at('huge'))).toThrow();
    });
  }
});

describe('item 6: system errors on user paths are usage errors naming the path and what to do', () => {
  it('an unreadable file (EACCES; as root, through user nobody and a copy of the CLI that user can read)', () => {
    // Root reads a mode-000 file anyway, so as root the CLI runs as nobody, from a copy of it in a
    // temporary folder every user can read (the checkout may be in a folder only root can enter).
    // Any other user gets EACCES on its own mode-000 file.
    const asRoot = process.getuid?.() === 0;
    const dir = at('perm');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    chmodSync(tmp, 0o755);
    const f = join(dir, 'secret.safetensors');
    copyFileSync(at('prompts.safetensors'), f);
    chmodSync(f, 0o000);
    const runModel = join(dir, 'model.safetensors');
    copyFileSync(at('run/model.safetensors'), runModel);
    chmodSync(runModel, 0o644);
    let as: Parameters<typeof cli>[1] = { cwd: dir };
    if (asRoot) {
      requireOpenToOthers(dir);
      const copy = publicCli('nobody');
      copies.push(copy.dir);
      as = { ...as, bin: copy.bin, uid: NOBODY, gid: NOBODY };
    }
    expectUsage(['predict', '--model', runModel, '--prompts', f, '--out', join(dir, 'o.safetensors')], /secret\.safetensors: permission denied \(make it readable/, as);
    expect(statSync(join(dir, 'o.safetensors'), { throwIfNoEntry: false })).toBe(undefined);
  });

  it('predict --out a directory, or an empty string', () => {
    mkdirSync(at('outdir'), { recursive: true });
    expectUsage(['predict', '--model', at('run'), '--prompts', at('prompts.safetensors'), '--out', at('outdir')], /outdir is a directory; give a file path/);
    const r = expectUsage(['predict', '--model', at('run'), '--prompts', at('prompts.safetensors'), '--out', ''], /--out needs a file path/);
    expect(r).not.toMatch(/\.tmp/);
  });

  it('train --out afile/sub (a file on the way); evaluate and report --out that cannot be written', () => {
    writeFileSync(at('afile'), 'x');
    expectUsage(['train', '--out', at('afile/sub'), '--steps', '10', ...TINY], /afile is a file, not a directory; choose another path/);
    mkdirSync(at('evaldir'), { recursive: true });
    expectUsage(['evaluate', '--lengths', '5', '--samples', '10', '--out', at('evaldir')], /evaldir is a directory; give a file path \(e\.g\. .*evaldir\/evaluation\.json\)/);
    expectUsage(['evaluate', '--lengths', '5', '--samples', '10', '--out', at('afile/e.json')], /afile is a file/);
    expectUsage(['report', at('run'), '--out', ''], /--out needs a folder path/);
    expectUsage(['report', at('run'), '--out', at('afile')], /afile exists and is not a folder/);
  });

  it('a file over 2 GiB (sparse): refused by size before reading', () => {
    const f = at('big.safetensors');
    const fd = openSync(f, 'w');
    ftruncateSync(fd, 2 ** 31 + 4096);
    closeSync(fd);
    expectUsage(['predict', '--model', at('run'), '--prompts', f, '--out', at('o.safetensors')], /big\.safetensors is 2\.1 GB, larger than the 2 GiB/);
    expectUsage(['analyze', f], /big\.safetensors is 2\.1 GB, larger than the 2 GiB/);
    rmSync(f);
  });

  it('n_out != 1 in analyze and evaluate names the file', () => {
    const f = at('nout2.safetensors');
    writeSafetensors(f, { 'attention_layer.q_proj.weight': w(), 'attention_layer.k_proj.weight': w(), 'attention_layer.v_proj.weight': w(), 'attention_layer.o_proj.weight': tensorF32([2, E]) });
    expectUsage(['analyze', f], /nout2\.safetensors: the model has n_out=2/);
    expectUsage(['evaluate', f, '--lengths', '5', '--samples', '10'], /nout2\.safetensors: the model has n_out=2/);
  });
});

describe('item 7: NaN / Inf weights or prompts are rejected by name', () => {
  it('a NaN weight (predict, analyze, evaluate) and an Inf prompt (predict)', () => {
    const bad = new Float32Array(E * E).fill(0.1);
    bad[4] = NaN;
    const f = at('nan.safetensors');
    writeSafetensors(f, { 'attention_layer.q_proj.weight': tensorF32([E, E], bad), 'attention_layer.k_proj.weight': w(), 'attention_layer.v_proj.weight': w(), 'attention_layer.o_proj.weight': tensorF32([1, E]) });
    for (const args of [['predict', '--model', f, '--prompts', at('prompts.safetensors'), '--out', at('o.safetensors')], ['analyze', f], ['evaluate', f, '--lengths', '5', '--samples', '10']]) {
      expectUsage(args, /attention_layer\.q_proj\.weight holds NaN at flat index 4; weights must be finite/);
    }
    const z = new Float32Array(2 * 4 * E).fill(0.5);
    z[3] = Infinity;
    writeSafetensors(at('inf-prompts.safetensors'), { z: tensorF32([2, 4, E], z), z_q: tensorF32([2, 1, E]) });
    expectUsage(['predict', '--model', at('run'), '--prompts', at('inf-prompts.safetensors'), '--out', at('o.safetensors')], /z holds Infinity at flat index 3; prompts must be finite/);
  });
});

describe('item 10: no hangs', () => {
  it('a FIFO or /dev/zero as the model: refused at once (regular-file check)', () => {
    execFileSync('mkfifo', [at('fifo')]);
    for (const m of [at('fifo'), '/dev/zero']) {
      expectUsage(['predict', '--model', m, '--prompts', at('prompts.safetensors'), '--out', at('o.safetensors')], /is (a FIFO \(named pipe\)|a device), not a regular file/);
      expectUsage(['analyze', m], /not a regular file/);
      expectUsage(['evaluate', m, '--lengths', '5', '--samples', '10'], /not a regular file/);
    }
  });

  it('train --out /proc/foo fails fast', () => {
    expectUsage(['train', '--out', '/proc/foo', '--steps', '10', ...TINY], /cannot create \/proc\/foo/);
  });
});
