/**
 * What an experiment hands the report writer besides the runs: whose printed values go beside ours,
 * and its extra findings, sections and figures. The writer (report.ts, multitask.ts) knows no
 * experiment by name; the experiments (src/experiments/) fill these in.
 */
import type { ModelForward } from '../engine/model.js';
import type { PromptSpec } from '../analysis/prompts.js';
import type { AttentionParams } from '../model/params.js';
import type { Finding, FindingsInput } from './findings.js';

/** Values an experiment's authors printed for one run (single evaluations, not ground truth). */
export interface PrintedRun {
  heads: number;
  /** Per-head w and mu (empty where they gave none). */
  w: number[];
  mu: number[];
  trainLoss: number;
  valLoss: number;
}

/** Printed values set beside the measured ones. */
export interface PrintedValues {
  /** Who printed them, as the column headers say it ("notebook", "authors'"). */
  who: string;
  /** The circuits section's heading ends "beside HEADING" ("the notebook", "the authors' runs"). */
  heading: string;
  /** A paragraph on where they come from (empty: none). */
  note: string;
  run(heads: number): PrintedRun | undefined;
  /** A remark on the printed end point, quoted in the flow figure's caption (e.g. "the authors' w = 0.13 after 500,000 steps, "). */
  endRemark?: string;
}

export interface NamedParams {
  name: string;
  params: AttentionParams;
}

/** What an extra section may measure on. */
export interface ExtrasContext {
  models: readonly NamedParams[];
  spec: PromptSpec;
  L: number;
  /** Prompts per length of its error sweeps, their seed, where figures go, the display names of the models. */
  samples: number;
  /** Prompts at the training L of the findings (report `samples`, default 20,000). */
  findingsSamples: number;
  seed: number;
  figDir: string;
  labels: Record<string, string>;
  forward: ModelForward;
  log: (line: string) => void;
  /** The findings' measurements on the shared prompts at the training L (report/evidence.ts), models in the same order. */
  evidence: FindingsInput;
  /** The report's own folder (figDir is inside it). */
  reportDir: string;
}

export interface ReportExtras {
  findings: Finding[];
  figures: { title: string; path: string; caption: string }[];
  /** A Markdown section placed before the figures. */
  md: string;
}

/** The single-task report's plan: printed values and extra sections (none: the plain report). */
export interface ReportPlan {
  printed?: PrintedValues;
  extras?: (ctx: ExtrasContext) => Promise<ReportExtras>;
}

/** The multi-task report's plan: printed losses and what the authors' heatmaps show, per head count. */
export interface MultitaskReportPlan {
  printed?: (heads: number) => { train: number; val: number } | undefined;
  authorsFigure?: (heads: number) => string;
}
