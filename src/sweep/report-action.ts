/** `icl-lab report DIR` on a sweep directory: results table (reused when present) + the sweep report. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readResultsCsv, writeResults, type Row } from './results.js';
import { writeSweepReport } from './report.js';

export async function sweepReportAction(dir: string, o: { json: boolean }): Promise<void> {
  const log = o.json ? () => {} : (s: string) => process.stderr.write(`icl-lab: ${s}\n`);
  const csv = join(dir, 'results.csv');
  let rows: Row[];
  if (existsSync(csv)) {
    rows = readResultsCsv(csv).rows;
  } else {
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
