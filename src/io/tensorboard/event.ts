/**
 * TensorBoard's `Event` records (tensorflow/core/util/event.proto, tensorboard/compat/proto/summary.proto),
 * the messages of an event file, encoded with protobuf.ts. Field numbers used:
 *
 *   Event        wall_time 1 (double), step 2 (int64), file_version 3 (string), summary 5
 *   Summary      value 1 (repeated Value)
 *   Value        tag 1, simple_value 2 (float), image 4, tensor 8, metadata 9
 *   Image        height 1, width 2, colorspace 3, encoded_image_string 4
 *   SummaryMetadata  plugin_data 1 { plugin_name 1, content 2 }, data_class 4
 *   TensorProto  dtype 1 (DT_FLOAT 1, DT_STRING 7), tensor_shape 2 (scalar: empty), float_val 5 (packed), string_val 8
 *
 * Scalars are `simple_value` (float32), as torch.utils.tensorboard's add_scalar writes them, so
 * every reader (TensorBoard, `wandb sync --sync-tensorboard`, `aim convert tensorboard`) takes them.
 * Pure: values in, bytes out.
 */
import { ProtoMessage } from './protobuf.js';

/** The first record of every event file. */
export const FILE_VERSION = 'brain.Event:2';

const DT_FLOAT = 1;
const DT_STRING = 7;
/** SummaryMetadata.DataClass */
const DATA_CLASS_TENSOR = 2;

/** One Summary.Value, already encoded. */
export type SummaryValue = ProtoMessage;

/** Event { wall_time, file_version }: the file's header record. */
export function fileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoMessage().double(1, wallTime).string(3, FILE_VERSION).finish();
}

/** Event { wall_time, step, summary { value... } }. */
export function summaryEvent(wallTime: number, step: number, values: readonly SummaryValue[]): Uint8Array {
  const summary = new ProtoMessage();
  for (const v of values) summary.message(1, v);
  return new ProtoMessage().double(1, wallTime).varint(2, step).message(5, summary).finish();
}

/** A scalar (simple_value: float32). */
export function scalarValue(tag: string, value: number): SummaryValue {
  return new ProtoMessage().string(1, tag).float(2, value);
}

/** Width and height from a PNG's IHDR chunk (bytes 16..24). */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  if (png.length < 24 || png[0] !== 0x89 || png[1] !== 0x50 || png[12] !== 0x49 || png[13] !== 0x48 || png[14] !== 0x44 || png[15] !== 0x52) {
    throw new Error('tensorboard image: not a PNG (no signature and IHDR)');
  }
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

/** An image (Summary.Image with the PNG bytes; colorspace 4 = RGBA), which the Images dashboard shows. */
export function imageValue(tag: string, png: Uint8Array): SummaryValue {
  const { width, height } = pngSize(png);
  const image = new ProtoMessage().varint(1, height).varint(2, width).varint(3, 4).bytes(4, png);
  return new ProtoMessage().string(1, tag).message(4, image);
}

function pluginMetadata(pluginName: string, content: Uint8Array, dataClass?: number): ProtoMessage {
  const pluginData = new ProtoMessage().string(1, pluginName);
  if (content.length > 0) pluginData.bytes(2, content);
  const m = new ProtoMessage().message(1, pluginData);
  if (dataClass !== undefined) m.varint(4, dataClass);
  return m;
}

/** Markdown text for the Text dashboard: a scalar DT_STRING tensor under the `text` plugin. */
export function textValue(tag: string, markdown: string): SummaryValue {
  const tensor = new ProtoMessage().varint(1, DT_STRING).message(2, new ProtoMessage()).string(8, markdown);
  return new ProtoMessage().string(1, tag).message(8, tensor).message(9, pluginMetadata('text', new Uint8Array(0), DATA_CLASS_TENSOR));
}

/**
 * A summary whose meaning is all in its plugin data (the HParams summaries): `content` under
 * `pluginName`, with the scalar float 0 tensor TensorBoard's own hparams summaries carry.
 */
export function pluginDataValue(tag: string, pluginName: string, content: Uint8Array): SummaryValue {
  const tensor = new ProtoMessage().varint(1, DT_FLOAT).message(2, new ProtoMessage()).bytes(5, new Uint8Array(4)); // packed float_val [0]
  return new ProtoMessage().string(1, tag).message(8, tensor).message(9, pluginMetadata(pluginName, content));
}
