/** `icl-lab predict --model M --prompts P [--out F] [--grad] [--attn] [--json]`: analysis/predict.ts, printed. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { runPredict, type PredictOptions, type PredictSummary } from '../../analysis/predict.js';
import { fmtShape } from '../../io/prompts-file.js';

/** Human-readable summary (stdout). */
export function formatSummary(s: PredictSummary): string {
  const loss = s.loss === null ? 'no y_q, loss not computed' : `loss (MSE) = ${s.loss.toPrecision(10)}`;
  const written = Object.entries(s.tensors).map(([k, sh]) => `${k} ${fmtShape(sh)}`).join(', ');
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
