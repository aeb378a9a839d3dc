/**
 * safetensors, read and written by hand (https://github.com/huggingface/safetensors):
 *
 *   [8 bytes]  N = header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON: { "<name>": { "dtype": "F64", "shape": [2, 3], "data_offsets": [begin, end] },
 *                            ..., "__metadata__": { "<key>": "<string value>" } }
 *              padded with spaces so that 8 + N is a multiple of 8 (as the Rust/Python library writes it)
 *   [rest]     raw little-endian, row-major tensor data; offsets are relative to the start of this
 *              section, and the tensors tile it exactly (no gaps, no overlap, nothing left over).
 *
 * A Python user loads any file written here with `safetensors.numpy.load_file(path)`.
 *
 * Supported dtypes: F64 F32 F16 BF16 I64 U64 I32 U32 I16 U16 I8 U8 BOOL. F16 and BF16 are kept as
 * their raw 16-bit patterns (Uint16Array); `f64()` converts them. BOOL is a Uint8Array of 0/1.
 */
import { writeFileAtomic } from './atomic.js';
import { checkInputFile, readInputFile } from './input-file.js';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';

export type TensorData =
  | Float64Array | Float32Array
  | BigInt64Array | BigUint64Array
  | Int32Array | Uint32Array
  | Int16Array | Uint16Array
  | Int8Array | Uint8Array;

export interface Tensor {
  dtype: Dtype;
  /** Row-major shape; [] is a scalar (one element), a 0 anywhere makes an empty tensor. */
  shape: number[];
  data: TensorData;
}

/** A file that is not valid safetensors, or lacks what the caller needs. `file` names it when known. */
export class FileFormatError extends Error {
  override name = 'FileFormatError';
  constructor(message: string, readonly file?: string) {
    super(file === undefined ? message : `${file}: ${message}`);
  }
}

interface DtypeInfo {
  readonly size: number;
  readonly array: new (n: number) => TensorData;
}

const DTYPES: Record<Dtype, DtypeInfo> = {
  F64: { size: 8, array: Float64Array },
  F32: { size: 4, array: Float32Array },
  F16: { size: 2, array: Uint16Array },
  BF16: { size: 2, array: Uint16Array },
  I64: { size: 8, array: BigInt64Array },
  U64: { size: 8, array: BigUint64Array },
  I32: { size: 4, array: Int32Array },
  U32: { size: 4, array: Uint32Array },
  I16: { size: 2, array: Int16Array },
  U16: { size: 2, array: Uint16Array },
  I8: { size: 1, array: Int8Array },
  U8: { size: 1, array: Uint8Array },
  BOOL: { size: 1, array: Uint8Array },
};

export const DTYPE_NAMES = Object.keys(DTYPES) as Dtype[];

