import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bf16ToNumber, decodeSafetensors, encodeSafetensors, f16ToNumber, f64, FileFormatError, readSafetensors,
  tensorF32, tensorF64, tensorI64, writeSafetensors, type Dtype, type Tensor,
} from '../src/io/safetensors.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { tempDir } from './cli.helpers.js';

const dir = tempDir('io-st');

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const json = (b: Uint8Array): Record<string, unknown> => {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
};
/** A file with a hand-written header and `data` bytes, header padded to 8 like the library. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  let h = JSON.stringify(header);
  if (pad) while ((8 + h.length) % 8 !== 0) h += ' ';
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(new TextEncoder().encode(h), 8);
  out.set(data, 8 + h.length);
  return out;
}

/** One tensor of every dtype, with values at the edges of each range. */
function everyDtype(): Record<string, Tensor> {
  return {
    f64: { dtype: 'F64', shape: [2, 3], data: Float64Array.from([0, -0, 1e-308, -1.7976931348623157e308, Math.PI, 5e-324]) },
    f32: { dtype: 'F32', shape: [3], data: Float32Array.from([1.5, -3.4028234663852886e38, 1.401298464324817e-45]) },
    f16: { dtype: 'F16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) },
    bf16: { dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0xc040]) },
    i64: { dtype: 'I64', shape: [3], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 42n]) },
    u64: { dtype: 'U64', shape: [1], data: BigUint64Array.from([2n ** 64n - 1n]) },
    i32: { dtype: 'I32', shape: [2], data: Int32Array.from([-2147483648, 2147483647]) },
    u32: { dtype: 'U32', shape: [2], data: Uint32Array.from([0, 4294967295]) },
    i16: { dtype: 'I16', shape: [2], data: Int16Array.from([-32768, 32767]) },
    u16: { dtype: 'U16', shape: [1], data: Uint16Array.from([65535]) },
    i8: { dtype: 'I8', shape: [2], data: Int8Array.from([-128, 127]) },
    u8: { dtype: 'U8', shape: [1, 2, 2], data: Uint8Array.from([0, 1, 254, 255]) },
    bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) },
    scalar: { dtype: 'F64', shape: [], data: Float64Array.from([-2.5]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    empty_i64: { dtype: 'I64', shape: [3, 0], data: new BigInt64Array(0) },
  };
}

