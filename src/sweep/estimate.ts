/**
 * What `sweep --dry-run` says a sweep will cost: its total steps (the sum over its runs), and a time
 * estimate for this machine from the bench (bench/bench.ts phasedTrainStep, bench/timing.ts
 * timeSteps): one timing per distinct model shape of the grid (the fields that change a step's
 * cost: layers, heads, d, L, batch, outputs, engine, attention, optimizer, task), half a second each after
 * a short warm-up (the first one longer), on one thread as each run of a local sweep trains when runs
 * fill the cores. Shapes past the first `maxShapes` are scaled from the timed ones by the step cost
 * model of run/runs.ts (B L E (4 + layers x heads)). Steps x seconds per step per run, then the runs
 * scheduled longest first on `parallel` slots (as the local pool starts them) give the wall time.
 *
 * It is an estimate: the bench times the training step alone (no logging, checkpoints, validation),
 * on a machine whose load may change; the results table and report come on top.
 */
import { availableParallelism } from 'node:os';
import { phasedTrainStep } from '../bench/bench.js';
import { timeSteps } from '../bench/timing.js';
import type { TrainConfig } from '../run/config.js';
import { defaultStreamVersion } from '../run/loop.js';

/** The fields of a config that change what one training step costs. */
const SHAPE_KEYS = ['layers', 'heads', 'd', 'contextLength', 'batchSize', 'nOut', 'engine', 'attention', 'optimizer', 'task', 'tasks', 'weightTying'] as const;

export interface ShapeTiming {
  /** e.g. "H=2 L=10 d=3 B=16 wasm" */
  label: string;
  runs: number;
  steps: number;
  stepsPerSecond: number;
  /** true: timed by the bench; false: scaled from the timed shapes by the step cost model */
  timed: boolean;
}

export interface SweepEstimate {
  runs: number;
  totalSteps: number;
  shapes: ShapeTiming[];
  /** sum over the runs of steps / steps per second (one core each) */
  cpuSeconds: number;
  /** the runs scheduled longest first on `parallel` slots */
  wallSeconds: number;
  parallel: number;
  cores: number;
  /** bench seconds per timed shape (after the warm-up) */
  secondsPerShape: number;
}

export interface EstimateOptions {
  /** runs training at once (a local sweep's --jobs; default: the cores) */
  parallel?: number;
  secondsPerShape?: number;
  warmupSeconds?: number;
  maxShapes?: number;
}

const shapeKey = (c: TrainConfig): string => JSON.stringify(SHAPE_KEYS.map((k) => (c as unknown as Record<string, unknown>)[k] ?? null));

function shapeLabel(c: TrainConfig): string {
  const layers = c.layers > 1 ? ` layers=${c.layers}` : '';
  const outs = c.nOut > 1 ? ` outputs=${c.nOut}` : '';
  const att = c.attention && c.attention !== 'softmax' ? ` ${c.attention}` : '';
  return `H=${c.heads} L=${c.contextLength} d=${c.d} B=${c.batchSize}${layers}${outs}${att} ${c.engine}`;
}

/** Relative cost of one step (run/runs.ts runCost, per step). */
const stepCost = (c: TrainConfig): number => (c.d + 1) * c.contextLength * c.batchSize * (4 + c.layers * c.heads);

/** Time `c`'s training step (one thread, no logging) with the bench; steps per second. */
function benchShape(c: TrainConfig, seconds: number, warmup: number): number {
  const one = { ...c, steps: 1 }; // the bench's own logs: one step's worth, not the run's
  const step = phasedTrainStep(one, defaultStreamVersion(one), 1);
  try {
    return timeSteps(step, seconds, warmup).stepsPerSecond;
  } finally {
    step.close();
  }
}

export function estimateSweep(runs: readonly { config: TrainConfig }[], o: EstimateOptions = {}): SweepEstimate {
  const cores = availableParallelism();
  const parallel = Math.max(1, Math.min(o.parallel ?? cores, runs.length));
  const seconds = o.secondsPerShape ?? 0.5;
  const warmup = o.warmupSeconds ?? 0.3;
  const maxShapes = o.maxShapes ?? 8;
  const groups = new Map<string, { config: TrainConfig; runs: number; steps: number }>();
  for (const r of runs) {
    const k = shapeKey(r.config);
    const g = groups.get(k) ?? { config: r.config, runs: 0, steps: 0 };
    g.runs++;
    g.steps += r.config.steps;
    groups.set(k, g);
  }
  // the shapes with the most steps are timed; the rest scaled from them
  const order = [...groups.entries()].sort((a, b) => b[1].steps - a[1].steps);
  const sps = new Map<string, { sps: number; timed: boolean }>();
  // the first shape warms up longer: the JIT and the WebAssembly tiers settle in the first second
  for (const [i, [k, g]] of order.slice(0, maxShapes).entries()) sps.set(k, { sps: benchShape(g.config, seconds, i === 0 ? 3 * warmup : warmup), timed: true });
  const timed = [...sps.entries()].map(([k, v]) => ({ cost: stepCost(groups.get(k)!.config), sps: v.sps }));
  const perCost = timed.reduce((n, t) => n + 1 / (t.sps * t.cost), 0) / Math.max(1, timed.length); // seconds per unit of cost
  for (const [k, g] of order.slice(maxShapes)) sps.set(k, { sps: 1 / (perCost * stepCost(g.config)), timed: false });
  const seconds1 = runs.map((r) => r.config.steps / sps.get(shapeKey(r.config))!.sps);
  // longest first on `parallel` slots, each run to the slot that frees first
  const slots = new Array<number>(parallel).fill(0);
  for (const t of [...seconds1].sort((a, b) => b - a)) {
    let i = 0;
    for (let j = 1; j < slots.length; j++) if (slots[j]! < slots[i]!) i = j;
    slots[i]! += t;
  }
  return {
    runs: runs.length,
    totalSteps: runs.reduce((n, r) => n + r.config.steps, 0),
    shapes: order.map(([k, g]) => ({ label: shapeLabel(g.config), runs: g.runs, steps: g.steps, stepsPerSecond: sps.get(k)!.sps, timed: sps.get(k)!.timed })),
    cpuSeconds: seconds1.reduce((a, b) => a + b, 0),
    wallSeconds: Math.max(...slots),
    parallel,
    cores,
    secondsPerShape: seconds,
  };
}
