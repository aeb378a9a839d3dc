/**
 * `icl-lab export tensorboard`, read back by an independent reader written here (its own TFRecord
 * framing, bitwise CRC-32C and protobuf decoding; nothing of src/io/tensorboard): every record's
 * CRCs, every scalar against metrics.safetensors at its step, the images as PNGs (signature, IHDR,
 * inflated pixel rows), the config text, the HParams summaries as TensorBoard's plugin reads them,
 * the golden event file of a tiny run (test/golden/tensorboard/tiny, trained with
 * `icl-lab train --out tiny --steps 120 --dynamics-every 10 --qk-every 40 --val-every 20 --d 2
 * --context-length 8 --batch-size 16 --seed 7`), and bad input.
 *
 * The golden file was written by `icl-lab export tensorboard test/golden/tensorboard/tiny --out T
 * --image-steps 1` (T/tiny/events.out.tfevents.* -> test/golden/tensorboard/tiny.tfevents); a change
 * of the format must rewrite it the same way, on purpose.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeTarget } from '../src/analysis/analyze.js';
import { loadTarget } from '../src/analysis/targets.js';
import { f64, readSafetensors } from '../src/io/safetensors.js';
import { exportTensorboard } from '../src/export/tensorboard.js';
import { cli, requireDist, root } from './cli.helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'icl-tensorboard-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tiny = join(root, 'test', 'golden', 'tensorboard', 'tiny');
const golden = join(root, 'test', 'golden', 'tensorboard', 'tiny.tfevents');

// ---------------------------------------------------------------------------------------------
// The independent reader
// ---------------------------------------------------------------------------------------------

/** CRC-32C, bit by bit (no table), and TFRecord's mask. */
function crc32cBitwise(b: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
    c >>>= 0;
  }
  return ~c >>> 0;
}
const mask = (c: number): number => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) % 2 ** 32;

/** Split a TFRecord file, checking both CRCs of every record. */
function readRecords(bytes: Uint8Array): Uint8Array[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const len = Number(v.getBigUint64(at, true));
    expect(v.getUint32(at + 8, true), `length CRC of record ${out.length}`).toBe(mask(crc32cBitwise(bytes.subarray(at, at + 8))));
    const data = bytes.subarray(at + 12, at + 12 + len);
    expect(v.getUint32(at + 12 + len, true), `data CRC of record ${out.length}`).toBe(mask(crc32cBitwise(data)));
    out.push(data);
    at += 16 + len;
  }
  expect(at).toBe(bytes.length);
  return out;
}

type Field = { n: number; wire: number; int?: bigint; bytes?: Uint8Array; fixed?: DataView };

/** Protobuf wire-format decoding: every field in order. */
function fields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let x = 0n, shift = 0n;
    for (;;) {
      const byte = b[at++]!;
      x |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (byte < 0x80) return x;
    }
  };
  while (at < b.length) {
    const key = Number(varint());
    const n = key >> 3, wire = key & 7;
    if (wire === 0) out.push({ n, wire, int: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ n, wire, bytes: b.subarray(at, at + len) });
      at += len;
    } else if (wire === 1 || wire === 5) {
      const w = wire === 1 ? 8 : 4;
      out.push({ n, wire, fixed: new DataView(b.buffer, b.byteOffset + at, w) });
      at += w;
    } else throw new Error(`wire type ${wire}`);
  }
  expect(at).toBe(b.length);
  return out;
}
const one = (fs: Field[], n: number): Field | undefined => fs.filter((f) => f.n === n).at(-1);
const all = (fs: Field[], n: number): Field[] => fs.filter((f) => f.n === n);
const str = (f: Field | undefined): string => (f?.bytes ? new TextDecoder().decode(f.bytes) : '');
const dbl = (f: Field | undefined): number => (f?.fixed ? f.fixed.getFloat64(0, true) : 0);
const int = (f: Field | undefined): number => (f?.int !== undefined ? Number(f.int) : 0);
const sub = (f: Field | undefined): Field[] => (f?.bytes ? fields(f.bytes) : []);