describe('safetensors encode/decode', () => {
  it('matches the Python library byte for byte (safetensors 0.8.0 numpy.save output)', () => {
    // save({'a': float32 [1,-2]}) from safetensors.numpy: header length 56 = 54 JSON bytes + 2 spaces.
    expect(hex(encodeSafetensors({ a: tensorF32([2], [1, -2]) }))).toBe(
      '3800000000000000' +
        hex(new TextEncoder().encode('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ')) +
        '0000803f' + '000000c0',
    );
    // save({'a': float32 [1,-2], 'b': zeros((0,3)), 's': array(3.5)}, metadata={'k': 'v'}): metadata
    // first, then F64 tensors before F32 (larger items first), by name within a dtype size.
    const golden =
      'c0000000000000007b225f5f6d657461646174615f5f223a7b226b223a2276227d2c2262223a7b226474797065223a22463634222c227368617065223a5b302c335d2c22646174615f6f666673657473223a5b302c305d7d2c2273223a7b226474797065223a22463634222c227368617065223a5b5d2c22646174615f6f666673657473223a5b302c385d7d2c2261223a7b226474797065223a22463332222c227368617065223a5b325d2c22646174615f6f666673657473223a5b382c31365d7d7d20202020200000000000000c400000803f000000c0';
    const ours = encodeSafetensors({ a: tensorF32([2], [1, -2]), s: tensorF64([], [3.5]), b: tensorF64([0, 3]) }, { k: 'v' });
    expect(hex(ours)).toBe(golden);
    const back = decodeSafetensors(fromHex(golden));
    expect(Object.keys(back.tensors)).toEqual(['b', 's', 'a']);
    expect(back.metadata).toEqual({ k: 'v' });
    expect(Array.from(back.tensors.a!.data as Float32Array)).toEqual([1, -2]);
    expect(back.tensors.s).toEqual({ dtype: 'F64', shape: [], data: Float64Array.from([3.5]) });
  });

  it('round-trips every dtype, scalars, empty tensors and metadata exactly', () => {
    const ts = everyDtype();
    const meta = { run: 'é ✓ "quoted"', empty: '' };
    const buf = encodeSafetensors(ts, meta);
    const n = Number(new DataView(buf.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const back = decodeSafetensors(buf);
    expect(back.metadata).toEqual(meta);
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(ts).sort());
    for (const [name, t] of Object.entries(ts)) {
      const u = back.tensors[name]!;
      expect(u.dtype, name).toBe(t.dtype);
      expect(u.shape, name).toEqual(t.shape);
      expect(u.data.constructor, name).toBe(t.data.constructor);
      expect(Array.from(u.data as ArrayLike<number | bigint>), name).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
    // -0 and the smallest subnormal survive bit-exactly
    expect(Object.is((back.tensors.f64!.data as Float64Array)[1], -0)).toBe(true);
    expect((back.tensors.f64!.data as Float64Array)[5]).toBe(5e-324);
    // every tensor starts aligned to its item size within the file (8 + N is a multiple of 8)
    const header = json(buf) as Record<string, { dtype: Dtype; data_offsets: [number, number] }>;
    const size: Record<string, number> = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };
    for (const [k, h] of Object.entries(header)) if (k !== '__metadata__') expect(h.data_offsets[0] % size[h.dtype]!, k).toBe(0);
  });

  it('decoded tensors own their memory (no aliasing of the input buffer)', () => {
    const buf = encodeSafetensors({ x: tensorF64([2], [1, 2]) });
    const back = decodeSafetensors(buf);
    buf.fill(0, buf.length - 16);
    expect(Array.from(back.tensors.x!.data as Float64Array)).toEqual([1, 2]);
  });

  it('round-trips random F64/F32/I32 tensors (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'),
          fc.tuple(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }), fc.constantFrom<Dtype>('F64', 'F32', 'I32'), fc.integer()),
          { maxKeys: 5 },
        ),
        (spec) => {
          const ts: Record<string, Tensor> = {};
          for (const [name, [shape, dtype, seed]] of Object.entries(spec)) {
            const n = shape.reduce((a, b) => a * b, 1);
            const vals = Array.from({ length: n }, (_, i) => ((seed + i * 7919) % 1000) / 7);
            ts[name] = dtype === 'F64' ? tensorF64(shape, vals) : dtype === 'F32' ? tensorF32(shape, vals)
              : { dtype: 'I32', shape, data: Int32Array.from(vals.map(Math.round)) };
          }
          const back = decodeSafetensors(encodeSafetensors(ts)).tensors;
          expect(Object.keys(back).sort()).toEqual(Object.keys(ts).sort());
          for (const [k, t] of Object.entries(ts)) {
            expect(back[k]!.shape).toEqual(t.shape);
            expect(Array.from(back[k]!.data as Float64Array)).toEqual(Array.from(t.data as Float64Array));
          }
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it('f64() converts every numeric dtype; F64 is returned without a copy', () => {
    const ts = everyDtype();
    expect(f64(ts.f64!)).toBe(ts.f64!.data);
    expect(Array.from(f64(ts.f16!))).toEqual([1, -2]);
    expect(Array.from(f64(ts.bf16!))).toEqual([1, -3]);
    expect(Array.from(f64(ts.i64!))).toEqual([-(2 ** 63), 2 ** 63, 42]);
    expect(Array.from(f64(ts.u8!))).toEqual([0, 1, 254, 255]);
    expect(Array.from(f64(ts.f32!))).toEqual([1.5, -3.4028234663852886e38, 1.401298464324817e-45]);
    expect(f16ToNumber(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(f16ToNumber(0x7bff)).toBe(65504); // largest normal
    expect(f16ToNumber(0xfc00)).toBe(-Infinity);
    expect(f16ToNumber(0x7e00)).toBeNaN();
    expect(bf16ToNumber(0x4049)).toBeCloseTo(3.140625, 12);
  });

  it('helpers check shapes against data', () => {
    expect(() => tensorF64([2, 2], [1, 2, 3])).toThrow(/shape \[2, 2\] holds 4 values but data has 3/);
    expect(tensorF64([2, 2]).data).toEqual(new Float64Array(4));
    expect(tensorI64([2], [3, -4]).data).toEqual(BigInt64Array.from([3n, -4n]));
    expect(() => tensorI64([1], [0.5])).toThrow(/not a safe integer/);
    expect(() => encodeSafetensors({ x: { dtype: 'F64', shape: [2], data: new Float32Array(2) } })).toThrow(/F64 needs a Float64Array/);
    expect(() => encodeSafetensors({ x: { dtype: 'X9' as Dtype, shape: [], data: new Float64Array(1) } })).toThrow(/unknown dtype X9/);
    expect(() => encodeSafetensors({ __metadata__: tensorF64([]) })).toThrow(/invalid tensor name/);
    expect(() => encodeSafetensors({}, { k: 3 as unknown as string })).toThrow(/values must be strings/);
  });
});

describe('safetensors rejects malformed files with a clear message', () => {
  const good = encodeSafetensors({ a: tensorF64([2], [1, 2]), b: tensorF32([1], [3]) });
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /5 bytes is too short for the 8-byte header length/],
    ['header length past end', (() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 10_000n, true); return b; })(), /header length 10000 does not fit in a file of \d+ bytes/],
    ['huge header length', (() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 2n ** 62n, true); return b; })(), /exceeds the 100000000-byte limit/],
    ['truncated data', good.slice(0, good.length - 4), /run past the end of the data|cover \d+ bytes/],
    ['trailing bytes', Uint8Array.from([...good, 0, 0, 0, 0, 0, 0, 0, 0]), /tensors cover 20 bytes of data but the file holds 28/],
    ['not JSON', rawFile('x').map((x, i) => (i === 8 ? 0x7b : i === 9 ? 0x7b : x)), /not valid JSON/],
    ['not an object', rawFile([1, 2]), /does not start with "\{"/],
    ['bad utf-8', (() => { const b = rawFile({ a: 1 }); b[10] = 0xff; return b; })(), /not valid UTF-8/],
    ['unknown dtype', rawFile({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor a: unsupported dtype "F8_E4M3"/],
    ['bad shape', rawFile({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor a: shape \[-1\] is not a list of non-negative integers/],
    ['shape/bytes mismatch', rawFile({ a: { dtype: 'F64', shape: [3], data_offsets: [0, 16] } }, new Uint8Array(16)), /tensor a: shape \[3\] of F64 needs 24 bytes but data_offsets \[0, 16\] span 16/],
    ['reversed offsets', rawFile({ a: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), /data_offsets \[4,0\] is not \[begin, end\]/],
    ['gap', rawFile({ a: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, new Uint8Array(4)), /tensor a: data_offsets start at 2, expected 0/],
    ['overlap', rawFile({ a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, new Uint8Array(4)), /start at 2, expected 4/],
    ['metadata not strings', rawFile({ __metadata__: { k: 1 } }), /"__metadata__".k must be a string/],
    ['entry not object', rawFile({ a: 3 }), /tensor a: entry is not an object/],
  ];
  for (const [what, bytes, re] of cases) {
    it(what, () => {
      let err: unknown;
      try {
        decodeSafetensors(bytes);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FileFormatError);
      expect((err as Error).message).toMatch(/^not a valid safetensors file: /);
      expect((err as Error).message).toMatch(re);
    });
  }

  it('random corruption never crashes the reader: it decodes or throws FileFormatError (property)', () => {
    const base = encodeSafetensors({ w: tensorF64([3, 2], [1, 2, 3, 4, 5, 6]), b: tensorF32([2], [7, 8]), n: tensorI64([1], [9]) }, { k: 'v' });
    const headerEnd = 8 + Number(new DataView(base.buffer).getBigUint64(0, true));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: base.length - 1 }) }),
          fc.record({ kind: fc.constant('flip' as const), at: fc.integer({ min: 0, max: headerEnd - 1 }), byte: fc.integer({ min: 0, max: 255 }) }),
        ),
        (m) => {
          const bytes = m.kind === 'truncate' ? base.slice(0, m.at) : base.slice();
          if (m.kind === 'flip') bytes[m.at] = m.byte;
          try {
            const r = decodeSafetensors(bytes);
            for (const t of Object.values(r.tensors)) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
          } catch (e) {
            expect(e).toBeInstanceOf(FileFormatError);
          }
        },
      ),
      { numRuns: 500, seed: 11 },
    );
  });

  it('readSafetensors names the file (missing, directory, corrupt)', () => {
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, good.slice(0, 20));
    expect(() => readSafetensors(bad)).toThrow(`${bad}: not a valid safetensors file: `);
    expect(() => readSafetensors(join(dir, 'nope.safetensors'))).toThrow(`${join(dir, 'nope.safetensors')}: no such file`);
    expect(() => readSafetensors(dir)).toThrow(/is a directory/);
  });

  it('accepts an unpadded header (other writers) and an empty file body', () => {
    const raw = rawFile({ a: { dtype: 'U8', shape: [3], data_offsets: [0, 3] } }, Uint8Array.from([7, 8, 9]), false);
    expect(Array.from(decodeSafetensors(raw).tensors.a!.data as Uint8Array)).toEqual([7, 8, 9]);
    expect(decodeSafetensors(encodeSafetensors({}))).toEqual({ tensors: {}, metadata: {} });
  });
});

