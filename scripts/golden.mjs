#!/usr/bin/env node
// Golden outputs of fixed configurations, for a redesign that must not change behaviour:
// `node scripts/golden.mjs OUT.json` trains five fixed 3,000-step runs (H = 2 on both engines, a
// 2-layer stack, a multi-task H = 3 run, a paper-convention run) and `reproduce --steps 3000` of every
// preset, and writes the sha-256 of every tensor file, each run.json without its timings, pid and
// host, and every finding's value. `node scripts/golden.mjs OUT.json --compare BEFORE.json` also
// lists what differs (exit 1 when anything does; fields only in OUT are new fields, not differences).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'bin', 'icl-lab');
const RUNS = {
  'h2-wasm': ['--heads', '2', '--engine', 'wasm'],
  'h2-ts': ['--heads', '2', '--engine', 'ts'],
  'stack-2layer': ['--layers', '2', '--heads', '2'],
  'multitask-h3': ['--heads', '3', '--d', '6', '--tasks', '0:4,2:6', '--context-length', '48', '--noise-std', '0.31622776601683794', '--batch-size', '256', '--seed', '1029'],
  'paper-h2': ['--heads', '2', '--preset', 'paper', '--noise-std', '0.31622776601683794', '--batch-size', '256', '--seed', '1029'],
};
const PRESETS = ['seed', 'paper', 'multitask'];
const VOLATILE = new Set(['timings', 'pid', 'host', 'lease']);

const [outFile, flag, beforeFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node scripts/golden.mjs OUT.json [--compare BEFORE.json]');
  process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'icl-golden-'));
// reproduce exits 1 when a finding fails (as every finding does at 3,000 steps): its JSON still counts
const cli = (args) => {
  try {
    return execFileSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  } catch (e) {
    if (e.status === 1 && args[0] === 'reproduce' && e.stdout) return e.stdout;
    throw e;
  }
};
const sha = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const stable = (runJson) => Object.fromEntries(Object.entries(runJson).filter(([k]) => !VOLATILE.has(k)));

function runRecord(dir) {
  const rec = { files: {}, run_json: stable(JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'))) };
  for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.safetensors')) rec.files[f] = sha(path.join(dir, f));
  return rec;
}

const golden = { runs: {}, reproduce: {} };
for (const [name, args] of Object.entries(RUNS)) {
  const dir = path.join(tmp, name);
  cli(['train', '--out', dir, '--steps', '3000', '--progress', 'none', ...args]);
  golden.runs[name] = runRecord(dir);
  console.error(`golden: ${name} trained`);
}
for (const preset of PRESETS) {
  const out = path.join(tmp, `reproduce-${preset}`);
  const summary = JSON.parse(cli(['reproduce', '--preset', preset, '--steps', '3000', '--out', out, '--json', '--progress', 'none']));
  const findings = JSON.parse(fs.readFileSync(path.join(out, 'report', 'findings.json'), 'utf8'));
  golden.reproduce[preset] = { findings: (findings.findings ?? []).map((f) => ({ id: f.id, value: f.value, result: f.result ?? f.pass })), summary_findings: summary.findings ?? null };
  console.error(`golden: reproduce --preset ${preset} done`);
}
fs.writeFileSync(outFile, JSON.stringify(golden, null, 2) + '\n');
fs.rmSync(tmp, { recursive: true, force: true });

if (flag === '--compare') {
  const before = JSON.parse(fs.readFileSync(beforeFile, 'utf8'));
  const diffs = [];
  const walk = (a, b, where) => {
    if (a !== null && typeof a === 'object' && b !== null && typeof b === 'object') {
      for (const k of Object.keys(a)) walk(a[k], b[k], `${where}.${k}`);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${where}: before ${JSON.stringify(a)}, after ${JSON.stringify(b)}`);
  };
  walk(before, golden, 'golden');
  if (diffs.length) {
    console.error(`golden: ${diffs.length} difference(s):\n  ${diffs.join('\n  ')}`);
    process.exit(1);
  }
  console.error('golden: identical (every tensor file, run.json but for timings and new fields, every finding value)');
}
