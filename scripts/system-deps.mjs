#!/usr/bin/env node
// Installs the Debian packages the test suite starts for real (redis-server for the job queue, openssl for its TLS test,
// chromium for the web lab's browser tests, Slurm and munge for the single-node cluster of the Slurm sweep tests)
// when they are missing. Runs before `npm test`
// (the `pretest` script) so a fresh machine needs only the README's two commands.
// Needs root (or passwordless sudo) only when something is missing; says what to run otherwise.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** binary that must exist -> Debian package that provides it */
const NEEDED = [
  { bin: '/usr/bin/redis-server', pkg: 'redis-server' },
  { bin: '/usr/bin/openssl', pkg: 'openssl' }, // certificates for the TLS (rediss://) queue test
  { bin: '/usr/bin/chromium', pkg: 'chromium' },
  // a single-node Slurm cluster (test/slurm.helpers.ts starts munged, slurmctld and slurmd itself; no systemd)
  { bin: '/usr/sbin/munged', pkg: 'munge' },
  { bin: '/usr/sbin/slurmctld', pkg: 'slurmctld' },
  { bin: '/usr/sbin/slurmd', pkg: 'slurmd' },
  { bin: '/usr/bin/sbatch', pkg: 'slurm-client' },
];

const missing = NEEDED.filter((n) => !existsSync(n.bin));
if (missing.length === 0) process.exit(0);
const pkgs = missing.map((m) => m.pkg);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const sudo = isRoot ? [] : ['sudo', '-n'];
if (!isRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) {
  console.error(`icl-lab: the tests need Debian packages that are missing: ${pkgs.join(' ')}.\n` +
    `Install them as root: apt-get update && apt-get install -y ${pkgs.join(' ')}`);
  process.exit(1);
}
console.error(`icl-lab: installing missing Debian packages for the tests: ${pkgs.join(' ')}`);
const run = (args) => {
  const [cmd, ...rest] = [...sudo, ...args];
  execFileSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
};
run(['apt-get', 'update', '-qq']);
run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...pkgs]);
for (const m of missing) {
  if (!existsSync(m.bin)) {
    console.error(`icl-lab: ${m.pkg} was installed but ${m.bin} is still missing`);
    process.exit(1);
  }
}
