/**
 * Reading a file the user named (a model, prompts, a checkpoint), and checking a path the user
 * wants written, with one clear line for every way it can be wrong instead of a raw system error
 * or a hang:
 *
 *   - not a regular file (a FIFO would block the read forever, /dev/zero never ends): refused
 *     before it is opened;
 *   - larger than 2 GiB (what one read can hold): refused with its size;
 *   - no permission, a directory, a path through a file (ENOTDIR): named, with what to do.
 *
 * Errors are UsageError (exit 2) except a missing or malformed file, which stays FileFormatError
 * (also exit 2) so the existing messages are unchanged.
 */
import { accessSync, constants, mkdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { dirname, parse, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';

/** The largest file icl-lab reads in one piece (Node's limit for one read). */
export const MAX_INPUT_BYTES = 2 ** 31 - 1;

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** A system error on `path` as one line that says what to do; undefined for codes it does not know. */
export function describeFsError(err: unknown, path: string, action: 'read' | 'write' | 'create'): string | undefined {
  switch (errno(err)) {
    case 'EACCES':
    case 'EPERM':
      return action === 'read'
        ? `${path}: permission denied (make it readable, e.g. chmod u+r, or give another file)`
        : `${path}: permission denied (no right to ${action} here; choose a writable location, or fix the permissions)`;
    case 'ENOTDIR':
      return `${path}: a part of this path is a file, not a directory (${firstFileOnPath(path) ?? 'check the path'})`;
    case 'EROFS':
      return `${path}: read-only file system; choose a writable location`;
    case 'ENAMETOOLONG':
      return `${path}: the name is too long`;
    case 'ENOSPC':
      return `${path}: no space left on the device; free some space (or choose another location) and run the same command again`;
    case 'EDQUOT':
      return `${path}: disk quota exceeded; free some space and run the same command again`;
    case 'ELOOP':
      return `${path}: too many symbolic links (a loop?)`;
    default:
      return undefined;
  }
}

/** `path` and every folder above it, outermost first, as absolute paths (without the root). */
function pathPrefixes(path: string): string[] {
  const abs = resolve(path);
  const root = parse(abs).root;
  const out: string[] = [];
  for (const part of abs.slice(root.length).split(sep).filter(Boolean)) out.push(out.length === 0 ? root + part : out[out.length - 1]! + sep + part);
  return out;
}

/** The first existing ancestor of `path` that is not a directory, as "X is a file" (for ENOTDIR). */
function firstFileOnPath(path: string): string | undefined {
  for (const p of pathPrefixes(path)) {
    let st: Stats;
    try {
      st = statSync(p);
    } catch {
      return undefined;
    }
    if (!st.isDirectory()) return `${p} is a file`;
  }
  return undefined;
}

/**
 * Check that `path` names a regular, readable file of at most 2 GiB, without opening it (a FIFO
 * or a device would block or never end). Returns its stats. `what` names the file in messages
 * ("model", "prompts"). Throws UsageError; a missing file throws `missing()` when given.
 */
export function checkInputFile(path: string, what = 'file', missing?: () => Error): Stats {
  if (path === '') throw new UsageError(`${what}: empty path; give a file`);
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT' && missing) throw missing();
    if (errno(err) === 'ENOENT') throw new UsageError(`${path}: no such file`);
    throw new UsageError(describeFsError(err, path, 'read') ?? `${path}: ${(err as Error).message}`);
  }
  if (st.isDirectory()) return st; // callers decide (a run directory, or "is a directory")
  if (!st.isFile()) {
    const kind = st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new UsageError(`${path} is ${kind}, not a regular file; give a regular ${what} file on disk`);
  }
  if (st.size > MAX_INPUT_BYTES) {
    throw new UsageError(`${path} is ${formatBytes(st.size)}, larger than the 2 GiB icl-lab reads in one piece; give a smaller ${what} file`);
  }
  return st;
}

/** `readFileSync` after `checkInputFile`; permission errors become one line. */
export function readInputFile(path: string, what = 'file', missing?: () => Error): Buffer {
  checkInputFile(path, what, missing);
  try {
    return readFileSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT' && missing) throw missing();
    const msg = describeFsError(err, path, 'read');
    if (msg) throw new UsageError(msg);
    throw err;
  }
}

/**
 * Check a file path a command will write (`--out FILE`): not empty, not a directory, its parent an
 * existing writable directory. Creates nothing.
 */
export function checkOutputFile(path: string, flag = '--out', example = 'result.safetensors'): void {
  if (path === '') throw new UsageError(`${flag} needs a file path (got an empty string)`);
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw new UsageError(`${flag} ${describeFsError(err, path, 'write') ?? `${path}: ${(err as Error).message}`}`);
  }
  if (st?.isDirectory()) throw new UsageError(`${flag} ${path} is a directory; give a file path (e.g. ${path.replace(/[\\/]+$/, '')}/${example})`);
  if (st && !st.isFile()) throw new UsageError(`${flag} ${path} exists and is not a regular file; give another file path`);
  const parent = dirname(resolve(path));
  let pst: Stats;
  try {
    pst = statSync(parent);
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new UsageError(`${flag}: directory ${parent} does not exist (create it first, or choose another ${flag})`);
    throw new UsageError(`${flag} ${describeFsError(err, path, 'write') ?? `${path}: ${(err as Error).message}`}`);
  }
  if (!pst.isDirectory()) throw new UsageError(`${flag} ${path}: ${parent} is a file, not a directory`);
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new UsageError(`${flag} ${path}: no permission to write in ${parent}; choose a writable location`);
  }
}

/**
 * `mkdir -p` that fails fast with one line. (Node's recursive mkdirSync loops forever on some
 * paths, e.g. under /proc, where mkdir answers ENOENT for a parent that exists.) Each component is
 * created on its own; an existing file on the way, a missing permission or a file system that does
 * not take new directories is a UsageError naming `flag` and the path.
 */
export function makeDirs(path: string, flag = '--out'): void {
  if (path === '') throw new UsageError(`${flag} needs a directory path (got an empty string)`);
  for (const p of pathPrefixes(path)) {
    let st: Stats | undefined;
    try {
      st = statSync(p);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw new UsageError(`${flag} ${describeFsError(err, path, 'create') ?? `${path}: ${(err as Error).message}`}`);
    }
    if (st) {
      if (!st.isDirectory()) throw new UsageError(`${flag} ${path}: ${p} is a file, not a directory; choose another path`);
      continue;
    }
    try {
      mkdirSync(p);
    } catch (err) {
      const code = errno(err);
      if (code === 'EEXIST' && statSync(p).isDirectory()) continue; // made meanwhile by someone else
      if (code === 'ENOENT') throw new UsageError(`${flag} ${path}: cannot create ${p} (the file system refuses new directories there, e.g. /proc or /sys); choose another path`);
      throw new UsageError(`${flag} ${describeFsError(err, p, 'create') ?? `${path}: cannot create ${p}: ${(err as Error).message}`}`);
    }
  }
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let x = n;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${x.toFixed(x >= 100 ? 0 : 1)} ${units[i]}`;
}
