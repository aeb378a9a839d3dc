/**
 * A sweep: a grid of training runs, from a YAML/JSON spec or from flags.
 *
 *   base:  { heads: 2, steps: 100000 }          any train config field (snake_case or flag form)
 *   grid:  { context_length: [10, 20, 40] }     Cartesian product (first key varies slowest)
 *   zip:   { d: [3, 5], lr: [0.001, 0.0005] }   fields varied together (same length), one more axis
 *   seeds: 3 | [1, 2, 3]                        N seeds = base seed (default 1024) + 0..N-1; fastest axis
 *
 * Every combination is resolved and checked by the train field table (run/config.ts) before
 * anything is created: a bad value names the field, the value and its grid position.
 * Pure module apart from hashing: text in, a validated plan or a UsageError out.
 */
import { checkInputFile, formatBytes, readInputFile } from '../io/input-file.js';
import { wasmAvailable } from '../io/wasm.js';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { didYouMean, UsageError } from '../errors.js';
import {
  configToJson, FIELD_BY_KEY, FIELDS, flagName, jsonKey, parseConfigObject, resolveConfig,
  type FieldKey, type PartialSpec, type RawValue, type TrainConfig,
} from '../run/config.js';

/** The spec as written to sweep.json (normalised: snake_case keys, seeds as a list). */
export interface SweepSpec {
  base: Record<string, unknown>;
  grid: Record<string, unknown[]>;
  zip: Record<string, unknown[]>;
  seeds: number[] | null;
}

export interface SweepRunPlan {
  /** Directory name under DIR/runs: what varies, e.g. `L20-h2-seed1025`. */
  name: string;
  /** sha256 of the canonical config JSON (first 16 hex digits): the queue's job id. */
  hash: string;
  config: TrainConfig;
  /** The varying values of this run, by snake_case key (for tables and names). */
  vary: Record<string, unknown>;
}

/** Cap on the number of runs of one sweep (so also on the length of each axis). */
export const MAX_RUNS = 4096;

/**
 * Cap on a spec file (1 MiB): 4,096 values of the longest float are about 100 kB, so a real spec
 * is far below it; a larger one is refused before it is parsed (a 48 MB list of seeds parsed whole
 * takes gigabytes).
 */
export const MAX_SPEC_BYTES = 2 ** 20;

/** The longest folder name file systems take (ext4, xfs, btrfs, tmpfs: 255 bytes). */
export const MAX_NAME_BYTES = 255;

/**
 * Check that a run name is one plain path segment, as `DIR/runs/<name>` needs: not empty, not `.`
 * or `..`, no slash, backslash or NUL, at most 255 bytes. `where` starts the message (the spec, or
 * sweep.json, whose names are otherwise used as paths unchecked).
 */
export function checkRunName(name: unknown, where: string): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new UsageError(`${where}: run name ${JSON.stringify(name)} is not one plain folder name (no "/", "\\", ".", ".." or empty names); a run lives in DIR/runs/<name>`);
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    throw new UsageError(`${where}: run name ${name.slice(0, 40)}... is ${bytes} bytes, longer than the ${MAX_NAME_BYTES} a folder name may have; vary fewer fields with one value each (put them under base:), or shorter values`);
  }
  return name;
}

const TOP_KEYS = ['base', 'grid', 'zip', 'seeds'] as const;

/** A field key from a spec key (snake_case or flag form), or a UsageError listing what is allowed. */
function fieldOf(k: string, where: string): FieldKey {
  const f = FIELDS.find((x) => jsonKey(x.key) === k || flagName(x.key).slice(2) === k);
  if (!f) throw new UsageError(`${where}: unknown key "${k}";${didYouMean(k, FIELDS.map((x) => jsonKey(x.key))) || ' not a setting.'} Allowed: ${FIELDS.map((x) => jsonKey(x.key)).join(', ')}`);
  return f.key;
}

