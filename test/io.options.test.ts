import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import {
  asChoice, asIntRange, asPositiveInt, parseChoice, parseChoiceList, parseExistingFile, parseFiniteFloat, parseFloatInRange,
  parseFloatList, parseInteger, parseIntList, parseIntListOrRange, parseIntRange, parseNonNegativeFloat, parseNonNegativeInt,
  parsePositiveFloat, parsePositiveInt,
} from '../src/cli/options.js';
import { tempDir } from './cli.helpers.js';

const dir = tempDir('io-opts');

function usage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('numbers', () => {
  it('positive / non-negative / any integers', () => {
    expect(parsePositiveInt('--steps', '500001')).toBe(500001);
    expect(parsePositiveInt('--steps', ' 7 ')).toBe(7);
    expect(parseNonNegativeInt('--n', '0')).toBe(0);
    expect(parseInteger('--seed', '-3')).toBe(-3);
    expect(usage(() => parsePositiveInt('--steps', '0'))).toBe('--steps: expected a positive integer, got "0"');
    for (const bad of ['', '1.5', '1e3', '0x10', 'ten', '2.0', '1 2', 'Infinity']) {
      expect(usage(() => parsePositiveInt('--steps', bad))).toMatch(/^--steps: expected a positive integer, got /);
    }
    expect(usage(() => parseNonNegativeInt('--n', '-1'))).toBe('--n: expected a non-negative integer, got "-1"');
    expect(usage(() => parseInteger('--seed', '99999999999999999999'))).toMatch(/at most 9007199254740991/);
  });

  it('floats: finite, positive, non-negative, in a range', () => {
    expect(parsePositiveFloat('--lr', '1e-3')).toBe(0.001);
    expect(parsePositiveFloat('--lr', '.5')).toBe(0.5);
    expect(parseNonNegativeFloat('--noise-std', '0')).toBe(0);
    expect(parseFiniteFloat('--x', '-2.5E+2')).toBe(-250);
    expect(usage(() => parsePositiveFloat('--lr', '0'))).toBe('--lr: expected a finite number > 0, got "0"');
    for (const bad of ['', 'NaN', 'Infinity', '-inf', '1e999', '0x1', '1,5', 'abc']) {
      expect(usage(() => parsePositiveFloat('--lr', bad)), bad).toMatch(/^--lr: expected a finite number > 0, got /);
    }
    expect(usage(() => parseNonNegativeFloat('--wd', '-1e-9'))).toBe('--wd: expected a finite number >= 0, got "-1e-9"');
    expect(parseFloatInRange('--rho', '0.5', 0, 1, true)).toBe(0.5);
    expect(usage(() => parseFloatInRange('--rho', '1', 0, 1, true))).toBe('--rho: expected a number in [0, 1), got "1"');
    expect(parseFloatInRange('--p', '1', 0, 1)).toBe(1);
  });
});

