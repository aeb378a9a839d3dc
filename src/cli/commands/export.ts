/**
 * `icl-lab export tensorboard RUN|SWEEP_DIR... --out DIR`: runs and sweeps as TensorBoard event
 * files (for TensorBoard, `wandb sync --sync-tensorboard`, `aim convert tensorboard`). A thin shell
 * around export/tensorboard.ts; docs/readme/tensorboard.md.
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { toJson } from '../json.js';
import { asNonNegativeInt, asPositiveInt } from '../options.js';

export interface TensorboardCliOptions {
  out: string;
  maxPoints?: number;
  imageSteps?: number;
  json?: boolean;
}

/** A path relative to the working directory when it is below it, else as given. */
const rel = (p: string): string => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
};

export async function runExportTensorboard(sources: string[], o: TensorboardCliOptions, print: (line: string) => void): Promise<void> {
  const t0 = Date.now();
  // Loaded on use: the images need vega, vega-lite and resvg (~0.5 s to import)
  const { exportTensorboard } = await import('../../export/tensorboard.js');
  const res = await exportTensorboard(sources, {
    out: o.out,
    ...(o.maxPoints !== undefined ? { maxPoints: o.maxPoints } : {}),
    ...(o.imageSteps !== undefined ? { imageSteps: o.imageSteps } : {}),
  });
  if (o.json) return print(toJson(res));
  for (const r of res.runs) print(`  ${r.name.padEnd(20)} ${rel(r.file)}  (${r.scalars} scalars, ${r.images} images, ${(r.bytes / 1024).toFixed(1)} KiB)`);
  for (const e of res.experiments) print(`  ${e.name.padEnd(20)} ${rel(e.file)}  (HParams: ${e.hparams.length} hyperparameters ${e.hparams.join(', ') || '-'}; metrics ${e.metrics.join(', ')})`);
  for (const s of res.skipped) print(`  skipped: ${s}`);
  const bytes = res.runs.reduce((n, r) => n + r.bytes, 0);
  print(`export tensorboard: ${res.runs.length} run(s), ${(bytes / 1024).toFixed(1)} KiB in ${rel(res.out)} (${((Date.now() - t0) / 1000).toFixed(1)} s); open with: tensorboard --logdir ${rel(res.out)}`);
}

export function register(program: Command): void {
  const cmd = program.command('export').description('write runs and sweeps in other tools\' formats (tensorboard: TensorBoard event files, which W&B and Aim import)');
  cmd
    .command('tensorboard')
    .description('write TensorBoard event files: DIR/<run>/ per run directory, DIR/<sweep>/<run>/ per sweep run plus the sweep\'s HParams experiment in DIR/<sweep>/ (docs/readme/tensorboard.md)')
    .argument('<sources...>', '[path...] run directories (RUN/run.json) and sweep directories (DIR/sweep.json)')
    .requiredOption('--out <dir>', '[path] folder to write the event files into (TensorBoard\'s --logdir)')
    .option('--max-points <n>', '[int] most values per scalar tag, evenly spaced with the last kept, as the web lab thins its curves (default: 1000)', asPositiveInt('--max-points'))
    .option('--image-steps <n>', '[int] about this many snapshot steps (round steps and the last) get QK/OV images (default: 10; 0 = none)', asNonNegativeInt('--image-steps'))
    .option('--json', '[flag] print what was written as JSON')
    .action(async (sources: string[], o: TensorboardCliOptions) => {
      await runExportTensorboard(sources, o, (line) => process.stdout.write(line + '\n'));
    });
}
