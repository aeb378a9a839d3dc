/**
 * Colours, fonts and the shared Vega-Lite config for every icl-lab figure.
 * Pure data: no I/O, so the same specs serve the CLI (SVG/PNG) and a web page.
 */

/** The seed's diverging map (`cividis_with_white`): navy at -max, white at 0, dark red at +max. */
export const NAVY = '#0D2758';
export const WHITE = '#FFFFFF';
export const DARK_RED = '#A32015';
/** The seed's separator colour (green dashed lines before the y row/column). */
export const SEPARATOR_GREEN = '#008000';
export const FONT_FAMILY = 'DejaVu Sans';

/** Categorical colours for heads / methods (Tableau 10, colour-blind friendly enough, print-safe). */
export const CATEGORY = [
  '#4C78A8', '#F58518', '#E45756', '#72B7B2', '#54A24B',
  '#EECA3B', '#B279A2', '#FF9DA6', '#9D755D', '#BAB0AC',
];

/** Legend for the solid/dashed channel: dark stroke symbols (Vega-Lite leaves them unstroked). */
export const DASH_LEGEND = {
  symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 300, labelLimit: 360,
  encode: { symbols: { update: { stroke: { value: '#333333' }, opacity: { value: 1 } } } },
};

/** The file formats a figure is written in (render.ts). PDF is not among them: no PDF renderer is a dependency. */
export const FIGURE_FORMATS = ['svg', 'png'] as const;
export type FigureFormat = (typeof FIGURE_FORMATS)[number];

/** A loose Vega-Lite spec: plain JSON, compiled by `vega-lite` in render.ts. */
export type VlSpec = { [key: string]: unknown };

/** Largest |v| over the finite entries, or 1 when everything is zero (so the scale stays valid). */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]!);
    if (Number.isFinite(a) && a > m) m = a;
  }
  return m > 0 ? m : 1;
}

/**
 * Diverging colour scale centred at 0 with symmetric limits [-m, m].
 * `interpolate: 'rgb'` matters: Vega's default (hcl) does not pass through white at the midpoint.
 */
export function divergingScale(m: number): VlSpec {
  return { domain: [-m, 0, m], range: [NAVY, WHITE, DARK_RED], interpolate: 'rgb', clamp: true };
}

/** Label size of the screen figures (axis tick labels, legend labels); titles are a step larger. */
export const SCREEN_FONT_SIZE = 11;
/** Label size of `plot --paper` figures (default of `--font-size`). */
export const PAPER_FONT_SIZE = 14;

/**
 * Shared config: one font everywhere (the same family is loaded into resvg), readable sizes.
 * `fontSize` is the label size; axis/legend titles get +1, panel titles +2 (+4 for a figure's own
 * title on screen), annotations (the `annotation` mark style, e.g. "training L = 40") -0.
 */
export function baseConfig(fontSize = SCREEN_FONT_SIZE): VlSpec {
  const n = fontSize;
  return {
    font: FONT_FAMILY,
    background: 'white',
    title: { font: FONT_FAMILY, fontSize: n + 4, fontWeight: 'normal', anchor: 'start', color: '#111111' },
    axis: {
      labelFont: FONT_FAMILY, titleFont: FONT_FAMILY, labelFontSize: n, titleFontSize: n + 1,
      titleFontWeight: 'normal', gridColor: '#E4E4E4',
    },
    legend: {
      labelFont: FONT_FAMILY, titleFont: FONT_FAMILY, labelFontSize: n, titleFontSize: n + 1,
      titleFontWeight: 'normal',
    },
    header: {
      labelFont: FONT_FAMILY, titleFont: FONT_FAMILY, labelFontSize: n + 1, titleFontSize: n + 1,
      titleFontWeight: 'normal',
    },
    text: { font: FONT_FAMILY },
    style: { annotation: { fontSize: n, color: '#333333' } },
    view: { stroke: '#BBBBBB' },
  };
}

/** Axis label expression for step counts: 0, 500, 20k, 1.5M. */
export const STEP_LABEL_EXPR =
  "abs(datum.value) >= 1e6 ? format(datum.value / 1e6, '~r') + 'M' : abs(datum.value) >= 1e3 ? format(datum.value / 1e3, '~r') + 'k' : format(datum.value, '~r')";

/**
 * The training-step axis of a chart `width` px wide: step labels (STEP_LABEL_EXPR) and about one tick
 * per 70 px, so a 5,000-step run gets 0, 500, 1k, … rather than 26 ticks 200 apart whose labels touch;
 * labels that would still collide are dropped.
 */
