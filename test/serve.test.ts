/**
 * `icl-lab serve` without a browser: path checks, the API over real run directories, start-up time
 * with 200 runs, a 500,001-step run downsampled by the server, read-only, bad input. The browser
 * side is test/web.e2e.test.ts. Needs the built CLI (npm run build).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { compareDynamicsSpec, compareLossSpec, emaSmooth, etaSpec, etaVsRatioSpec, parallelSpec, smoothedLossSpec, thinIndices, webDynamicsSpec } from '../src/serve/figures.js';
import { specToSvg } from '../src/plots/render.js';
import { parseCsv } from '../src/io/csv.js';
import { readRunDir } from '../src/run/run-dir.js';
import { apiUrl, type IndexResponse } from '../src/serve/api.js';
import { markDifferences, reportSummary, runRow } from '../src/serve/data.js';
import { PathError, resolveInside, scanTree } from '../src/serve/scan.js';
import { bin, root } from './cli.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-serve-'));
const children: ChildProcess[] = [];
const template = join(tmp, 'template');

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is not built: run `npm run build` first');
  const r = spawnSync(process.execPath, [bin, 'train', '--out', template, '--steps', '300', '--qk-every', '50', '--dynamics-every', '10', '--val-every', '50', '--progress', 'none'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}, 60_000);
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function serve(dir: string, extra: string[] = []): Promise<{ url: string; ms: number; child: ChildProcess }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, 'serve', dir, '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (b) => (err += b));
    child.stdout!.on('data', (b) => {
      out += b;
      const m = out.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve({ url: m[1]!, ms: performance.now() - t0, child });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

/** Every file below dir with its size and mtime. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const s = statSync(p);
        out.push(`${p} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

describe('paths', () => {
  it('resolves paths inside DIR and refuses the rest (403 outside, 404 missing)', () => {
    const dir = join(tmp, 'paths');
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'a', 'f.txt'), 'x');
    symlinkSync('/etc', join(dir, 'out'));
    symlinkSync(join(dir, 'a'), join(dir, 'in'));
    const status = (rel: string): number | string => {
      try {
        return resolveInside(dir, rel);
      } catch (e) {
        return (e as PathError).status;
      }
    };
    expect(status('a/f.txt')).toBe(join(dir, 'a', 'f.txt'));
    expect(status('in/f.txt')).toBe(join(dir, 'a', 'f.txt')); // a link that stays inside
    expect(status('a/b/../f.txt')).toBe(join(dir, 'a', 'f.txt'));
    for (const bad of ['..', '../x', 'a/../../x', '/etc/passwd', '/', 'out', 'out/passwd', 'C:/x', '..\\..\\x']) expect(status(bad), bad).toBe(403);
    expect(status('a/missing')).toBe(404);
    expect(status('a\0b')).toBe(400);
  });

  it('finds runs, reports and sweeps recursively, without following links or entering run directories', () => {
    const dir = join(tmp, 'tree');
    cpSync(template, join(dir, 'x', 'h2'), { recursive: true });
    cpSync(template, join(dir, 'x', 'h2', 'nested'), { recursive: true }); // inside a run: not a run of its own
    cpSync(template, join(dir, 'sw', 'runs', 'a'), { recursive: true });
    writeFileSync(join(dir, 'sw', 'sweep.json'), '{}');
    mkdirSync(join(dir, 'rep'));
    writeFileSync(join(dir, 'rep', 'findings.json'), '{}');
    writeFileSync(join(dir, 'rep', 'report.html'), '<html></html>');
    symlinkSync(join(dir, 'x'), join(dir, 'link'));
    expect(scanTree(dir)).toEqual({ runs: ['sw/runs/a', 'x/h2'], reports: ['rep'], sweeps: ['sw'] });
  });
});

describe('data', () => {
  it('finds a report\'s runs by findings.json\'s run_dirs when two experiments have a run of the same name (issue 22 item 2)', () => {
    const dir = join(tmp, 'two-h2');
    cpSync(template, join(dir, 'a', 'h2'), { recursive: true });
    cpSync(template, join(dir, 'b', 'h2'), { recursive: true });
    const r = spawnSync(process.execPath, [bin, 'report', join(dir, 'b', 'h2'), '--out', join(dir, 'elsewhere', 'rep'), '--context-length', '10,40', '--eval-samples', '200'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const f = JSON.parse(readFileSync(join(dir, 'elsewhere', 'rep', 'findings.json'), 'utf8'));
    expect(f.runs).toEqual(['h2']);
    expect(f.run_dirs).toEqual(['../../b/h2']);
    expect(reportSummary(dir, 'elsewhere/rep', ['a/h2', 'b/h2']).runPaths).toEqual(['b/h2']);
    // a report of an earlier build (names only) cannot tell the two apart: null, as before
    writeFileSync(join(dir, 'elsewhere', 'rep', 'findings.json'), JSON.stringify({ ...f, run_dirs: undefined }));
    expect(reportSummary(dir, 'elsewhere/rep', ['a/h2', 'b/h2']).runPaths).toEqual([null]);
  }, 60_000);

  it('reads each finding\'s result (n/a is neither pass nor FAIL) and threshold source; counts the applicable ones (issue 22 items 9, 12)', () => {
    const dir = join(tmp, 'na');
    mkdirSync(join(dir, 'rep'), { recursive: true });
    const fd = (id: string, result: string, src?: string) => ({ id, claim: id, value: 0.1, threshold: '<= 1', pass: result === 'pass', result, why: '', ...(src ? { threshold_source: src } : {}), checks: [] });
    writeFileSync(join(dir, 'rep', 'findings.json'), JSON.stringify({ runs: [], findings: [fd('a', 'pass', 'seed code runs'), fd('b', 'n/a', 'seed code runs'), fd('c', 'FAIL', 'icl-lab runs'), { ...fd('old', 'pass'), result: undefined }] }));
    const s = reportSummary(dir, 'rep');
    expect(s.findings.map((f) => [f.id, f.result, f.thresholdSource])).toEqual([['a', 'pass', 'seed code runs'], ['b', 'n/a', 'seed code runs'], ['c', 'FAIL', 'icl-lab runs'], ['old', 'pass', null]]);
    expect([s.passed, s.applicable, s.total]).toEqual([2, 3, 4]);
  });

  it('reads a run.json into a table row and marks what differs between runs', () => {
    const dir = join(tmp, 'rows');
    cpSync(template, join(dir, 'a'), { recursive: true });
    cpSync(template, join(dir, 'b'), { recursive: true });
    const rj = JSON.parse(readFileSync(join(dir, 'b', 'run.json'), 'utf8'));
    rj.config.lr = 0.01;
    rj.config.print_every = 7; // bookkeeping: not a difference
    writeFileSync(join(dir, 'b', 'run.json'), JSON.stringify(rj));
    const rows = markDifferences([runRow(dir, 'a'), runRow(dir, 'b')]);
    expect(rows.map((r) => r.differs)).toEqual([['lr=0.001'], ['lr=0.01']]);
    expect(rows[0]).toMatchObject({ status: 'completed', step: 300, steps: 300, heads: 2, d: 5, L: 40, preset: 'seed', optimizer: 'adam' });
  });

  it('a run.json of an earlier build, without the fields added since (attention, task, task_pool, pool_seed, sparsity), differs only where its values do', () => {
    const dir = join(tmp, 'rows-old');
    cpSync(template, join(dir, 'new'), { recursive: true });
    cpSync(template, join(dir, 'old'), { recursive: true });
    const rj = JSON.parse(readFileSync(join(dir, 'old', 'run.json'), 'utf8'));
    for (const k of ['attention', 'task', 'task_pool', 'pool_seed', 'sparsity']) delete rj.config[k];
    rj.config.d = 3;
    writeFileSync(join(dir, 'old', 'run.json'), JSON.stringify(rj));
    const rows = markDifferences([runRow(dir, 'new'), runRow(dir, 'old')]);
    expect(rows.map((r) => r.differs)).toEqual([['d=5'], ['d=3']]);
    expect(rows[1]!.config).toMatchObject({ attention: 'softmax', task: 'gaussian', task_pool: 0, sparsity: 0, d: 3 });
  });

  it('shows a live run at its heartbeat (progress.json newer than run.json), else at run.json', () => {
    const dir = join(tmp, 'live-row');
    cpSync(template, join(dir, 'r'), { recursive: true });
    const rj = JSON.parse(readFileSync(join(dir, 'r', 'run.json'), 'utf8'));
    writeFileSync(join(dir, 'r', 'run.json'), JSON.stringify({ ...rj, status: 'running', step: 100, steps: 1000 }));
    expect(runRow(dir, 'r')).toMatchObject({ step: 100, steps: 1000 });
    writeFileSync(join(dir, 'r', 'progress.json'), JSON.stringify({ step: 640, steps: 1000, loss: 0.75, steps_per_second: 2100, updated_at: new Date().toISOString() }));
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'r', 'progress.json'), later, later);
    expect(runRow(dir, 'r')).toMatchObject({ status: 'running', step: 640, steps: 1000, trainLoss: 0.75, stepsPerSecond: 2100 });
    writeFileSync(join(dir, 'r', 'run.json'), JSON.stringify({ ...rj, status: 'completed' })); // finished: run.json is the truth
    expect(runRow(dir, 'r')).toMatchObject({ status: 'completed', step: 300 });
  });

  it('reads runs through the run layer (readRunDir): a missing or malformed run.json field is an error the row and the API report', async () => {
    const dir = join(tmp, 'bad-field');
    cpSync(template, join(dir, 'good'), { recursive: true });
    const r = readRunDir(join(dir, 'good'), { metrics: true, snapshots: true });
    expect(r.run.status).toBe('completed');
    expect(r.config).toMatchObject({ heads: 2, d: 5, contextLength: 40, steps: 300, tasks: '', nOut: 1 });
    expect(r.stale).toBe(false);
    expect(r.metrics!.trainLoss.length).toBe(300);
    expect(r.snapshots).toMatchObject({ layers: 1, heads: 2, E: 6 });
    const rj = JSON.parse(readFileSync(join(dir, 'good', 'run.json'), 'utf8'));
    const broken: [string, (j: Record<string, any>) => void, RegExp][] = [
      ['no-d', (j) => delete j.config.d, /config lacks "d"/],
      ['string-d', (j) => (j.config.d = 'five'), /"d"|--d|five/],
      ['no-timings', (j) => delete j.timings, /timings is missing/],
      ['bad-final', (j) => (j.final.train_loss = 'low'), /final\.train_loss is "low"; expected a number or null/],
      ['no-steps', (j) => delete j.steps, /steps is undefined; expected an integer/],
    ];
    for (const [name, spoil] of broken) {
      const j = structuredClone(rj);
      spoil(j);
      cpSync(join(dir, 'good'), join(dir, name), { recursive: true });
      writeFileSync(join(dir, name, 'run.json'), JSON.stringify(j));
    }
    for (const [name, , why] of broken) { // a config without d is not given the seed's d = 5
      const row = runRow(dir, name);
      expect(row.status, name).toBe('unreadable');
      expect(row.error, name).toMatch(why);
      expect(row.error, name).toContain(join(dir, name, 'run.json'));
    }
    const { url } = await serve(dir);
    const index = await (await fetch(url + apiUrl.index())).json() as IndexResponse;
    expect(index.runs.find((x) => x.path === 'bad-final')).toMatchObject({ status: 'unreadable', heads: null, d: null });
    expect(index.runs.find((x) => x.path === 'good')).toMatchObject({ status: 'completed', heads: 2, d: 5 });
    const res = await fetch(url + apiUrl.run('bad-final', 0));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: string }).error).toMatch(/final\.train_loss is "low"/);
    expect((await fetch(url + apiUrl.compare(['good', 'no-timings'], 0))).status).toBe(422);
    expect((await fetch(url + apiUrl.run('good', 0))).status).toBe(200);
  });

  it('parses CSV with quotes, smooths like TensorBoard, thins evenly', () => {
    expect(parseCsv('a,b\n1,"x, ""y"""\r\n2,\n')).toEqual([['a', 'b'], ['1', 'x, "y"'], ['2', '']]);
    expect([...emaSmooth([2, 2, 2], 0.9)]).toEqual([2, 2, 2]);
    const s = emaSmooth([1, 3], 0.5); // debiased: (0.5*1)/0.5 = 1, then (0.25*1 + 0.5*3)/0.75
    expect(s[0]).toBe(1);
    expect(s[1]).toBeCloseTo((0.25 + 1.5) / 0.75, 12);
    expect(thinIndices(10, 4)).toEqual([0, 3, 6, 9]);
    expect(thinIndices(3, 10)).toEqual([0, 1, 2]);
  });
});

describe('figures', () => {
  it('every web-only figure compiles and renders to SVG with its marks', async () => {
    const loss = Float64Array.from({ length: 5000 }, (_, i) => 0.6 + 5 * Math.exp(-i / 500));
    const dyn = { step: [0, 10, 20], qk: [0.1, -0.1, 0.2, -0.2, 0.3, -0.3], ov: [1, -1, 2, -2, 3, -3], layers: 1, heads: 2 };
    const specs = {
      loss: smoothedLossSpec({ trainLoss: loss, valLoss: [5, 1], valStep: [0, 4000] }, { smooth: 0.9 }),
      dynamics: webDynamicsSpec(dyn),
      eta: etaSpec(dyn, { ratio: 40 / 45, etaStar: 0.8696 }),
      compareLoss: compareLossSpec([{ name: 'a', trainLoss: loss }, { name: 'b', trainLoss: loss.map((x) => x * 2) }], { smooth: 0.6 }),
      compareDynamics: compareDynamicsSpec([{ name: 'a', dyn }, { name: 'b', dyn }]),
      parallel: parallelSpec([{ heads: 1, loss: 1.2 }, { heads: 2, loss: 0.6 }], ['heads', 'loss'], 'loss'),
      etaVsRatio: etaVsRatioSpec([{ run: 'a', ratio: 0.889, eta: 0.88, heads: 2 }]),
    };
    for (const [name, spec] of Object.entries(specs)) {
      const svg = await specToSvg(spec);
      expect(svg.length, name).toBeGreaterThan(2000);
      expect(svg, name).toMatch(/<path|<line/);
    }
    // the smoothed line is the EMA: flat data gives the data
    const flat = smoothedLossSpec({ trainLoss: new Float64Array(100).fill(2) }, { smooth: 0.9 });
    const ema = (flat['layer'] as { data?: { values: { smoothed?: number }[] } }[])[2]!.data!.values;
    expect(ema.every((r) => r.smoothed === 2)).toBe(true);
    // parallel coordinates label each axis with its min and max
    const svg = await specToSvg(specs.parallel);
    for (const label of ['0.6', '1.2', '>1<', '>2<']) expect(svg).toContain(label);
  });
});

describe('icl-lab serve', () => {
  it('starts with 200 runs and lists them all (start-up time printed, not asserted: speed lives in docs/readme/serve.md)', async () => {
    const dir = join(tmp, 'many');
    for (let i = 0; i < 200; i++) cpSync(template, join(dir, `group${i % 10}`, `run${i}`), { recursive: true });
    // the better of two starts: one start-up can land on a busy moment of a shared machine
    const first = await serve(dir);
    first.child.kill();
    const { url, ms: second } = await serve(dir);
    const ms = Math.min(first.ms, second);
    const t0 = performance.now();
    const index = await (await fetch(url + apiUrl.index())).json() as IndexResponse;
    const indexMs = performance.now() - t0;
    console.log(`serve with 200 runs: URL printed ${first.ms.toFixed(0)} / ${second.toFixed(0)} ms after spawn (node start-up included; better ${ms.toFixed(0)} ms), /api/index in ${indexMs.toFixed(0)} ms`);
    expect(index.runs).toHaveLength(200);
    expect(index.runs.every((r) => r.step === 300)).toBe(true);
    // every run once, in natural order (group0/run0, group0/run10, ..., group9/run199), each read whole
    const expected = Array.from({ length: 200 }, (_, i) => `group${i % 10}/run${i}`).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    expect(index.runs.map((r) => r.path)).toEqual(expected);
    expect(new Set(index.runs.map((r) => `${r.status} H=${r.heads} d=${r.d} L=${r.L}`))).toEqual(new Set(['completed H=2 d=5 L=40']));
  });

  it('downsamples a 500,001-step loss on the server (800 buckets; time printed) and never writes into DIR', async () => {
    const dir = join(tmp, 'long');
    const run = join(dir, 'h2-full');
    cpSync(template, run, { recursive: true });
    const n = 500_001;
    const loss = new Float64Array(n);
    for (let i = 0; i < n; i++) loss[i] = 0.6 + 5 * Math.exp(-i / 20000) + 0.2 * Math.sin(i);
    const nVal = 501;
    const valStep = Float64Array.from({ length: nVal }, (_, i) => i * 1000);
    const dyn = Float64Array.from({ length: nVal * 2 }, (_, i) => (i % 2 ? 0.14 : -0.14));
    writeSafetensors(join(run, 'metrics.safetensors'), {
      train_loss: tensorF64([n], loss), val_loss: tensorF64([nVal], valStep.map((s) => 0.6 + 5 * Math.exp(-s / 20000))), val_step: tensorF64([nVal], valStep),
      qk_dynamics: tensorF64([nVal, 1, 2], dyn), ov_dynamics: tensorF64([nVal, 1, 2], dyn.map((x) => x * -22)), dyn_step: tensorF64([nVal], valStep),
    });
    const rj = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
    writeFileSync(join(run, 'run.json'), JSON.stringify({ ...rj, step: n, steps: n }));
    const before = listing(dir);
    const { url } = await serve(dir);
    const t0 = performance.now();
    const res = await fetch(`${url}api/run?path=h2-full&smooth=0.9`);
    const ms = performance.now() - t0;
    const body = await res.json() as { loss: { layer: { data?: { values: unknown[] } }[] }; dynamics: unknown; eta: unknown; row: { step: number } };
    console.log(`500,001-step run: /api/run answered in ${ms.toFixed(0)} ms, ${JSON.stringify(body).length} bytes`);
    expect(res.status).toBe(200);
    expect(body.row.step).toBe(n);
    const band = body.loss.layer[0]!.data!.values;
    expect(band.length).toBe(800);
    expect(body.loss.layer).toHaveLength(4); // band, mean, validation, EMA
    // read-only: nothing below DIR changed, whatever was asked
    for (const p of ['api/index', 'api/run?path=h2-full', 'files/h2-full/run.json', 'api/compare?path=h2-full']) expect((await fetch(url + p)).status).toBe(200);
    expect((await fetch(`${url}api/index`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${url}api/run?path=nope`)).status).toBe(404);
    expect((await fetch(`${url}api/run`)).status).toBe(400);
    expect(listing(dir)).toEqual(before);
  });

  it('refuses bad input with one line and exit code 2', async () => {
    const bad = (args: string[]): { code: number | null; stderr: string } => {
      const r = spawnSync(process.execPath, [bin, 'serve', ...args], { encoding: 'utf8', timeout: 20_000 });
      return { code: r.status, stderr: r.stderr };
    };
    const missing = bad([join(tmp, 'no-such-dir')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^icl-lab: DIR .*no-such-dir is not a directory/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const port = bad([tmp, '--port', '70000']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('--port: expected a port number 0..65535');
    // a port in use
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const used = (blocker.address() as { port: number }).port;
    const inUse = bad([tmp, '--port', String(used)]);
    blocker.close();
    expect(inUse.code).toBe(2);
    expect(inUse.stderr).toBe(`icl-lab: --port ${used} is in use; pick another (--port 0 = any free port)\n`);
  });
});
