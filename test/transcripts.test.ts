/**
 * scripts/transcripts.mjs: the docs' marked transcripts are this build's output. `--check` on blocks
 * of four pages (README, evaluate, honest-output, predict) finds them equal; a copy of the docs with
 * one block edited fails `--check` naming that block, and the script's rewrite gives back the docs'
 * text byte for byte. Plus the comparison rules (timings masked, elisions, progress lines).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireDist, root, tempDir } from './cli.helpers.js';

const script = join(root, 'scripts', 'transcripts.mjs');
// the cheap subset: blocks from four pages, seconds each (2,000- and 3,000-step trainings, evaluate, prompts, predict, errors)
const FAST = '^(readme-errors|evaluate-ood|honest-train-2001|predict-rho05)$';

function runScript(args: string[]) {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Transcripts {
  matches(doc: string[], actual: string[], anyOrder?: RegExp | null): boolean;
  rewrite(doc: string[], actual: string[]): string[] | null;
  findBlocks(text: string, page: string): { id: string; attrs: Record<string, unknown> & { setup: string[] }; body: string[]; expensive: boolean }[];
  splitCommands(block: { id: string; page: string; line: number; attrs: Record<string, unknown>; body: string[] }): { command: string; doc: string[] }[];
  diffText(doc: string[], actual: string[]): string;
}
let t: Transcripts;

beforeAll(async () => {
  requireDist();
  const url = pathToFileURL(script).href;
  t = (await import(url)) as Transcripts;
});

describe('the comparison', () => {
  it('ignores wall times and rates, not values', () => {
    const doc = ['completed 2001 steps (1.2 s of training over all sessions; 1679 steps/s this session); last batch loss 0.5628'];
    expect(t.matches(doc, ['completed 2001 steps (3.4 s of training over all sessions; 601 steps/s this session); last batch loss 0.5628'])).toBe(true);
    expect(t.matches(doc, ['completed 2001 steps (1.2 s of training over all sessions; 1679 steps/s this session); last batch loss 0.5629'])).toBe(false);
    expect(t.matches(['8 of 8 applicable findings pass (28 s).'], ['8 of 8 applicable findings pass (95 s).'])).toBe(true);
  });

  it('reads "..." as any lines and leaves progress lines out', () => {
    const doc = ['After 0 steps, a', 'step 17506/100001 (17.5%)  3426 steps/s  ETA 24s  loss 0.7733', '...', 'After 50000 steps, b', '...', 'done'];
    expect(t.matches(doc, ['After 0 steps, a', 'After 1000 steps, x', 'After 50000 steps, b', 'After 51000 steps, y', 'done'])).toBe(true);
    expect(t.matches(doc, ['After 0 steps, a', 'After 50000 steps, c', 'done'])).toBe(false);
    expect(t.matches(['a', 'b'], ['a', 'b', 'c'])).toBe(false);
  });

  it('rewrites the shown lines around an elision and keeps it', () => {
    const doc = ['head 1: w = 0.10', '', '...', '', 'kernel gap 0.0010', 'model MSE 0.67'];
    const actual = ['head 1: w = 0.12', '', 'head 2: w = 0.30', '', 'kernel gap 0.0011', 'model MSE 0.69 ± 0.01'];
    const rw = t.rewrite(doc, actual);
    expect(rw).toEqual(['head 1: w = 0.12', '', '...', '', 'kernel gap 0.0011', 'model MSE 0.69 ± 0.01']);
    expect(t.matches(rw!, actual)).toBe(true);
  });

  it('splits a block into commands, a trailing backslash continuing one', () => {
    const body = ['$ icl-lab evaluate --lengths 80 \\', '    --seed 1', 'L row', '$ echo $?', '0'];
    const cmds = t.splitCommands({ id: 'x', page: 'p.md', line: 1, attrs: { setup: [] }, body });
    expect(cmds.map((c) => c.command)).toEqual(['icl-lab evaluate --lengths 80 \\\n    --seed 1', 'echo $?']);
    expect(cmds.map((c) => c.doc)).toEqual([['L row'], ['0']]);
  });

  it('reads a marker: quoted values keep regex backslashes, setups repeat', () => {
    const md = ['text', '<!-- transcript: x dir=d setup="a > /dev/null" setup="b" any-order="^\\[h\\d\\] " expensive made="build 1, stream version 2" -->', '```', '$ echo 1', '1', '```', ''].join('\n');
    const [b] = t.findBlocks(md, 'p.md');
    expect(b.id).toBe('x');
    expect(b.attrs.setup).toEqual(['a > /dev/null', 'b']);
    expect(b.attrs['any-order']).toBe('^\\[h\\d\\] ');
    expect(b.attrs.made).toBe('build 1, stream version 2');
    expect(b.expensive).toBe(true);
    expect(b.body).toEqual(['$ echo 1', '1']);
  });

  it('takes lines of parallel workers in any order when told', () => {
    const doc = ['start', '[h4] After 0 steps', '[h8] After 0 steps', 'end'];
    const actual = ['start', '[h8] After 0 steps', '[h4] After 0 steps', 'end'];
    expect(t.matches(doc, actual)).toBe(false);
    expect(t.matches(doc, actual, /^\[h\d\] /)).toBe(true);
  });

  it("--check's diff shows one added output line as one + line, a changed one as - then +", () => {
    const doc = ['drawing figures', 'figures of h1', 'figures of h2', '', '8 of 8 pass'];
    expect(t.diffText(doc, ['drawing figures', 'valley loss', 'figures of h1', 'figures of h2', '', '8 of 8 pass'])).toBe('  + valley loss\n');
    expect(t.diffText(doc, ['drawing figures', 'figures of h1', 'figures of h2', '', '7 of 8 pass'])).toBe('  - 8 of 8 pass\n  + 7 of 8 pass\n');
    expect(t.diffText(doc, doc)).toBe('');
  });
});

describe('node scripts/transcripts.mjs --check', () => {
  it('finds the docs\' blocks on four pages equal to what this build prints', () => {
    const r = runScript(['--check', '--only', FAST]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const id of ['readme-errors (README.md:', 'evaluate-ood (docs/readme/evaluate.md:', 'honest-train-2001 (docs/readme/honest-output.md:', 'predict-rho05 (docs/readme/predict.md:']) {
      expect(r.stdout).toContain(`same  ${id}`);
    }
    expect(r.stdout).toContain('4 block(s) run, 0 differ');
  }, 300_000);

  it('fails naming an edited block, and the rewrite gives the docs back', () => {
    const copy = tempDir('transcripts');
    mkdirSync(join(copy, 'docs'), { recursive: true });
    cpSync(join(root, 'README.md'), join(copy, 'README.md'));
    cpSync(join(root, 'docs', 'readme'), join(copy, 'docs', 'readme'), { recursive: true });
    const page = join(copy, 'docs', 'readme', 'evaluate.md');
    const original = readFileSync(page, 'utf8');
    // one number of the evaluate-ood block (its L = 40 row), as a stale doc would have it
    const lines = original.split('\n');
    const marker = lines.findIndex((l) => l.startsWith('<!-- transcript: evaluate-ood '));
    const row = lines.findIndex((l, k) => k > marker && /^ {3}40 /.test(l));
    expect(marker).toBeGreaterThan(0);
    expect(row).toBeGreaterThan(marker);
    const edited = lines[row].replace(/\d\.\d{3}/, '9.999');
    expect(edited).not.toBe(lines[row]);
    lines[row] = edited;
    writeFileSync(page, lines.join('\n'));

    const check = runScript(['--check', '--root', copy, '--only', '^(readme-errors|evaluate-ood)$']);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`DIFF  evaluate-ood (docs/readme/evaluate.md:${marker + 1})`);
    expect(check.stdout).toContain(`  - ${edited}`);
    expect(check.stdout).toContain('same  readme-errors');
    expect(check.stderr).toContain(`differ from this build: evaluate-ood (docs/readme/evaluate.md:${marker + 1})`);
    expect(check.stderr).not.toContain('readme-errors');

    const regen = runScript(['--root', copy, '--only', '^evaluate-ood$']);
    expect(regen.code).toBe(0);
    expect(regen.stdout).toContain('wrote evaluate-ood');
    expect(readFileSync(page, 'utf8')).toBe(original);
    expect(readFileSync(join(copy, 'README.md'), 'utf8')).toBe(readFileSync(join(root, 'README.md'), 'utf8'));
  }, 300_000);

  it('skips an expensive block without --all and names what made it', () => {
    const r = runScript(['--check', '--only', '^readme-reproduce-full$']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/skip {2}readme-reproduce-full \(README\.md:\d+, expensive; .*stream version 2.*; --all runs it\)/);
    expect(r.stdout).toContain('0 block(s) run');
  });
});