export function stepAxis(width: number): VlSpec {
  return { labelExpr: STEP_LABEL_EXPR, tickCount: Math.max(3, Math.floor(width / 70)), labelOverlap: 'greedy' };
}

/** Wrap a spec body into a top-level spec with the schema and the shared config. */
export function topLevel(body: VlSpec): VlSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...body,
    config: baseConfig(),
  };
}

/** Round for the data embedded in a spec (keeps SVGs small and snapshot tests stable). */
export function round(v: number, digits = 6): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const p = Math.pow(10, digits - 1 - Math.floor(Math.log10(Math.abs(v))));
  return Math.round(v * p) / p;
}

/** What a figure is about, for a PNG shared alone: "run h2 · H = 2 · d = 5 · L = 40 · seed preset · 20,000 steps". */
export interface FigureContext {
  /** Run name(s). */
  runs: readonly string[];
  /** Head count(s). */
  heads: readonly number[];
  d: number;
  L: number;
  preset: string;
  /** Steps done (one number, or one per run). */
  steps: readonly number[];
  noiseStd?: number;
  rho?: number;
  layers?: number;
}

export function contextLine(c: FigureContext): string {
  const uniq = <T>(xs: readonly T[]) => [...new Set(xs)];
  const steps = uniq(c.steps);
  const parts = [
    `${c.runs.length > 1 ? 'runs' : 'run'} ${c.runs.join(', ')}`,
    `H = ${uniq(c.heads).join(', ')}`,
    ...(c.layers && c.layers > 1 ? [`${c.layers} layers`] : []),
    `d = ${c.d}`,
    `L = ${c.L}`,
    `${c.preset} preset${c.noiseStd !== undefined ? `, noise ${+c.noiseStd.toPrecision(4)}` : ''}${c.rho ? `, ρ = ${+c.rho.toPrecision(4)}` : ''}`,
    `${steps.map((s) => s.toLocaleString('en-US')).join(' / ')} steps`,
  ];
  return parts.join(' · ');
}

/** Keys under which a view spec holds its sub-views. */
const SUBVIEWS = ['layer', 'hconcat', 'vconcat', 'concat', 'spec'] as const;

/**
 * The figure as a paper wants it (`icl-lab plot --paper`): no title, subtitle or context line of its
 * own (the caption says those), every font at `fontSize` (labels; titles +1). Panel titles inside the
 * figure stay (they label the panels) without their subtitles and inline sizes; axis titles, legends
 * and data are untouched.
 */
export function paperSpec(spec: VlSpec, fontSize = PAPER_FONT_SIZE): VlSpec {
  if (!(fontSize >= 4 && fontSize <= 72)) throw new RangeError(`font size must be 4..72, got ${fontSize}`);
  const view = (v: VlSpec, top: boolean): VlSpec => {
    const out: VlSpec = { ...v };
    if (top) delete out['title'];
    else if (out['title'] && typeof out['title'] === 'object') {
      const t: VlSpec = { ...(out['title'] as VlSpec) };
      for (const k of ['subtitle', 'fontSize', 'subtitleFontSize']) delete t[k];
      out['title'] = t;
    }
    for (const k of SUBVIEWS) {
      const sub = out[k];
      if (Array.isArray(sub)) out[k] = sub.map((s) => (s && typeof s === 'object' ? view(s as VlSpec, false) : s));
      else if (sub && typeof sub === 'object') out[k] = view(sub as VlSpec, false);
    }
    return out;
  };
  const out = view(spec, true);
  const config = baseConfig(fontSize);
  (config['title'] as VlSpec)['fontSize'] = fontSize + 2; // panel titles: no figure title to stand above them
  out['config'] = config;
  return out;
}

/** The spec with `line` added under its title (as the last subtitle line), so the figure says what it is about. */
export function withContext(spec: VlSpec, line: string | undefined): VlSpec {
  if (!line) return spec;
  const t = spec['title'];
  // a figure without a title gets the line as its title
  if (t === undefined || t === null || t === '') return { ...spec, title: { text: line, fontSize: 12, color: '#444444' } };
  const title: VlSpec = typeof t === 'string' ? { text: t } : { ...(t as VlSpec) };
  const sub = title['subtitle'];
  const lines = sub === undefined ? [] : Array.isArray(sub) ? [...(sub as string[])] : [String(sub)];
  title['subtitle'] = [...lines, line];
  title['subtitleColor'] ??= '#444444';
  return { ...spec, title };
}
