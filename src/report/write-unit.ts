/**
 * A report folder written as one unit: everything goes to a hidden sibling staging folder, which
 * then replaces the old folder with two renames. A kill (SIGTERM, Ctrl-C) or an error while the
 * report is made leaves the old report as it was (never new evaluation.json beside old report.md);
 * files of the old folder that the report does not write (the user's own) are carried over.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { describeFsError, makeDirs } from '../io/input-file.js';

/** Replace every string that starts with `from` by the same string starting with `to` (deep). */
function remap<T>(x: T, from: string, to: string): T {
  if (typeof x === 'string') return (x.startsWith(from) ? to + x.slice(from.length) : x) as T;
  if (Array.isArray(x)) return x.map((v) => remap(v, from, to)) as T;
  if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, remap(v, from, to)])) as T;
  }
  return x;
}

/**
 * Run `write(staging)` (which fills the folder it is given), then put the result at `out`.
 * Returns `write`'s result with paths inside the staging folder rewritten to `out`.
 */
export async function writeFolderAsUnit<T>(out: string, write: (staging: string) => Promise<T>): Promise<T> {
  if (out === '') throw new UsageError('--out needs a folder path (got an empty string)');
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out} exists and is not a folder; choose a folder path`);
  const final = resolve(out);
  makeDirs(dirname(final), '--out');
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const staging = join(dirname(final), `.${basename(final)}.new-${tag}`);
  const old = join(dirname(final), `.${basename(final)}.old-${tag}`);
  try {
    mkdirSync(staging);
  } catch (err) {
    throw new UsageError(describeFsError(err, final, 'create') ?? `--out ${out}: cannot create a folder next to it (${(err as Error).message}); choose another --out`);
  }
  // every write into staging is synchronous (plots/render.ts too), so when a signal handler runs nothing
  // is half-way through writing there and removing it leaves nothing behind
  const cleanup = (): void => rmSync(staging, { recursive: true, force: true, maxRetries: 3 });
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const result = await write(staging);
    if (existsSync(final)) {
      const made = new Set(readdirSync(staging));
      for (const e of readdirSync(final)) if (!made.has(e)) renameSync(join(final, e), join(staging, e)); // keep the user's files
      renameSync(final, old);
    }
    renameSync(staging, final);
    rmSync(old, { recursive: true, force: true });
    return remap(result, staging, final);
  } catch (err) {
    cleanup();
    throw err;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
