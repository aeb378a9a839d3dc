/**
 * `icl-lab plot RUN [--evaluation FILE.json] [--paper [--font-size N]] [--format svg,png]`: write a
 * run's figures (SVG + PNG) into RUN/figures/. A thin shell around plots/run-figures.ts.
 */
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { untrainedWarning, type TargetRun } from '../../analysis/targets.js';
import { isRunDir, readRunJson } from '../../run/run-dir.js';
import { warn } from '../warn.js';
import { UsageError } from '../../errors.js';
import { asExistingFile, asIntList, asPositiveInt, parseChoiceList } from '../options.js';
import { FIGURE_FORMATS, PAPER_FONT_SIZE, type FigureFormat } from '../../plots/theme.js';
import { shownPath } from '../shown-path.js';

export interface PlotCliOptions {
  evaluation?: string;
  out?: string;
  columns?: number;
  qkSteps?: number[];
  vegaLite?: boolean;
  paper?: boolean;
  fontSize?: number;
  format?: FigureFormat[];
}

/** `--format`: svg, png or both; pdf is refused with what to do instead (no PDF renderer is a dependency). */
export function parseFormats(v: string): FigureFormat[] {
  if (v.split(',').some((s) => s.trim().toLowerCase() === 'pdf')) {
    throw new UsageError('--format pdf is not available: icl-lab has no PDF renderer; use --format svg (vector) and convert it, e.g. rsvg-convert -f pdf -o FIG.pdf FIG.svg, or inkscape FIG.svg -o FIG.pdf');
  }
  return parseChoiceList('--format', v, FIGURE_FORMATS);
}

const asFontSize = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 6 || n > 40) throw new UsageError(`--font-size must be an integer from 6 to 40 (label size in px; default ${PAPER_FONT_SIZE}), got ${JSON.stringify(v)}`);
  return n;
};

export async function runPlot(runDir: string, o: PlotCliOptions, print: (line: string) => void): Promise<void> {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new UsageError(`RUN ${runDir} is not a directory`);
  if (o.fontSize !== undefined && !o.paper) throw new UsageError('--font-size sets the font of --paper figures: add --paper');
  const t0 = Date.now();
  // Loaded on use: vega, vega-lite and resvg take ~0.5 s to import, which every other command would pay.
  const { renderAllRunFigures } = await import('../../plots/run-figures.js');
  const res = await renderAllRunFigures(runDir, {
    evaluation: o.evaluation,
    outDir: o.out,
    columns: o.columns,
    ...(o.qkSteps ? { qkSteps: o.qkSteps } : {}),
    raster: { writeSpec: o.vegaLite ?? false, ...(o.format ? { formats: o.format } : {}) },
    ...(o.paper ? { paper: { fontSize: o.fontSize ?? PAPER_FONT_SIZE } } : {}),
    onFigure: (name, files) => print(`  ${name.padEnd(24)} ${files.map((f) => shownPath(f)).join('  ')}`),
  });
  for (const s of res.skipped) print(`  skipped: ${s}`);
  print(`plot: ${Object.keys(res.figures).length} figures in ${shownPath(res.outDir)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

export function register(program: Command): void {
  program
    .command('plot')
    .description('write a run\'s figures (loss, QK/OV dynamics, per-head circuits, QK evolution, error vs L) as SVG and PNG; --paper for a paper (no titles, larger fonts)')
    .argument('<run>', '[path] run directory written by `icl-lab train`')
    .option('--evaluation <file>', '[path] evaluation JSON for the error-vs-L figure (default: RUN/evaluation.json if present)', asExistingFile('--evaluation'))
    .option('--out <dir>', '[path] output folder (default: RUN/figures)')
    .option('--columns <n>', '[int] columns of the QK evolution grid, at round steps and the last step (default: 6)', asPositiveInt('--columns'))
    .option('--qk-steps <list>', '[int[,int...]] steps shown in the QK evolution grid instead (the nearest snapshot each; the last step is always added)', asIntList('--qk-steps', { min: 0 }))
    .option('--vega-lite', '[flag] also write each figure\'s Vega-Lite spec, data inline, as NAME.vl.json', false)
    .option('--paper', '[flag] figures for a paper: no title, subtitle or provenance line (say those in the caption), larger fonts', false)
    .option('--font-size <n>', `[int] with --paper: label size in px, titles +1 to +2 (default: ${PAPER_FONT_SIZE}; screen figures use 11)`, asFontSize)
    .option('--format <list>', '[svg|png|svg,png] which files to write (default: svg,png); no pdf: convert the SVG', parseFormats)
    .action(async (run: string, o: PlotCliOptions) => {
      if (isRunDir(run)) warn(untrainedWarning({ name: run, run: { step: readRunJson(run).step } as TargetRun }));
      await runPlot(run, o, (line) => process.stdout.write(line + '\n'));
    });
}
