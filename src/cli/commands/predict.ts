/**
 * `icl-lab predict`: run a saved model on prompts from a safetensors file and write its outputs,
 * the MSE loss and (with --grad) the gradient of every weight. A thin shell around
 * `engine/ts/attention.ts`; useful to check icl-lab against PyTorch on the same numbers.
 *
 *   prompts file:  z [B, L, E], z_q [B, 1, E] (or [B, E]), y_q [B, 1, 1] (or [B, 1], [B]) optional
 *   result file:   output [B, 1, 1]; loss [1] if y_q; grad.<state_dict key> if --grad;
 *                  attn_weights [B, H, 1, L] if --attn. All F64.
 * A multi-layer causal stack (model/stack.ts) works the same way: grad.<key> for every key of the
 * model file (attention_layers.{l}.*_proj.weight and final_linear.weight; with tied weights only
 * layer 0's keys, holding the gradient summed over layers), and attn_weights [layers, B, H, T, T]
 * (T = L + 1 tokens, the query last; row i attends to j < i).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { forward, lossAndGrad } from '../../engine/ts/attention.js';
import { batchFromArrays, type Batch } from '../../data/batch.js';
import { allocParams, STATE_DICT_KEYS, WEIGHT_NAMES, type AttentionParams } from '../../model/params.js';
import { allocStackParams, stackStateDict, type StackParams } from '../../model/stack.js';
import { stackForward, stackLossAndGrad } from '../../engine/ts/stack.js';
import { checkFinite, readModelFile } from '../../io/model-file.js';
import { checkInputFile, checkOutputFile } from '../../io/input-file.js';
import { checkPredictMemory, refuseOverwritingInputs } from './predict-checks.js';
import { f64, FileFormatError, readSafetensors, tensorF64, writeSafetensors, type Tensor } from '../../io/safetensors.js';
import { VERSION } from '../../version.js';
import { UsageError } from '../../errors.js';
import { predictMultiTensors } from '../../analysis/predict-multitask.js';

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

/** Prompts read from a file: the batch (y_q zeros when absent) and whether y_q was there. */
export interface Prompts {
  batch: Batch;
  hasTarget: boolean;
  /** Targets per prompt: 1, or N for a multi-task y_q [B, 1, N] (batch.yq is then [B, N]). */
  outputs: number;
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);
const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Interpret z / z_q / y_q tensors as a batch; `source` names the file in errors. */
export function promptsFromTensors(tensors: Record<string, Tensor>, source: string): Prompts {
  const get = (name: string): Tensor | undefined => {
    const t = tensors[name];
    if (t !== undefined && !FLOAT_DTYPES.has(t.dtype)) throw new FileFormatError(`${name} has dtype ${t.dtype}; expected F32 or F64`, source);
    return t;
  };
  const z = get('z');
  const zq = get('z_q');
  const yq = get('y_q');
  if (z === undefined || zq === undefined) {
    const found = Object.keys(tensors).map((k) => `${k} ${fmt(tensors[k]!.shape)}`).join(', ') || '(no tensors)';
    throw new FileFormatError(`prompts need tensors z [B, L, E] and z_q [B, 1, E] (y_q [B, 1, 1] optional); found ${found}`, source);
  }
  if (z.shape.length !== 3) throw new FileFormatError(`z has shape ${fmt(z.shape)}; expected [B, L, E]`, source);
  const [B, L, E] = z.shape as [number, number, number];
  if (B < 1 || L < 1 || E < 2) throw new FileFormatError(`z has shape ${fmt(z.shape)}; expected B >= 1 prompts of L >= 1 tokens of width E >= 2`, source);
  if (!same(zq.shape, [B, 1, E]) && !same(zq.shape, [B, E])) {
    throw new FileFormatError(`z_q has shape ${fmt(zq.shape)}; expected [${B}, 1, ${E}] or [${B}, ${E}] to match z ${fmt(z.shape)}`, source);
  }
  // multi-task prompts (data/multitask.ts and the multi-task modules of each layer): y_q [B, 1, N] or [B, N] with N > 1
  const N = yq !== undefined && yq.shape.length >= 2 && yq.shape[0] === B && (yq.shape.length === 2 || yq.shape[1] === 1) ? yq.shape[yq.shape.length - 1]! : 1;
  if (yq !== undefined && N === 1 && !same(yq.shape, [B, 1, 1]) && !same(yq.shape, [B, 1]) && !same(yq.shape, [B])) {
    throw new FileFormatError(`y_q has shape ${fmt(yq.shape)}; expected [${B}, 1, 1], [${B}, 1] or [${B}] (or [${B}, 1, N] for N tasks) to match z ${fmt(z.shape)}`, source);
  }
  // f64 returns the file's own array for F64 tensors; copy so the batch never aliases the caller's tensors.
  const base = batchFromArrays(B, L, E - 1, Float64Array.from(f64(z)), Float64Array.from(f64(zq)), N === 1 && yq ? Float64Array.from(f64(yq)) : new Float64Array(B));
  const batch = N === 1 ? base : { ...base, yq: Float64Array.from(f64(yq!)) }; // yq [B, N]
  checkFinite('z', batch.z, source, 'prompts');
  checkFinite('z_q', batch.zq, source, 'prompts');
  if (yq) checkFinite('y_q', batch.yq, source, 'prompts');
  return { batch, hasTarget: yq !== undefined, outputs: N };
}

