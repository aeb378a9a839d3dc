#!/usr/bin/env node
// The layering rule of src/: each folder is one layer and imports only from layers below it (or its
// own). Fails (exit 1) listing every upward import. `node scripts/check-layers.mjs [srcDir]`.
import fs from 'node:fs';
import path from 'node:path';

/** Lowest first. Files directly in src/ (errors.ts, version.ts) are the root: below everything. */
export const LAYERS = ['math', 'data', 'model', 'engine', 'optim', 'io', 'run', 'analysis', 'bench', 'plots', 'report', 'sweep', 'export', 'serve', 'cli'];

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|(?:^|[\s;])import\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function layerOf(srcDir, file) {
  const rel = path.relative(srcDir, file).split(path.sep);
  if (rel[0] === '..') return null; // outside src/
  if (rel.length === 1) return -1; // root files
  const i = LAYERS.indexOf(rel[0]);
  return i < 0 ? Infinity : i;
}

function* walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (/\.(ts|tsx|mts)$/.test(e.name)) yield p;
  }
}

/** Every upward import under srcDir: { file, spec, from, to }. */
export function upwardImports(srcDir) {
  const out = [];
  for (const file of walk(srcDir)) {
    const from = layerOf(srcDir, file);
    if (from === Infinity) out.push({ file, spec: '(folder not in LAYERS)', from: path.relative(srcDir, file).split(path.sep)[0], to: '' });
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = path.resolve(path.dirname(file), spec);
      const to = layerOf(srcDir, target);
      if (to !== null && to !== Infinity && to > from) {
        out.push({ file: path.relative(srcDir, file), spec, from: from < 0 ? '(root)' : LAYERS[from], to: LAYERS[to] });
      }
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('check-layers.mjs')) {
  const srcDir = path.resolve(process.argv[2] ?? 'src');
  const bad = upwardImports(srcDir);
  if (bad.length) {
    console.error(`check-layers: ${bad.length} import(s) go up the layers (${LAYERS.join(' < ')}):`);
    for (const b of bad) console.error(`  src/${b.file}: '${b.spec}' (${b.from} imports ${b.to})`);
    process.exit(1);
  }
  console.log(`check-layers: ok (${LAYERS.join(' < ')})`);
}
