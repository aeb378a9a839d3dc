/** `icl-lab report RUN... [--out DIR]`: report.html, report.md and findings.json over trained runs. */
import type { Command } from 'commander';
import { addContextLengthsOption, asPositiveInt, pickContextLengths } from '../options.js';
import { findingsTable } from './reproduce.js';
import { tallyFindings, tallyLine } from '../../report/findings.js';
import { isSweepDir } from '../../sweep/sweep-dir.js';
import { shownPath } from '../shown-path.js';

interface ReportCliOptions {
  out: string;
  evaluation?: string;
  evalSamples: number;
  samples: number;
  contextLength?: number[];
  lengths?: number[];
  seed: number;
  json?: boolean;
}

export function register(program: Command): void {
  addContextLengthsOption(program.command('report'), 'context lengths L of the error sweep (default: 1..10, 12..40 step 2, 45..500 step 5)')
    .description(
      'write a self-contained report over trained runs (run directories of one task, e.g. H = 1, 2, 4, 8): report.html (figures inline, opens offline), ' +
        'report.md, findings.json (the seed\'s five findings as numbers, thresholds and pass/fail), evaluation.json and figures/',
    )
    .argument('<runs...>', 'run directories written by `icl-lab train`, or one sweep directory (`icl-lab sweep --out DIR`: the sweep\'s figures and findings in DIR/report)')
    .option('--out <dir>', '[path] output folder', 'report')
    .option('--evaluation <file>', '[path] reuse an `icl-lab evaluate --out` JSON instead of computing the error sweep')
    .option('--eval-samples <n>', '[int] prompts per context length in the error sweep', asPositiveInt('--eval-samples'), 2000)
    .option('--samples <n>', '[int] prompts at the training L shared by every model for the findings', asPositiveInt('--samples'), 20000)
    .option('--seed <n>', '[int] seed of the report\'s prompts', asPositiveInt('--seed'), 2025)
    .option('--json', '[flag] print the findings and file paths as JSON')
    .action(async (runs: string[], o: ReportCliOptions) => {
      if (runs.length === 1 && isSweepDir(runs[0]!)) {
        // a sweep directory: the sweep's own figures and findings (src/sweep/report.ts)
        const { sweepReportAction } = await import('../../sweep/report-action.js');
        await sweepReportAction(runs[0]!, { json: o.json === true });
        return;
      }
      // Loaded here, not at startup: the renderer (vega, resvg) costs ~0.5 s to load.
      const { experimentOfRuns } = await import('../../experiments/index.js');
      const experiment = experimentOfRuns(runs);
      const { readEvaluation } = await import('../../plots/evaluation.js');
      const { writeFolderAsUnit } = await import('../../report/write-unit.js');
      // one unit: a kill while it is made leaves the old report folder as it was
      const res = await writeFolderAsUnit(o.out, (staging) => experiment.report(runs, {
        out: staging,
        evalSamples: o.evalSamples,
        samples: o.samples,
        seed: o.seed,
        ...(pickContextLengths(o) ? { lengths: pickContextLengths(o)! } : {}),
        ...(o.evaluation ? { evaluation: readEvaluation(o.evaluation) } : {}),
        log: o.json ? () => {} : (s) => process.stderr.write(`icl-lab: ${s}\n`),
      }));
      const { passed, failed, notApplicable } = tallyFindings(res.findings);
      if (o.json) {
        process.stdout.write(JSON.stringify({ passed, failed, not_applicable: notApplicable, findings: res.findings, files: res.files, figures: res.pngs }) + '\n');
      } else {
        process.stdout.write(`${findingsTable(res.findings)}\n\n${tallyLine(res.findings)}.\nreport: ${shownPath(res.files.html)}\n`);
      }
    });
}
