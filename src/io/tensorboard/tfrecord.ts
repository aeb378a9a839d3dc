/**
 * TFRecord framing, the container of TensorBoard event files: each record is
 *
 *   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
 *
 * (crc32c.ts). Pure: records in, file bytes out.
 */
import { maskedCrc32c } from './crc32c.js';

/** One framed record. */
export function tfrecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(data.length), true);
  v.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  v.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** Records framed one after another: the bytes of a whole file. */
export function tfrecordFile(records: readonly Uint8Array[]): Uint8Array {
  const framed = records.map(tfrecord);
  const out = new Uint8Array(framed.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of framed) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}
