/**
 * `icl-lab serve`'s API for run names, tags and the held-out loss (issue 22 items 11 and 13), without
 * a browser: /api/index rows carry run.json's name / tags / note and final_validation, "differs"
 * leaves the logging fields out (run/config.ts `logging`), /api/overlay draws one metric of many runs
 * (a colour per run, a legend entry each, bounded like /api/compare, 400 with a reason otherwise).
 * The browser side: test/web.overlay.test.ts. Needs the built CLI (npx tsc -p tsconfig.json).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELDS, jsonKey } from '../src/run/config.js';
import { MAX_OVERLAY, type IndexResponse, type OverlayResponse } from '../src/serve/api.js';
import { NOT_DIFFERS, overlayLabels } from '../src/serve/data.js';
import { overlayColor } from '../src/serve/figures.js';
import { bin, cli, requireDist, tempDir, TINY } from './cli.helpers.js';

requireDist();
const lab = tempDir('serve-overlay');
const children: ChildProcess[] = [];
let url = '';
const HOSTILE = '<img src=x onerror="document.title=1">';

beforeAll(async () => {
  const train = (out: string, extra: string[]) => {
    const r = cli(['train', '--out', join(lab, out), '--steps', '60', ...TINY, ...extra], { timeout: 60_000 });
    if (r.code !== 0) throw new Error(r.stderr);
  };
  // the logging fields differ between the runs (they must not show as "differs"), heads does
  train('a', ['--heads', '1', '--name', 'first', '--tag', 'scan', '--note', 'a note', '--dynamics-every', '5', '--qk-every', '10', '--val-every', '20']);
  train('b', ['--heads', '2', '--name', 'first', '--tag', 'scan', '--tag', 'other']);
  train('c', ['--heads', '2', '--name', HOSTILE]);
  const child = spawn(process.execPath, [bin, 'serve', lab, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b) => {
      out += b;
      const m = out.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
}, 120_000);
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const get = async (path: string): Promise<{ status: number; body: unknown }> => {
  const r = await fetch(url + path);
  return { status: r.status, body: await r.json() };
};
const runJson = (p: string) => JSON.parse(readFileSync(join(lab, p, 'run.json'), 'utf8')) as { final_validation: { mse: number; stderr: number; samples: number } };

describe('/api/index rows', () => {
  it('carry name, tags, note and the held-out loss of run.json; differs leaves the logging fields out', async () => {
    const { status, body } = await get('api/index');
    expect(status).toBe(200);
    const rows = (body as IndexResponse).runs;
    expect(rows.map((r) => [r.path, r.label, r.tags, r.note])).toEqual([
      ['a', 'first', ['scan'], 'a note'],
      ['b', 'first', ['scan', 'other'], null],
      ['c', HOSTILE, [], null],
    ]);
    for (const r of rows) {
      const fv = runJson(r.path).final_validation;
      expect(r.heldOut).toEqual({ mse: fv.mse, stderr: fv.stderr, samples: 20_000 });
    }
    expect(rows[0]!.differs).toEqual(['heads=1']);
    expect(rows[1]!.differs).toEqual(['heads=2']);
  });

  it('NOT_DIFFERS is the config table\'s logging fields, steps and engine', () => {
    const logging = FIELDS.filter((f) => f.logging).map((f) => jsonKey(f.key));
    expect(logging).toEqual(['dynamics_every', 'qk_every', 'loss_every', 'diverge_loss', 'val_every', 'val_samples', 'print_every', 'checkpoint_every', 'checkpoint_secs']);
    expect([...NOT_DIFFERS].sort()).toEqual([...logging, 'steps', 'engine'].sort());
  });
});

describe('/api/overlay', () => {
  it('draws the loss of every run: a colour each, the legend naming each (a shared name with its path)', async () => {
    const { status, body } = await get('api/overlay?path=a&path=b&path=c&metric=loss');
    expect(status).toBe(200);
    const o = body as OverlayResponse;
    expect(o.metric).toBe('loss');
    expect(o.runs.map((r) => r.label)).toEqual(['first (a)', 'first (b)', HOSTILE]);
    expect(new Set(o.runs.map((r) => r.color)).size).toBe(3);
    expect(o.runs.map((r) => r.points)).toEqual([60, 60, 60]); // 60 steps: every step its own bucket
    const color = (o.chart!['encoding'] as Record<string, { scale: { domain: string[]; range: string[] }; legend: { symbolLimit: number } }>)['color']!;
    expect(color.scale.domain).toEqual(o.runs.map((r) => r.label));
    expect(color.scale.range).toEqual(o.runs.map((r) => r.color));
    expect(color.legend.symbolLimit).toBe(0); // every entry, however many runs
    const values = (o.chart!['data'] as { values: { run: string }[] }).values;
    expect(values.filter((v) => v.run === HOSTILE)).toHaveLength(60);
  });

  it('val_loss and eta: the validation batches and η_TF(t) of the logged dynamics', async () => {
    const v = (await get('api/overlay?path=a&path=b&metric=val_loss')).body as OverlayResponse;
    // a: validation at step index 0, 20, 40 and the last (59); b: every 10 (TINY): 0, 10, ..., 50, 59
    expect(v.runs.map((r) => r.points)).toEqual([4, 7]);
    const e = (await get('api/overlay?path=a&metric=eta')).body as OverlayResponse;
    expect(e.runs[0]!.points).toBe(13); // dynamics at step index 0, 5, ..., 55 and the last (59)
    expect(Number.isFinite(e.runs[0]!.last)).toBe(true);
  });

  it('refuses with 400 and a reason: no run, more than 64, a run twice, an unknown metric; 404 an unknown run', async () => {
    expect(await get('api/overlay?metric=loss')).toEqual({ status: 400, body: { error: `missing ?path= (one or more runs, at most ${MAX_OVERLAY})` } });
    const many = Array.from({ length: MAX_OVERLAY + 1 }, (_, i) => `path=r${i}`).join('&');
    expect(await get(`api/overlay?${many}&metric=loss`)).toEqual({ status: 400, body: { error: 'overlay takes at most 64 runs, got 65' } });
    expect(await get('api/overlay?path=a&path=a')).toEqual({ status: 400, body: { error: 'run a is given twice; overlay each run once' } });
    expect(await get('api/overlay?path=a&metric=accuracy')).toEqual({ status: 400, body: { error: 'metric "accuracy" is not one overlay draws; allowed: loss, val_loss, eta' } });
    expect(await get('api/overlay?path=nope&metric=loss')).toEqual({ status: 404, body: { error: 'not found: nope' } });
    // a smoothing weight outside [0, 1) was taken as 0 without a word (hostile pass 2)
    for (const [q, raw] of [['NaN', 'NaN'], ['-1', '-1'], ['2', '2'], ['abc', 'abc']]) {
      expect(await get(`api/overlay?path=a&metric=loss&smooth=${q}`)).toEqual({ status: 400, body: { error: `smooth=${JSON.stringify(raw)} is not a smoothing weight; give a number in [0, 1) (0: none)` } });
    }
    expect((await get('api/overlay?path=a&metric=loss&smooth=0.5')).status).toBe(200);
    expect((await get('api/run?path=a&smooth=1')).status).toBe(400);
  });
});

describe('overlay helpers', () => {
  it('overlayColor gives 64 runs 64 colours; overlayLabels keeps unique names as they are', () => {
    expect(new Set(Array.from({ length: 64 }, (_, i) => overlayColor(i, 64))).size).toBe(64);
    expect(overlayColor(3, 4)).toBe('#72B7B2'); // the comparison colours while they last
    const row = (path: string, label: string | null) => ({ path, label }) as Parameters<typeof overlayLabels>[0][number];
    expect(overlayLabels([row('x/a', 'one'), row('x/b', null), row('x/c', 'x/b')])).toEqual(['one', 'x/b', 'x/b (x/c)']);
  });
});

describe('a metrics file larger than the lab reads', () => {
  it('is refused with 422, its size and the limit, without reading it (the event loop stays free)', async () => {
    const { cpSync, truncateSync } = await import('node:fs');
    const { MAX_SERVED_METRICS_BYTES } = await import('../src/serve/data.js');
    cpSync(join(lab, 'a'), join(lab, 'big'), { recursive: true });
    truncateSync(join(lab, 'big', 'metrics.safetensors'), MAX_SERVED_METRICS_BYTES + 2 ** 20); // sparse: no disk used
    const r = await get('api/overlay?path=big&path=a');
    expect(r.status).toBe(422);
    expect((r.body as { error: string }).error).toMatch(/metrics\.safetensors.*257 MiB, more than the 256 MiB the lab reads/);
    expect((await get('api/overlay?path=a')).status).toBe(200);
  });
});
