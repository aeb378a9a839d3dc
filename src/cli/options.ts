/**
 * Parsing of command-line option values, shared by every command. Each parser takes the flag's
 * name (for the message) and the raw string, and throws a UsageError (exit code 2, no stack trace)
 * that names the flag, the bad value and what is allowed.
 *
 * Use directly, or as a commander argParser through the `as*` factories:
 *
 *   .option('--steps <n>', '[int] training steps (default: 500001)', asPositiveInt('--steps'), 500001)
 *   .option('--heads <list>', '[int[,int...]] head counts, e.g. 1,2,4', asIntList('--heads', { min: 1 }))
 *   .option('--L <range>', '[start:stop[:step]] context lengths, stop included', asIntRange('--L'))
 *   .option('--optimizer <name>', '[sgd|adam|adamw] optimizer', asChoice('--optimizer', ['sgd', 'adam', 'adamw']))
 */
import { existsSync, statSync } from 'node:fs';
import { Option } from 'commander';
import { UsageError } from '../errors.js';

function bad(flag: string, value: string, expected: string): UsageError {
  return new UsageError(`${flag}: expected ${expected}, got ${JSON.stringify(value)}`);
}

/** Strict decimal integer (optional sign, digits only: no "1e3", "0x10", "2.0", or blanks). */
function toInteger(flag: string, value: string, expected: string): number {
  const s = value.trim();
  if (!/^[+-]?\d+$/.test(s)) throw bad(flag, value, expected);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw bad(flag, value, `${expected} (at most ${Number.MAX_SAFE_INTEGER})`);
  return n;
}

/** Finite decimal number ("1e-3", "0.5", "-2"; not "", "NaN", "Infinity", "0x10"). */
function toFinite(flag: string, value: string, expected: string): number {
  const s = value.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw bad(flag, value, expected);
  const x = Number(s);
  if (!Number.isFinite(x)) throw bad(flag, value, expected);
  return x;
}

/** An integer >= 1. */
export function parsePositiveInt(flag: string, value: string): number {
  const n = toInteger(flag, value, 'a positive integer');
  if (n < 1) throw bad(flag, value, 'a positive integer');
  return n;
}

/** An integer >= 0. */
export function parseNonNegativeInt(flag: string, value: string): number {
  const n = toInteger(flag, value, 'a non-negative integer');
  if (n < 0) throw bad(flag, value, 'a non-negative integer');
  return n;
}

/** Any safe integer (e.g. an RNG seed may be negative). */
export function parseInteger(flag: string, value: string): number {
  return toInteger(flag, value, 'an integer');
}

/** A finite number > 0 (learning rates, noise levels, ...). */
export function parsePositiveFloat(flag: string, value: string): number {
  const x = toFinite(flag, value, 'a finite number > 0');
  if (!(x > 0)) throw bad(flag, value, 'a finite number > 0');
  return x;
}

/** A finite number >= 0 (weight decay, noise std may be 0). */
export function parseNonNegativeFloat(flag: string, value: string): number {
  const x = toFinite(flag, value, 'a finite number >= 0');
  if (!(x >= 0)) throw bad(flag, value, 'a finite number >= 0');
  return x;
}

/** Any finite number. */
export function parseFiniteFloat(flag: string, value: string): number {
  return toFinite(flag, value, 'a finite number');
}

/** A finite number in [lo, hi] (both ends included), e.g. a correlation rho in [0, 1). */
export function parseFloatInRange(flag: string, value: string, lo: number, hi: number, hiOpen = false): number {
  const expected = `a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}`;
  const x = toFinite(flag, value, expected);
  if (x < lo || x > hi || (hiOpen && x === hi)) throw bad(flag, value, expected);
  return x;
}

export interface ListOptions {
  /** Smallest allowed element (inclusive). */
  min?: number;
  /** Largest allowed element (inclusive). */
  max?: number;
}

function checkBounds(flag: string, value: string, xs: number[], o: ListOptions, what: string): number[] {
  for (const x of xs) {
    if ((o.min !== undefined && x < o.min) || (o.max !== undefined && x > o.max)) {
      const lo = o.min !== undefined ? `>= ${o.min}` : '';
      const hi = o.max !== undefined ? `<= ${o.max}` : '';
      throw bad(flag, value, `${what} with every element ${[lo, hi].filter(Boolean).join(' and ')} (${x} is not)`);
    }
  }
  return xs;
}

