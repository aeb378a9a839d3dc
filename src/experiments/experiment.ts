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
  /** RNG seeds it runs over by default (reproduce --seeds without the flag); absent: its one seed. */
  seeds?: readonly number[];
  /** Default --out (quick, full). */
  out: readonly [string, string];
  /** Context lengths of the error sweep (undefined: the seed's 1..500). */
  lengths?: readonly number[];
  /** The run with `heads` heads, `steps` steps. */
  config(heads: number, steps: number): TrainConfig;
  /**
   * Its runs when they differ in more than the head count (e.g. the task-diversity experiment: one
   * per pool size), by folder name; absent = one run per entry of `heads`, folder h<H>.
   */
  runs?(steps: number): { name: string; config: TrainConfig }[];
  /** Whether a run trained with config c is of this experiment's kind (for `icl-lab report RUN...`). */
  claims(c: TrainConfig): boolean;
  /**
   * Over several seeds (reproduce --seeds): a Markdown section of the across-seeds report from the
   * reports of each seed (their folders), placed after the findings; absent: none.
   */
  acrossSeeds?(reports: readonly { seed: number; dir: string }[]): Promise<string>;
  /** The report over its runs. */
  report(dirs: readonly string[], o: ReportOptions): Promise<ReportResult>;
}

/** A run's folder inside the experiment's --out. */
export const runDirName = (heads: number): string => `h${heads}`;

/** The experiment's runs for `steps` steps: its own list, else one per head count. */
export function experimentRuns(e: Experiment, steps: number): { name: string; config: TrainConfig }[] {
  return e.runs ? e.runs(steps) : e.heads.map((h) => ({ name: runDirName(h), config: e.config(h, steps) }));
}

/** Logging intervals for `steps` steps: every 1% of the run, or the config's own past 100,000 steps (the seed's 1,000). */
export function logEvery(c: TrainConfig, steps: number): number {
  return steps >= 100_000 ? c.dynamicsEvery : Math.max(1, Math.round(steps / 100));
}
