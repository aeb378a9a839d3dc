/** The report's Markdown as one self-contained HTML page. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Marked } from 'marked';

/** The report's Markdown as one self-contained HTML page: GFM via `marked`, every image inlined as a PNG data URL. */
export function markdownToHtml(md: string, baseDir: string): string {
  const marked = new Marked({ gfm: true });
  marked.use({
    walkTokens(token) {
      if (token.type === 'image' && !/^data:/.test(token.href)) {
        token.href = `data:image/png;base64,${readFileSync(join(baseDir, token.href)).toString('base64')}`;
      }
    },
  });
  const body = (marked.parse(md, { async: false }) as string)
    .replace(/<td>(<strong>)?FAIL/g, '<td class="fail">$1FAIL')
    .replace(/<td>(<strong>)?pass/g, '<td class="pass">$1pass');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>icl-lab report</title>
<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.pass{color:#1a6b1a;font-weight:bold}td.fail{color:#a32015;font-weight:bold}
figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}code{background:#f5f5f5;padding:0 3px}
</style></head><body>
${body}
</body></html>
`;
}
