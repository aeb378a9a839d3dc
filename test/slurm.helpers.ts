/**
 * Test harness for the Slurm sweep tests: a real single-node Slurm cluster on loopback, in a temp
 * directory (Debian's munge, slurmctld, slurmd and slurm-client, installed by scripts/system-deps.mjs):
 * munged with its own key, socket and pid file; slurmctld and slurmd on unused ports with
 * proctrack/linuxproc, task/none, select/cons_tres, no accounting, one node with this machine's
 * CPUs; state and spool in the temp dir. No systemd: the daemons are started here and stopped after.
 * Commands reach this cluster through SLURM_CONF (the `env` of the returned cluster).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism, hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './cli.helpers.js';
import { freePort } from './redis.helpers.js';

const MUNGED = '/usr/sbin/munged';
const SLURMCTLD = '/usr/sbin/slurmctld';
const SLURMD = '/usr/sbin/slurmd';

export interface SlurmCluster {
  dir: string;
  /** SLURM_CONF for every Slurm command (and the icl-lab processes that call sbatch/squeue). */
  env: NodeJS.ProcessEnv;
  cpus: number;
  /** Run a Slurm client command against this cluster; throws on a non-zero exit. */
  cmd(bin: string, args: string[]): string;
  /** squeue's state of one job (or array task "A_i"), or '' when it knows none. */
  state(job: string): string;
  stop(): Promise<void>;
}

function pidOf(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start munged, slurmctld and slurmd; resolves when the node is idle. Throws (never skips) when Slurm is missing. */
export async function startSlurm(): Promise<SlurmCluster> {
  for (const b of [MUNGED, SLURMCTLD, SLURMD, '/usr/bin/sbatch']) {
    if (!existsSync(b)) throw new Error(`${b} is missing: run \`node scripts/system-deps.mjs\` (npm test does it) or apt-get install munge slurmctld slurmd slurm-client`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'icl-slurm-'));
  chmodSync(dir, 0o755); // munged wants its socket directory (and the path to it) open to everyone
  const key = join(dir, 'key');
  const munge = join(dir, 'munge');
  mkdirSync(key, { mode: 0o700 });
  mkdirSync(munge, { mode: 0o755 });
  for (const d of ['state', 'spool', 'log']) mkdirSync(join(dir, d));
  writeFileSync(join(key, 'munge.key'), randomBytes(1024), { mode: 0o400 });
  const socket = join(munge, 'munge.sock');
  const m = spawnSync(MUNGED, [`--key-file=${join(key, 'munge.key')}`, `--socket=${socket}`, `--pid-file=${join(munge, 'munged.pid')}`,
    `--log-file=${join(dir, 'log', 'munged.log')}`, `--seed-file=${join(munge, 'munged.seed')}`], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`munged did not start: ${m.stderr}`);

  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const cpus = availableParallelism();
  const node = hostname();
  const conf = join(dir, 'slurm.conf');
  writeFileSync(conf, [
    'ClusterName=icltest',
    `SlurmctldHost=${node}(127.0.0.1)`,
    // the daemons run as whoever runs the tests (root, or a user: a cluster of one's own, no privileges needed)
    `SlurmUser=${userInfo().username}`,
    `SlurmdUser=${userInfo().username}`,
    `SlurmctldPort=${ctldPort}`,
    `SlurmdPort=${slurmdPort}`,
    'AuthType=auth/munge',
    'CredType=cred/munge',
    // cred_expire also sets how long a requeued job waits before it may start again (default 120 s)
    `AuthInfo=socket=${socket},cred_expire=5`,
    `StateSaveLocation=${join(dir, 'state')}`,
    `SlurmdSpoolDir=${join(dir, 'spool')}`,
    `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
    `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
    `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
    `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_CPU',
    'SchedulerType=sched/backfill',
    'SchedulerParameters=sched_interval=1,bf_interval=1',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    'MpiDefault=none',
    'ReturnToService=2',
    'KillWait=5',
    'MinJobAge=600',
    'JobRequeue=1',
    `NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN`,
    `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n'));
  const env = { SLURM_CONF: conf };
  const daemon = (bin: string, args: string[]) => {
    const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`${bin} did not start: ${r.stderr}`);
  };
  const cluster: SlurmCluster = {
    dir, env, cpus,
    cmd(bin, args) {
      const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ...env } });
      if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
      return r.stdout;
    },
    state(job) {
      const r = spawnSync('squeue', ['--states=all', '-h', '-r', '-j', job.split('_')[0]!, '-o', '%i|%T'], { encoding: 'utf8', env: { ...process.env, ...env } });
      const line = (r.stdout ?? '').split('\n').find((l) => l.split('|')[0] === job);
      return line?.split('|')[1] ?? '';
    },
    async stop() {
      for (const pidFile of [join(dir, 'slurmd.pid'), join(dir, 'slurmctld.pid'), join(munge, 'munged.pid')]) {
        const pid = pidOf(pidFile);
        if (pid === undefined || !alive(pid)) continue;
        process.kill(pid, 'SIGTERM');
        await waitFor(`${pidFile} process to exit`, () => !alive(pid), 30_000);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    daemon(SLURMCTLD, ['-i']);
    daemon(SLURMD, []);
    await waitFor('the Slurm node to be idle', () => /^idle/.test(cluster.cmd('sinfo', ['-h', '-o', '%T']).trim()), 60_000,
      () => `sinfo: ${spawnSync('sinfo', [], { encoding: 'utf8', env: { ...process.env, ...env } }).stdout}`);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
