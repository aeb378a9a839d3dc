/**
 * The multi-task circuits of every head in one figure: one row per head, QK^h (E x E, scaled) beside
 * OV^h (E x N), each on its own symmetric diverging scale (navy negative, white zero, red positive),
 * axes x1..xd, y1..yN, green dashed separators before the y rows / columns; the task blocks named in
 * the subtitle.
 */
import { heatmapLayers, matrixCells, separators } from './heatmap.js';
import { divergingScale, maxAbs, topLevel, type VlSpec } from './theme.js';
import type { MultiHeadCircuit } from '../model/multitask-circuits.js';
import { formatTasks, type TaskBlock } from '../data/multitask.js';

function axis(field: 'x0' | 'y0', dx: number, n: number, title: string | null, reverse: boolean, labels: boolean): VlSpec {
  return {
    field, type: 'quantitative', title,
    scale: { domain: [0, n], nice: false, zero: false, reverse },
    axis: labels
      ? { values: Array.from({ length: n }, (_, i) => i + 0.5), labelExpr: `floor(datum.value) < ${dx} ? 'x' + (floor(datum.value) + 1) : 'y' + (floor(datum.value) - ${dx} + 1)`, tickCount: n, labelOverlap: false, grid: false, ticks: false, domain: false, labelAngle: 0, labelPadding: 4 }
      : null,
  };
}

function outAxis(N: number): VlSpec {
  return {
    field: 'x0', type: 'quantitative', title: 'output',
    scale: { domain: [0, N], nice: false, zero: false },
    axis: { values: Array.from({ length: N }, (_, i) => i + 0.5), labelExpr: "'out ' + (floor(datum.value) + 1)", tickCount: N, labelOverlap: false, grid: false, ticks: false, domain: false, labelAngle: 0, orient: 'top' },
  };
}

export function multitaskCircuitsSpec(heads: readonly MultiHeadCircuit[], dx: number, tasks: readonly TaskBlock[], opts: { title?: string; note?: string } = {}): VlSpec {
  const N = tasks.length;
  const E = dx + N;
  const cell = Math.min(40, Math.floor(320 / E));
  const fontSize = Math.max(7, Math.min(10, Math.floor(cell / 4)));
  const rows = heads.map((c) => {
    const mQk = maxAbs(c.qk);
    const mOv = maxAbs(c.ov);
    const legend = (t: string): VlSpec => ({ title: t, orient: 'right', direction: 'vertical', gradientLength: cell * E, gradientThickness: 12, tickCount: 5 });
    return {
      hconcat: [
        {
          title: { text: `Head ${c.head + 1}: QKʰ (scaled)`, subtitle: `±${mQk.toPrecision(3)}; diag share on tasks ${c.qkShare.map((x) => x.toFixed(2)).join(' / ')}` },
          width: cell * E, height: cell * E,
          data: { values: [...matrixCells(c.qk, E, E), ...separators(dx, E, E, true)] },
          layer: heatmapLayers({
            x: axis('x0', dx, E, 'key coordinate', false, true), y: axis('y0', dx, E, 'query coordinate', true, true),
            color: { field: 'v', type: 'quantitative', title: 'QKʰ', scale: divergingScale(mQk), legend: legend('QKʰ') },
            maxAbs: mQk, showValues: true, fontSize,
          }),
        },
        {
          title: { text: 'OVʰ', subtitle: `±${mOv.toPrecision(3)}; y_k→k share ${c.ovShare.map((x) => x.toFixed(2)).join(' / ')}` },
          width: cell * N, height: cell * E,
          data: { values: [...matrixCells(c.ov, E, N), ...separators(dx, N, E, false)] },
          layer: heatmapLayers({
            x: outAxis(N), y: axis('y0', dx, E, 'input coordinate', true, true),
            color: { field: 'v', type: 'quantitative', title: 'OVʰ', scale: divergingScale(mOv), legend: legend('OVʰ') },
            maxAbs: mOv, showValues: true, fontSize,
          }),
        },
      ],
      spacing: 30,
      resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    };
  });
  return topLevel({
    title: { text: opts.title ?? `Multi-task circuits (H = ${heads.length})`, subtitle: `tasks ${tasks.map(([s, e], k) => `${k + 1}: x${s + 1}..x${e}`).join(', ')} (${formatTasks(tasks)})${opts.note ? '; ' + opts.note : ''}` },
    vconcat: rows,
    spacing: 24,
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  });
}
