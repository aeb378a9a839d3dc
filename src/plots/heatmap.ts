/**
 * Building blocks shared by the circuit heatmaps (figures 3 and 4): matrix cells as rects on a
 * continuous [0, E] grid (cell (r, c) covers [c, c+1] x [r, r+1], row 0 on top), axis labels
 * x1..xd, y, and the seed's green dashed separators before the y row / column (at coordinate d).
 */
import { SEPARATOR_GREEN, round, type VlSpec } from './theme.js';

/** Fill of a cell whose value is NaN or infinite. */
export const NOT_FINITE_GREY = '#9A9A9A';

export interface CellRow {
  kind: 'cell';
  r: number;
  c: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  /** The value; null when it is not finite (a diverged run), with `bad` saying what it was. */
  v: number | null;
  bad?: string;
}

export interface SeparatorRow {
  kind: 'sep';
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** Cells of a rows x cols row-major matrix starting at `offset` in `data`. */
export function matrixCells(data: ArrayLike<number>, rows: number, cols: number, offset = 0): CellRow[] {
  const out: CellRow[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[offset + r * cols + c]!;
      const cell: CellRow = { kind: 'cell', r, c, x0: c, x1: c + 1, y0: r, y1: r + 1, v: Number.isFinite(v) ? round(v) : null };
      if (!Number.isFinite(v)) cell.bad = Number.isNaN(v) ? 'NaN' : v > 0 ? '+inf' : '-inf';
      out.push(cell);
    }
  }
  return out;
}

/** Separator segments before index d: vertical at x = d (if `vertical`) and horizontal at y = d. */
export function separators(d: number, width: number, height: number, vertical: boolean): SeparatorRow[] {
  const out: SeparatorRow[] = [{ kind: 'sep', x0: 0, x1: width, y0: d, y1: d }];
  if (vertical) out.unshift({ kind: 'sep', x0: d, x1: d, y0: 0, y1: height });
  return out;
}

/** Vega expression labelling tick i + 0.5 as x{i+1} for i < d, then y for one output, y1..yN for N outputs. */
function tokenLabelExpr(d: number, outputs: number): string {
  const y = outputs > 1 ? `'y' + (floor(datum.value) - ${d} + 1)` : `'y'`;
  return `floor(datum.value) < ${d} ? 'x' + (floor(datum.value) + 1) : ${y}`;
}

/** Position encoding for one axis of a token-indexed matrix (E = d + outputs cells: x1..xd, then y or y1..yN). */
export function tokenAxis(field: 'x0' | 'y0', d: number, n: number, title: string | null, reverse: boolean, outputs = 1): VlSpec {
  return {
    field, type: 'quantitative', title,
    scale: { domain: [0, n], nice: false, zero: false, reverse },
    axis: title === null && n === 1
      ? null
      : {
        values: Array.from({ length: n }, (_, i) => i + 0.5),
        labelExpr: tokenLabelExpr(d, outputs),
        // every coordinate labelled: Vega keeps at most tickCount of the given values (by default about
        // width / 40, which dropped every second label: x1, x3, ..., hiding y2 of a multi-task token)
        tickCount: n,
        labelOverlap: false,
        grid: false, ticks: false, domain: false, labelAngle: 0, labelPadding: 4,
      },
  };
}

/** Number format showing about three significant digits of the largest entry. */
export function valueFormat(maxAbs: number): string {
  const decimals = Math.max(0, Math.min(4, 2 - Math.floor(Math.log10(maxAbs))));
  return `.${decimals}f`;
}

/** The rect + separator (+ optional value text) layers of one heatmap panel. */
export function heatmapLayers(opts: {
  x: VlSpec;
  y: VlSpec;
  color: VlSpec;
  maxAbs: number;
  showValues: boolean;
  fontSize: number;
  /** Separator line width in pixels (default 3). */
  separatorWidth?: number;
}): VlSpec[] {
  const pos = { x: opts.x, x2: { field: 'x1' }, y: opts.y, y2: { field: 'y1' } };
  const layers: VlSpec[] = [
    {
      transform: [{ filter: "datum.kind === 'cell'" }],
      mark: { type: 'rect', stroke: null },
      encoding: { ...pos, color: opts.color, tooltip: [{ field: 'r' }, { field: 'c' }, { field: 'v', type: 'quantitative' }] },
    },
    {
      // Non-finite entries (v = null; Vega drops them from the colour layer) are grey, never white.
      transform: [{ filter: "datum.kind === 'cell' && datum.v === null" }],
      mark: { type: 'rect', stroke: null, color: NOT_FINITE_GREY },
      encoding: pos,
    },
  ];
  if (opts.showValues) {
    layers.push({
      transform: [
        { filter: "datum.kind === 'cell'" },
        { calculate: '(datum.x0 + datum.x1) / 2', as: 'xc' },
        { calculate: '(datum.y0 + datum.y1) / 2', as: 'yc' },
        { calculate: `datum.v === null ? datum.bad : format(datum.v, '${valueFormat(opts.maxAbs)}')`, as: 'label' },
      ],
      mark: { type: 'text', fontSize: opts.fontSize, baseline: 'middle', align: 'center' },
      encoding: {
        x: { field: 'xc', type: 'quantitative' },
        y: { field: 'yc', type: 'quantitative' },
        text: { field: 'label', type: 'nominal' },
        color: {
          condition: { test: `abs(datum.v) > ${round(0.55 * opts.maxAbs)}`, value: 'white' },
          value: '#111111',
        },
      },
    });
  }
  layers.push({
    transform: [{ filter: "datum.kind === 'sep'" }],
    mark: { type: 'rule', color: SEPARATOR_GREEN, strokeDash: [7, 4], strokeWidth: opts.separatorWidth ?? 3 },
    encoding: { x: { field: 'x0', type: 'quantitative' }, x2: { field: 'x1' }, y: { field: 'y0', type: 'quantitative' }, y2: { field: 'y1' } },
  });
  return layers;
}
