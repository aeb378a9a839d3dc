#!/usr/bin/env node
// Regenerates the docs' transcripts (a command and what it printed) from this build, so that the
// "real output" in README.md and docs/readme/*.md stays this build's output.
//
//   node scripts/transcripts.mjs                 run every cheap block and rewrite the ones that differ
//   node scripts/transcripts.mjs --check         rewrite nothing; exit 1 naming each block that differs
//   node scripts/transcripts.mjs --only PATTERN  only the blocks whose id (or page:id) matches PATTERN (a regex)
//   node scripts/transcripts.mjs --all           expensive blocks too (minutes to an hour; nice -n 10 them)
//   node scripts/transcripts.mjs --list          list the blocks (id, page, line, cheap/expensive, commands)
//   --keep                                       keep the temporary working folders (their path is printed)
//   --root DIR                                   the pages of another copy (DIR/README.md, DIR/docs/readme/*.md),
//                                                run with this checkout's build (the test edits a copy)
//
// THE MARKER. A transcript is a fenced block (or, for a markdown table, the lines up to the next
// blank line) right after a one-line HTML comment:
//
//   <!-- transcript: ID [dir=NAME] [setup="CMD"]... [run="CMD"] [timeout=S] [expensive made="…"] -->
//   ```
//   $ icl-lab train --out runs/a --steps 2001
//   After 0 steps, Training Loss: 3.9134, Validation Loss: 4.9594
//   ...
//   completed 2001 steps (…)
//   ```
//
// - ID names the block (unique over all pages; `--only` and the messages use it).
// - The block's `$ ` lines are the commands, as the user types them (`icl-lab …`; a line ending in
//   `\` continues on the next). Each runs with bash in a fresh temporary folder, stdout and stderr
//   together, with `icl-lab` on PATH running this checkout's `node bin/icl-lab` (and $REPO set to the
//   checkout). The lines under a command are what it printed.
// - `run="CMD"`: the block has no `$ ` lines and is the output of CMD (e.g. a table from report.md).
// - `setup="CMD"` (may repeat): commands run first, in the same folder, their output not shown
//   (e.g. the training that makes the run a block analyzes). `dir=NAME`: blocks naming the same
//   NAME share one folder, and each setup runs there once (e.g. one quick reproduce for several
//   README blocks). Without `dir`, a block has its own folder. `timeout=S`: per command (600).
// - `any-order="REGEX"`: output lines matching REGEX may come in any order (parallel workers).
// - `expensive`: skipped unless `--all` (long trainings, the full reproduction, long sweeps). Such
//   a block must say which build and batch-stream version produced it: `made="build 0.1.0 (commit),
//   stream version 2, date"` (the stream version is run.json's `stream_version`, src/data/stream.ts).
//   `--check` without `--all` checks that the marker has `made=`.
//
// WHAT MAY DIFFER. Two outputs are equal when they are equal after masking what varies between
// runs of the same build: rates (`3426 steps/s`), ETAs, wall times (`(28 s)`, `1.2 s of training`,
// `took 3.1 s`), ISO dates, the temporary folder's path (printed as relative paths). When only those
// differ, the docs' text is kept (their timings are real ones of an earlier run); otherwise the block
// is rewritten with this run's output. Progress lines (`step 123/2000 (6.2%) …`, drawn in place on a
// terminal) vary in number: they are left out of the comparison and kept where the docs show them.
// An elision line (`...`, or a line with `(... same layout ...)`) in the docs stands for any number
// of lines; a rewrite keeps it and replaces the shown lines around it (placed by the shape of their
// first and last lines, numbers ignored).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const MARKER = /^<!-- transcript: (\S+)(.*?)\s*-->\s*$/;
const PROGRESS = /^(\[[\w.-]+\] )?step \d+\/\d+ \(/;
const VARY = [
  /\d[\d,]*(\.\d+)? steps\/s/g,
  /ETA \d+(\.\d+)?s/g,
  /\(\d[\d,.]* ?(s|ms|min)\)/g,
  /\d[\d,.]* s of training/g,
  /took \d[\d,.]* ?(s|ms|min)\b/g,
  /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g,
  /\bin \d[\d,.]* ?(s|ms)\b/g,
];

export function isElision(line) {
  const t = line.trim();
  return t === '...' || t === '…' || /\(\.\.\. .* \.\.\.\)/.test(t);
}

/** What may differ between two runs of one build, masked. */
export function maskVarying(line) {
  let s = line.replace(/\s+$/, '');
  for (const re of VARY) s = s.replace(re, '<v>');
  return s;
}

/** The shape of a line: numbers masked (places a segment in a changed output). */
function shape(line) {
  return maskVarying(line).replace(/[-+]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?/gi, '#').replace(/\s+/g, ' ').trim();
}

function parseAttrs(text) {
  const attrs = { setup: [], flags: new Set() };
  const re = /([\w-]+)(?:=("((?:[^"\\]|\\.)*)"|\S+))?/g;
  let m;
  while ((m = re.exec(text))) {
    const [, key, raw, quoted] = m;
    if (raw === undefined) { attrs.flags.add(key); continue; }
    const value = quoted !== undefined ? quoted.replace(/\\"/g, '"') : raw; // only \" is an escape: regexes keep their backslashes
    if (key === 'setup') attrs.setup.push(value);
    else attrs[key] = value;
  }
  return attrs;
}

/** Every marked block of one markdown text: { id, attrs, line (1-based marker line), start, end (body line indexes), fenced, body }. */
export function findBlocks(text, page) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]);
    if (!m) continue;
    const attrs = parseAttrs(m[2]);
    const id = m[1];
    const fenced = /^```/.test(lines[i + 1] ?? '');
    let start, end;
    if (fenced) {
      start = i + 2;
      end = start;
      while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
      if (end >= lines.length) throw new Error(`${page}:${i + 1}: transcript ${id}: the fenced block is not closed`);
    } else {
      start = i + 1;
      end = start;
      while (end < lines.length && lines[end].trim() !== '') end++;
    }
    blocks.push({ id, page, attrs, line: i + 1, start, end, fenced, body: lines.slice(start, end), expensive: attrs.flags.has('expensive') });
  }
  return blocks;
}

/** A block's commands with their documented output: [{ command, shown: string[] (the `$` lines), doc: string[] }]. */
export function splitCommands(block) {
  if (block.attrs.run !== undefined) return [{ command: block.attrs.run, shown: [], doc: block.body, pad: 0 }];
  const out = [];
  let i = 0;
  const body = block.body;
  if (body.length && !body[0].startsWith('$ ')) throw new Error(`${block.page}:${block.line}: transcript ${block.id}: the block must start with a "$ " command line (or the marker needs run="…")`);
  while (i < body.length) {
    const shown = [body[i]];
    let cmd = body[i].slice(2);
    while (cmd.endsWith('\\') && i + 1 < body.length) { i++; shown.push(body[i]); cmd = cmd + '\n' + body[i]; /* bash reads backslash-newline as a continuation */ }
    i++;
    const doc = [];
    while (i < body.length && !body[i].startsWith('$ ')) doc.push(body[i++]);
    // blank lines between one command's output and the next `$` line are the docs' spacing, not output
    let pad = 0;
    while (i < body.length && doc.length && doc[doc.length - 1].trim() === '') { doc.pop(); pad++; }
    out.push({ command: cmd, shown, doc, pad });
  }
  return out;
}

function segments(doc) {
  // split at elision lines: [{ lines, elisionBefore, elisionLine }]
  const segs = [{ lines: [], elisionBefore: null }];
  for (const line of doc) {
    if (isElision(line)) segs.push({ lines: [], elisionBefore: line });
    else segs[segs.length - 1].lines.push(line);
  }
  return segs;
}

/** Lines matching `re` sorted among their own places (parallel workers print them in any order). */
function reorder(lines, re) {
  if (!re) return lines;
  const at = [];
  lines.forEach((l, k) => { if (re.test(l)) at.push(k); });
  const sorted = at.map((k) => lines[k]).sort();
  const out = [...lines];
  at.forEach((k, j) => { out[k] = sorted[j]; });
  return out;
}

const content = (lines) => lines.filter((l) => !PROGRESS.test(l));
const eqLines = (a, b) => a.length === b.length && a.every((l, k) => maskVarying(l) === maskVarying(b[k]));

/** Does the documented output (elisions, progress lines) match the actual one? */
export function matches(doc, actual, anyOrder = null) {
  const segs = segments(doc).map((s) => ({ ...s, lines: reorder(content(s.lines), anyOrder) }));
  const act = reorder(content(actual), anyOrder);
  const go = (si, pos) => {
    if (si === segs.length) return pos === act.length;
    const seg = segs[si];
    const last = si === segs.length - 1;
    if (seg.elisionBefore === null) {
      if (!eqLines(seg.lines, act.slice(pos, pos + seg.lines.length))) return false;
      return go(si + 1, pos + seg.lines.length);
    }
    for (let p = pos; p + seg.lines.length <= act.length; p++) {
      if (last && p + seg.lines.length !== act.length) continue;
      if (eqLines(seg.lines, act.slice(p, p + seg.lines.length)) && go(si + 1, p + seg.lines.length)) return true;
    }
    return false;
  };
  return go(0, 0);
}

/** The documented output rewritten from the actual one, keeping the docs' elisions and progress lines. */
export function rewrite(doc, actual) {
  const act = content(actual);
  const segs = segments(doc);
  if (segs.length === 1) return keepProgress(doc, act);
  const out = [];
  let pos = 0;
  for (let si = 0; si < segs.length; si++) {
    const seg = segs[si];
    const lines = content(seg.lines);
    if (seg.elisionBefore !== null) out.push(seg.elisionBefore);
    const lastSeg = si === segs.length - 1;
    if (lines.length === 0) continue;
    // anchor on the first and last non-blank lines (their shape: numbers ignored)
    const a = lines.findIndex((l) => l.trim() !== '');
    const z = lines.length - 1 - [...lines].reverse().findIndex((l) => l.trim() !== '');
    if (a < 0) continue;
    let start = pos;
    if (seg.elisionBefore !== null) {
      const k = act.findIndex((l, j) => j >= pos + a && shape(l) === shape(lines[a]));
      if (k < 0) return null;
      start = Math.max(pos, k - a);
    }
    let end;
    if (lastSeg) end = act.length;
    else {
      const next = segs.slice(si + 1).map((s) => content(s.lines)).find((l) => l.some((x) => x.trim() !== ''));
      const nextFirst = next ? next.find((x) => x.trim() !== '') : null;
      const nextStart = nextFirst ? act.findIndex((l, j) => j > start && shape(l) === shape(nextFirst)) : -1;
      const limit = nextStart < 0 ? act.length : nextStart;
      const hits = [];
      for (let j = start; j < limit; j++) if (shape(act[j]) === shape(lines[z])) hits.push(j);
      const k = hits.find((j) => j >= start + z) ?? hits[hits.length - 1];
      end = k !== undefined ? Math.min(limit, k + 1 + (lines.length - 1 - z)) : Math.min(limit, start + lines.length);
    }
    const piece = act.slice(start, end);
    out.push(...(eqLines(lines, piece) ? seg.lines : keepProgress(seg.lines, piece)));
    pos = end;
  }
  return out;
}

function keepProgress(doc, act) {
  // act with the docs' progress lines put back at the same offsets (they are drawn in place on a terminal)
  if (eqLines(content(doc), act)) return doc;
  const out = [...act];
  let inserted = 0;
  doc.forEach((line, k) => {
    if (PROGRESS.test(line)) { out.splice(Math.min(k, out.length), 0, line); inserted++; }
  });
  return inserted ? out : act;
}

const anyOrder = (b) => (b.attrs['any-order'] ? new RegExp(b.attrs['any-order']) : null);

function shim(root) {
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'icl-lab'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, 'bin', 'icl-lab')}" "$@"\n`);
  chmodSync(join(bin, 'icl-lab'), 0o755);
  return bin;
}

