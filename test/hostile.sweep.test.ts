/**
 * Hostile sweep specs and sweep.json (issue 24, items 4, 10-15): every case is refused with one
 * line, exit 2, fast, and nothing is created (or nothing outside DIR). Item 19: damaged sweep
 * internals (sweep.json, a run's run.json) are one line naming the file; a full disk mid-sweep is one
 * line with the continue command; two sweeps racing on one fresh DIR: the second gets the lease message.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, oneLine, requireDist, runJson, start, tempDir, TINY, waitFor } from './cli.helpers.js';
import { smallTmpfs } from './tmpfs.helpers.js';

const tmp = tempDir('sweep');
const at = (f: string) => join(tmp, f);

beforeAll(() => requireDist());
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function expectUsage(args: string[], pattern: RegExp, timeout = 20_000): string {
  const r = cli(args, { timeout });
  expect(r.signal, `killed (${r.ms} ms): ${r.stderr}`).toBe(null);
  expect(r.code, r.stderr).toBe(2);
  expect(oneLine(r.stderr), r.stderr).toBe(true);
  expect(r.stderr).toMatch(pattern);
  return r.stderr;
}

describe('item 4: sweep.json names are one plain folder name', () => {
  it('a name ../../escaped or "" in sweep.json is refused; nothing is trained outside DIR', () => {
    const dir = at('names');
    const spec = at('names.yaml');
    writeFileSync(spec, 'base: {steps: 5}\ngrid:\n  heads: [1, 2]\n');
    expect(cli(['sweep', spec, '--out', dir, '--steps', '0', ...TINY]).code).toBe(2); // steps 0 refused: nothing made
    // make a real sweep.json, then rewrite its names
    const made = cli(['sweep', spec, '--out', dir, ...TINY, '--steps', '5']);
    expect(made.code, made.stderr).toBe(0);
    const sj = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8'));
    for (const bad of ['../../escaped', '', '..', 'a/b']) {
      sj.runs[0].name = bad;
      writeFileSync(join(dir, 'sweep.json'), JSON.stringify(sj));
      expectUsage(['sweep', '--out', dir, '--progress', 'none'], /run name .* is not one plain folder name/);
    }
    expect(existsSync(join(tmp, 'escaped'))).toBe(false);
    expect(existsSync(join(dir, '..', '..', 'escaped'))).toBe(false);
  });
});

describe('items 10, 11: specs that would hang or take gigabytes are refused at once', () => {
  it('an axis of 20,000 values, and a 2 MB spec, refused in seconds', () => {
    writeFileSync(at('long-axis.yaml'), `grid:\n  seed: [${Array.from({ length: 20_000 }, (_, i) => i).join(', ')}]\n`);
    const r1 = cli(['sweep', at('long-axis.yaml'), '--out', at('long'), '--dry-run']);
    expect(r1.code, r1.stderr).toBe(2);
    expect(r1.stderr).toMatch(/grid\.seed lists 20000 values; at most 4096/);
    expect(r1.ms).toBeLessThan(15_000); // was ~70 s; the CLI's start-up dominates on a loaded machine
    writeFileSync(at('big.yaml'), `seeds: [${Array.from({ length: 300_000 }, (_, i) => i).join(', ')}]\n`);
    expectUsage(['sweep', at('big.yaml'), '--out', at('big'), '--dry-run'], /MB, larger than the 1\.0 MB a sweep spec may have/);
    expect(existsSync(at('long'))).toBe(false);
    expect(existsSync(at('big'))).toBe(false);
  });

  it('a FIFO or /dev/zero as the spec, and report --evaluation FIFO: refused, no hang', () => {
    execFileSync('mkfifo', [at('spec.fifo')]);
    expectUsage(['sweep', at('spec.fifo'), '--out', at('f'), '--dry-run'], /is a FIFO \(named pipe\), not a regular file/);
    expectUsage(['sweep', '/dev/zero', '--out', at('f'), '--dry-run'], /\/dev\/zero is a device, not a regular file/);
    mkdirSync(at('run-for-report'));
    expectUsage(['report', at('run-for-report'), '--evaluation', at('spec.fifo')], /FIFO \(named pipe\), not a regular file|not a regular file/);
  });
});

describe('items 12-15: what validation passes also works', () => {
  it('sweep --out /proc/x fails fast (no recursive mkdir loop)', () => {
    expectUsage(['sweep', '--out', '/proc/icl-x/y', '--grid', 'heads=1,2', ...TINY, '--steps', '5'], /cannot create \/proc\/icl-x/);
  });

  it('--seed 4294967295 --seeds 2 is refused by --dry-run, nothing written', () => {
    expectUsage(['sweep', '--out', at('seeds'), '--seed', '4294967295', '--seeds', '2', '--dry-run', ...TINY], /past the largest seed 4294967295/);
    expectUsage(['sweep', '--out', at('seeds'), '--seed', '4294967295', '--seeds', '2', ...TINY], /past the largest seed/);
    expect(existsSync(at('seeds'))).toBe(false);
  });

  it('run names over 255 bytes are refused before DIR is made', () => {
    // single-value axes go into the name too: 13 of them with long values make a 279-byte name
    const one = { lr: 0.000123456789012345, noise_std: 0.000123456789012345, eps: 0.000000123456789012345, weight_decay: 0.000123456789012345, rho: 0.000123456789012345, diverge_loss: 123456789.012345, print_every: 123456789, checkpoint_every: 123456789, val_every: 12345678, loss_every: 12345678, seed: 1234567890, val_samples: 123456, batch_size: 123 };
    writeFileSync(at('long-names.yaml'), `grid:\n${Object.entries(one).map(([k, v]) => `  ${k}: [${v}]`).join('\n')}\n`);
    expectUsage(['sweep', at('long-names.yaml'), '--out', at('ln'), '--dry-run', '--d', '3'], /run name lr0\.000123456789012345-.*\.\.\. is 279 bytes, longer than the 255 a folder name may have/);
    expectUsage(['sweep', at('long-names.yaml'), '--out', at('ln'), '--d', '3'], /is 279 bytes/);
    expect(existsSync(at('ln'))).toBe(false);
  });

  it('base: {seed: S} + seeds: N from a file: runs S..S+N-1, and the sweep continues', () => {
    writeFileSync(at('base-seed.yaml'), 'base: {seed: 7, steps: 5}\nseeds: 2\n');
    const dry = cli(['sweep', at('base-seed.yaml'), '--out', at('bs'), '--dry-run', ...TINY]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/seed7/);
    expect(dry.stdout).toMatch(/seed8/);
    const run = cli(['sweep', at('base-seed.yaml'), '--out', at('bs'), ...TINY, '--steps', '5']);
    expect(run.code, run.stderr).toBe(0);
    expect(readdirSync(join(at('bs'), 'runs')).sort()).toEqual(['seed7', 'seed8']);
    const again = cli(['sweep', '--out', at('bs'), '--progress', 'none']);
    expect(again.code, again.stderr).toBe(0);
  });
});

describe('item 17: the results cache covers the model file', () => {
  it('a truncated model of a completed run is noticed on the next results table (named, exit 2), not "rows unchanged"', () => {
    const dir = at('cache');
    const EVAL = ['--eval-samples', '50'];
    const r = cli(['sweep', '--grid', 'heads=1,2', '--out', dir, ...TINY, '--steps', '50', ...EVAL]);
    expect(r.code, r.stderr).toBe(0);
    const model = join(dir, 'runs', 'h2', 'model.safetensors');
    const bytes = readFileSync(model);
    writeFileSync(model, bytes.subarray(0, bytes.length >> 1));
    const again = cli(['sweep', '--out', dir, '--progress', 'none', ...EVAL]);
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toContain(model);
    expect(again.stderr).not.toMatch(/rows unchanged/);
  });
});

describe('item 18: report DIR checks the results.csv it reuses', () => {
  it('a garbage or empty results.csv is computed again (said on stderr), and the report covers every run', () => {
    const r = cli(['sweep', '--grid', 'heads=1,2', '--out', at('rep18'), ...TINY, '--steps', '50', '--eval-samples', '50']);
    expect(r.code, r.stderr).toBe(0);
    for (const junk of ['garbage{\n', '']) {
      writeFileSync(join(at('rep18'), 'results.csv'), junk);
      const rep = cli(['report', at('rep18')]);
      expect(rep.code, rep.stderr).toBe(0);
      expect(rep.stderr).toMatch(/results\.csv (is not a results table.*|lists 0 run\(s\), not the 2 of .*sweep\.json|cannot be read); computing the results table again/);
      expect(readFileSync(join(at('rep18'), 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(3);
    }
  });
});

/** A two-run sweep in DIR = at(name), a file of it (relative to DIR) as written, and edits of that file's JSON. */
function smallSweepAndFile(name: string, file: string) {
  const dir = at(name);
  const made = cli(['sweep', '--grid', 'heads=1,2', '--out', dir, ...TINY, '--steps', '20', '--eval-samples', '50']);
  expect(made.code, made.stderr).toBe(0);
  const path = join(dir, file);
  const good = readFileSync(path, 'utf8');
  const edit = (f: (s: Record<string, any>) => void): string => {
    const s = JSON.parse(good);
    f(s);
    return JSON.stringify(s);
  };
  return { dir, path, good, edit };
}

