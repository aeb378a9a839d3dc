/** Number and table formatting of the report's Markdown. */

/** `digits` decimals; an en dash for a missing or non-finite value. */
export const fmt = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
/** `digits` significant digits, trailing zeros dropped, as the figures' context line prints noise and rho (plots/theme.ts contextLine): 0.3162, not 0.31622776601683794. */
export const sig = (x: number, digits = 4): string => String(+x.toPrecision(digits));
export const fmtList = (xs: readonly number[], digits = 4): string => xs.map((x) => fmt(x, digits)).join(', ');

/**
 * A name (a run's folder name, a config string) as Markdown text: characters that would start HTML,
 * an entity, a link or code are escaped, so the name shows as it is and runs nothing. Plain names
 * (h2-L10, seed7, lr0.001) come out unchanged.
 */
export function mdText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/([\\`*[\]])/g, '\\$1');
}

/** Prose that may quote a name (a finding's reason naming its runs): no tag can start in it; the rest of its Markdown stays. */
export function mdProse(s: string): string {
  return s.replace(/&(?![a-z]+;|#\d+;)/g, '&amp;').replace(/</g, '&lt;');
}

/** A relative file path as a Markdown link target: each segment percent-encoded (plain names unchanged). */
export function mdPath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

/** A GFM table. */
export function mdTable(header: string[], rows: string[][]): string {
  // GFM: a literal | in a cell is \|; a tag in a cell (an injected name) is shown as text
  const cell = (c: string) => c.replace(/\|/g, '\\|').replace(/<(?=[A-Za-z][A-Za-z0-9-]*[\s/>]|[/!?])/g, '&lt;');
  return [`| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}
