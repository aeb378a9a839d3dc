/**
 * The shapes the web lab's API sends (no node:* imports: the browser code imports these types too).
 */
type Json = Record<string, unknown>;

/** One row of the runs table (GET /api/index). */
export interface RunRow {
  path: string;
  name: string;
  status: string;
  /** run.json says running but no live process writes it (the trainer was killed). */
  stale: boolean;
  step: number;
  steps: number;
  stepsPerSecond: number | null;
  trainLoss: number | null;
  valLoss: number | null;
  heads: number | null;
  d: number | null;
  L: number | null;
  layers: number | null;
  preset: string | null;
  optimizer: string | null;
  lr: number | null;
  init: string | null;
  updatedAt: string | null;
  failure: string | null;
  config: Json;
  /** key=value of the config fields that differ between the runs listed together. */
  differs: string[];
  error?: string;
}