function runShell(cmd, cwd, env, timeoutS) {
  // stderr joins stdout for the whole line (pipes and a trailing `# comment` included)
  const r = spawnSync('bash', ['-c', `exec 2>&1\n${cmd}`], { cwd, env, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return { status: r.status, text: r.stdout };
}

function normaliseOutput(text, wd) {
  let t = text.split(wd + '/').join('').split(wd).join('.').split(REPO + '/').join('').split(REPO).join('.');
  const lines = t.replace(/\r/g, '\n').split('\n');
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => l.replace(/\s+$/, ''));
}

export function pages(root = REPO) {
  const list = ['README.md'];
  const dir = join(root, 'docs', 'readme');
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.md')) list.push(join('docs', 'readme', f));
  return list;
}

function main(argv) {
  const args = { check: false, all: false, list: false, keep: false, only: null, root: REPO };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') args.check = true;
    else if (a === '--all') args.all = true;
    else if (a === '--list') args.list = true;
    else if (a === '--keep') args.keep = true;
    else if (a === '--root') args.root = resolve(argv[++i] ?? '.');
    else if (a === '--only') args.only = new RegExp(argv[++i] ?? '');
    else if (a === '--help' || a === '-h') { process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 10).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n'); return 0; }
    else { process.stderr.write(`transcripts: unknown argument ${a} (allowed: --check, --only PATTERN, --all, --list, --keep, --root DIR)\n`); return 2; }
  }
  const texts = new Map();
  const blocks = [];
  const ids = new Map();
  for (const page of pages(args.root)) {
    const text = readFileSync(join(args.root, page), 'utf8');
    texts.set(page, text);
    for (const b of findBlocks(text, page)) {
      if (ids.has(b.id)) throw new Error(`transcript id ${b.id} is used twice (${ids.get(b.id)} and ${page}:${b.line})`);
      ids.set(b.id, `${page}:${b.line}`);
      blocks.push(b);
    }
  }
  const selected = blocks.filter((b) => !args.only || args.only.test(b.id) || args.only.test(`${b.page}:${b.id}`));
  if (args.list) {
    for (const b of selected) process.stdout.write(`${b.id}\t${b.page}:${b.line}\t${b.expensive ? 'expensive' : 'cheap'}\t${splitCommands(b).map((c) => c.command.replace(/\n/g, ' ')).join(' ; ')}\n`);
    return 0;
  }
  if (selected.length === 0) { process.stderr.write('transcripts: no block matches\n'); return 2; }
  const root = mkdtempSync(join(tmpdir(), 'icl-lab-transcripts-'));
  const env = { ...process.env, PATH: `${shim(root)}:${process.env.PATH}`, REPO, TZ: 'UTC', NO_COLOR: '1', FORCE_COLOR: '0', COLUMNS: '100' };
  delete env.ICL_LAB_REDIS_PASSWORD;
  const setupDone = new Map(); // dir -> Set of setups run
  const differ = [];
  const failures = [];
  const edits = new Map(); // page -> [{ start, end, lines }]
  let ran = 0;
  for (const b of selected) {
    if (b.expensive && !args.all) {
      if (!b.attrs.made) failures.push(`${b.page}:${b.line} ${b.id}: expensive, but the marker does not say which build and stream version made it (made="…")`);
      else process.stdout.write(`skip  ${b.id} (${b.page}:${b.line}, expensive; ${b.attrs.made}; --all runs it)\n`);
      continue;
    }
    const dirName = b.attrs.dir ?? `block-${b.id}`;
    const wd = join(root, dirName.replace(/[^\w.-]/g, '_'));
    mkdirSync(wd, { recursive: true });
    const done = setupDone.get(wd) ?? new Set();
    setupDone.set(wd, done);
    const timeout = Number(b.attrs.timeout ?? 600);
    try {
      for (const s of b.attrs.setup) {
        if (done.has(s)) continue;
        const r = runShell(s, wd, env, timeout);
        if (r.status !== 0) throw new Error(`setup "${s}" exited ${r.status}:\n${r.text.split('\n').slice(-8).join('\n')}`);
        done.add(s);
      }
      const cmds = splitCommands(b);
      const newBody = [];
      let same = true;
      for (const c of cmds) {
        const r = runShell(c.command, wd, env, timeout);
        const actual = normaliseOutput(r.text, wd);
        newBody.push(...c.shown);
        if (matches(c.doc, actual, anyOrder(b))) newBody.push(...c.doc);
        else {
          same = false;
          const rw = rewrite(c.doc, actual);
          // a rewrite that would not match this output itself (it could not place the docs' elisions) is the whole output
          newBody.push(...(rw && matches(rw, actual, anyOrder(b)) ? rw : actual));
        }
        for (let k = 0; k < (c.pad ?? 0); k++) newBody.push('');
      }
      ran++;
      if (same) process.stdout.write(`same  ${b.id} (${b.page}:${b.line})\n`);
      else {
        differ.push(b);
        process.stdout.write(`${args.check ? 'DIFF ' : 'wrote'} ${b.id} (${b.page}:${b.line})\n`);
        if (args.check) process.stdout.write(diffText(b.body, newBody));
        const list = edits.get(b.page) ?? [];
        list.push({ start: b.start, end: b.end, lines: newBody });
        edits.set(b.page, list);
      }
    } catch (e) {
      failures.push(`${b.page}:${b.line} ${b.id}: ${e.message}`);
    }
  }
  if (!args.check) {
    for (const [page, list] of edits) {
      const lines = texts.get(page).split('\n');
      for (const e of list.sort((x, y) => y.start - x.start)) lines.splice(e.start, e.end - e.start, ...e.lines);
      writeFileSync(join(args.root, page), lines.join('\n'));
    }
  }
  if (args.keep) process.stdout.write(`working folders kept in ${root}\n`);
  else rmSync(root, { recursive: true, force: true });
  for (const f of failures) process.stderr.write(`transcripts: ${f}\n`);
  process.stdout.write(`${ran} block(s) run, ${differ.length} ${args.check ? 'differ' : 'rewritten'}${failures.length ? `, ${failures.length} failed` : ''}\n`);
  if (args.check && differ.length) process.stderr.write(`transcripts: differ from this build: ${differ.map((b) => `${b.id} (${b.page}:${b.line})`).join(', ')}\n`);
  return failures.length ? 2 : args.check && differ.length ? 1 : 0;
}

/**
 * The lines of `a` (the docs) and `b` (this build) that differ, as `  - ` / `  + ` lines in order: a
 * line diff over their longest common subsequence, so one line added to the output shows as one `+`
 * (not as every later line shifted by one); at most 40 lines, then `  …`.
 */
export function diffText(a, b) {
  const n = a.length, m = b.length;
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..]
  const lcs = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const lines = [];
  let i = 0, j = 0;
  while ((i < n || j < m) && lines.length <= 40) {
    if (i < n && j < m && a[i] === b[j]) { i++; j++; }
    else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) lines.push(`  - ${a[i++]}`);
    else lines.push(`  + ${b[j++]}`);
  }
  if (lines.length > 40) lines.push('  …');
  return lines.join('\n') + (lines.length ? '\n' : '');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try { process.exitCode = main(process.argv.slice(2)); }
  catch (e) { process.stderr.write(`transcripts: ${e.message}\n`); process.exitCode = 2; }
}