/** The Rust library refuses headers above 100 MB; so do we (a corrupt length would otherwise allocate wildly). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

export function dtypeSize(dtype: Dtype): number {
  return DTYPES[dtype].size;
}

/** Number of elements of a shape ([] -> 1). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Check that `t` is self-consistent; returns its byte length. `name` is for the message. */
function checkTensor(name: string, t: Tensor): number {
  if (!isDtype(t.dtype)) throw new TypeError(`tensor ${name}: unknown dtype ${String(t.dtype)} (allowed: ${DTYPE_NAMES.join(', ')})`);
  if (!Array.isArray(t.shape) || !t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new TypeError(`tensor ${name}: shape must be a list of non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  const info = DTYPES[t.dtype];
  if (!(t.data instanceof info.array)) {
    throw new TypeError(`tensor ${name}: dtype ${t.dtype} needs a ${info.array.name}, got ${t.data?.constructor?.name ?? typeof t.data}`);
  }
  const n = shapeSize(t.shape);
  if (t.data.length !== n) {
    throw new RangeError(`tensor ${name}: shape ${formatShape(t.shape)} holds ${n} values but data has ${t.data.length}`);
  }
  return n * info.size;
}

/** Bytes of a typed array, little-endian. */
function littleEndianBytes(data: TensorData, size: number): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return LITTLE_ENDIAN || size === 1 ? bytes : byteSwapped(bytes, size);
}

function byteSwapped(bytes: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j]!;
  }
  return out;
}

/**
 * Serialise tensors (and optional string metadata) to safetensors bytes. Tensors are laid out by
 * decreasing item size, then by name, so every tensor starts aligned to its item size (the same
 * order as the Rust library).
 */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = Object.entries(tensors);
  const sizes = new Map<string, number>();
  for (const [name, t] of entries) {
    if (name === '' || name === METADATA_KEY) throw new TypeError(`invalid tensor name ${JSON.stringify(name)}`);
    sizes.set(name, checkTensor(name, t));
  }
  entries.sort(([a, ta], [b, tb]) => DTYPES[tb.dtype].size - DTYPES[ta.dtype].size || (a < b ? -1 : a > b ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`metadata ${k}: values must be strings, got ${typeof v}`);
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const nbytes = sizes.get(name)!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const [name, t] of entries) {
    out.set(littleEndianBytes(t.data, DTYPES[t.dtype].size), pos);
    pos += sizes.get(name)!;
  }
  return out;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isByteOffset(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Parse safetensors bytes. Every tensor is copied into its own (aligned) typed array, so the
 * result does not alias `buf`. Throws FileFormatError (without a file name) on malformed input.
 */
export function decodeSafetensors(buf: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new FileFormatError(`not a valid safetensors file: ${msg}`);
  };
  if (buf.length < 8) fail(`${buf.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (n < 2 || 8 + n > buf.length) fail(`header length ${n} does not fit in a file of ${buf.length} bytes`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) return fail('header is not a JSON object');

  const metadata: Record<string, string> = Object.create(null);
  const raw = header[METADATA_KEY];
  if (raw !== undefined && raw !== null) {
    if (!isPlainObject(raw)) fail(`"${METADATA_KEY}" must be an object of strings`);
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`"${METADATA_KEY}".${k} must be a string, got ${JSON.stringify(v)}`);
      metadata[k] = v as string;
    }
  }

  const dataStart = 8 + n;
  const dataLength = buf.length - dataStart;
  const infos: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    if (!isPlainObject(info)) return fail(`tensor ${name}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isDtype(dtype)) fail(`tensor ${name}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${DTYPE_NAMES.join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isByteOffset)) fail(`tensor ${name}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isByteOffset) || offsets[0] > offsets[1]) {
      fail(`tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    const d = dtype as Dtype;
    const s = shape as number[];
    const expected = shapeSize(s) * DTYPES[d].size;
    if (end - begin !== expected) {
      fail(`tensor ${name}: shape ${formatShape(s)} of ${d} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataLength) fail(`tensor ${name}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes; file truncated?)`);
    infos.push({ name, dtype: d, shape: s, begin, end });
  }

  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  for (const t of infos) {
    if (t.begin !== expectedBegin) {
      fail(`tensor ${t.name}: data_offsets start at ${t.begin}, expected ${expectedBegin} (tensors must tile the data without gaps or overlap)`);
    }
    expectedBegin = t.end;
  }
  if (expectedBegin !== dataLength) {
    fail(`tensors cover ${expectedBegin} bytes of data but the file holds ${dataLength} (truncated or trailing bytes)`);
  }

  const tensors: Record<string, Tensor> = Object.create(null);
  for (const t of infos) {
    const info = DTYPES[t.dtype];
    let bytes: Uint8Array<ArrayBuffer> = new Uint8Array(t.end - t.begin); // own, aligned copy (Buffer#slice would alias)
    bytes.set(buf.subarray(dataStart + t.begin, dataStart + t.end));
    if (!LITTLE_ENDIAN && info.size > 1) bytes = byteSwapped(bytes, info.size);
    const Ctor = info.array as unknown as new (b: ArrayBuffer, o: number, n: number) => TensorData;
    tensors[t.name] = { dtype: t.dtype, shape: t.shape, data: new Ctor(bytes.buffer, 0, (t.end - t.begin) / info.size) };
  }
  return { tensors, metadata };
}

/** Read and parse a safetensors file. Errors name the file. */
export function readSafetensors(path: string): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  // a regular file of at most 2 GiB (a FIFO or /dev/zero would hang the read), readable
  const missing = () => new FileFormatError('no such file', path);
  if (checkInputFile(path, 'safetensors', missing).isDirectory()) throw new FileFormatError('is a directory, not a safetensors file', path);
  const buf: Uint8Array = readInputFile(path, 'safetensors', missing);
  try {
    return decodeSafetensors(buf);
  } catch (err) {
    if (err instanceof FileFormatError) throw new FileFormatError(err.message, path);
    throw err;
  }
}

/** Serialise and write atomically (temporary file + fsync + rename). */
export function writeSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------------------------
// Conversions and constructors

/** IEEE 754 half precision bits -> number. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits -> number (the upper half of a float32). */
export function bf16ToNumber(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;
}

/**
 * The values of a tensor as float64. Returns `t.data` itself (no copy) when it already is F64;
 * otherwise a converted copy. I64/U64 beyond 2^53 lose precision.
 */
export function f64(t: Tensor): Float64Array {
  const d = t.data;
  if (t.dtype === 'F64') return d as Float64Array;
  const out = new Float64Array(d.length);
  if (t.dtype === 'F16' || t.dtype === 'BF16') {
    const conv = t.dtype === 'F16' ? f16ToNumber : bf16ToNumber;
    for (let i = 0; i < d.length; i++) out[i] = conv((d as Uint16Array)[i]!);
  } else if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!);
  } else {
    out.set(d);
  }
  return out;
}

function makeTensor(dtype: Dtype, shape: number[], data: TensorData): Tensor {
  const t: Tensor = { dtype, shape: [...shape], data };
  checkTensor('(new)', t);
  return t;
}

/** An F64 tensor; `data` is used as is when it is a Float64Array, else copied. Zeros if omitted. */
export function tensorF64(shape: number[], data?: ArrayLike<number>): Tensor {
  const arr = data instanceof Float64Array ? data : data === undefined ? new Float64Array(shapeSize(shape)) : Float64Array.from(data);
  return makeTensor('F64', shape, arr);
}

/** An F32 tensor (values rounded to float32 when copied). Zeros if omitted. */
export function tensorF32(shape: number[], data?: ArrayLike<number>): Tensor {
  const arr = data instanceof Float32Array ? data : data === undefined ? new Float32Array(shapeSize(shape)) : Float32Array.from(data);
  return makeTensor('F32', shape, arr);
}

/** An I64 tensor from numbers (integers) or a BigInt64Array. */
export function tensorI64(shape: number[], data: ArrayLike<number> | BigInt64Array): Tensor {
  const arr = data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data, (x) => {
    if (!Number.isSafeInteger(x)) throw new RangeError(`I64 tensor: ${x} is not a safe integer`);
    return BigInt(x);
  }));
  return makeTensor('I64', shape, arr);
}
