#!/usr/bin/env node
/**
 * A Python with torch, numpy and safetensors for python/ (the PyTorch module and speed peer) and its
 * test. Prints the interpreter's path on stdout, or exits 1 saying why there is none.
 *
 * Order: $ICL_LAB_PYTHON if set (must import torch, numpy, safetensors); else a virtual environment
 * in the user's cache folder ($XDG_CACHE_HOME or ~/.cache, icl-lab/torch-venv), created on first use with `pip install --no-index` from
 * the wheels this machine carries on disk (searched under /opt, /usr/share, /root, /home, 4 levels:
 * PyPI is not reachable from these machines), so it works offline. Idempotent; the first run takes
 * about 30 s.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

const MODULES = 'import torch, numpy, safetensors';

function works(python) {
  return spawnSync(python, ['-c', MODULES], { stdio: 'ignore', timeout: 120_000 }).status === 0;
}

function wheelDirs() {
  const dirs = new Set();
  const walk = (dir, depth) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isFile() && /^(torch-2|numpy-2|safetensors-).*\.whl$/.test(e.name)) dirs.add(dirname(p));
      else if (e.isDirectory() && depth > 1 && !e.name.startsWith('.') && e.name !== 'node_modules') walk(p, depth - 1);
    }
  };
  for (const root of ['/opt', '/usr/share', '/root', '/home']) if (existsSync(root) && statSync(root).isDirectory()) walk(root, 4);
  return [...dirs].sort();
}

function fail(msg) {
  process.stderr.write(`python-env: ${msg}\n`);
  process.exit(1);
}

const given = process.env.ICL_LAB_PYTHON;
if (given) {
  if (!works(given)) fail(`ICL_LAB_PYTHON=${given} cannot ${MODULES}`);
  process.stdout.write(`${given}\n`);
  process.exit(0);
}
const venv = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'icl-lab', 'torch-venv'); // the user's own: never another user's python
const python = join(venv, 'bin', 'python');
if (existsSync(python) && works(python)) {
  process.stdout.write(`${python}\n`);
  process.exit(0);
}
const dirs = wheelDirs();
if (!dirs.some((d) => readdirSync(d).some((f) => f.startsWith('torch-2')))) fail('no torch wheel on this machine (searched /opt, /usr/share, /root, /home) and ICL_LAB_PYTHON is not set: point ICL_LAB_PYTHON at a python with torch, numpy and safetensors');
const system = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0 ? 'python3' : fail('python3 is not on PATH');
if (!existsSync(python)) {
  mkdirSync(dirname(venv), { recursive: true });
  const r = spawnSync(system, ['-m', 'venv', venv], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) fail(`python3 -m venv ${venv} failed`);
}
const pip = spawnSync(python, ['-m', 'pip', 'install', '-q', '--no-index', ...dirs.flatMap((d) => ['--find-links', d]), 'torch', 'numpy', 'safetensors'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
if (pip.status !== 0 || !works(python)) fail(`installing torch, numpy, safetensors into ${venv} from ${dirs.join(', ')} failed`);
process.stdout.write(`${python}\n`);