interface Value {
  tag: string;
  simple?: number;
  image?: { height: number; width: number; colorspace: number; png: Uint8Array };
  tensor?: { dtype: number; strings: string[]; floats: Uint8Array | undefined };
  plugin?: { name: string; content: Uint8Array };
}
interface Event {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: Value[];
}

function readEvents(path: string): Event[] {
  return readRecords(new Uint8Array(readFileSync(path))).map((rec) => {
    const e = fields(rec);
    const ev: Event = { wallTime: dbl(one(e, 1)), step: int(one(e, 2)), values: [] };
    if (one(e, 3)) ev.fileVersion = str(one(e, 3));
    for (const vf of all(sub(one(e, 5)), 1)) {
      const v = fields(vf.bytes!);
      const val: Value = { tag: str(one(v, 1)) };
      const simple = one(v, 2);
      if (simple) val.simple = simple.fixed!.getFloat32(0, true);
      const img = one(v, 4);
      if (img) {
        const i = fields(img.bytes!);
        val.image = { height: int(one(i, 1)), width: int(one(i, 2)), colorspace: int(one(i, 3)), png: one(i, 4)!.bytes! };
      }
      const t = one(v, 8);
      if (t) {
        const tf = fields(t.bytes!);
        val.tensor = { dtype: int(one(tf, 1)), strings: all(tf, 8).map(str), floats: one(tf, 5)?.bytes };
      }
      const meta = one(v, 9);
      if (meta) {
        const pd = sub(one(fields(meta.bytes!), 1));
        val.plugin = { name: str(one(pd, 1)), content: one(pd, 2)?.bytes ?? new Uint8Array(0) };
      }
      ev.values.push(val);
    }
    return ev;
  });
}

/** tag -> [step, value] of every simple_value, in file order. */
function scalars(events: Event[]): Map<string, [number, number][]> {
  const m = new Map<string, [number, number][]>();
  for (const e of events) for (const v of e.values) if (v.simple !== undefined) (m.get(v.tag) ?? m.set(v.tag, []).get(v.tag)!).push([e.step, v.simple]);
  return m;
}

/** Standard CRC-32 (PNG chunks). */
function crc32(b: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    c >>>= 0;
  }
  return ~c >>> 0;
}

/** Decode a PNG's chunks: signature, IHDR, every chunk CRC, and the inflated image data's size. */
function checkPng(png: Uint8Array, width: number, height: number): void {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  const idat: Uint8Array[] = [];
  let ihdr: { w: number; h: number; depth: number; color: number } | undefined;
  let end = false;
  while (at < png.length) {
    const len = v.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + len);
    expect(v.getUint32(at + 8 + len), `CRC of chunk ${type}`).toBe(crc32(png.subarray(at + 4, at + 8 + len)));
    if (type === 'IHDR') ihdr = { w: v.getUint32(at + 8), h: v.getUint32(at + 12), depth: data[8]!, color: data[9]! };
    if (type === 'IDAT') idat.push(data);
    if (type === 'IEND') end = true;
    at += 12 + len;
  }
  expect(end).toBe(true);
  expect(ihdr).toBeDefined();
  expect([ihdr!.w, ihdr!.h]).toEqual([width, height]);
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[ihdr!.color as 0 | 2 | 4 | 6];
  expect(ihdr!.depth).toBe(8);
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe(height * (1 + width * channels!)); // a filter byte + the pixels of each row
}

/** The one event file in `dir`. */
function eventFile(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
  expect(files).toHaveLength(1);
  return join(dir, files[0]!);
}

// ---------------------------------------------------------------------------------------------

