/**
 * Sweep-level progress on stderr: runs done / running / queued, aggregate steps/s and ETA.
 *   bar   : one cli-progress bar over the total steps of the sweep (a terminal)
 *   lines : one plain line every few seconds (a log file, CI)
 *   none  : nothing
 * Fed by run progress reports (local worker threads or queue jobs' updateProgress).
 */
import cliProgress from 'cli-progress';
import { formatDuration, type ProgressMode } from '../run/progress.js';

export interface RunProgress {
  step: number;
  total: number;
  stepsPerSecond: number;
}

export interface SweepCounts {
  done: number;
  failed: number;
  running: number;
  queued: number;
  total: number;
  /** Steps done and to do over all runs. */
  step: number;
  steps: number;
  stepsPerSecond: number;
  etaSeconds: number;
}

export class SweepProgress {
  private readonly runs = new Map<string, RunProgress & { state: 'queued' | 'running' | 'done' | 'failed' }>();
  private readonly bar: cliProgress.SingleBar | null = null;
  private last = performance.now();

  constructor(
    readonly mode: ProgressMode,
    runs: readonly { name: string; step: number; total: number; state: 'queued' | 'done' | 'failed' }[],
    private readonly err: (s: string) => void = (s) => process.stderr.write(s),
    private readonly lineEveryMs = 5000,
  ) {
    for (const r of runs) this.runs.set(r.name, { step: r.step, total: r.total, stepsPerSecond: 0, state: r.state });
    if (mode === 'bar') {
      this.bar = new cliProgress.SingleBar({
        stream: process.stderr,
        format: 'sweep |{bar}| {percentage}% | runs {finished}/{nruns} done, {active} running, {waiting} queued | {sps} steps/s | ETA {left}',
        barsize: 30, hideCursor: true, clearOnComplete: false, gracefulExit: false, fps: 5,
      }, cliProgress.Presets.shades_classic);
      const c = this.counts();
      this.bar.start(Math.max(1, c.steps), c.step, this.payload(c));
    }
  }

  counts(): SweepCounts {
    let step = 0, steps = 0, sps = 0, done = 0, failed = 0, running = 0, queued = 0;
    for (const r of this.runs.values()) {
      steps += r.total;
      step += r.state === 'done' || r.state === 'failed' ? r.total : r.step; // a failed run has no steps left
      if (r.state === 'running') {
        sps += r.stepsPerSecond;
        running++;
      } else if (r.state === 'done') done++;
      else if (r.state === 'failed') failed++;
      else queued++;
    }
    const left = steps - step;
    return { done, failed, running, queued, total: this.runs.size, step, steps, stepsPerSecond: sps, etaSeconds: sps > 0 ? left / sps : left === 0 ? 0 : NaN };
  }

  private payload(c: SweepCounts): Record<string, string | number> {
    return { finished: c.done + c.failed, nruns: c.total, active: c.running, waiting: c.queued, sps: Math.round(c.stepsPerSecond), left: formatDuration(c.etaSeconds) };
  }

  // (cli-progress reserves the payload names total, value, eta, percentage, duration)
  /** `sweep: runs 3/8 done, 2 running, 3 queued; 41% of steps; 7120 steps/s; ETA 1m05s` */
  line(): string {
    const c = this.counts();
    const pct = c.steps > 0 ? ((100 * c.step) / c.steps).toFixed(0) : '100';
    const failed = c.failed ? ` (${c.failed} failed)` : '';
    return `sweep: runs ${c.done + c.failed}/${c.total} done${failed}, ${c.running} running, ${c.queued} queued; ${pct}% of steps; ${Math.round(c.stepsPerSecond)} steps/s; ETA ${formatDuration(c.etaSeconds)}`;
  }

  update(name: string, p: RunProgress): void {
    const r = this.runs.get(name);
    if (!r) return;
    Object.assign(r, { step: p.step, total: p.total, stepsPerSecond: p.stepsPerSecond, state: 'running' });
    this.render();
  }

  finish(name: string, state: 'done' | 'failed' | 'queued', step?: number): void {
    const r = this.runs.get(name);
    if (!r) return;
    r.state = state;
    r.stepsPerSecond = 0;
    if (step !== undefined) r.step = step;
    this.render();
  }

  note(text: string): void {
    if (this.mode === 'none') return;
    if (this.bar) {
      this.bar.stop();
      this.err(text + '\n');
      const c = this.counts();
      this.bar.start(Math.max(1, c.steps), c.step, this.payload(c));
    } else this.err(text + '\n');
  }

  private render(): void {
    if (this.mode === 'none') return;
    const c = this.counts();
    if (this.bar) {
      this.bar.setTotal(Math.max(1, c.steps));
      this.bar.update(c.step, this.payload(c));
      return;
    }
    const t = performance.now();
    if (t - this.last >= this.lineEveryMs) {
      this.last = t;
      this.err(this.line() + '\n');
    }
  }

  /** Stops the bar; in line mode a last line with the final counts (a sweep shorter than one line interval still says where it ended). */
  stop(): void {
    if (this.bar) this.bar.stop();
    else if (this.mode !== 'none' && this.runs.size > 0) this.err(this.line() + '\n');
  }
}

/** The display of a sweep's runs as they are on disk: finished ones done or failed, the rest queued at their step. */
export function sweepProgressOf(mode: ProgressMode, runs: readonly { name: string; config: { steps: number }; state: { kind: string; step: number } }[]): SweepProgress {
  return new SweepProgress(mode, runs.map((r) => ({
    name: r.name, step: r.state.step, total: r.config.steps,
    state: r.state.kind === 'completed' ? 'done' as const : r.state.kind === 'failed' ? 'failed' as const : 'queued' as const,
  })));
}
