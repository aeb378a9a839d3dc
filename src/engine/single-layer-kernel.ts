/**
 * The attention of a one-layer model (a run config's `attention`, a model file's metadata) and the
 * kernel that computes it: softmax (the seed's, engine/ts/attention.ts) or linear attention with
 * either normalisation (engine/ts/linear-attention.ts), on the TypeScript engine or inside a wasm
 * kernel (engine/wasm/attention.ts, engine/wasm/linear-attention.ts). No node:* imports.
 */
import type { Batch } from '../data/batch.js';
import type { AttentionParams } from '../model/params.js';
import { forward, lossAndGrad } from './ts/attention.js';
import { linearForward, linearLossAndGrad } from './ts/linear-attention.js';
import { ATTENTION_NAMES, attentionOf, isLinearAttention, type AttentionName } from '../model/attention-name.js';
import type { WasmKernel } from './wasm/attention.js';
import { linearWasm } from './wasm/linear-attention.js';


/** A one-layer model's forward (outputs [B], weights a [B, H, L] if `attn`) and loss + gradient. */
export interface SingleLayerKernel {
  forward(p: AttentionParams, batch: Batch, out: Float64Array, attn?: Float64Array): void;
  lossAndGrad(p: AttentionParams, batch: Batch, grad: Float64Array, out?: Float64Array): number;
}

const SOFTMAX_TS: SingleLayerKernel = { forward, lossAndGrad };

/** The kernel of `attention`: TypeScript, or in `wasm`'s instance when given (softmax: the kernel itself). */
export function singleLayerKernel(attention: AttentionName, wasm?: WasmKernel): SingleLayerKernel {
  if (attention === 'softmax') return wasm ?? SOFTMAX_TS;
  if (!isLinearAttention(attention)) throw new RangeError(`unknown attention '${String(attention)}' (known: ${ATTENTION_NAMES.join(', ')})`);
  if (wasm) return linearWasm(wasm, attention);
  return {
    forward: (p, batch, out, attn) => linearForward(p, batch, attention, out, attn),
    lossAndGrad: (p, batch, grad, out) => linearLossAndGrad(p, batch, attention, grad, out),
  };
}

/**
 * A ModelForward that runs each model with its own attention (`p.attention`): the TypeScript kernels,
 * or those in `wasm`'s instance when given (the softmax call is the kernel's own `forward`).
 */
export function attentionForward(wasm?: WasmKernel): (p: AttentionParams, batch: Batch, out: Float64Array) => void {
  const linear = new Map<AttentionName, SingleLayerKernel>();
  const soft = singleLayerKernel('softmax', wasm);
  return (p, batch, out) => {
    const a = attentionOf(p);
    if (a === 'softmax') return soft.forward(p, batch, out);
    let k = linear.get(a);
    if (!k) linear.set(a, (k = singleLayerKernel(a, wasm)));
    k.forward(p, batch, out);
  };
}