/** Read a prompts file (see the header comment). */
export function readPrompts(path: string): Prompts {
  return promptsFromTensors(readSafetensors(path).tensors, path);
}

/**
 * The numbers `predict` writes, computed with engine/ts/attention.ts: output [B, 1, 1], loss [1] (when
 * the prompts have y_q), grad.<key> (when `grad`), attn_weights [B, H, 1, L] (when `attn`).
 */
export function predictTensors(p: AttentionParams, prompts: Prompts, opts: { grad?: boolean; attn?: boolean } = {}): Record<string, Tensor> {
  const { batch, hasTarget } = prompts;
  const { B, L } = batch;
  if (opts.grad && !hasTarget) throw new UsageError('--grad needs the targets y_q [B, 1, 1] in the prompts file, which has none');
  const out = new Float64Array(B); // [B]
  let loss: number | undefined;
  let grad: AttentionParams | undefined;
  if (opts.grad) {
    grad = allocParams(p.d, p.H, p.nOut); // q/k/v/o views onto the flat gradient
    loss = lossAndGrad(p, batch, grad.theta, out);
  }
  let attn: Float64Array | undefined;
  if (!opts.grad || opts.attn) {
    attn = opts.attn ? new Float64Array(B * p.H * L) : undefined; // [B, H, L]
    forward(p, batch, out, attn);
  }
  if (hasTarget && loss === undefined) {
    let se = 0;
    for (let b = 0; b < B; b++) se += (out[b]! - batch.yq[b]!) ** 2;
    loss = se / B; // torch.nn.MSELoss(): mean over B*1*1
  }

  const result: Record<string, Tensor> = { output: tensorF64([B, 1, 1], out) };
  if (loss !== undefined) result.loss = tensorF64([1], [loss]);
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
  if (hasTarget && loss === undefined) {
    let se = 0;
    for (let b = 0; b < B; b++) se += (out[b]! - batch.yq[b]!) ** 2;
    loss = se / B;
  }
  const result: Record<string, Tensor> = { output: tensorF64([B, 1, 1], out) };
  if (loss !== undefined) result.loss = tensorF64([1], [loss]);
  if (grad) for (const e of stackStateDict(grad, true)) result[`grad.${e.key}`] = tensorF64([...e.shape], Float64Array.from(e.data));
  if (attn) result.attn_weights = tensorF64([p.nLayers, B, p.H, T, T], attn);
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
      `model ${opts.model} expects tokens of width E=${p.E} (d=${p.d}; ${qKey} ${fmt([p.E * p.H, p.E])}) ` +
        `but prompts ${opts.prompts} have E=${batch.E} (z ${fmt([batch.B, batch.L, batch.E])})`,
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

/** Human-readable summary (stdout). */
export function formatSummary(s: PredictSummary): string {
  const loss = s.loss === null ? 'no y_q, loss not computed' : `loss (MSE) = ${s.loss.toPrecision(10)}`;
  const written = Object.entries(s.tensors).map(([k, sh]) => `${k} ${fmt(sh)}`).join(', ');
  const layers = s.layers > 1 ? `, ${s.layers} layers` : '';
  return `predict: B=${s.B} prompts, L=${s.L}, d=${s.d}, H=${s.H}${layers}; ${loss}\n${s.out === null ? `computed (not written; give --out FILE): ${written}` : `wrote ${s.out}: ${written}`}\n`;
}

export function register(program: Command): void {
  program
    .command('predict')
    .description('run a saved model on prompts from a safetensors file; write outputs, MSE loss and (--grad) weight gradients')
    .requiredOption('--model <file>', '[path] model .safetensors (seed state_dict keys, F32 or F64), or a run directory (its model.safetensors)')
    .requiredOption('--prompts <file>', '[path] prompts .safetensors: z [B,L,E], z_q [B,1,E], optional y_q [B,1,1] (a multi-task model: y_q [B,1,N]; `icl-lab prompts` writes one)')
    .option('--out <file>', '[path] result .safetensors (output, loss, grad.*, attn_weights; all F64) (default: none; then --json is needed and prints the outputs)')
    .option('--grad', '[flag] also write grad.<key> = d loss / d weight for every weight (needs y_q)')
    .option('--attn', '[flag] also write the softmax weights attn_weights [B,H,1,L] (a stack: [layers,B,H,T,T], T = L+1)')
    .option('--json', '[flag] print the summary as one JSON line on stdout')
    .action((o: PredictOptions & { json?: boolean }) => {
      if (o.out === undefined && !o.json) throw new UsageError('give --out FILE.safetensors to write the result, or --json to print it (with the outputs)');
      const s = runPredict(o);
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : formatSummary(s));
    });
}