describe('item 19: damaged sweep internals, a full disk, two sweeps racing on one DIR', () => {
  it('a damaged sweep.json (truncated, wrong types, missing fields) is one line naming the file and what is wrong, exit 2, for sweep and sweep status', () => {
    const { dir, path, good, edit } = smallSweepAndFile('damaged', 'sweep.json');
    const cases: [string, string, RegExp][] = [
      ['truncated', good.slice(0, 200), /sweep\.json: not valid JSON/],
      ['an array', '[]', /sweep\.json: not an icl-lab sweep\.json \(a JSON object with id, specs, runs\), got an array/],
      ['no id', edit((s) => delete s.id), /sweep\.json: not an icl-lab sweep\.json: id missing/],
      ['runs an object', edit((s) => (s.runs = {})), /sweep\.json: runs is \{\}; expected a list of runs/],
      ['specs empty', edit((s) => (s.specs = [])), /sweep\.json: specs is \[\]; expected a list of one or more specs/],
      ['a run null', edit((s) => (s.runs[0] = null)), /sweep\.json: runs\[0\] is null; expected an object/],
      ['hash a number', edit((s) => (s.runs[1].hash = 5)), /sweep\.json: runs\[1\] \(h2\): hash is 5; expected the run's config hash/],
      ['vary a string', edit((s) => (s.runs[0].vary = 'x')), /sweep\.json: runs\[0\] \(h1\): vary is "x"; expected an object/],
      ['config missing', edit((s) => delete s.runs[0].config), /sweep\.json: runs\[0\] \(h1\): config is missing/],
      ['heads a string', edit((s) => (s.runs[1].config.heads = 'two')), /sweep\.json: runs\[1\] \(h2\): config key "heads" must be an integer >= 1 and <= 256, got "two"/],
    ];
    for (const [what, text, pattern] of cases) {
      writeFileSync(path, text);
      for (const args of [['sweep', '--out', dir, '--progress', 'none'], ['sweep', 'status', dir]]) {
        const msg = expectUsage(args, pattern);
        expect(msg, what).toContain(path);
        expect(msg, what).not.toMatch(/TypeError|Cannot read/);
      }
    }
    writeFileSync(path, good);
    expect(cli(['sweep', 'status', dir]).code).toBe(0);
  });

  it("a damaged run.json of a sweep's run is one line naming it and the field, exit 2; removing the run trains it again", () => {
    const { dir, path, good, edit } = smallSweepAndFile('damaged-run', join('runs', 'h1', 'run.json'));
    const cases: [string, string, RegExp][] = [
      ['truncated', good.slice(0, 100), /run\.json: not valid JSON/],
      ['null', 'null', /run\.json: not an icl-lab run\.json \(a JSON object\), got null/],
      ['status a number', edit((s) => (s.status = 3)), /run\.json: status is 3; expected one of creating, running, completed, failed, interrupted/],
      ['status unknown', edit((s) => (s.status = 'done')), /run\.json: status is "done"; expected one of/],
      ['step a string', edit((s) => (s.step = 'x')), /run\.json: step is "x"; expected an integer >= 0/],
      ['steps missing', edit((s) => delete s.steps), /run\.json: steps is undefined; expected an integer/],
      ['config missing', edit((s) => delete s.config), /run\.json: config is missing; expected an object/],
      ['final a string', edit((s) => (s.final = 'x')), /run\.json: final is missing/],
      ['checkpoint past step', edit((s) => (s.checkpoint_step = 99)), /run\.json: checkpoint_step is 99; expected an integer in 0\.\.step \(20\)/],
      ['heads -1', edit((s) => (s.config.heads = -1)), /run\.json: config key "heads" must be an integer >= 1/],
    ];
    for (const [what, text, pattern] of cases) {
      writeFileSync(path, text);
      for (const args of [['sweep', '--out', dir, '--progress', 'none'], ['sweep', 'status', dir]]) {
        const msg = expectUsage(args, pattern);
        expect(msg, what).toContain(path);
        expect(msg, what).toContain(`remove ${join(dir, 'runs', 'h1')} and run the sweep again`);
        expect(msg, what).not.toMatch(/TypeError|Cannot read/);
      }
    }
    // the remedy the message gives: the run is made again at step 0 and trained
    rmSync(join(dir, 'runs', 'h1'), { recursive: true });
    const again = cli(['sweep', '--out', dir, '--progress', 'none', '--eval-samples', '50']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/1 run\(s\) trained, 1 already finished/);
    expect(runJson(join(dir, 'runs', 'h1'))).toMatchObject({ status: 'completed', step: 20 });
  });

  it("a damaged DIR/slurm/jobs.json (the sweep's Slurm submissions) is one line naming it and the field, exit 2", () => {
    const dir = at('damaged-slurm');
    const made = cli(['sweep', '--grid', 'heads=1,2', '--out', dir, ...TINY, '--steps', '20', '--eval-samples', '50']);
    expect(made.code, made.stderr).toBe(0);
    mkdirSync(join(dir, 'slurm'));
    const path = join(dir, 'slurm', 'jobs.json');
    const sub = { array_job: '5', results_job: '6', indices: [0, 1], submitted_at: '2026-12-07T23:00:00Z' };
    const cases: [string, RegExp][] = [
      ['{bad', /jobs\.json: not valid JSON/],
      ['[1]', /jobs\.json: not an icl-lab jobs\.json \(an object with a list "submissions"\)/],
      [JSON.stringify({ submissions: [null] }), /jobs\.json: submissions\[0\] is null; expected an object/],
      [JSON.stringify({ submissions: [{ ...sub, results_job: 6 }] }), /jobs\.json: submissions\[0\]\.results_job is 6; expected a Slurm job id/],
      [JSON.stringify({ submissions: [sub, { ...sub, indices: [0, 'a'] }] }), /jobs\.json: submissions\[1\]\.indices is \[0,"a"\]; expected a list of run indices/],
      [JSON.stringify({ submissions: [{ ...sub, array_job: 'x' }] }), /jobs\.json: submissions\[0\]\.array_job is "x"; expected a Slurm job id or null/],
    ];
    for (const [text, pattern] of cases) {
      writeFileSync(path, text);
      const msg = expectUsage(['sweep', 'status', dir], pattern);
      expect(msg).toContain(path);
      expect(msg).not.toMatch(/TypeError|Cannot read/);
    }
  });

  it('a full disk during a local sweep: one line naming DIR, the remedy and the continue command (exit 1); the continued sweep completes', async () => {
    const mnt = at('mnt-sweep');
    const disk = await smallTmpfs(mnt, '160k'); // room for sweep.json and both runs at step 0, not for their training
    try {
      const dir = join(mnt, 's');
      const r = disk.cli(['sweep', '--grid', 'heads=1,2', '--out', dir, ...TINY, '--steps', '3000', '--checkpoint-every', '100', '--eval-samples', '50']);
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines.slice(0, -1).every((l) => l.startsWith('sweep: ')), r.stderr).toBe(true); // the sweep's own notes, then the error
      expect(lines.at(-1)).toBe(`icl-lab: ${dir}: no space left on the device during the sweep; free some space (or move the sweep elsewhere); every run keeps its last checkpoint: continue with node bin/icl-lab sweep --out ${dir}`);
      expect(r.stderr).not.toMatch(/ENOSPC|\n\s+at /);
      const steps = ['h1', 'h2'].map((n) => runJson(join(disk.files, 's', 'runs', n)).checkpoint_step);
      expect(Math.max(...steps)).toBeLessThan(3000);
      expect(existsSync(join(disk.files, 's', '.icl-lab.lock'))).toBe(false); // the lease is released
      disk.resize('8m');
      const again = disk.cli(['sweep', '--out', dir, '--progress', 'none', '--eval-samples', '50']);
      expect(again.code, again.stderr).toBe(0);
      for (const n of ['h1', 'h2']) expect(runJson(join(disk.files, 's', 'runs', n))).toMatchObject({ status: 'completed', step: 3000 });
    } finally {
      await disk.close();
    }
  });

  it('two local sweeps started together on one fresh DIR: one trains, the other is refused with the lease message (exit 2), whichever wins', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = at(`race${round}`);
      const args = ['sweep', '--grid', 'heads=1,2', '--out', dir, ...TINY, '--steps', '2000000', '--checkpoint-every', '1000', '--eval-samples', '50'];
      const a = start(args);
      const b = start(args);
      // the loser ends by itself; the winner trains until it is stopped
      const first = await Promise.race([a.done.then((x) => ({ x, p: a, other: b })), b.done.then((x) => ({ x, p: b, other: a }))]);
      expect(first.x.code, first.p.err()).toBe(2);
      expect(oneLine(first.p.err()), first.p.err()).toBe(true);
      expect(first.p.err()).toMatch(new RegExp(`^icl-lab: ${dir}: process ${first.other.child.pid} is running a sweep in this directory \\(lock ${dir}/\\.icl-lab\\.lock\\); wait for it to finish or stop it`));
      await waitFor('the winner to train', () => ['h1', 'h2'].some((n) => runJson(join(dir, 'runs', n)).checkpoint_step >= 1000), 60_000, first.other.err);
      first.other.child.kill('SIGINT');
      const w = await first.other.done;
      expect(w.code, first.other.err()).toBe(130);
      expect(existsSync(join(dir, '.icl-lab.lock'))).toBe(false);
    }
  });
});
