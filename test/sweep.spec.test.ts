/** Sweep specs (src/sweep/spec.ts): expansion order, names, hashes, and one clear error per mistake. */
import { describe, expect, it } from 'vitest';
import { didYouMean, UsageError } from '../src/errors.js';
import { configHash, expandSweep, parseSpecText, specFromFlags } from '../src/sweep/spec.js';
import { makeTrainConfig, parseFlags } from '../src/run/config.js';

const err = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('sweep spec', () => {
  it('grid x zip x seeds: first grid key slowest, seeds fastest; names say what varies; base applies to all', () => {
    const spec = parseSpecText(`
base: {d: 3, steps: 1000, engine: ts}
grid:
  heads: [1, 2]
  context-length: [10, 20]
zip:
  lr: [0.001, 0.0005]
  batch_size: [16, 32]
seeds: 2
`);
    const runs = expandSweep(spec);
    expect(runs).toHaveLength(16);
    expect(runs.slice(0, 5).map((r) => r.name)).toEqual([
      'h1-L10-lr0.001-B16-seed1024', 'h1-L10-lr0.001-B16-seed1025', 'h1-L10-lr0.0005-B32-seed1024', 'h1-L10-lr0.0005-B32-seed1025', 'h1-L20-lr0.001-B16-seed1024',
    ]);
    const r = runs[2]!;
    expect(r.config).toEqual(makeTrainConfig({ d: 3, steps: 1000, engine: 'ts', heads: 1, contextLength: 10, lr: 0.0005, batchSize: 32, seed: 1024 }));
    expect(r.hash).toBe(configHash(r.config));
    expect(r.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(runs.map((x) => x.hash)).size).toBe(16);
    expect(runs.every((x) => x.config.d === 3 && x.config.steps === 1000)).toBe(true);
  });

  it('seeds: N starts at the base seed; a list is taken as is; JSON and YAML give the same runs', () => {
    expect(expandSweep(parseSpecText('base: {seed: 7}\nseeds: 3')).map((r) => r.config.seed)).toEqual([7, 8, 9]);
    expect(expandSweep(parseSpecText('seeds: [5, 1]')).map((r) => r.name)).toEqual(['seed5', 'seed1']);
    const y = expandSweep(parseSpecText('grid:\n  heads: [1, 2]\nseeds: 2'));
    const j = expandSweep(parseSpecText('{"grid": {"heads": [1, 2]}, "seeds": 2}'));
    expect(j.map((r) => r.hash)).toEqual(y.map((r) => r.hash));
  });

  it('flags: --grid/--zip/--seeds and a list-valued train flag as a grid axis', () => {
    const spec = specFromFlags(parseFlags({ heads: '1,2', steps: '500' }), ['context-length=10,20'], [], '2');
    const runs = expandSweep(spec);
    expect(runs).toHaveLength(8);
    expect(runs[0]!.name).toBe('h1-L10-seed1024');
    expect(runs.every((r) => r.config.steps === 500)).toBe(true);
  });

  it('mistakes are one clear line naming the field, the value and where it is', () => {
    expect(err(() => expandSweep(parseSpecText('grid:\n  heads: [1, -2]')))).toBe('sweep spec: grid.heads[1] = -2: must be an integer >= 1 and <= 256, got -2');
    expect(err(() => expandSweep(parseSpecText('grid:\n  optimizer: [adam, lion]')))).toMatch(/grid\.optimizer\[1\] = "lion": must be one of sgd, adam, adamw/);
    expect(err(() => parseSpecText('grid:\n  heads: 2'))).toMatch(/grid\.heads must be a non-empty list of values, got 2/);
    expect(err(() => parseSpecText('zip:\n  d: [3, 5]\n  lr: [0.1]'))).toMatch(/zip lists must have the same length; zip\.lr has 1 values, the others 2/);
    expect(err(() => parseSpecText('grid:\n  seed: [1, 2]\nseeds: 2'))).toMatch(/seed/);
    expect(err(() => parseSpecText('base: {heads: 2}\ngrid: {heads: [1, 2]}'))).toMatch(/heads is already set in base/);
    expect(err(() => parseSpecText('grids: {heads: [1]}'))).toBe('sweep spec: unknown key "grids"; did you mean "grid"? Allowed: base, grid, zip, seeds');
    expect(err(() => parseSpecText('grid: {headz: [1, 2]}'))).toMatch(/^sweep spec: grid: unknown key "headz"; did you mean "heads"\? Allowed: attention, /);
    expect(err(() => parseSpecText('grid: {Heads: [1]}'))).toMatch(/unknown key "Heads"; did you mean "heads"\?/);
    // a short word is suggested only one edit away: "foo" is not a misspelt "rho", "lrr" is "lr"
    expect(err(() => parseSpecText('grid: {foo: [1, 2]}'))).not.toMatch(/did you mean/);
    expect(didYouMean('lrr', ['lr', 'rho', 'heads'])).toBe(' did you mean "lr"?');
    expect(didYouMean('foo', ['lr', 'rho', 'heads'])).toBe('');
    expect(err(() => parseSpecText('grid: {zzzzzz: [1]}'))).toMatch(/unknown key "zzzzzz"; not a setting\. Allowed: /);
    expect(err(() => parseSpecText('grid: [heads'))).toMatch(/not valid YAML\/JSON/);
    expect(err(() => parseSpecText('grid: {heads: [1,2\n'))).toMatch(/not valid YAML\/JSON: .*line 2, column 1$/); // no dangling colon before the parser's code frame
    expect(err(() => expandSweep(parseSpecText('grid:\n  heads: [1, 1]')))).toMatch(/grid\.heads lists 1 twice/);
    expect(err(() => expandSweep(parseSpecText('grid:\n  weight_tying: [false, true]')))).toMatch(/--weight-tying ties the weights of the layers of a stack; it needs --layers > 1 \(run 2 of 2: grid\.weight_tying\[1\] weight_tying=true\)/);
    expect(err(() => specFromFlags({}, ['heads'], []))).toMatch(/--grid must look like FIELD=v1,v2/);
    expect(err(() => expandSweep(parseSpecText('grid:\n  heads: [1, 2, 3, 4, 5, 6, 7, 8]\n  d: [1, 2, 3, 4, 5, 6, 7, 8]\nseeds: 100')))).toMatch(/asks for 6400 runs; at most 4096/);
  });
});
