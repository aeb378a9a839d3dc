/** Figure 1: training and validation loss over steps (downsampled band + mean line, log y). */
import { downsampleMinMax } from './downsample.js';
import { CATEGORY, round, stepAxis, topLevel, type VlSpec } from './theme.js';

export interface LossCurves {
  /** Training loss per step, F64[steps]; entry i is plotted at step i. */
  trainLoss: ArrayLike<number>;
  /** Validation loss, F64[nVal], at the steps in `valStep`. */
  valLoss?: ArrayLike<number>;
  valStep?: ArrayLike<number>;
}

export interface LossSpecOptions {
  /** Number of buckets for the training curve (default 1000). */
  buckets?: number;
  /** Logarithmic loss axis (default true). */
  logY?: boolean;
  title?: string;
  width?: number;
  height?: number;
}

const TRAIN = 'training';
const VAL = 'validation';

export function lossSpec(curves: LossCurves, opts: LossSpecOptions = {}): VlSpec {
  const logY = opts.logY ?? true;
  const buckets = opts.buckets ?? 1000;
  const n = curves.trainLoss.length;
  const rows = downsampleMinMax(curves.trainLoss, buckets, undefined, logY);
  const perBucket = rows.length > 0 ? Math.round(n / rows.length) : 1;
  const train = rows.map((b) => ({
    step: round(b.x), lo: round(b.min), hi: round(b.max), loss: round(b.mean), series: TRAIN,
  }));
  const val: { step: number; loss: number; series: string }[] = [];
  if (curves.valLoss && curves.valStep) {
    if (curves.valLoss.length !== curves.valStep.length) {
      throw new Error(`lossSpec: val_loss has ${curves.valLoss.length} entries, val_step ${curves.valStep.length}`);
    }
    for (let i = 0; i < curves.valLoss.length; i++) {
      const v = curves.valLoss[i]!;
      if (!Number.isFinite(v) || (logY && v <= 0)) continue;
      val.push({ step: round(curves.valStep[i]!), loss: round(v), series: VAL });
    }
  }
  const x = { field: 'step', type: 'quantitative', title: 'Training step', axis: stepAxis(opts.width ?? 720) };
  const yScale = logY ? { type: 'log' } : { zero: false };
  const color = {
    field: 'series', type: 'nominal', title: null,
    scale: { domain: [TRAIN, VAL], range: [CATEGORY[0], CATEGORY[1]] },
    legend: { orient: 'top-right', fillColor: 'white' },
  };
  const subtitle = perBucket > 1
    ? `training: mean of each bucket of ~${perBucket} steps, band = min–max in the bucket`
    : 'training loss per step';
  const layer: VlSpec[] = [
    {
      data: { values: train },
      mark: { type: 'area', opacity: 0.25, color: CATEGORY[0] },
      encoding: { x, y: { field: 'lo', type: 'quantitative', scale: yScale }, y2: { field: 'hi' } },
    },
    {
      data: { values: train },
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x, color,
        y: { field: 'loss', type: 'quantitative', scale: yScale, title: logY ? 'Loss (MSE, log scale)' : 'Loss (MSE)' },
      },
    },
  ];
  if (val.length > 0) {
    layer.push({
      data: { values: val },
      mark: { type: 'line', point: { filled: true, size: 30 }, strokeDash: [6, 3], strokeWidth: 1.5 },
      encoding: { x, color, y: { field: 'loss', type: 'quantitative', scale: yScale } },
    });
  }
  return topLevel({
    title: { text: opts.title ?? 'Training and Validation Loss', subtitle },
    width: opts.width ?? 720,
    height: opts.height ?? 360,
    layer,
  });
}