describe('export tensorboard: one run, read back independently', () => {
  const out = join(tmp, 'one');
  let events: Event[];
  const metrics = readSafetensors(join(tiny, 'metrics.safetensors')).tensors;
  const runJson = JSON.parse(readFileSync(join(tiny, 'run.json'), 'utf8'));

  beforeAll(async () => {
    const res = await exportTensorboard([tiny], { out, imageSteps: 1 });
    expect(res.runs.map((r) => r.name)).toEqual(['tiny']);
    events = readEvents(eventFile(join(out, 'tiny')));
  });

  it('is byte-identical to the golden event file', () => {
    expect(Buffer.compare(readFileSync(eventFile(join(out, 'tiny'))), readFileSync(golden))).toBe(0);
  });

  it('starts with the file version, then one event per step, steps increasing, wall times from run.json', () => {
    expect(events[0]!.fileVersion).toBe('brain.Event:2');
    const t0 = Date.parse(runJson.timings.created_at) / 1000;
    expect(events[0]!.wallTime).toBe(t0);
    const steps = events.slice(1).map((e) => e.step);
    expect(steps).toEqual([...new Set(steps)].sort((a, b) => a - b));
    const last = events.at(-1)!;
    expect(last.step).toBe(120);
    expect(last.wallTime).toBeCloseTo(t0 + runJson.timings.wall_seconds, 6);
  });

  it('every scalar equals metrics.safetensors (as float32) at its step', () => {
    const s = scalars(events);
    const trainLoss = f64(metrics['train_loss']!);
    const valLoss = f64(metrics['val_loss']!), valStep = f64(metrics['val_step']!);
    const qk = f64(metrics['qk_dynamics']!), ov = f64(metrics['ov_dynamics']!), dynStep = f64(metrics['dyn_step']!);
    const [, layers, heads] = metrics['qk_dynamics']!.shape as number[];
    expect(s.get('train/loss')).toEqual(Array.from(trainLoss, (v, i) => [i, Math.fround(v)]));
    expect(s.get('val/loss')).toEqual(Array.from(valLoss, (v, i) => [valStep[i]!, Math.fround(v)]));
    const eta: [number, number][] = [];
    for (let t = 0; t < dynStep.length; t++) {
      let e = 0;
      for (let h = 0; h < heads!; h++) e += qk[t * heads! + h]! * ov[t * heads! + h]!;
      eta.push([dynStep[t]!, Math.fround(e)]);
    }
    expect(s.get('circuit/eta_tf')).toEqual(eta);
    for (let l = 0; l < layers!; l++) {
      for (let h = 0; h < heads!; h++) {
        const at = (t: number) => (t * layers! + l) * heads! + h;
        expect(s.get(`circuit/w/L${l + 1}H${h + 1}`)).toEqual(Array.from(dynStep, (st, t) => [st, Math.fround(qk[at(t)]!)]));
        expect(s.get(`circuit/mu/L${l + 1}H${h + 1}`)).toEqual(Array.from(dynStep, (st, t) => [st, Math.fround(ov[at(t)]!)]));
      }
    }
    expect(s.get('final/validation_loss')).toEqual([[runJson.final_validation.step, Math.fround(runJson.final_validation.mse)]]);
    expect(s.get('final/kernel_gap')).toEqual([[120, Math.fround(analyzeTarget(loadTarget(tiny)).kernelGap)]]);
    expect([...s.keys()].sort()).toEqual(['circuit/eta_tf', 'circuit/mu/L1H1', 'circuit/mu/L1H2', 'circuit/w/L1H1', 'circuit/w/L1H2', 'final/kernel_gap', 'final/validation_loss', 'train/loss', 'val/loss']);
  });

  it('images are PNGs of every head at the last snapshot', () => {
    const imgs = events.flatMap((e) => e.values.filter((v) => v.image).map((v) => ({ step: e.step, ...v })));
    const snapStep = f64(readSafetensors(join(tiny, 'snapshots.safetensors')).tensors['snapshot_step']!);
    const last = snapStep[snapStep.length - 1]!;
    expect(imgs.map((i) => `${i.tag}@${i.step}`)).toEqual([`circuit/qk_ov/L1H1@${last}`, `circuit/qk_ov/L1H2@${last}`]);
    for (const i of imgs) {
      expect(i.image!.width).toBeGreaterThan(100);
      checkPng(i.image!.png, i.image!.width, i.image!.height);
    }
  });

  it('the config is a text summary (text plugin, DT_STRING) with every config field', () => {
    const cfg = events.flatMap((e) => e.values.filter((v) => v.tag === 'config').map((v) => ({ step: e.step, v })));
    expect(cfg).toHaveLength(1);
    expect(cfg[0]!.step).toBe(0);
    expect(cfg[0]!.v.plugin!.name).toBe('text');
    expect(cfg[0]!.v.tensor!.dtype).toBe(7);
    const text = cfg[0]!.v.tensor!.strings[0]!;
    for (const [k, val] of Object.entries(runJson.config as Record<string, unknown>)) {
      expect(text).toContain(`| ${k} | ${typeof val === 'string' ? val : JSON.stringify(val)} |`);
    }
  });

  it('long logs are thinned evenly with the last value kept, each value exact at its step', async () => {
    const res = await exportTensorboard([tiny], { out: join(tmp, 'thin'), maxPoints: 7, imageSteps: 0 });
    const s = scalars(readEvents(res.runs[0]!.file));
    const trainLoss = f64(metrics['train_loss']!);
    const tl = s.get('train/loss')!;
    expect(tl.map(([st]) => st)).toEqual([0, 20, 40, 60, 79, 99, 119]);
    for (const [st, v] of tl) expect(v).toBe(Math.fround(trainLoss[st]!));
    expect(s.get('circuit/w/L1H1')!.map(([st]) => st)).toEqual([0, 20, 40, 60, 80, 100, 119]); // dyn_step: 0, 10, ..., 110 and the last step 119
    expect(s.get('val/loss')!.length).toBe(7);
    expect(res.runs[0]!.images).toBe(0);
  });
});