/** Parse one value of a field, as a config file would (one clear line on error). */
function parseOne(key: FieldKey, v: unknown, where: string): RawValue {
  if (Array.isArray(v) && FIELD_BY_KEY.get(key)!.kind !== 'pair') {
    throw new UsageError(`${where}: ${JSON.stringify(v)} is a list; a grid entry is one value`);
  }
  let out: PartialSpec;
  try {
    out = parseConfigObject({ [jsonKey(key)]: v }, where);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${where}: ${err.message.replace(/^config key "[^"]+" /, '')}`);
    throw err;
  }
  const x = out[key];
  if (x === undefined) throw new UsageError(`${where}: null is not a value (leave the field out for its default)`);
  return x;
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${where} must be a mapping of field: value(s), got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

/** Normalise and check the shape of a spec object (values are checked in `expandSweep`). */
export function normaliseSpec(obj: unknown, what = 'sweep spec'): SweepSpec {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new UsageError(`${what} must be a mapping with base:, grid:, zip: and/or seeds:`);
  }
  for (const k of Object.keys(obj)) {
    if (!(TOP_KEYS as readonly string[]).includes(k)) throw new UsageError(`${what}: unknown key "${k}";${didYouMean(k, TOP_KEYS) || ' not a spec key.'} Allowed: ${TOP_KEYS.join(', ')}`);
  }
  const o = obj as Record<string, unknown>;
  const spec: SweepSpec = { base: {}, grid: {}, zip: {}, seeds: null };
  const seen = new Map<FieldKey, string>();
  const claim = (k: FieldKey, where: string) => {
    const prev = seen.get(k);
    if (prev) throw new UsageError(`${where}: ${jsonKey(k)} is already set in ${prev}; give each field in one place`);
    seen.set(k, where.split('.')[0]!);
  };
  for (const [k, v] of Object.entries(asObject(o.base, `${what}: base`))) {
    const key = fieldOf(k, `${what}: base`);
    claim(key, `base.${jsonKey(key)}`);
    spec.base[jsonKey(key)] = v;
  }
  for (const part of ['grid', 'zip'] as const) {
    let len = -1;
    for (const [k, v] of Object.entries(asObject(o[part], `${what}: ${part}`))) {
      const key = fieldOf(k, `${what}: ${part}`);
      if (key === 'seed' && o.seeds !== undefined) throw new UsageError(`${what}: ${part}.seed and seeds: both set the seed; use one`);
      claim(key, `${part}.${jsonKey(key)}`);
      if (!Array.isArray(v) || v.length === 0) throw new UsageError(`${what}: ${part}.${jsonKey(key)} must be a non-empty list of values, got ${JSON.stringify(v)}`);
      if (v.length > MAX_RUNS) throw new UsageError(`${what}: ${part}.${jsonKey(key)} lists ${v.length} values; at most ${MAX_RUNS} (the runs one sweep may have)`);
      if (part === 'zip') {
        if (len >= 0 && v.length !== len) throw new UsageError(`${what}: zip lists must have the same length; zip.${jsonKey(key)} has ${v.length} values, the others ${len}`);
        len = v.length;
      }
      spec[part][jsonKey(key)] = v;
    }
  }
  if (o.seeds !== undefined && o.seeds !== null) {
    const s = o.seeds;
    const count = typeof s === 'number' || (typeof s === 'string' && /^\d+$/.test(s.trim()));
    // base.seed is where `seeds: N` starts; a grid/zip seed or a base seed with a seed list would clash
    if (seen.has('seed') && !(count && seen.get('seed') === 'base')) throw new UsageError(`${what}: seeds: and ${seen.get('seed')}.seed both set the seed; use one`);
    if (count) {
      const n = Number(s);
      if (!Number.isSafeInteger(n) || n < 1 || n > MAX_RUNS) throw new UsageError(`${what}: seeds must be a count 1..${MAX_RUNS} or a list of seeds, got ${JSON.stringify(s)}`);
      const first = spec.base.seed !== undefined ? Number(parseOne('seed', spec.base.seed, `${what}: base.seed`)) : (FIELD_BY_KEY.get('seed')!.default as number);
      const max = FIELD_BY_KEY.get('seed')!.max!;
      if (first + n - 1 > max) {
        throw new UsageError(`${what}: seeds: ${n} counts from seed ${first} (base.seed, or --seed) to ${first + n - 1}, past the largest seed ${max}; start lower or give fewer seeds`);
      }
      spec.seeds = Array.from({ length: n }, (_, i) => first + i);
      // the count is now the list; base.seed (its start) would clash with it when the spec is normalised again
      delete spec.base.seed;
    } else if (Array.isArray(s) && s.length > 0) {
      if (s.length > MAX_RUNS) throw new UsageError(`${what}: seeds lists ${s.length} seeds; at most ${MAX_RUNS} (the runs one sweep may have)`);
      spec.seeds = s.map((x, i) => Number(parseOne('seed', x, `${what}: seeds[${i}]`)));
      const dup = firstRepeat(spec.seeds.map(String));
      if (dup >= 0) throw new UsageError(`${what}: seeds lists ${spec.seeds[dup]} twice`);
    } else {
      throw new UsageError(`${what}: seeds must be a count 1..${MAX_RUNS} or a non-empty list of seeds, got ${JSON.stringify(s)}`);
    }
  }
  return spec;
}

/** The index of the first value seen before (by its string), or -1: one pass, O(n). */
function firstRepeat(keys: readonly string[]): number {
  const seen = new Set<string>();
  for (let i = 0; i < keys.length; i++) {
    if (seen.has(keys[i]!)) return i;
    seen.add(keys[i]!);
  }
  return -1;
}

/** Parse spec text: YAML (JSON is YAML too), at most MAX_SPEC_BYTES. */
export function parseSpecText(text: string, what = 'sweep spec'): SweepSpec {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_SPEC_BYTES) throw new UsageError(tooBig(what, bytes));
  let obj: unknown;
  try {
    obj = parseYaml(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0]!.replace(/:\s*$/, '') : String(err); // the parser's first line ends with ':' before its code frame
    throw new UsageError(`${what} is not valid YAML/JSON: ${msg}`);
  }
  return normaliseSpec(obj, what);
}

