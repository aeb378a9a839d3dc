/** `icl-lab report DIR` on a sweep directory: results table (reused when present) + the sweep report. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readResultsCsv, writeResults, type Row } from './results.js';
import { readSweepJson } from './sweep-dir.js';
import { writeSweepReport } from './report.js';

export async function sweepReportAction(dir: string, o: { json: boolean }): Promise<void> {
  const log = o.json ? () => {} : (s: string) => process.stderr.write(`icl-lab: ${s}\n`);
  const csv = join(dir, 'results.csv');
  let rows: Row[];
  const stale = existsSync(csv) ? staleResults(dir, csv) : 'absent';
  if (stale === null) {
    rows = readResultsCsv(csv).rows;
  } else {
    if (stale !== 'absent') log(`${csv} ${stale}; computing the results table again`);
    log('computing the results table (analyze + evaluate at each run\'s training L)...');
    rows = writeResults(dir).rows;
  }
  const r = await writeSweepReport(dir, rows, { log });
  if (o.json) {
    process.stdout.write(JSON.stringify({ findings: r.findings, report: r.markdown, findings_json: r.findingsJson, figures: r.figures }) + '\n');
    return;
  }
  const lines = r.findings.map((f, i) => `${i + 1}  ${f.result.padEnd(4)}  ${f.id.padEnd(28)}  ${Number.isFinite(f.value) ? f.value.toFixed(4) : '-'}  ${f.threshold}`);
  process.stdout.write(`${lines.join('\n')}\n\nreport: ${r.markdown} (findings.json, ${r.figures.length} PNG figures in ${join(r.dir, 'figures')})\n`);
}

/**
 * Why DIR/results.csv cannot be reused (garbage, empty, another sweep's runs), or null: its rows
 * must be exactly the runs of sweep.json, each with a name and a status.
 */
function staleResults(dir: string, csv: string): string | null {
  let rows: Row[];
  try {
    rows = readResultsCsv(csv).rows;
  } catch {
    return 'cannot be read';
  }
  const want = readSweepJson(dir).runs.map((r) => r.name).sort();
  if (rows.some((r) => typeof r.name !== 'string' || typeof r.status !== 'string')) return 'is not a results table (rows without name and status)';
  const have = rows.map((r) => String(r.name)).sort();
  if (have.length !== want.length || have.some((n, i) => n !== want[i])) return `lists ${have.length} run(s), not the ${want.length} of ${join(dir, 'sweep.json')}`;
  return null;
}
