/** Number and table formatting of the report's Markdown. */

/** `digits` decimals; an en dash for a missing or non-finite value. */
export const fmt = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
export const fmtList = (xs: readonly number[], digits = 4): string => xs.map((x) => fmt(x, digits)).join(', ');

/** A GFM table. */
export function mdTable(header: string[], rows: string[][]): string {
  const cell = (c: string) => c.replace(/\|/g, '\\|'); // GFM: a literal | in a cell is \|
  return [`| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}
