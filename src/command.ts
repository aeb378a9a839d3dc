/**
 * How to start this icl-lab again, for the commands icl-lab prints (resume, continue, workers):
 * `icl-lab` only when that is what runs on this PATH (an `npm link` or global install); otherwise
 * `node PATH/bin/icl-lab` as it was started (relative to the working directory when it is below it,
 * else absolute), because `npm ci` puts no `icl-lab` on the PATH (issue 22 item 18).
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, relative, resolve } from 'node:path';

function realOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** The prefix for argv[1] = `script` started from `cwd` with `path` = $PATH (pure but for the file system). */
export function commandPrefixFor(script: string | undefined, cwd: string, path: string | undefined): string {
  if (!script) return 'icl-lab';
  const abs = resolve(cwd, script);
  const real = realOrNull(abs);
  if (basename(abs) === 'icl-lab' && real) {
    for (const dir of (path ?? '').split(delimiter)) {
      if (!dir || !isAbsolute(dir)) continue;
      const onPath = join(dir, 'icl-lab');
      if (existsSync(onPath) && realOrNull(onPath) === real) return 'icl-lab';
    }
  }
  const rel = relative(cwd, abs);
  // below the working directory: relative (but from / an absolute path reads better than home/…)
  return `node ${shellQuote(cwd !== '/' && rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs)}`;
}

/** Shell-quote a word of a printed command (a path, a URL). */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

let prefix: string | undefined;

/** `icl-lab ARGS` spelled so that it runs here, e.g. `node bin/icl-lab train --resume runs/h2`. */
export function cliCommand(args: string): string {
  prefix ??= commandPrefixFor(process.argv[1], process.cwd(), process.env.PATH);
  return `${prefix} ${args}`;
}
