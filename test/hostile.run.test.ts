/**
 * Hostile input against run directories (issue 12, items 1, 2, 9), the SIGKILL loop and the
 * disk-full case on a small tmpfs (mounted as root, in a user namespace of its own otherwise; the test
 * fails, never skips, when neither works).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, oneLine, requireDist, runJson, sleep, start, tempDir, TINY } from './cli.helpers.js';
import { smallTmpfs } from './tmpfs.helpers.js';

const tmp = tempDir('hostile-run');
beforeAll(requireDist);

const FILES = ['model.safetensors', 'metrics.safetensors', 'snapshots.safetensors', 'checkpoint.safetensors'];
const bytes = (dir: string, f: string) => readFileSync(join(dir, f));

function expectSameRun(a: string, b: string): void {
  for (const f of FILES) expect(bytes(b, f).equals(bytes(a, f)), `${f} differs between ${a} and ${b}`).toBe(true);
  expect(runJson(b).status).toBe('completed');
}

describe('item 1: a kill or a full disk while a run is created never leaves a directory without run.json', () => {
  it('full disk during creation: run.json (status creating) is there; the same command finishes the run', async () => {
    const mnt = join(tmp, 'mnt-create');
    const disk = await smallTmpfs(mnt, '16k'); // room for the lock, run.json, metrics, snapshots; not the checkpoint
    try {
      const args = ['train', '--out', join(mnt, 'k'), '--steps', '30', ...TINY];
      const k = join(disk.files, 'k');
      const r = disk.cli(args);
      expect(r.code).not.toBe(0);
      expect(oneLine(r.stderr), r.stderr).toBe(true);
      expect(r.stderr).toMatch(/no space left/);
      expect(existsSync(join(k, 'run.json')), `left ${readdirSync(k)}`).toBe(true);
      expect(runJson(k).status).toBe('creating');
      disk.resize('4m');
      const again = disk.cli(args);
      expect(again.code, again.stderr).toBe(0);
      expect(runJson(k).status).toBe('completed');
      // the same run made without any trouble
      const ref = join(tmp, 'create-ref');
      expect(cli(['train', '--out', ref, '--steps', '30', ...TINY]).code).toBe(0);
      expectSameRun(ref, k);
    } finally {
      await disk.close();
    }
  });

  it('a run left at status creating is finished by --resume, and a list run by --resume PARENT', async () => {
    // what a kill between writing the identities and the step-0 files leaves: run.json only
    const { writeRunIdentity } = await import('../src/run/run.js');
    const { resolveConfigs, parseFlags } = await import('../src/run/config.js');
    const parent = join(tmp, 'creating-list');
    const flags = parseFlags({ heads: '1,2', steps: '30', d: '3', contextLength: '10', batchSize: '16', dynamicsEvery: '10', qkEvery: '20', valEvery: '10', printEvery: '1000' });
    const { wasmAvailable } = await import('../src/io/wasm.js');
    const configs = resolveConfigs(flags, new Set(Object.keys(flags) as never[]), { wasmAvailable: wasmAvailable() }); // as the CLI resolves them
    for (const [i, c] of configs.entries()) {
      mkdirSync(join(parent, `h${i + 1}`), { recursive: true });
      writeRunIdentity(join(parent, `h${i + 1}`), c);
    }
    writeFileSync(join(parent, 'h2', 'metrics.safetensors'), 'partial'); // a torn leftover
    const r = cli(['train', '--resume', parent, '--progress', 'none', '--jobs', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(join(parent, 'h1')).status).toBe('completed');
    expect(runJson(join(parent, 'h2')).status).toBe('completed');
    const ref = join(tmp, 'creating-list-ref');
    expect(cli(['train', '--out', ref, '--heads', '1,2', '--steps', '30', '--jobs', '1', ...TINY]).code).toBe(0);
    expectSameRun(join(ref, 'h1'), join(parent, 'h1'));
    expectSameRun(join(ref, 'h2'), join(parent, 'h2'));
  });

  it('a kill in the middle of writing run.json leaves only its temporary file: the same command still works', () => {
    const dir = join(tmp, 'torn-identity');
    mkdirSync(dir);
    writeFileSync(join(dir, `.run.json.${2 ** 22 + 777}.0badc0de.tmp`), '{"icl_lab_versi'); // its process is gone
    writeFileSync(join(dir, '.icl-lab.lock'), JSON.stringify({ pid: 2 ** 22 + 777, host: hostname() }));
    const r = cli(['train', '--out', dir, '--steps', '20', ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('SIGKILL at random moments, again and again (creation included), then resume: byte-identical to a straight run', async () => {
    const args = ['--steps', '60000', '--checkpoint-every', '1000', ...TINY]; // long enough that the kills land mid-run on a quiet machine too
    const ref = join(tmp, 'kill-ref');
    expect(cli(['train', '--out', ref, ...args]).code).toBe(0);
    const dir = join(tmp, 'kill-loop');
    let rng = 12345; // deterministic "random" kill times
    const next = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let kills = 0;
    for (let round = 0; round < 12; round++) {
      // the same command every time: a new run until run.json exists, then resume
      const cmd = existsSync(join(dir, 'run.json')) ? ['train', '--resume', dir, '--progress', 'none'] : ['train', '--out', dir, ...args];
      const p = start(cmd);
      const ms = 80 + Math.floor(next() * 700);
      const t = round < 8 ? setTimeout(() => p.child.kill('SIGKILL'), ms) : undefined; // 8 kills, then let it finish
      const res = await p.done;
      clearTimeout(t);
      if (res.signal === 'SIGKILL') {
        kills++;
        expect(!existsSync(dir) || readdirSync(dir).filter((f) => !f.startsWith('.')).length === 0 || existsSync(join(dir, 'run.json')), `a kill after ${ms} ms left ${existsSync(dir) ? readdirSync(dir) : 'nothing'} without run.json`).toBe(true);
        continue;
      }
      expect(res.code, p.err()).toBe(0);
      if (runJson(dir).status === 'completed') break;
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    expectSameRun(ref, dir);
  }, 180_000);
});

describe('item 2: one writer per run directory (a lock naming the other pid)', () => {
  it('two `train --out D` started together: exactly one succeeds; the other is refused', async () => {
    const dir = join(tmp, 'two');
    const args = ['train', '--out', dir, '--steps', '200', ...TINY];
    const [a, b] = [start(args), start(args)];
    const [ra, rb] = await Promise.all([a.done, b.done]);
    const codes = [ra.code, rb.code].sort();
    expect(codes, `${a.err()} | ${b.err()}`).toEqual([0, 2]);
    const refused = ra.code === 2 ? a.err() : b.err();
    expect(oneLine(refused), refused).toBe(true);
    expect(refused).toMatch(/process \d+ is writing|holds a run/);
  });

  it('--force (and --resume --force) onto a run another live process is training is refused, naming its pid', async () => {
    const dir = join(tmp, 'live');
    const p = start(['train', '--out', dir, '--steps', '100000', '--checkpoint-every', '50', ...TINY]);
    try {
      for (let i = 0; i < 500 && !(existsSync(join(dir, 'run.json')) && runJson(dir).status === 'running'); i++) await sleep(20);
      for (const args of [['train', '--out', dir, '--force', '--steps', '10', ...TINY], ['train', '--resume', dir, '--force', '--progress', 'none']]) {
        const r = cli(args);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`process ${p.child.pid}`);
        expect(oneLine(r.stderr), r.stderr).toBe(true);
      }
      expect(runJson(dir).status).toBe('running'); // untouched
    } finally {
      p.child.kill('SIGTERM');
      await p.done;
    }
    expect(runJson(dir).status).toBe('interrupted');
    expect(readdirSync(dir)).not.toContain('.icl-lab.lock'); // released
  });

  it('in one process (a server): a second training of a directory being trained is refused, --force too', async () => {
    const { trainRuns } = await import('../src/run/runs.js');
    const { parseFlags, resolveConfigs } = await import('../src/run/config.js');
    const flags = parseFlags({ steps: '300', d: '3', contextLength: '10', batchSize: '16', checkpointEvery: '20' });
    const { wasmAvailable } = await import('../src/io/wasm.js');
    const configs = resolveConfigs(flags, new Set(Object.keys(flags) as never[]), { wasmAvailable: wasmAvailable() }); // as the CLI resolves them
    const dir = join(tmp, 'in-process');
    const first = trainRuns(configs, { out: dir, progress: 'none', onLine: null, chunkMs: 5 });
    await expect(trainRuns(configs, { out: dir, progress: 'none', onLine: null, force: true })).rejects.toThrow(/is already writing this run directory/);
    const [s] = await first;
    expect(s!.status).toBe('completed');
    expect(s!.step).toBe(300);
    const again = await trainRuns(configs, { out: dir, progress: 'none', onLine: null, force: true }); // free again once done
    expect(again[0]!.status).toBe('completed');
  });

  it('a stale lock (its process is gone) is taken over', () => {
    const dir = join(tmp, 'stale-lock');
    expect(cli(['train', '--out', dir, '--steps', '20', ...TINY]).code).toBe(0);
    writeFileSync(join(dir, '.icl-lab.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname() }));
    const r = cli(['train', '--resume', dir, '--steps', '30', '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).step).toBe(30);
  });

  it("start-up clean-up removes only temporary files whose process is gone, never a live process's", () => {
    const dir = join(tmp, 'temps');
    expect(cli(['train', '--out', dir, '--steps', '20', ...TINY]).code).toBe(0);
    const live = `.model.safetensors.${process.pid}.abcd1234.tmp`; // this test process is alive
    const dead = `.model.safetensors.${2 ** 22 + 4321}.abcd1234.tmp`;
    writeFileSync(join(dir, live), 'being written');
    writeFileSync(join(dir, dead), 'left by a crash');
    const r = cli(['train', '--resume', dir, '--steps', '30', '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, live))).toBe(true);
    expect(existsSync(join(dir, dead))).toBe(false);
  });
});

describe('item 9: a list run never nests inside an existing run without --force', () => {
  it('refused without --force; with --force the run becomes the parent and --resume finds the new runs', () => {
    const dir = join(tmp, 'nest');
    expect(cli(['train', '--out', dir, '--steps', '20', ...TINY]).code).toBe(0);
    const r = cli(['train', '--out', dir, '--heads', '1,2', '--steps', '20', ...TINY]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr), r.stderr).toBe(true);
    expect(r.stderr).toContain('holds a run');
    expect(existsSync(join(dir, 'h1'))).toBe(false);
    expect(runJson(dir).status).toBe('completed');
    const f = cli(['train', '--out', dir, '--heads', '1,2', '--steps', '20', '--force', '--jobs', '1', ...TINY]);
    expect(f.code, f.stderr).toBe(0);
    expect(existsSync(join(dir, 'run.json'))).toBe(false);
    const res = cli(['train', '--resume', dir, '--steps', '30', '--json', '--jobs', '1']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).runs.map((s: { name: string; step: number }) => `${s.name}:${s.step}`)).toEqual(['h1:30', 'h2:30']);
  });
});

describe('disk full in the middle of training (small tmpfs)', () => {
  it('exits with one line, keeps the files consistent, and a resume after freeing space ends byte-identical', async () => {
    const mnt = join(tmp, 'mnt-train');
    const args = ['--steps', '3000', '--checkpoint-every', '100', ...TINY];
    const disk = await smallTmpfs(mnt, '72k');
    try {
      const dir = join(mnt, 'r');
      const r = disk.cli(['train', '--out', dir, ...args]);
      expect(r.code, r.stderr).toBe(1);
      expect(oneLine(r.stderr), r.stderr).toBe(true);
      expect(r.stderr).toMatch(/no space left on the device; free some space; the last checkpoint is kept: continue with node bin\/icl-lab train --resume/);
      const j = runJson(join(disk.files, 'r'));
      expect(j.step).toBeGreaterThan(0);
      expect(j.step).toBeLessThan(3000);
      disk.resize('8m');
      const res = disk.cli(['train', '--resume', dir, '--progress', 'none']);
      expect(res.code, res.stderr).toBe(0);
      const ref = join(tmp, 'disk-ref');
      expect(cli(['train', '--out', ref, ...args]).code).toBe(0);
      expectSameRun(ref, join(disk.files, 'r'));
    } finally {
      await disk.close();
    }
  });
});
