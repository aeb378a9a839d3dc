/**
 * `icl-lab prompts --out FILE.safetensors`: write fresh prompts of any task for `icl-lab predict`
 * (or PyTorch): z [B, L, E], z_q [B, 1, E], y_q [B, 1, 1], beta [B, d] (io/prompts-file.ts). The
 * task comes from the flags, else from a run directory (--run), else the seed's.
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_TASK, PRESET_NAMES, type PresetName, type TaskSpec } from '../../data/task.js';
import { UsageError } from '../../errors.js';
import { writePromptsFile } from '../../io/prompts-file.js';
import { readRunJson, runConfig } from '../../run/run-dir.js';
import { toJson } from '../json.js';
import { asChoice, asInteger, asNonNegativeFloat, asPositiveInt, parseFloatInRange } from '../options.js';

interface PromptsCliOptions {
  out: string;
  run?: string;
  d?: number;
  contextLength?: number;
  batchSize?: number;
  preset?: PresetName;
  noiseStd?: number;
  rho?: number;
  seed: number;
  json?: boolean;
}

/** Largest prompts file (values of z) written without complaint: 2^27 doubles = 1 GiB. */
const MAX_VALUES = 2 ** 27;

export function register(program: Command): void {
  program
    .command('prompts')
    .description('write fresh prompts of a task (d, L, B, preset, noise, rho, seed) to a .safetensors file for `icl-lab predict`: z [B,L,E], z_q [B,1,E], y_q [B,1,1], beta [B,d]')
    .requiredOption('--out <file>', '[path] prompts file to write (.safetensors)')
    .option('--run <dir>', '[path] take the task (d, L, preset, noise_std, rho) from this run directory; flags override it')
    .option('--d <n>', '[int] regression dimension d (default: the run\'s, else 5)', asPositiveInt('--d'))
    .option('--context-length <n>', '[int] context length L (default: the run\'s, else 40)', asPositiveInt('--context-length'))
    .option('--batch-size <n>', '[int] prompts B (default: 128)', asPositiveInt('--batch-size'))
    .option('--preset <name>', `[${PRESET_NAMES.join('|')}] task convention (default: the run's, else seed)`, asChoice('--preset', PRESET_NAMES))
    .option('--noise-std <x>', '[number] label noise standard deviation (default: the run\'s, else 0.01)', asNonNegativeFloat('--noise-std'))
    .option('--rho <x>', '[number] x covariance Sigma_ij = rho^|i-j| (default: the run\'s, else 0)', (v: string) => parseFloatInRange('--rho', v, 0, 1, true))
    .option('--seed <n>', '[int] RNG seed of the prompts', asInteger('--seed'), 0)
    .option('--json', '[flag] print a JSON summary instead of a line')
    .action((o: PromptsCliOptions) => {
      const s = runPrompts(o);
      process.stdout.write(o.json ? toJson(s) + '\n' : `prompts: B=${s.batch_size}, L=${s.context_length}, d=${s.d}, preset ${s.preset}, noise_std ${s.noise_std}, rho ${s.rho}, seed ${s.seed} -> ${s.path} (z, z_q, y_q, beta)\n`);
    });
}

export function runPrompts(o: PromptsCliOptions): ReturnType<typeof writePromptsFile> {
  let base: TaskSpec = { ...DEFAULT_TASK };
  if (o.run !== undefined) {
    const c = runConfig(readRunJson(o.run), o.run);
    if (c.tasks) throw new UsageError(`--run ${o.run} is a multi-task run (--tasks ${c.tasks}); prompts writes single-task prompts (z [B,L,d+1], y_q [B,1,1]) only: write z [B,L,d+N], z_q [B,1,d+N] and y_q [B,1,N] yourself for predict (docs/readme/predict.md)`);
    base = { d: c.d, L: c.contextLength, batchSize: DEFAULT_TASK.batchSize, noiseStd: c.noiseStd, preset: c.preset, rho: c.rho };
  }
  const task: TaskSpec = {
    d: o.d ?? base.d,
    L: o.contextLength ?? base.L,
    batchSize: o.batchSize ?? base.batchSize,
    noiseStd: o.noiseStd ?? base.noiseStd,
    preset: o.preset ?? base.preset,
    rho: o.rho ?? base.rho ?? 0,
  };
  const values = task.batchSize * task.L * (task.d + 1);
  if (values > MAX_VALUES) {
    throw new UsageError(`--batch-size ${task.batchSize} x --context-length ${task.L} x (d+1) = ${values} values is more than ${MAX_VALUES} (1 GiB); lower --batch-size or --context-length`);
  }
  if (o.out === '' ) throw new UsageError('--out: expected a file path, got ""');
  const dir = dirname(resolve(o.out));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--out: directory ${dir} does not exist`);
  if (existsSync(o.out) && statSync(o.out).isDirectory()) throw new UsageError(`--out ${o.out} is a directory; give a file name`);
  return writePromptsFile(o.out, task, o.seed);
}
