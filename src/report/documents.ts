/**
 * The one writer of a report's documents in `out`: evaluation.json (non-finite numbers as null; written
 * as soon as it is measured), then report.md, report.html (the Markdown with its figures inline) and
 * findings.json.
 */
import { join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { VERSION } from '../version.js';
import type { Finding } from './findings.js';
import { markdownToHtml } from './html.js';

export interface ReportResult {
  findings: Finding[];
  files: { html: string; md: string; findings: string; evaluation: string };
  pngs: string[];
}

export interface ReportDocuments {
  md: string;
  findings: Finding[];
  /** findings.json's other fields (after icl_lab_version, before findings where given first). */
  findingsJson: Record<string, unknown>;
  /** The run directories the report is about, in the order of findings.json's `runs`: written as `run_dirs`, relative to the report folder. */
  runDirs?: readonly string[];
  /** findings.json's fields after the findings. */
  findingsJsonAfter?: Record<string, unknown>;
  /** Where writeEvaluation put evaluation.json. */
  evaluation: string;
  pngs: string[];
}

const finiteOrNull = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

/** evaluation.json (after icl_lab_version, the given fields); returns its path. */
export async function writeEvaluation(out: string, fields: Record<string, unknown>): Promise<string> {
  const path = join(out, 'evaluation.json');
  await writeFileAtomic(path, JSON.stringify({ icl_lab_version: VERSION, ...fields }, finiteOrNull) + '\n');
  return path;
}

export async function writeDocuments(out: string, doc: ReportDocuments): Promise<ReportResult> {
  const md = join(out, 'report.md');
  await writeFileAtomic(md, doc.md);
  const html = join(out, 'report.html');
  await writeFileAtomic(html, markdownToHtml(doc.md, out));
  const findings = join(out, 'findings.json');
  // run_dirs: where the runs are, so a reader tells apart runs of one name in several experiments
  const runDirs = doc.runDirs ? { run_dirs: doc.runDirs.map((d) => relative(resolve(out), resolve(d)).split(sep).join('/')) } : {};
  await writeFileAtomic(findings, JSON.stringify({ icl_lab_version: VERSION, ...doc.findingsJson, ...runDirs, findings: doc.findings, ...doc.findingsJsonAfter }, null, 2) + '\n');
  return { findings: doc.findings, files: { html, md, findings, evaluation: doc.evaluation }, pngs: doc.pngs };
}