function splitList(flag: string, value: string, what: string): string[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((s) => s === '')) throw bad(flag, value, what);
  return parts;
}

/** Comma-separated integers: "1,2,4" -> [1, 2, 4]. */
export function parseIntList(flag: string, value: string, o: ListOptions = {}): number[] {
  const what = 'a comma-separated list of integers, e.g. 1,2,4';
  const nums = splitList(flag, value, what).map((s) => {
    if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw bad(flag, value, what);
    return Number(s);
  });
  return checkBounds(flag, value, nums, o, what);
}

/** Comma-separated finite numbers: "1e-3,3e-4" -> [0.001, 0.0003]. */
export function parseFloatList(flag: string, value: string, o: ListOptions = {}): number[] {
  const what = 'a comma-separated list of numbers, e.g. 1e-3,3e-4';
  const xs = splitList(flag, value, what).map((s) => {
    try {
      return toFinite(flag, s, what);
    } catch {
      throw bad(flag, value, what);
    }
  });
  return checkBounds(flag, value, xs, o, what);
}

/** Ranges longer than this are almost certainly a typo (and would allocate a huge list). */
const MAX_RANGE_LENGTH = 1_000_000;

/**
 * An integer range "start:stop[:step]" with stop INCLUDED when it is hit, like the seed's
 * `range(1, max_length + 1, step)`: "1:500:5" -> 1, 6, ..., 496; "2:10:4" -> 2, 6, 10.
 * A single integer "40" is the one-element range. step defaults to 1 and must be positive.
 */
export function parseIntRange(flag: string, value: string, o: ListOptions = {}): number[] {
  const what = 'an integer range start:stop[:step] (stop included, step > 0), e.g. 1:500:5';
  const parts = value.split(':').map((s) => s.trim());
  if (parts.length < 1 || parts.length > 3) throw bad(flag, value, what);
  if (parts.length === 1) return checkBounds(flag, value, [toInteger(flag, value, what)], o, what);
  const int = (s: string): number => {
    if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw bad(flag, value, what);
    return Number(s);
  };
  const [start, stop] = [int(parts[0]!), int(parts[1]!)];
  const step = parts.length === 3 ? int(parts[2]!) : 1;
  if (step < 1 || stop < start) throw bad(flag, value, what);
  const count = Math.floor((stop - start) / step) + 1;
  if (count > MAX_RANGE_LENGTH) throw bad(flag, value, `${what}, with at most ${MAX_RANGE_LENGTH} values (this has ${count})`);
  const xs: number[] = [];
  for (let x = start; x <= stop; x += step) xs.push(x);
  return checkBounds(flag, value, xs, o, what);
}

/** Either a range (contains ":") or a comma list: "1:500:5" or "10,20,40". */
export function parseIntListOrRange(flag: string, value: string, o: ListOptions = {}): number[] {
  return value.includes(':') ? parseIntRange(flag, value, o) : parseIntList(flag, value, o);
}

