/**
 * `icl-lab bench`: training steps per second at the seed configuration, per head count, with the
 * split between sampling, forward + backward and the optimizer. One thread; pin it to a quiet core
 * (`taskset -c 1 icl-lab bench`) and compare numbers measured in the same sitting.
 */
import type { StepTiming } from '../../bench/timing.js';
import type { Command } from 'commander';
import { toJson } from '../json.js';
import { defaultEngine, runBench, type BenchRow } from '../../bench/bench.js';
import type { EngineName } from '../../engine/model.js';
import { wasmAvailable, wasmUnavailableReason } from '../../io/wasm.js';
import { benchStack, type StackBenchRow } from '../../bench/stack.js';
import { DEFAULT_TASK } from '../../data/task.js';
import { measureRates, stepCounts, stepFloor, type CoreRates } from '../../bench/roofline.js';
import { VERSION } from '../../version.js';
import { UsageError } from '../../errors.js';
import { ATTENTION_NAMES, type AttentionName } from '../../model/attention-name.js';

function parseHeads(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const heads = parts.map(Number);
  if (parts.length === 0 || parts.some((s) => !/^\d+$/.test(s)) || heads.some((h) => h < 1 || h > 256))
    throw new UsageError(`--heads: expected a comma-separated list of integers in 1..256, e.g. 1,2,4,8, got ${JSON.stringify(value)}`);
  return heads;
}

function parseSeconds(value: string): number {
  const s = Number(value);
  if (!/^\d*\.?\d+$/.test(value.trim()) || !(s > 0) || s > 3600) throw new UsageError(`--seconds: expected a number in (0, 3600], got ${JSON.stringify(value)}`);
  return s;
}

