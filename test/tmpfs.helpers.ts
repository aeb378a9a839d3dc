/**
 * A small tmpfs for the disk-full tests, as root or as any other user. With the right to mount (root
 * outside a locked-down container) it is mounted at `dir` itself; otherwise inside a user and mount
 * namespace of its own (`unshare --user --map-root-user --mount`, which needs no privilege), held
 * open by a waiting shell: the CLI runs in that namespace (`nsenter`), and the test reads the files
 * through `/proc/<pid>/root`. When neither works, it fails in one line naming both reasons.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, type CliResult } from './cli.helpers.js';

export interface SmallTmpfs {
  /** where the test reads what the CLI wrote to `dir` */
  files: string;
  /** runs the CLI where `dir` is the tmpfs */
  cli(args: string[]): CliResult;
  /** gives the tmpfs another size (a full disk gets room) */
  resize(size: string): void;
  close(): Promise<void>;
}

function mountArgs(dir: string, size: string, remount = false): string[] {
  return ['-t', 'tmpfs', '-o', `${remount ? 'remount,' : ''}size=${size}`, 'tmpfs', dir];
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

export async function smallTmpfs(dir: string, size: string): Promise<SmallTmpfs> {
  mkdirSync(dir, { recursive: true });
  const direct = spawnSync('mount', mountArgs(dir, size), { encoding: 'utf8' });
  if (direct.status === 0) {
    return {
      files: dir,
      cli: (args) => cli(args),
      resize: (s) => run('mount', mountArgs(dir, s, true)),
      close: async () => void spawnSync('umount', ['-l', dir]),
    };
  }
  const holder = spawn('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', 'mount "$@" && echo ready && read _', 'sh', ...mountArgs(dir, size)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  holder.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<void>((resolve) => holder.on('close', () => resolve()));
  const ready = await new Promise<boolean>((resolve) => {
    holder.stdout.on('data', (d) => String(d).includes('ready') && resolve(true));
    holder.on('error', (e) => { stderr += e.message; resolve(false); });
    void closed.then(() => resolve(false));
  });
  if (!ready) {
    throw new Error(`the disk-full tests need a small tmpfs: mount ${mountArgs(dir, size).join(' ')} failed (${(direct.stderr || direct.error?.message || '').trim()}), and so did it in a user namespace of its own (${stderr.trim()}); run the tests as root, or where unprivileged user namespaces are allowed`);
  }
  const pid = String(holder.pid);
  // --wd: the holder's working directory (the test's); entering the mount namespace would leave the CLI in /
  const inside = ['-t', pid, '--user', '--mount', '--preserve-credentials', '--wd'];
  return {
    files: join(`/proc/${pid}/root`, dir),
    cli: (args) => cli(args, { wrap: ['nsenter', ...inside] }),
    resize: (s) => run('nsenter', [...inside, 'mount', ...mountArgs(dir, s, true)]),
    close: async () => {
      holder.stdin.end(); // the shell's `read` returns, the namespace and its tmpfs go
      await closed;
    },
  };
}