/** Short names of fields in run names; others use their snake_case key. */
const SHORT: Partial<Record<FieldKey, string>> = { heads: 'h', seed: 'seed', d: 'd', contextLength: 'L', noiseStd: 'noise', layers: 'layers', lr: 'lr', batchSize: 'B' };

function nameValue(v: unknown): string {
  const s = Array.isArray(v) ? v.join('_') : String(v);
  return s.replace(/[^A-Za-z0-9._+-]/g, '_');
}

/** The canonical config hash (job id of the queue, identity of a run in sweep.json). */
export function configHash(c: TrainConfig): string {
  return createHash('sha256').update(JSON.stringify(configToJson(c))).digest('hex').slice(0, 16);
}

/**
 * Expand the spec into one validated config per run. Axes: grid keys in order (first slowest),
 * then the zip group, then seeds (fastest). A bad combination names its grid position.
 */
export function expandSweep(spec: SweepSpec, what = 'sweep spec'): SweepRunPlan[] {
  const base: PartialSpec = {};
  for (const [k, v] of Object.entries(spec.base)) {
    const key = fieldOf(k, `${what}: base`);
    base[key] = parseOne(key, v, `${what}: base.${k}`);
    if (Array.isArray(base[key]) && FIELD_BY_KEY.get(key)!.kind !== 'pair') {
      throw new UsageError(`${what}: base.${k} is a list; put varying values under grid:`);
    }
  }
  // the number of runs from the axes' lengths, before any value is parsed
  const zipLen = Object.values(spec.zip)[0]?.length ?? 1;
  const total = Object.values(spec.grid).reduce((n, vs) => n * vs.length, zipLen * (spec.seeds?.length ?? 1));
  if (total > MAX_RUNS) throw new UsageError(`${what} asks for ${total} runs; at most ${MAX_RUNS} in one sweep`);
  type Axis = { label: string; values: { set: PartialSpec; show: Record<string, unknown>; pos: string }[] };
  const axes: Axis[] = [];
  for (const [k, vs] of Object.entries(spec.grid)) {
    const key = fieldOf(k, `${what}: grid`);
    const parsed = vs.map((v, i) => parseOne(key, v, `${what}: grid.${k}[${i}] = ${JSON.stringify(v)}`));
    const dup = firstRepeat(parsed.map((x) => JSON.stringify(x)));
    if (dup >= 0) throw new UsageError(`${what}: grid.${k} lists ${JSON.stringify(vs[dup])} twice`);
    axes.push({ label: k, values: parsed.map((x, i) => ({ set: { [key]: x }, show: { [k]: x }, pos: `grid.${k}[${i}]` })) });
  }
  const zipKeys = Object.keys(spec.zip);
  if (zipKeys.length > 0) {
    const n = spec.zip[zipKeys[0]!]!.length;
    const values: Axis['values'] = [];
    for (let i = 0; i < n; i++) {
      const set: PartialSpec = {};
      const show: Record<string, unknown> = {};
      for (const k of zipKeys) {
        const key = fieldOf(k, `${what}: zip`);
        const raw = spec.zip[k]![i];
        set[key] = parseOne(key, raw, `${what}: zip.${k}[${i}] = ${JSON.stringify(raw)}`);
        show[k] = set[key];
      }
      values.push({ set, show, pos: `zip[${i}]` });
    }
    axes.push({ label: 'zip', values });
  }
  if (spec.seeds) axes.push({ label: 'seed', values: spec.seeds.map((s, i) => ({ set: { seed: s }, show: { seed: s }, pos: `seeds[${i}]` })) });

  const runs: SweepRunPlan[] = [];
  const idx = new Array<number>(axes.length).fill(0);
  for (let r = 0; r < total; r++) {
    let rest = r;
    for (let a = axes.length - 1; a >= 0; a--) {
      idx[a] = rest % axes[a]!.values.length;
      rest = Math.floor(rest / axes[a]!.values.length);
    }
    const picked = axes.map((a, i) => a.values[idx[i]!]!);
    const merged: PartialSpec = { ...base };
    const vary: Record<string, unknown> = {};
    for (const p of picked) {
      Object.assign(merged, p.set);
      Object.assign(vary, p.show);
    }
    let config: TrainConfig;
    try {
      config = resolveConfig(merged, new Set(Object.keys(merged) as FieldKey[]), { wasmAvailable: wasmAvailable() });
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      const where = picked.length ? ` (run ${r + 1} of ${total}: ${picked.map((p) => `${p.pos} ${Object.entries(p.show).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`).join(', ')})` : '';
      throw new UsageError(`${what}: ${err.message}${where}`);
    }
    const name = Object.keys(vary).length === 0 ? 'run' : Object.entries(vary).map(([k, v]) => {
      const key = fieldOf(k, what);
      return `${SHORT[key] ?? k}${nameValue(v)}`;
    }).join('-');
    runs.push({ name: checkRunName(name, `${what} (run ${r + 1} of ${total})`), hash: configHash(config), config, vary });
  }
  const names = new Set<string>();
  for (const r of runs) {
    if (names.has(r.name)) throw new UsageError(`${what}: two runs would both be named ${r.name}; the grid lists equal values`);
    names.add(r.name);
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------
// The flag form: --grid heads=1,2 --zip d=3,5 --zip lr=1e-3,5e-4 --seeds 3 + train flags as base
// ---------------------------------------------------------------------------------------------

function splitAssignment(s: string, flag: string): [string, string[]] {
  const eq = s.indexOf('=');
  if (eq <= 0 || eq === s.length - 1) throw new UsageError(`${flag} must look like FIELD=v1,v2,... (e.g. ${flag} heads=1,2,4), got ${JSON.stringify(s)}`);
  const vals = s.slice(eq + 1).split(',').map((x) => x.trim());
  if (vals.some((x) => x === '')) throw new UsageError(`${flag} ${s}: an empty value in the list`);
  return [s.slice(0, eq).trim(), vals];
}

/**
 * A spec from flags. `base` holds train flags already parsed (config.ts parseFlags); a list given
 * as a plain train flag (`--heads 1,2`) becomes a grid axis too.
 */
export function specFromFlags(base: PartialSpec, grid: readonly string[], zip: readonly string[], seeds?: string): SweepSpec {
  const obj: Record<string, unknown> = { base: {}, grid: {}, zip: {} };
  const b = obj.base as Record<string, unknown>;
  const g = obj.grid as Record<string, unknown[]>;
  const z = obj.zip as Record<string, unknown[]>;
  for (const [k, v] of Object.entries(base) as [FieldKey, RawValue][]) {
    if (Array.isArray(v) && FIELD_BY_KEY.get(k)!.kind !== 'pair') g[jsonKey(k)] = v;
    else b[jsonKey(k)] = v;
  }
  for (const s of grid) {
    const [k, vals] = splitAssignment(s, '--grid');
    const key = fieldOf(k, '--grid');
    if (g[jsonKey(key)] !== undefined || b[jsonKey(key)] !== undefined) throw new UsageError(`--grid ${jsonKey(key)}: the field is set twice`);
    g[jsonKey(key)] = vals;
  }
  for (const s of zip) {
    const [k, vals] = splitAssignment(s, '--zip');
    const key = fieldOf(k, '--zip');
    if (z[jsonKey(key)] !== undefined) throw new UsageError(`--zip ${jsonKey(key)}: the field is set twice`);
    z[jsonKey(key)] = vals;
  }
  if (seeds !== undefined) {
    const t = seeds.trim();
    obj.seeds = /^\d+$/.test(t) ? Number(t) : t.split(',').map((x) => x.trim());
  }
  return normaliseSpec(obj, 'the --grid/--zip/--seeds flags');
}

/** "SPEC is N MB, larger than ..." (for the text, or the file before it is read). */
export function tooBig(what: string, bytes: number): string {
  return `${what} is ${formatBytes(bytes)}, larger than the ${formatBytes(MAX_SPEC_BYTES)} a sweep spec may have (at most ${MAX_RUNS} runs, and values of one axis are listed once); give a smaller spec`;
}

/**
 * Read a spec file: a regular file (a FIFO would block forever, /dev/zero never ends) of at most
 * MAX_SPEC_BYTES, checked before it is opened; one line for every way it can be wrong.
 */
export function readSpecFile(path: string): string {
  const st = checkInputFile(path, 'spec', () => new UsageError(`${path}: no such spec file`));
  if (st.isDirectory()) throw new UsageError(`${path}: is a directory, not a spec file`);
  if (st.size > MAX_SPEC_BYTES) throw new UsageError(tooBig(path, st.size));
  return readInputFile(path, 'spec', () => new UsageError(`${path}: no such spec file`)).toString('utf8');
}

/** Run names and hashes of a plan, for comparing with sweep.json. */
export function planKey(runs: readonly SweepRunPlan[]): string {
  return runs.map((r) => `${r.name}=${r.hash}`).join('\n');
}

/**
 * The spec of a file and/or flags: the flags override the file's base, add grid axes and replace its
 * zip and seeds; null when there is neither a file nor a flag (continue the sweep in DIR).
 */
export function specFromFileAndFlags(specPath: string | undefined, base: PartialSpec, grid: readonly string[], zip: readonly string[], seeds?: string): SweepSpec | null {
  const hasFlags = Object.keys(base).length > 0 || grid.length > 0 || zip.length > 0 || seeds !== undefined;
  if (specPath === undefined && !hasFlags) return null;
  const fromFlags = specFromFlags(base, grid, zip, seeds);
  if (specPath === undefined) return fromFlags;
  const file = parseSpecText(readSpecFile(specPath), specPath);
  const merged = {
    base: { ...Object.fromEntries(Object.entries(file.base).filter(([k]) => !(k in fromFlags.grid))), ...fromFlags.base },
    grid: { ...Object.fromEntries(Object.entries(file.grid).filter(([k]) => !(k in fromFlags.base))), ...fromFlags.grid },
    zip: Object.keys(fromFlags.zip).length ? fromFlags.zip : file.zip,
    ...(fromFlags.seeds ? { seeds: fromFlags.seeds } : file.seeds ? { seeds: file.seeds } : {}),
  };
  return normaliseSpec(merged, `${specPath} with the flags`);
}