describe('lists and ranges', () => {
  it('comma lists', () => {
    expect(parseIntList('--heads', '1,2,4')).toEqual([1, 2, 4]);
    expect(parseIntList('--heads', ' 8 ')).toEqual([8]);
    expect(parseFloatList('--lr', '1e-3, 3e-4')).toEqual([0.001, 0.0003]);
    expect(usage(() => parseIntList('--heads', '1,,2'))).toBe('--heads: expected a comma-separated list of integers, e.g. 1,2,4, got "1,,2"');
    expect(usage(() => parseIntList('--heads', '1,2.5'))).toMatch(/got "1,2\.5"$/);
    expect(usage(() => parseIntList('--heads', '1,0,4', { min: 1 }))).toMatch(/with every element >= 1 \(0 is not\), got "1,0,4"$/);
    expect(usage(() => parseFloatList('--lr', '1e-3,nan'))).toMatch(/^--lr: expected a comma-separated list of numbers/);
    expect(usage(() => parseFloatList('--p', '0.5,2', { min: 0, max: 1 }))).toMatch(/every element >= 0 and <= 1 \(2 is not\)/);
  });

  it('ranges start:stop[:step] include stop, like the seed range(1, max_length + 1, step)', () => {
    const Ls = parseIntRange('--L', '1:500:5');
    expect(Ls.length).toBe(100);
    expect(Ls.slice(0, 3)).toEqual([1, 6, 11]);
    expect(Ls.at(-1)).toBe(496);
    expect(parseIntRange('--L', '2:10:4')).toEqual([2, 6, 10]);
    expect(parseIntRange('--L', '3:5')).toEqual([3, 4, 5]);
    expect(parseIntRange('--L', '40')).toEqual([40]);
    expect(parseIntRange('--L', '7:7')).toEqual([7]);
    for (const bad of ['5:1', '1:10:0', '1:10:-1', 'a:b', '1:2:3:4', '1.5:3', '']) {
      expect(usage(() => parseIntRange('--L', bad)), bad).toMatch(/^--L: expected an integer range start:stop\[:step\] \(stop included, step > 0\), e\.g\. 1:500:5, got /);
    }
    expect(usage(() => parseIntRange('--L', '0:3', { min: 1 }))).toMatch(/every element >= 1 \(0 is not\)/);
    expect(usage(() => parseIntRange('--L', '1:1e9'))).toMatch(/got "1:1e9"/);
    expect(usage(() => parseIntRange('--L', '1:100000000'))).toMatch(/at most 1000000 values \(this has 100000000\)/);
    expect(parseIntListOrRange('--L', '10,20,40')).toEqual([10, 20, 40]);
    expect(parseIntListOrRange('--L', '10:40:10')).toEqual([10, 20, 30, 40]);
  });
});

describe('choices and files', () => {
  it('choices name the allowed values', () => {
    const opts = ['sgd', 'adam', 'adamw'] as const;
    expect(parseChoice('--optimizer', 'adamw', opts)).toBe('adamw');
    expect(usage(() => parseChoice('--optimizer', 'Adam', opts))).toBe('--optimizer: expected one of sgd, adam, adamw; got "Adam"');
    expect(parseChoiceList('--methods', 'sgd,adam', opts)).toEqual(['sgd', 'adam']);
    expect(usage(() => parseChoiceList('--methods', 'sgd,sgd', opts))).toBe('--methods: sgd is listed twice in "sgd,sgd"');
    expect(usage(() => parseChoiceList('--methods', 'sgd,rmsprop', opts))).toMatch(/expected one of sgd, adam, adamw; got "rmsprop"/);
  });

  it('existing files', () => {
    const f = join(dir, 'f.txt');
    writeFileSync(f, 'x');
    expect(parseExistingFile('--model', f)).toBe(f);
    expect(usage(() => parseExistingFile('--model', join(dir, 'nope')))).toBe(`--model: no such file: ${join(dir, 'nope')}`);
    expect(usage(() => parseExistingFile('--model', dir))).toBe(`--model: not a regular file: ${dir}`);
  });
});

describe('as commander argParsers', () => {
  const program = () =>
    new Command('t')
      .exitOverride()
      .option('--steps <n>', 'steps', asPositiveInt('--steps'), 10)
      .option('--L <range>', 'lengths', asIntRange('--L', { min: 1 }))
      .option('--optimizer <name>', 'optimizer', asChoice('--optimizer', ['sgd', 'adam'] as const), 'adam');

  it('parses values and keeps defaults', () => {
    const p = program().parse(['--L', '1:11:5'], { from: 'user' });
    expect(p.opts()).toEqual({ steps: 10, L: [1, 6, 11], optimizer: 'adam' });
  });

  it('a bad value surfaces as our UsageError, not commander\'s generic message', () => {
    expect(usage(() => program().parse(['--steps', '-5'], { from: 'user' }))).toBe('--steps: expected a positive integer, got "-5"');
    expect(usage(() => program().parse(['--optimizer', 'lbfgs'], { from: 'user' }))).toBe('--optimizer: expected one of sgd, adam; got "lbfgs"');
  });
});
