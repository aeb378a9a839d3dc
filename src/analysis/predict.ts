/**
 * `icl-lab predict`: run a saved model on prompts from a safetensors file (io/prompts-file.ts) and
 * compute its outputs, the MSE loss and (with grad) the gradient of every weight, with the TypeScript
 * kernels (engine/ts); useful to check icl-lab against PyTorch on the same numbers.
 *
 *   result file:   output [B, 1, 1] ([B, 1, N] multi-task); loss [1] if y_q; grad.<state_dict key> if
 *                  --grad; attn_weights [B, H, 1, L] if --attn. All F64.
 * A multi-layer causal stack (model/stack.ts) works the same way: grad.<key> for every key of the
 * model file (attention_layers.{l}.*_proj.weight and final_linear.weight; with tied weights only
 * layer 0's keys, holding the gradient summed over layers), and attn_weights [layers, B, H, T, T]
 * (T = L + 1 tokens, the query last; row i attends to j < i).
 */
import { join } from 'node:path';
import type { Batch } from '../data/batch.js';
import { singleLayerKernel } from '../engine/single-layer-kernel.js';
import { attentionOf } from '../model/attention-name.js';
import { forwardMulti, lossAndGradMulti } from '../engine/ts/multitask.js';
import { stackForward, stackLossAndGrad } from '../engine/ts/stack.js';
import { allocParams, STATE_DICT_KEYS, WEIGHT_NAMES, type AttentionParams } from '../model/params.js';
import { allocStackParams, stackStateDict, type StackParams } from '../model/stack.js';
import { readModelFile } from '../io/model-file.js';
import { checkInputFile, checkOutputFile } from '../io/input-file.js';
import { fmtShape, readPrompts, type Prompts } from '../io/prompts-file.js';
import { FileFormatError, tensorF64, writeSafetensors, type Tensor } from '../io/safetensors.js';
import { VERSION } from '../version.js';
import { UsageError } from '../errors.js';
import { checkPredictMemory, refuseOverwritingInputs } from './predict-checks.js';

export type { Prompts } from '../io/prompts-file.js';

export interface PredictOptions {
  model: string;
  prompts: string;
  /** Result file; absent = nothing written (`--json` then prints the outputs). */
  out?: string;
  /** Also write grad.<key> for every weight (needs y_q). */
  grad?: boolean;
  /** Also write the softmax weights attn_weights [B, H, 1, L] ([layers, B, H, T, T] for a stack). */
  attn?: boolean;
}

export interface PredictSummary {
  B: number;
  L: number;
  d: number;
  E: number;
  H: number;
  /** Attention layers (1 = the seed's single-layer model). */
  layers: number;
  /** MSE over the batch, null when the prompts have no y_q. */
  loss: number | null;
  /** The result file, or null when none was written (--json without --out). */
  out: string | null;
  /** Shape of every tensor computed (written when `out` is set), by name. */
  tensors: Record<string, number[]>;
  /** The model's predictions [B], when no result file was written. */
  output?: number[];
}

/** output [B, 1, 1] and, with targets, loss [1] (torch.nn.MSELoss: mean over B*1*1; computed here when the gradient pass did not). */
function outputAndLoss(out: Float64Array, batch: Batch, hasTarget: boolean, loss: number | undefined): Record<string, Tensor> {
  const result: Record<string, Tensor> = { output: tensorF64([batch.B, 1, 1], out) };
  if (!hasTarget) return result;
  if (loss === undefined) {
    let se = 0;
    for (let b = 0; b < batch.B; b++) se += (out[b]! - batch.yq[b]!) ** 2;
    loss = se / batch.B;
  }
  result.loss = tensorF64([1], [loss]);
  return result;
}

/**
 * The numbers `predict` writes, computed with the model's attention's TypeScript kernel (engine/ts/attention.ts, linear-attention.ts): output [B, 1, 1], loss [1] (when
 * the prompts have y_q), grad.<key> (when `grad`), attn_weights [B, H, 1, L] (when `attn`).
 */
export function predictTensors(p: AttentionParams, prompts: Prompts, opts: { grad?: boolean; attn?: boolean } = {}): Record<string, Tensor> {
  const { batch, hasTarget } = prompts;
  const { B, L } = batch;
  if (opts.grad && !hasTarget) throw new UsageError('--grad needs the targets y_q [B, 1, 1] in the prompts file, which has none');
  const out = new Float64Array(B); // [B]
  let loss: number | undefined;
  let grad: AttentionParams | undefined;
  const { forward, lossAndGrad } = singleLayerKernel(attentionOf(p)); // the model's own attention (softmax or linear)
  if (opts.grad) {
    grad = allocParams(p.d, p.H, p.nOut); // q/k/v/o views onto the flat gradient
    loss = lossAndGrad(p, batch, grad.theta, out);
  }
  let attn: Float64Array | undefined;
  if (!opts.grad || opts.attn) {
    attn = opts.attn ? new Float64Array(B * p.H * L) : undefined; // [B, H, L]
    forward(p, batch, out, attn);
  }
  const result = outputAndLoss(out, batch, hasTarget, loss);
  if (grad) {
    for (const w of WEIGHT_NAMES) {
      const shape = w === 'o' ? [p.nOut, p.E * p.H] : [p.E * p.H, p.E];
      result[`grad.${STATE_DICT_KEYS[w]}`] = tensorF64(shape, Float64Array.from(grad[w]));
    }
  }
  if (attn) result.attn_weights = tensorF64([B, p.H, 1, L], attn);
  return result;
}