/** One of a fixed set of names (case-sensitive). */
export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag}: expected one of ${choices.join(', ')}; got ${JSON.stringify(value)}`);
}

/** A comma list of choices: "sgd,adam" -> ['sgd', 'adam'] (each must be allowed, no duplicates). */
export function parseChoiceList<T extends string>(flag: string, value: string, choices: readonly T[]): T[] {
  const parts = value.split(',').map((s) => s.trim());
  const out = parts.map((s) => parseChoice(flag, s, choices));
  const dup = out.find((x, i) => out.indexOf(x) !== i);
  if (dup !== undefined) throw new UsageError(`${flag}: ${dup} is listed twice in ${JSON.stringify(value)}`);
  return out;
}

/** A path that must exist and be a regular file (input files named by a flag). */
export function parseExistingFile(flag: string, value: string): string {
  if (value === '') throw new UsageError(`${flag}: expected a file path, got ""`);
  if (!existsSync(value)) throw new UsageError(`${flag}: no such file: ${value}`);
  if (!statSync(value).isFile()) throw new UsageError(`${flag}: not a regular file: ${value}`);
  return value;
}

// Commander argParser factories: `(value: string) => T`.
export const asPositiveInt = (flag: string) => (v: string) => parsePositiveInt(flag, v);
export const asNonNegativeInt = (flag: string) => (v: string) => parseNonNegativeInt(flag, v);
export const asInteger = (flag: string) => (v: string) => parseInteger(flag, v);
export const asPositiveFloat = (flag: string) => (v: string) => parsePositiveFloat(flag, v);
export const asNonNegativeFloat = (flag: string) => (v: string) => parseNonNegativeFloat(flag, v);
export const asFiniteFloat = (flag: string) => (v: string) => parseFiniteFloat(flag, v);
export const asIntList = (flag: string, o?: ListOptions) => (v: string) => parseIntList(flag, v, o);
export const asFloatList = (flag: string, o?: ListOptions) => (v: string) => parseFloatList(flag, v, o);
export const asIntRange = (flag: string, o?: ListOptions) => (v: string) => parseIntRange(flag, v, o);
export const asIntListOrRange = (flag: string, o?: ListOptions) => (v: string) => parseIntListOrRange(flag, v, o);
export const asChoice = <T extends string>(flag: string, choices: readonly T[]) => (v: string) => parseChoice(flag, v, choices);
export const asChoiceList = <T extends string>(flag: string, choices: readonly T[]) => (v: string) => parseChoiceList(flag, v, choices);
export const asExistingFile = (flag: string) => (v: string) => parseExistingFile(flag, v);

/**
 * The context lengths of a sweep: `--context-length <spec>` (one name for L across every command),
 * with the old spelling `--lengths` kept as a hidden alias. `pickContextLengths` merges them.
 */
export function addContextLengthsOption(cmd: import('commander').Command, help: string): import('commander').Command {
  return cmd
    .option('--context-length <spec>', `[int[,int...]|start:stop[:step]] ${help}; alias --lengths`, asIntListOrRange('--context-length', { min: 1 }))
    .addOption(new Option('--lengths <spec>', 'old spelling of --context-length').hideHelp().argParser(asIntListOrRange('--lengths', { min: 1 })));
}

export function pickContextLengths(o: { contextLength?: number[]; lengths?: number[] }): number[] | undefined {
  if (o.contextLength && o.lengths) throw new UsageError('--lengths is the old spelling of --context-length; give one of them');
  return o.contextLength ?? o.lengths;
}

/**
 * The options of commands that train runs (train, sweep, reproduce): --jobs (runs at once), --threads
 * (per run) and --progress, parsed once here. Values stay strings in commander (so a command can tell
 * given from default) and are parsed by the three functions below.
 */
export function addRunOptions(cmd: import('commander').Command, o: { threads?: boolean; what?: string } = {}): import('commander').Command {
  cmd.option('--jobs <n>', '[int] runs trained at once, one worker thread each (default: number of cores)');
  if (o.threads !== false) cmd.option('--threads <n>', '[1|2] threads per run: 2 draws the next batches on a second thread while the step computes, bit-identical to 1 (default: 2 when a core is free for every run at once, else 1)');
  return cmd.option('--progress <mode>', `[auto|bar|lines|none] ${o.what ?? 'progress'} on stderr (default: auto = a bar on a terminal, a line every 5 s otherwise)`);
}

export const PROGRESS_CHOICES = ['auto', 'bar', 'lines', 'none'] as const;
export type ProgressChoice = (typeof PROGRESS_CHOICES)[number];

export function parseJobs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 256) throw new UsageError(`--jobs must be an integer in 1..256, got ${JSON.stringify(v)}`);
  return n;
}

export function parseThreads(v: string | undefined): 1 | 2 | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (s !== '1' && s !== '2') throw new UsageError(`--threads must be 1 or 2, got ${JSON.stringify(v)}`);
  return s === '1' ? 1 : 2;
}

/** --progress (none with --json). */
export function parseProgress(v: string | undefined, json = false): ProgressChoice {
  if (json) return 'none';
  if (v === undefined) return 'auto';
  if (!(PROGRESS_CHOICES as readonly string[]).includes(v)) throw new UsageError(`--progress must be one of ${PROGRESS_CHOICES.join(', ')}, got ${JSON.stringify(v)}`);
  return v as ProgressChoice;
}
