/**
 * A path as the CLI prints it: relative to the working directory when it lies below it
 * (`runs/reproduce/report/report.html`), else absolute (`/tmp/rep/report.html`, never `../../tmp/rep/...`).
 */
import { relative, resolve } from 'node:path';

export function shownPath(p: string): string {
  const r = relative(process.cwd(), p);
  if (r === '') return '.';
  return r.startsWith('..') || resolve(r) !== resolve(p) ? resolve(p) : r;
}