/** An HParamsPluginData message from a summary value. */
function hparamsData(v: Value): Field[] {
  expect(v.plugin!.name).toBe('hparams');
  expect(v.tensor!.dtype).toBe(1); // DT_FLOAT, the null tensor TensorBoard's own summaries carry
  const d = fields(v.plugin!.content);
  expect(int(one(d, 1))).toBe(0); // version
  return d;
}

/** google.protobuf.Value */
function protoValue(fs: Field[]): number | string | boolean {
  if (one(fs, 2)) return dbl(one(fs, 2));
  if (one(fs, 3)) return str(one(fs, 3));
  return int(one(fs, 4)) === 1;
}

describe('varyingHParams', () => {
  it('leaves pool_seed out unless a run has a task pool (it repeats the seed otherwise)', async () => {
    const { varyingHParams } = await import('../src/export/tensorboard.js');
    const noPool = [{ seed: 1, pool_seed: 1, task_pool: 0, heads: 2 }, { seed: 2, pool_seed: 2, task_pool: 0, heads: 2 }];
    expect(varyingHParams(noPool).map((h) => h.name)).toEqual(['seed']);
    const pool = [{ seed: 1, pool_seed: 1, task_pool: 4 }, { seed: 2, pool_seed: 2, task_pool: 4 }];
    expect(varyingHParams(pool).map((h) => h.name)).toEqual(['seed', 'pool_seed']);
  });
});