function parseSeed(value: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) throw new UsageError(`--seed: expected a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function parseLayers(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const layers = parts.map(Number);
  if (parts.length === 0 || parts.some((s) => !/^\d+$/.test(s)) || layers.some((l) => l < 2 || l > 16))
    throw new UsageError(`--layers: expected a comma-separated list of stack depths in 2..16, e.g. 2,3, got ${JSON.stringify(value)}`);
  return layers;
}

function parseThreads(value: string): 1 | 2 {
  if (value.trim() !== '1' && value.trim() !== '2') throw new UsageError(`--threads: expected 1 or 2, got ${JSON.stringify(value)}`);
  return value.trim() === '1' ? 1 : 2;
}

function parseAttention(value: string): AttentionName {
  if (!(ATTENTION_NAMES as readonly string[]).includes(value)) throw new UsageError(`--attention: expected one of ${ATTENTION_NAMES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as AttentionName;
}

function parseEngine(value: string): 'ts' | 'wasm' | 'both' {
  if (value !== 'ts' && value !== 'wasm' && value !== 'both') throw new UsageError(`--engine: expected ts, wasm or both, got ${JSON.stringify(value)}`);
  return value;
}

/** One table / JSON row: a single-layer head count, or an N-layer causal stack (model/stack.ts). */
export interface BenchTableRow extends StepTiming {
  layers: number;
  heads: number;
  engine: string;
  threads: number;
  /** linear attention rows (absent: softmax) */
  attention?: AttentionName;
  /** the roofline floor of this step in µs (single-layer rows; bench/roofline.ts) and floor / measured mean time */
  floorUs?: number;
  fractionOfFloor?: number;
}

export function tableRow(r: BenchRow | StackBenchRow, rates?: CoreRates): BenchTableRow {
  const attention = 'attention' in r ? r.attention : undefined;
  const floor = rates && !('layers' in r) ? stepFloor(stepCounts(DEFAULT_TASK, r.heads, attention), rates).floorUs : undefined;
  return {
    ...(floor !== undefined ? { floorUs: floor, fractionOfFloor: floor / (r.msPerStep * 1000) } : {}),
    layers: 'layers' in r ? r.layers : 1,
    heads: r.heads,
    engine: r.engine,
    threads: 'threads' in r ? r.threads : 1,
    ...(attention ? { attention } : {}),
    stepsPerSecond: r.stepsPerSecond,
    msPerStep: r.msPerStep,
    samplingMs: r.samplingMs,
    forwardBackwardMs: r.forwardBackwardMs,
    optimizerMs: r.optimizerMs,
    bestStepsPerSecond: r.bestStepsPerSecond,
    steps: r.steps,
    lastLoss: r.lastLoss,
  };
}

export function formatRow(r: BenchTableRow): string {
  const f = (x: number, w: number, dgt: number) => x.toFixed(dgt).padStart(w);
  return `${String(r.heads).padStart(5)}  ${f(r.stepsPerSecond, 8, 0)}  ${f(r.bestStepsPerSecond, 7, 0)}  ${f(r.msPerStep, 8, 3)}  ${f(r.samplingMs, 9, 3)}  ${f(r.forwardBackwardMs, 9, 3)}  ${f(r.optimizerMs, 9, 3)}  ${r.engine.padStart(6)}  ${String(r.layers).padStart(6)}  ${String(r.threads).padStart(7)}  ${r.fractionOfFloor !== undefined ? `${(100 * r.fractionOfFloor).toFixed(0)}%`.padStart(6) : '     -'}`;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('measure training steps/s at the seed configuration (d=5, L=40, B=128, Adam lr 1e-3, fresh batch every step, one thread)')
    .option('--heads <list>', '[int[,int...]] head counts to measure, comma-separated', parseHeads, [1, 2, 4, 8])
    .option('--seconds <s>', '[number] measured seconds per head count, after a warm-up of min(1, s/2) s', parseSeconds, 3)
    .option('--seed <n>', '[int] RNG seed for the init and the batches', parseSeed, 0)
    .option('--engine <name>', '[ts|wasm|both] training-step engine: the TypeScript kernel, its WebAssembly SIMD build, or both in turn per head count (default: wasm when dist/wasm/attention.wasm loads, else ts)', parseEngine)
    .option('--layers <list>', '[int[,int...]] also measure these causal stacks (H = 2, on the same engines), comma-separated', parseLayers, [2])
    .option('--no-stack', '[flag] measure no stack (no N-layer rows)')
    .option('--threads <n>', '[1|2] 2 also measures each head count with the batches drawn on a second thread (train --threads 2); sampling is then the wait for the batch', parseThreads, 1)
    .option('--no-roofline', '[flag] skip the roofline (the floor of each step from counted operations and wasm micro-benchmarks of this core)')
    .option('--attention <name>', `[${ATTENTION_NAMES.join('|')}] the one-layer model's attention (linear attention: no stack rows; docs/readme/linear-attention.md)`, parseAttention, 'softmax')
    .option('--json', '[flag] print {"rows":[...]} as JSON instead of a table')
    .action((opts: { heads: number[]; seconds: number; seed: number; engine?: 'ts' | 'wasm' | 'both'; layers: number[]; stack: boolean; threads: 1 | 2; roofline: boolean; attention: AttentionName; json?: boolean }) => {
      const { heads, seconds, seed, attention } = opts;
      const choice = opts.engine ?? defaultEngine();
      if (choice !== 'ts' && !wasmAvailable()) throw new UsageError(`--engine ${choice}: the wasm engine is unavailable (${wasmUnavailableReason()})`);
      const engines: EngineName[] = choice === 'both' ? ['ts', 'wasm'] : [choice];
      const stackLayers = opts.stack && attention === 'softmax' ? opts.layers : [];
      const t = DEFAULT_TASK;
      const rates = wasmAvailable() && opts.roofline ? measureRates() : undefined;
      if (rates && !opts.json) {
        const f = (x: number) => x.toFixed(x < 10 ? 2 : 0);
        process.stdout.write(`roofline (this core, wasm): ${f(rates.normalsPerUs)} uniforms/µs, ${f(rates.multiplyAddsPerUs)} f64 multiply-adds/µs, ${f(rates.expsPerUs)} exps/µs, ${f(rates.bytesPerUs / 1000)} GB/s\n`);
        for (const H of heads) {
          const fl = stepFloor(stepCounts(t, H, attention), rates);
          const c = fl.counts;
          process.stdout.write(`  H=${H}: ${c.normals} normals ${fl.normalsUs.toFixed(1)} µs + ${c.multiplyAdds} multiply-adds ${fl.multiplyAddsUs.toFixed(1)} µs + ${c.exps} exps ${fl.expsUs.toFixed(1)} µs + ${(c.bytes / 1e3).toFixed(0)} kB ${fl.bytesUs.toFixed(1)} µs = floor ${fl.floorUs.toFixed(1)} µs\n`);
        }
      }
      if (!opts.json) {
        process.stdout.write(
          `icl-lab ${VERSION} bench: d=${t.d} L=${t.L} B=${t.batchSize} Adam lr 1e-3, ${attention === 'softmax' ? '' : `${attention} attention, `}fresh batch every step, 1 thread, node ${process.version}\n` +
            `(steps/s = mean; times in ms per step; best/s = fastest 20-step chunk; floor = roofline floor / mean step time)\n` +
            `heads   steps/s   best/s   ms/step   sampling    fwd+bwd  optimizer  engine  layers  threads  floor\n`,
        );
      }
      const out: BenchTableRow[] = [];
      const emit = (r: BenchTableRow): void => {
        out.push(r);
        if (!opts.json) process.stdout.write(formatRow(r) + '\n');
      };
      runBench({ heads, seconds, seed, engines, attention }, (r) => emit(tableRow(r, rates)));
      if (opts.threads === 2) runBench({ heads, seconds, seed, engines, threads: 2, attention }, (r) => emit(tableRow(r, rates)));
      for (const layers of stackLayers) for (const engine of engines) emit(tableRow(benchStack({ layers, heads: 2, seconds, seed, engine })));
      if (opts.json) {
        const roofline = rates ? { rates, floors: heads.map((H) => ({ heads: H, ...stepFloor(stepCounts(t, H, attention), rates) })) } : undefined;
        process.stdout.write(toJson({ task: { ...t }, optimizer: { kind: 'adam', lr: 1e-3 }, node: process.version, ...(roofline ? { roofline } : {}), rows: out }) + '\n');
      }
    });
}
