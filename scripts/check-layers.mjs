#!/usr/bin/env node
// The layering rule of src/: each folder is one layer and imports only from layers below it (or its
// own), and no file reaches itself through its imports (no import circle, static, dynamic or type-only).
// Fails (exit 1) listing every upward import and every circle. `node scripts/check-layers.mjs [srcDir]`.
import fs from 'node:fs';
import path from 'node:path';

/** Lowest first. Files directly in src/ (errors.ts, version.ts) are the root: below everything. */
export const LAYERS = ['math', 'data', 'model', 'engine', 'optim', 'io', 'run', 'analysis', 'bench', 'plots', 'report', 'experiments', 'sweep', 'export', 'serve', 'cli'];

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

/** The relative imports of one file, resolved to files (a .js specifier names its .ts source). */
function importsOf(file) {
  const text = fs.readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    out.push({ spec, target: path.resolve(path.dirname(file), spec) });
  }
  return out;
}

function sourceOf(target) {
  for (const c of [target, target.replace(/\.js$/, '.ts'), target.replace(/\.js$/, '.tsx'), target.replace(/\.mjs$/, '.mts')]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  }
  return null;
}

/**
 * Every import circle under srcDir, each as the files (relative to srcDir) of one strongly connected
 * component of the import graph, sorted; a file importing itself is a circle of one.
 */
export function importCycles(srcDir) {
  const files = [...walk(srcDir)];
  const edges = new Map(files.map((f) => [f, [...new Set(importsOf(f).map((i) => sourceOf(i.target)).filter((t) => t !== null))]]));
  // Tarjan's strongly connected components, iteratively (no recursion limit on deep chains)
  const index = new Map(), low = new Map(), onStack = new Set(), stack = [], cycles = [];
  let next = 0;
  for (const root of files) {
    if (index.has(root)) continue;
    const work = [[root, 0]];
    index.set(root, next); low.set(root, next); next++; stack.push(root); onStack.add(root);
    while (work.length) {
      const top = work[work.length - 1];
      const [v, i] = top;
      const out = edges.get(v) ?? [];
      if (i < out.length) {
        top[1]++;
        const w = out[i];
        if (!index.has(w)) {
          index.set(w, next); low.set(w, next); next++; stack.push(w); onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
        continue;
      }
      work.pop();
      if (work.length) { const u = work[work.length - 1][0]; low.set(u, Math.min(low.get(u), low.get(v))); }
      if (low.get(v) === index.get(v)) {
        const comp = [];
        let w;
        do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
        if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(comp.map((f) => path.relative(srcDir, f)).sort());
      }
    }
  }
  return cycles.sort((a, b) => a[0].localeCompare(b[0]));
}

/** Every upward import under srcDir: { file, spec, from, to }. */
export function upwardImports(srcDir) {
  const out = [];
  for (const file of walk(srcDir)) {
    const from = layerOf(srcDir, file);
    if (from === Infinity) out.push({ file, spec: '(folder not in LAYERS)', from: path.relative(srcDir, file).split(path.sep)[0], to: '' });
    for (const { spec, target } of importsOf(file)) {
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
  const cycles = importCycles(srcDir);
  if (bad.length) {
    console.error(`check-layers: ${bad.length} import(s) go up the layers (${LAYERS.join(' < ')}):`);
    for (const b of bad) console.error(`  src/${b.file}: '${b.spec}' (${b.from} imports ${b.to})`);
  }
  if (cycles.length) {
    console.error(`check-layers: ${cycles.length} import circle(s), each a set of files that reach each other through their imports:`);
    for (const c of cycles) console.error(`  ${c.map((f) => `src/${f}`).join(' <-> ')}`);
  }
  if (bad.length || cycles.length) process.exit(1);
  console.log(`check-layers: ok (${LAYERS.join(' < ')}; no import circle)`);
}