/** `predictTensors` for a multi-layer causal stack (see the header comment for what is written). */
export function predictStackTensors(p: StackParams, prompts: Prompts, opts: { grad?: boolean; attn?: boolean } = {}): Record<string, Tensor> {
  const { batch, hasTarget } = prompts;
  const { B, L } = batch;
  const T = L + 1;
  if (opts.grad && !hasTarget) throw new UsageError('--grad needs the targets y_q [B, 1, 1] in the prompts file, which has none');
  const out = new Float64Array(B); // [B]
  let loss: number | undefined;
  let grad: StackParams | undefined;
  if (opts.grad) {
    grad = allocStackParams(p.d, p.H, p.nLayers, p.weightTying); // views onto the flat gradient
    loss = stackLossAndGrad(p, batch, grad.theta, out);
  }
  let attn: Float64Array | undefined;
  if (!opts.grad || opts.attn) {
    attn = opts.attn ? new Float64Array(p.nLayers * B * p.H * T * T) : undefined; // [layers, B, H, T, T]
    stackForward(p, batch, out, attn ? { attn } : undefined);
  }
  const result = outputAndLoss(out, batch, hasTarget, loss);
  if (grad) for (const e of stackStateDict(grad, true)) result[`grad.${e.key}`] = tensorF64([...e.shape], Float64Array.from(e.data));
  if (attn) result.attn_weights = tensorF64([p.nLayers, B, p.H, T, T], attn);
  return result;
}

/**
 * A multi-task model (n_out = N > 1): output [B, 1, N], loss [1] (MSE over B and N, torch.nn.MSELoss),
 * grad.<state_dict key> with --grad, attn_weights [B, H, 1, L] with --attn.
 */
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

/** Load, check, compute, write. Bad inputs throw UsageError (exit 2) naming the file and the problem. */
export function runPredict(opts: PredictOptions): PredictSummary {
  if (opts.out !== undefined) checkOutputFile(opts.out, '--out'); // without --out, --json prints the outputs
  // a run directory stands for its model.safetensors, as in analyze and evaluate
  const modelPath = checkInputFile(opts.model, 'model').isDirectory() ? join(opts.model, 'model.safetensors') : opts.model;
  if (opts.out !== undefined) refuseOverwritingInputs(opts.out, { '--model': modelPath, '--prompts': opts.prompts });
  let m: ReturnType<typeof readModelFile>;
  let prompts: Prompts;
  try {
    m = readModelFile(modelPath);
    prompts = readPrompts(opts.prompts);
  } catch (err) {
    if (err instanceof FileFormatError) throw new UsageError(err.message);
    throw err;
  }
  const p = m.params;
  const { batch } = prompts;
  if (batch.E !== p.E) {
    const qKey = m.kind === 'stack' ? 'attention_layers.0.q_proj.weight' : STATE_DICT_KEYS.q;
    throw new UsageError(
      `model ${opts.model} expects tokens of width E=${p.E} (d=${p.d}; ${qKey} ${fmtShape([p.E * p.H, p.E])}) ` +
        `but prompts ${opts.prompts} have E=${batch.E} (z ${fmtShape([batch.B, batch.L, batch.E])})`,
    );
  }
  const nOut = m.kind === 'stack' ? 1 : m.params.nOut;
  if (prompts.hasTarget && prompts.outputs !== nOut) throw new UsageError(`model ${opts.model} has n_out=${nOut} outputs but prompts ${opts.prompts} have ${prompts.outputs} targets per prompt (y_q [B, 1, ${prompts.outputs}])`);
  checkPredictMemory(m.kind === 'stack' ? m.params.nLayers : 1, p.H, batch.B, batch.L, p.E, opts);

  const tensors = m.kind === 'stack' ? predictStackTensors(m.params, prompts, opts) : m.params.nOut > 1 ? predictMultiTensors(m.params, prompts, opts) : predictTensors(m.params, prompts, opts);
  if (opts.out !== undefined) {
    writeSafetensors(opts.out, tensors, {
      icl_lab: 'predict',
      icl_lab_version: VERSION,
      model: opts.model,
      prompts: opts.prompts,
    });
  }
  const shapes: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(tensors)) shapes[k] = t.shape;
  const loss = tensors.loss ? (tensors.loss.data as Float64Array)[0]! : null;
  const summary: PredictSummary = { B: batch.B, L: batch.L, d: p.d, E: p.E, H: p.H, layers: m.kind === 'stack' ? m.params.nLayers : 1, loss, out: opts.out ?? null, tensors: shapes };
  if (opts.out === undefined) summary.output = Array.from(tensors.output!.data as Float64Array);
  return summary;
}
