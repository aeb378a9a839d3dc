/**
 * Progress display for training runs, on stderr:
 *   bar   : cli-progress bars (one per active run): step, steps/s, ETA, current loss
 *   lines : one plain line per run every few seconds (not a TTY, e.g. a log file or CI)
 *   none  : nothing (`--json`)
 * The seed's "After N steps" lines go to stdout (through `line`), above the bars on a terminal.
 */
import cliProgress from 'cli-progress';
import type { ProgressInfo } from './run.js';

export type ProgressMode = 'bar' | 'lines' | 'none';

/** bar on a terminal, lines otherwise. */
export function autoProgressMode(stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  return stream.isTTY && (stream.columns ?? 0) >= 40 ? 'bar' : 'lines';
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const fmtLoss = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : '-');

/** `[h2] step 1200/3000 (40.0%)  850 steps/s  ETA 2s  loss 0.1234` */
export function progressLine(name: string, p: ProgressInfo): string {
  const pct = ((100 * p.step) / p.total).toFixed(1);
  const eta = p.stepsPerSecond > 0 ? formatDuration((p.total - p.step) / p.stepsPerSecond) : '?';
  const tag = name ? `[${name}] ` : '';
  return `${tag}step ${p.step}/${p.total} (${pct}%)  ${Math.round(p.stepsPerSecond)} steps/s  ETA ${eta}  loss ${fmtLoss(p.loss)}`;
}

export class ProgressDisplay {
  private readonly multi: cliProgress.MultiBar | null = null;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly lastLine = new Map<string, number>();

  constructor(
    readonly mode: ProgressMode,
    private readonly out: (s: string) => void = (s) => process.stdout.write(s),
    private readonly err: (s: string) => void = (s) => process.stderr.write(s),
    private readonly lineEveryMs = 5000,
  ) {
    if (mode === 'bar') {
      this.multi = new cliProgress.MultiBar({
        stream: process.stderr,
        format: '{name} |{bar}| {value}/{total} | {sps} steps/s | ETA {eta_formatted} | loss {loss}',
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        gracefulExit: false,
        etaBuffer: 50,
        fps: 5,
      }, cliProgress.Presets.shades_classic);
    }
  }

  update(name: string, p: ProgressInfo): void {
    if (this.mode === 'none') return;
    if (this.multi) {
      let bar = this.bars.get(name);
      const payload = { name: name || 'train', sps: Math.round(p.stepsPerSecond), loss: fmtLoss(p.loss) };
      if (!bar) {
        bar = this.multi.create(p.total, p.step, payload);
        this.bars.set(name, bar);
      } else {
        bar.setTotal(p.total);
        bar.update(p.step, payload);
      }
      return;
    }
    const t = performance.now();
    const last = this.lastLine.get(name);
    if (last === undefined) {
      this.lastLine.set(name, t); // first line after lineEveryMs, not at step 0
      return;
    }
    if (t - last >= this.lineEveryMs) {
      this.lastLine.set(name, t);
      this.err(progressLine(name, p) + '\n');
    }
  }

  /** A line for stdout (the seed's printed lines), kept above the bars on a terminal. */
  line(text: string): void {
    if (this.multi && process.stdout.isTTY) this.multi.log(text + '\n');
    else this.out(text + '\n');
  }

  /** A status line for stderr (run finished, interrupted, ...). */
  note(text: string): void {
    if (this.mode === 'none') return;
    if (this.multi) this.multi.log(text + '\n');
    else this.err(text + '\n');
  }

  done(name: string): void {
    const bar = this.bars.get(name);
    if (bar && this.multi) {
      this.multi.remove(bar);
      this.bars.delete(name);
    }
    this.lastLine.delete(name);
  }

  stop(): void {
    this.multi?.stop();
  }
}
