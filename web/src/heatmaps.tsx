/**
 * QK^h / OV^h heatmaps of every head at one snapshot, drawn with plots/circuits.ts's spec (the same
 * figure `icl-lab plot` writes as circuits_layer{l}_head{h}).
 */
import { useMemo } from 'preact/hooks';
import { circuitSpec } from '../../src/plots/circuits.js';
import { afterSteps } from './api';
import { VegaChart } from './chart';

export interface SnapshotSet {
  step: number[];
  layers: number;
  heads: number;
  E: number;
  /** [n, layers, H, E, E] (null: not finite, as the API sends NaN) */
  qk: ArrayLike<number | null>;
  /** [n, layers, H, E, ovColumns]: OV^h[:, -1], or a multi-task run's whole OV^h (E x N) */
  ov: ArrayLike<number | null>;
  /** Outputs per token (a multi-task run's N; labels x1..xd, y1..yN); absent = 1. */
  outputs?: number;
  /** Columns of OV^h in `ov`: 1 (absent; a multi-task run of an earlier build: its last output's), or `outputs`. */
  ovColumns?: number;
}

function slice(a: ArrayLike<number | null>, from: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = a[from + i] ?? NaN;
  return out;
}

export function headCircuits(s: SnapshotSet, index: number): { layer: number; head: number; qk: number[]; ov: number[] }[] {
  const { layers, heads, E } = s;
  const K = s.ovColumns ?? 1;
  const out = [];
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const k = (index * layers + l) * heads + h;
      out.push({ layer: l + 1, head: h + 1, qk: slice(s.qk, k * E * E, E * E), ov: slice(s.ov, k * E * K, E * K) });
    }
  }
  return out;
}

export function Heatmaps(props: { snapshots: SnapshotSet; index: number; note?: string; cell?: number; testId?: string }) {
  const { snapshots, index } = props;
  const specs = useMemo(() => {
    const i = Math.max(0, Math.min(index, snapshots.step.length - 1));
    const note = props.note ?? afterSteps(snapshots.step[i] ?? 0); // the run view's step count: index + 1
    const cell = props.cell ?? Math.max(16, Math.min(40, Math.floor(240 / snapshots.E)));
    return headCircuits(snapshots, i).map((c) => ({ key: `${c.layer}-${c.head}`, spec: circuitSpec(c, { note, cell, showValues: cell >= 34 && snapshots.E <= 11, outputs: snapshots.outputs ?? 1, ovColumns: snapshots.ovColumns ?? 1 }) }));
  }, [snapshots, index, props.note, props.cell]);
  return (
    <div class="heatmaps" data-testid={props.testId ?? 'heatmaps'}>
      {specs.map((s) => <VegaChart key={s.key} spec={s.spec} className="heatmap" />)}
    </div>
  );
}