describe('export tensorboard: a sweep with the HParams plugin summaries', () => {
  const sweep = join(tmp, 'grid');
  const out = join(tmp, 'tb-sweep');

  beforeAll(() => {
    requireDist();
    const r = cli(['sweep', '--out', sweep, '--grid', 'heads=1,2', '--steps', '40', '--d', '2', '--context-length', '8', '--batch-size', '16',
      '--dynamics-every', '10', '--qk-every', '20', '--val-every', '10', '--jobs', '2', '--progress', 'none', '--eval-samples', '200']);
    expect(r.code, r.stderr).toBe(0);
    const e = cli(['export', 'tensorboard', sweep, '--out', out, '--image-steps', '1']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toContain('HParams: 1 hyperparameters heads');
  }, 120_000);

  it('the experiment (in OUT/<sweep>/) names the varying field with its domain and the final metrics', () => {
    const ev = readEvents(eventFile(join(out, 'grid')));
    const values = ev.flatMap((e) => e.values);
    expect(values.map((v) => v.tag)).toEqual(['_hparams_/experiment']);
    const exp = sub(one(hparamsData(values[0]!), 2));
    expect(str(one(exp, 6))).toBe('grid');
    const infos = all(exp, 4).map((f) => fields(f.bytes!));
    expect(infos.map((i) => str(one(i, 1)))).toEqual(['heads']);
    expect(int(one(infos[0]!, 4))).toBe(3); // DATA_TYPE_FLOAT64
    const interval = sub(one(infos[0]!, 6));
    expect([dbl(one(interval, 1)), dbl(one(interval, 2))]).toEqual([1, 2]);
    const metrics = all(exp, 5).map((f) => sub(one(fields(f.bytes!), 1)));
    expect(metrics.map((m) => [str(one(m, 1)), str(one(m, 2))])).toEqual([['', 'final/validation_loss'], ['', 'final/kernel_gap'], ['', 'val/loss'], ['', 'train/loss']]);
  });

  it('each run (a session) has its hyperparameter values, its end status, and every metric tag as a scalar', () => {
    const sweepJson = JSON.parse(readFileSync(join(sweep, 'sweep.json'), 'utf8'));
    expect(sweepJson.runs).toHaveLength(2);
    for (const r of sweepJson.runs as { name: string }[]) {
      const runJson = JSON.parse(readFileSync(join(sweep, 'runs', r.name, 'run.json'), 'utf8'));
      const ev = readEvents(eventFile(join(out, 'grid', r.name)));
      const tagged = (tag: string) => ev.flatMap((e) => e.values.filter((v) => v.tag === tag).map((v) => ({ step: e.step, v })));
      const start = tagged('_hparams_/session_start_info');
      expect(start).toHaveLength(1);
      expect(start[0]!.step).toBe(0);
      const info = sub(one(hparamsData(start[0]!.v), 3));
      const hp = Object.fromEntries(all(info, 1).map((f) => {
        const entry = fields(f.bytes!);
        return [str(one(entry, 1)), protoValue(sub(one(entry, 2)))];
      }));
      expect(hp).toEqual({ heads: runJson.config.heads });
      expect(str(one(info, 4))).toBe(r.name);
      expect(dbl(one(info, 5))).toBe(Date.parse(runJson.timings.created_at) / 1000);
      const end = tagged('_hparams_/session_end_info');
      expect(end).toHaveLength(1);
      expect(end[0]!.step).toBe(40);
      expect(int(one(sub(one(hparamsData(end[0]!.v), 4)), 1))).toBe(1); // STATUS_SUCCESS
      const s = scalars(ev);
      for (const tag of ['final/validation_loss', 'final/kernel_gap', 'val/loss', 'train/loss']) expect(s.get(tag)?.length, tag).toBeGreaterThan(0);
      expect(s.get('final/validation_loss')).toEqual([[40, Math.fround(runJson.final_validation.mse)]]);
      expect([...s.keys()].filter((k) => k.startsWith('circuit/w/'))).toHaveLength(runJson.config.heads);
    }
  });
});

describe('export tensorboard: bad input', () => {
  beforeAll(() => requireDist());
  const expectUsage = (args: string[], pattern: RegExp) => {
    const r = cli(['export', 'tensorboard', ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  };

  it('a missing directory, a directory that is no run, and no --out: one line, exit 2, nothing written', () => {
    const out = join(tmp, 'bad-out');
    expectUsage([join(tmp, 'nope'), '--out', out], /nope does not exist/);
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    expectUsage([empty, '--out', out], /neither a run directory \(no run\.json\) nor a sweep directory/);
    expectUsage([tiny, join(tmp, 'nope'), '--out', out], /does not exist/);
    expect(existsSync(out)).toBe(false); // every source is checked before anything is written
    expectUsage([tiny], /--out/);
  });
});
