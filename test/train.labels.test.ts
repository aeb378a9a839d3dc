/**
 * Run names, tags and notes (issue 22 item 13): `train --name --tag --note` recorded in run.json,
 * refused with one clear line when not a name / tag / note, kept by a resume (and by a resume of a
 * run cut short while being created), changed by a resume that gives them; a list of runs names each
 * NAME/<subdirectory>; sweeps tag their runs sweep:<folder>. The label rules themselves: run/labels.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { checkLabels, labelsFromJson, mergeLabels, tagOf } from '../src/run/labels.js';
import { exportTensorboard, markdownText } from '../src/export/tensorboard.js';
import { trainExperimentRuns } from '../src/experiments/reproduce.js';
import { resolveConfigs } from '../src/run/config.js';
import { cli, requireDist, tempDir, TINY } from './cli.helpers.js';

requireDist();
const tmp = tempDir('labels');
const runJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;

describe('train --name --tag --note', () => {
  it('records them in run.json, beside (not inside) the config', () => {
    const out = join(tmp, 'a');
    const r = cli(['train', '--out', out, '--steps', '40', ...TINY, '--name', 'baseline <b>H=2</b>', '--tag', 'baseline', '--tag', 'lr:1e-3', '--tag', 'baseline', '--note', 'first line\nsecond line'], { timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = runJson(out);
    expect(j['name']).toBe('baseline <b>H=2</b>');
    expect(j['tags']).toEqual(['baseline', 'lr:1e-3']); // each once, in the order given
    expect(j['note']).toBe('first line\nsecond line');
    expect(Object.keys(j).slice(0, 5)).toEqual(['icl_lab_version', 'format', 'name', 'tags', 'note']);
    const config = j['config'] as Record<string, unknown>;
    for (const k of ['name', 'tags', 'tag', 'note']) expect(config).not.toHaveProperty(k);
  });

  it('a resume keeps them; a resume that gives them replaces the name and note and adds the tags', () => {
    const out = join(tmp, 'a');
    expect(cli(['train', '--resume', out, '--steps', '60', '--progress', 'none'], { timeout: 60_000 }).code).toBe(0);
    let j = runJson(out);
    expect(j['step']).toBe(60);
    expect([j['name'], j['tags'], j['note']]).toEqual(['baseline <b>H=2</b>', ['baseline', 'lr:1e-3'], 'first line\nsecond line']);
    // a completed run asked for no more steps: only its labels change (run.json rewritten, nothing trained)
    const r = cli(['train', '--resume', out, '--tag', 'good', '--name', 'best so far', '--progress', 'none'], { timeout: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('already completed; nothing to do (its name, tags and note updated in run.json)');
    j = runJson(out);
    expect([j['name'], j['tags'], j['note'], j['step'], j['status']]).toEqual(['best so far', ['baseline', 'lr:1e-3', 'good'], 'first line\nsecond line', 60, 'completed']);
    // and a resume that trains on keeps the new ones
    expect(cli(['train', '--resume', out, '--steps', '70', '--progress', 'none'], { timeout: 60_000 }).code).toBe(0);
    j = runJson(out);
    expect([j['name'], j['tags'], j['step']]).toEqual(['best so far', ['baseline', 'lr:1e-3', 'good'], 70]);
  });

  it('a run cut short while being created is made again with its labels', () => {
    const out = join(tmp, 'creating');
    expect(cli(['train', '--out', out, '--steps', '30', ...TINY, '--name', 'half made', '--tag', 'x'], { timeout: 60_000 }).code).toBe(0);
    const j = runJson(out);
    writeFileSync(join(out, 'run.json'), JSON.stringify({ ...j, status: 'creating', step: 0 }));
    expect(cli(['train', '--resume', out, '--progress', 'none'], { timeout: 60_000 }).code).toBe(0);
    const k = runJson(out);
    expect([k['status'], k['step'], k['name'], k['tags']]).toEqual(['completed', 30, 'half made', ['x']]);
  });

  it('a list of runs names each NAME/<subdirectory> and tags them all', () => {
    const out = join(tmp, 'list');
    expect(cli(['train', '--out', out, '--steps', '20', ...TINY, '--heads', '1,2', '--name', 'scan', '--tag', 'scan', '--jobs', '1'], { timeout: 60_000 }).code).toBe(0);
    expect([runJson(join(out, 'h1'))['name'], runJson(join(out, 'h2'))['name']]).toEqual(['scan/h1', 'scan/h2']);
    expect(runJson(join(out, 'h2'))['tags']).toEqual(['scan']);
  });

  it('without them run.json has no name, tags or note (as before)', () => {
    const out = join(tmp, 'plain');
    expect(cli(['train', '--out', out, '--steps', '10', ...TINY], { timeout: 60_000 }).code).toBe(0);
    const j = runJson(out);
    for (const k of ['name', 'tags', 'note']) expect(j).not.toHaveProperty(k);
  });

  it.each([
    [['--name', 'two\nlines'], 'icl-lab: --name "two\\nlines" has a line break (a name is one line); a run name is one line of at most 200 characters\n'],
    [['--name', '   '], 'icl-lab: --name "   " is empty; a run name is one line of at most 200 characters\n'],
    [['--name', 'x'.repeat(201)], `icl-lab: --name "${'x'.repeat(60)}…" is 201 characters long (at most 200); a run name is one line of at most 200 characters\n`],
    [['--tag', 'a b'], 'icl-lab: --tag "a b" has " "; a tag is 1 to 64 characters: letters, digits and _ . : / + = @ - (starting with a letter or digit)\n'],
    [['--tag', '<script>'], 'icl-lab: --tag "<script>" has "<"; a tag is 1 to 64 characters: letters, digits and _ . : / + = @ - (starting with a letter or digit)\n'],
    [['--tag', ''], 'icl-lab: --tag "" is empty; a tag is 1 to 64 characters: letters, digits and _ . : / + = @ - (starting with a letter or digit)\n'],
    [['--note', 'bell\u0007'], 'icl-lab: --note has a control character (lines and tabs are allowed); a note is text of at most 10000 characters\n'],
  ])('%j is refused with one line, exit 2, nothing created', (flags, message) => {
    const out = join(tmp, 'bad');
    const r = cli(['train', '--out', out, '--steps', '10', ...TINY, ...flags]);
    expect(r.stderr).toBe(message);
    expect(r.code).toBe(2);
    expect(() => readFileSync(join(out, 'run.json'))).toThrow();
  });

  it('sweeps tag their runs sweep:<folder>', () => {
    const out = join(tmp, 'my sweep');
    const r = cli(['sweep', '--grid', 'heads=1,2', '--steps', '20', '--out', out, '--jobs', '1', '--progress', 'none'], { timeout: 60_000 });
    expect(r.code).toBe(0);
    expect(runJson(join(out, 'runs', 'h1'))['tags']).toEqual(['sweep:my-sweep']);
    expect(runJson(join(out, 'runs', 'h2'))['tags']).toEqual(['sweep:my-sweep']);
  });
});

describe('reproduce', () => {
  it("tags an experiment's runs experiment:<name>", async () => {
    const out = join(tmp, 'repro');
    const configs = () => resolveConfigs({ heads: 1, d: 3, contextLength: 10, batchSize: 16, steps: 20, dynamicsEvery: 10, qkEvery: 10, valEvery: 10 });
    const r = await trainExperimentRuns({ out, steps: 20, evalSamples: 10, jobs: 1, progress: 'none' }, ['h1'], configs, 'h1 (seed experiment)', 'seed');
    expect(r.runs.map((x) => x.status)).toEqual(['completed']);
    expect(runJson(join(out, 'h1'))['tags']).toEqual(['experiment:seed']);
  });
});

describe('icl-lab export tensorboard', () => {
  it("writes the name, tags and note into the config text, escaped for TensorBoard's Markdown", async () => {
    const res = await exportTensorboard([join(tmp, 'a')], { out: join(tmp, 'tb'), imageSteps: 0 });
    const bytes = readFileSync(res.runs[0]!.file).toString('utf8');
    expect(bytes).toContain('name: **best so far**  \ntags: `baseline`, `lr:1e-3`, `good`  \nnote: first line  \nsecond line\n');
    expect(markdownText('<b>H=2</b> *x* [l](u)')).toBe('&lt;b&gt;H=2&lt;/b&gt; \\*x\\* \\[l\\]\\(u\\)');
  });
});

describe('run/labels.ts', () => {
  it('checks, merges and reads back labels', () => {
    expect(checkLabels({ name: '  padded  ', tags: ['a', 'b', 'a'] })).toEqual({ name: 'padded', tags: ['a', 'b'] });
    expect(() => checkLabels({ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) })).toThrow(UsageError);
    expect(mergeLabels({ name: 'a', tags: ['x'], note: 'n' }, { tags: ['y', 'x'] })).toEqual({ name: 'a', tags: ['x', 'y'], note: 'n' });
    expect(tagOf('sweep', 'my sweep (2)')).toBe('sweep:my-sweep--2-');
    expect(tagOf('experiment', 'paper')).toBe('experiment:paper');
    expect(labelsFromJson({ name: 'ok', tags: ['a'] })).toEqual({ name: 'ok', tags: ['a'] });
    expect(labelsFromJson({ tags: ['a b'] })).toMatch(/^tag "a b" is not a tag/);
    expect(labelsFromJson({ name: 3 })).toMatch(/^name 3 is not a string; a run name is/);
  });
});
