/**
 * `icl-lab predict` for a multi-task model (n_out = N > 1): output [B, 1, N], loss [1] (MSE over B and N,
 * torch.nn.MSELoss), grad.<state_dict key> with --grad, attn_weights [B, H, 1, L] with --attn.
 */
import type { Batch } from '../data/batch.js';
import { allocParams, STATE_DICT_KEYS, WEIGHT_NAMES, type AttentionParams } from '../model/params.js';
import { tensorF64, type Tensor } from '../io/safetensors.js';
import { UsageError } from '../errors.js';
import { forwardMulti, lossAndGradMulti } from '../engine/ts/multitask.js';

export function predictMultiTensors(p: AttentionParams, prompts: { batch: Batch; hasTarget: boolean }, opts: { grad?: boolean; attn?: boolean } = {}): Record<string, Tensor> {
  const { batch, hasTarget } = prompts;
  const { B, L } = batch;
  const N = p.nOut;
  if (opts.grad && !hasTarget) throw new UsageError(`--grad needs the targets y_q [B, 1, ${N}] in the prompts file, which has none`);
  const yq = hasTarget ? batch.yq : new Float64Array(B * N);
  const b: Batch = { ...batch, yq };
  const out = new Float64Array(B * N); // [B, N]
  const attn = opts.attn ? new Float64Array(B * p.H * L) : undefined; // [B, H, L]
  let loss = forwardMulti(p, b, out, attn);
  let grad: AttentionParams | undefined;
  if (opts.grad) {
    grad = allocParams(p.d, p.H, N);
    loss = lossAndGradMulti(p, b, grad.theta);
  }
  const result: Record<string, Tensor> = { output: tensorF64([B, 1, N], out) };
  if (hasTarget) result.loss = tensorF64([1], [loss]);
  if (grad) for (const w of WEIGHT_NAMES) result[`grad.${STATE_DICT_KEYS[w]}`] = tensorF64(w === 'o' ? [N, p.E * p.H] : [p.E * p.H, p.E], Float64Array.from(grad[w]));
  if (attn) result.attn_weights = tensorF64([B, p.H, 1, L], attn);
  return result;
}
