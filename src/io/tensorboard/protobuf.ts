/**
 * A minimal protocol-buffers encoder: the wire format (varint, 64-bit, length-delimited, 32-bit
 * fields) for the handful of TensorBoard messages that event.ts and hparams.ts write.
 *
 * Written by hand rather than with a protobuf library: the npm libraries (protobufjs,
 * @bufbuild/protobuf, google-protobuf, pbf) would be a new dependency plus .proto files or generated
 * code for Event, Summary, TensorProto and the HParams messages, while writing these few messages
 * takes the ~70 lines below (the wire format is stable and fully specified). Encoding only: nothing
 * in icl-lab reads event files (the tests decode them with their own reader).
 */

const utf8 = new TextEncoder();

/** One message being built: fields appended in call order. */
export class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  private rawVarint(v: number): void {
    if (!(Number.isSafeInteger(v) && v >= 0)) throw new Error(`protobuf: varint ${v} is not a non-negative safe integer`);
    const bytes: number[] = [];
    while (v >= 0x80) {
      bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    bytes.push(v);
    this.push(Uint8Array.from(bytes));
  }

  private key(field: number, wireType: 0 | 1 | 2 | 5): void {
    this.rawVarint(field * 8 + wireType);
  }

  /** int32 / int64 / uint / enum / bool field (non-negative values only). */
  varint(field: number, v: number | boolean): this {
    this.key(field, 0);
    this.rawVarint(typeof v === 'boolean' ? (v ? 1 : 0) : v);
    return this;
  }

  /** double field (64-bit, little-endian). */
  double(field: number, v: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.push(b);
    return this;
  }

  /** float field (32-bit, little-endian; rounded from the double). */
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  /** bytes field. */
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.rawVarint(b.length);
    this.push(b);
    return this;
  }

  /** string field (UTF-8). */
  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  /** Embedded message field. */
  message(field: number, m: ProtoMessage): this {
    return this.bytes(field, m.finish());
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
