/**
 * An experiment as data: the runs to train (head counts and the config of each), how long, where
 * they go, and the report over them (the measurements, findings, sections and the values its authors
 * printed, handed to the report writer). `icl-lab reproduce --experiment NAME` runs any entry of
 * index.ts the same way (reproduce.ts); `icl-lab report RUN...` picks the entry whose runs they are.
 *
 * Entries stay light to import (the CLI lists them in --help): their report loads the renderer lazily.
 */
import type { TrainConfig } from '../run/config.js';
import type { ReportOptions, ReportResult } from '../report/report.js';

export interface Experiment {
  /** `reproduce --experiment NAME`. */
  name: string;
  /** One line for --help and the docs. */
  summary: string;
  /** Head counts of its runs, in training order (run folders h<H>). */
  heads: readonly number[];
  /** Steps per run: the quick length (on the loss plateau) and the authors' full length. */
  quickSteps: number;
  fullSteps: number;
  /** Default --out (quick, full). */
  out: readonly [string, string];
  /** Context lengths of the error sweep (undefined: the seed's 1..500). */
  lengths?: readonly number[];
  /** The run with `heads` heads, `steps` steps. */
  config(heads: number, steps: number): TrainConfig;
  /** Whether a run trained with config c is of this experiment's kind (for `icl-lab report RUN...`). */
  claims(c: TrainConfig): boolean;
  /** The report over its runs. */
  report(dirs: readonly string[], o: ReportOptions): Promise<ReportResult>;
  /** Runs not told apart by their head count alone (e.g. several model families): their folders and configs. Absent: one run per `heads`, h<H>, `config(H, steps)`. */
  runs?: readonly ExperimentRun[];
}

/** One run of an experiment: its folder inside --out and its config for `steps` steps. */
export interface ExperimentRun {
  name: string;
  config(steps: number): TrainConfig;
}

/** The runs of `e`, in training order. */
export function experimentRuns(e: Experiment): readonly ExperimentRun[] {
  return e.runs ?? e.heads.map((h) => ({ name: runDirName(h), config: (steps: number) => e.config(h, steps) }));
}

/** A run's folder inside the experiment's --out. */
export const runDirName = (heads: number): string => `h${heads}`;

/** Logging intervals for `steps` steps: every 1% of the run, or the config's own past 100,000 steps (the seed's 1,000). */
export function logEvery(c: TrainConfig, steps: number): number {
  return steps >= 100_000 ? c.dynamicsEvery : Math.max(1, Math.round(steps / 100));
}