describe('atomic writes', () => {
  it('writeSafetensors writes a readable file and leaves no temporary files', () => {
    const p = join(dir, 'w.safetensors');
    writeSafetensors(p, { x: tensorF64([1], [1]) }, { v: '1' });
    writeSafetensors(p, { x: tensorF64([2], [4, 5]) }, { v: '2' }); // overwrite
    const back = readSafetensors(p);
    expect(back.metadata).toEqual({ v: '2' });
    expect(Array.from(back.tensors.x!.data as Float64Array)).toEqual([4, 5]);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('a failed write keeps the old file and removes the temporary file', () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    const p = join(sub, 'keep.txt');
    writeFileAtomic(p, 'old');
    mkdirSync(join(sub, 'target-is-dir'));
    // renaming a file over a non-empty directory fails after the temp file was written
    writeFileSync(join(sub, 'target-is-dir', 'x'), '');
    expect(() => writeFileAtomic(join(sub, 'target-is-dir'), 'new')).toThrow();
    expect(readdirSync(sub).sort()).toEqual(['keep.txt', 'target-is-dir']);
    expect(readFileSync(p, 'utf8')).toBe('old');
    expect(() => writeFileAtomic(join(dir, 'no-such-dir', 'f'), 'x')).toThrow(/ENOENT/);
  });
});
