/**
 * What `icl-lab serve DIR` shows: every run directory (run.json), report (findings.json +
 * report.html, e.g. a reproduction's report/) and sweep (sweep.json) found below DIR.
 *
 * Read-only and cheap: one readdir per folder, symbolic links are not followed (nothing outside DIR
 * is reached, no cycles), hidden folders and node_modules are skipped, a run directory is not
 * descended into (its figures/ holds no runs). Paths are relative to DIR with '/' separators.
 */
import { readdirSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

export interface Found {
  /** Run directories (hold run.json). */
  runs: string[];
  /** Report folders (hold findings.json and report.html). */
  reports: string[];
  /** Sweep folders (hold sweep.json). */
  sweeps: string[];
}

/** Deepest folder level searched below DIR. */
export const MAX_DEPTH = 8;

export function scanTree(root: string, maxDepth = MAX_DEPTH): Found {
  const found: Found = { runs: [], reports: [], sweeps: [] };
  const walk = (dir: string, rel: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // vanished or unreadable: skip
    }
    const files = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    if (files.has('run.json')) {
      found.runs.push(rel === '' ? '.' : rel);
      return;
    }
    if (files.has('findings.json') && files.has('report.html')) found.reports.push(rel === '' ? '.' : rel);
    if (files.has('sweep.json')) found.sweeps.push(rel === '' ? '.' : rel);
    if (depth >= maxDepth) return;
    const subdirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules' && e.name !== 'figures').map((e) => e.name).sort(naturalCompare);
    for (const name of subdirs) walk(join(dir, name), rel === '' ? name : `${rel}/${name}`, depth + 1);
  };
  walk(root, '', 0);
  return found;
}

/** 'h2' < 'h10' (numbers compared as numbers). */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** A refused path: 403 (outside DIR) or 404 (missing). */
export class PathError extends Error {
  constructor(readonly status: 400 | 403 | 404, message: string) {
    super(message);
  }
}

/**
 * The absolute path of `rel` inside `root` (the real path of DIR), or a PathError: 400 for NUL,
 * 403 for an absolute path or one that leaves DIR (also through a symbolic link), 404 if missing.
 */
export function resolveInside(root: string, rel: string): string {
  if (rel.includes('\0')) throw new PathError(400, 'bad path');
  const norm = rel.replace(/\\/g, '/');
  if (isAbsolute(norm) || /^[a-zA-Z]:/.test(norm)) throw new PathError(403, `absolute paths are refused: ${rel}`);
  const abs = resolve(root, norm);
  if (!inside(root, abs)) throw new PathError(403, `outside the served folder: ${rel}`);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    throw new PathError(404, `not found: ${rel}`);
  }
  if (!inside(root, real)) throw new PathError(403, `outside the served folder: ${rel}`);
  return real;
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** `rel` of an absolute path inside root, with '/' separators ('.' for root). */
export function relOf(root: string, abs: string): string {
  const r = relative(root, abs).split(sep).join('/');
  return r === '' ? '.' : r;
}
