/**
 * Atomic file writes: a reader sees either the old file or the complete new one, never a torn
 * write, even if the process dies mid-write (training writes checkpoints while it runs).
 *
 * The data goes to a temporary file in the same directory (same filesystem, so rename is atomic),
 * is fsync'ed, then renamed over the target; the directory is fsync'ed so the rename survives a
 * crash. On any failure the temporary file is removed and the error is rethrown.
 *
 * Synchronous on purpose: callers can `await` it or not, and there is no window in which two
 * writes of the same file interleave.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Name of the temporary sibling used while writing `path` (hidden, unique per call). */
function tempPathFor(path: string): string {
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  return join(dirname(path), `.${basename(path)}.${tag}.tmp`);
}

/** Write `data` (UTF-8 if a string) to `path` atomically. Creates nothing but `path` itself. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* already failing */ }
    }
    try { unlinkSync(tmp); } catch { /* never created, or already renamed */ }
    throw err;
  }
  fsyncDir(dirname(path));
}

/** Best effort: persist the directory entry after a rename (not supported on every platform). */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some filesystems refuse to open/fsync directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
