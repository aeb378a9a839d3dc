/**
 * The report's Markdown as one self-contained HTML page: a table of contents, an anchor on every
 * heading, and every figure inline (its SVG when one lies beside the PNG, else the PNG as a data URL).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Marked } from 'marked';

/** Report PNGs are rendered at exactly this zoom (2x: sharp on high-density screens, a third of the bytes of the plot command's >= 1600 px). */
export const FIGURE_ZOOM = 2;

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function decodePath(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A Vega SVG made fit to sit inline in the page: its ids prefixed (several figures on one page must
 * not share a gradient or clip id), the accessibility attributes Vega puts on every mark and the
 * class names (nothing styles them) dropped, the whole labelled with the figure's title.
 */
export function inlineSvg(svg: string, title: string, prefix: string): string {
  return svg
    .replace(/<\?xml[^>]*>\s*/, '')
    .replace(/ (aria-[a-z]+|role|class)="[^"]*"/g, '')
    .replace(/ id="([^"]+)"/g, ` id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/(xlink:)?href="#([^"]+)"/g, (_m, x: string | undefined, id: string) => `${x ?? ''}href="#${prefix}-${id}"`)
    .replace(/^<svg /, `<svg role="img" aria-label="${escapeHtml(title)}" `);
}

/** Anchor id of a heading: lower case, runs of other characters as '-' ("1. kernel-regressor" -> "1-kernel-regressor"). */
export function headingId(text: string): string {
  return text.toLowerCase().replace(/<[^>]+>/g, '').replace(/&[a-z]+;/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'section';
}

/**
 * The report's Markdown as one self-contained HTML page: GFM via `marked`, every heading with an
 * anchor id (the heading text links to it), a table of contents (h2, with their h3) after the
 * opening section, every image inlined (SVG, else a PNG data URL), the report's <details> folds kept.
 */
export function markdownToHtml(md: string, baseDir: string): string {
  const marked = new Marked({ gfm: true });
  const toc: { depth: number; id: string; text: string }[] = [];
  let figureNo = 0;
  const used = new Map<string, number>();
  marked.use({
    renderer: {
      // raw HTML in the Markdown (a run name is a folder name: it may be `<img onerror=...>`) is shown as text, never run;
      // only the report's own folds pass: `<details>` + `<summary>TEXT</summary>` (TEXT without a tag) and `</details>`
      html({ text }) {
        const t = text.trim();
        const open = /^<details>\s*<summary>([^<>]*)<\/summary>$/.exec(t);
        if (open) return `<details>\n<summary>${open[1]}</summary>\n`;
        if (t === '</details>') return '</details>\n';
        return escapeHtml(text);
      },
      // a link to another scheme than http(s) or mailto (javascript:, data:) is shown as its text
      link(token) {
        const scheme = /^\s*([a-z][a-z0-9+.-]*):/i.exec(token.href)?.[1]?.toLowerCase();
        return scheme === undefined || scheme === 'http' || scheme === 'https' || scheme === 'mailto' ? false : this.parser.parseInline(token.tokens);
      },
      image({ href: link, text }) {
        if (/^data:/.test(link)) return `<img src="${link}" alt="${escapeHtml(text)}">`;
        const href = decodePath(link); // figure paths are percent-encoded in the Markdown (report/format.ts mdPath)
        // the SVG drawn beside each PNG, inline: sharp at any zoom, and a third of the bytes of 2x PNGs
        const svgPath = join(baseDir, href.replace(/\.png$/, '.svg'));
        if (href.endsWith('.png') && existsSync(svgPath)) return inlineSvg(readFileSync(svgPath, 'utf8'), text, `f${++figureNo}`);
        const png = readFileSync(join(baseDir, href));
        // PNGs are drawn at FIGURE_ZOOM x their CSS size: show them at that size, sharp on high-density screens
        const width = png.length > 24 && png.toString('latin1', 12, 16) === 'IHDR' ? Math.round(png.readUInt32BE(16) / FIGURE_ZOOM) : undefined;
        return `<img src="data:image/png;base64,${png.toString('base64')}" alt="${escapeHtml(text)}"${width ? ` width="${width}"` : ''}>`;
      },
      heading({ tokens, depth }) {
        const text = this.parser.parseInline(tokens);
        const base = headingId(text);
        const n = used.get(base) ?? 0;
        used.set(base, n + 1);
        const id = n === 0 ? base : `${base}-${n + 1}`;
        if (depth === 2 || depth === 3) toc.push({ depth, id, text });
        // the heading links to itself (copy its address to cite a section), drawn as the heading: no '#' before it
        return `<h${depth} id="${id}"><a class="self" href="#${id}">${text}</a></h${depth}>\n`;
      },
    },
  });
  let body = (marked.parse(md, { async: false }) as string)
    .replace(/<td>(<strong>)?FAIL/g, '<td class="fail">$1FAIL')
    .replace(/<td>(<strong>)?pass/g, '<td class="pass">$1pass');
  // table of contents: h2 entries, each with its h3 entries, before the first h2
  const items: string[] = [];
  for (let i = 0; i < toc.length; i++) {
    const t = toc[i]!;
    if (t.depth !== 2) continue;
    const subs: string[] = [];
    for (let j = i + 1; j < toc.length && toc[j]!.depth === 3; j++) subs.push(`<li><a href="#${toc[j]!.id}">${toc[j]!.text}</a></li>`);
    items.push(`<li><a href="#${t.id}">${t.text}</a>${subs.length ? `<ul>${subs.join('')}</ul>` : ''}</li>`);
  }
  if (items.length > 0) {
    const nav = `<nav class="toc" id="contents"><h2>Contents</h2><ul>${items.join('')}</ul></nav>\n`;
    const at = body.indexOf('<h2 ');
    body = at < 0 ? body + nav : body.slice(0, at) + nav + body.slice(at);
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>icl-lab report</title>
<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.pass{color:#1a6b1a;font-weight:bold}td.fail{color:#a32015;font-weight:bold}
figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}code{background:#f5f5f5;padding:0 3px}
a.self{color:inherit;text-decoration:none}a.self:hover{text-decoration:underline}
details{border:1px solid #e5e5e5;border-radius:3px;margin:0.6em 0;padding:0.2em 0.8em}details[open]{padding-bottom:0.6em}summary{cursor:pointer;font-weight:bold;padding:0.3em 0}
p>svg{max-width:100%;height:auto;display:block;border:1px solid #eee}svg text{font-family:"DejaVu Sans","Bitstream Vera Sans",Verdana,Geneva,sans-serif}
nav.toc{background:#fafafa;border:1px solid #e5e5e5;padding:0.3em 1.2em;margin:1em 0;font-size:0.9em}nav.toc h2{font-size:1.1em;margin:0.4em 0}nav.toc>ul{columns:3;column-gap:2em;margin:0.2em 0 0.5em;padding-left:1.2em}nav.toc ul ul{margin:0}nav.toc li{margin:0.05em 0;break-inside:avoid-column}
</style></head><body>
${body}
</body></html>
`;
}
