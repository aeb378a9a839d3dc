/**
 * The training configuration: ONE field table drives the CLI flags, the `--config FILE.json` keys,
 * validation, and the `config` object stored in run.json.
 *
 * Defaults ARE the notebook's main experiment (`config_1`, SEED_NOTES #8): one layer, H = 2,
 * d = 5, L = 40, Adam, lr 1e-3, batch 128, noise_std 0.01, 500,001 steps, logging every 1,000
 * steps, printing every 50,000, seed 1024, init random. So `icl-lab train --out runs/h2` IS the
 * notebook's H = 2 run.
 *
 * Naming: TypeScript property `contextLength` <-> flag `--context-length` <-> JSON key `context_length`.
 * Pure module (no node:* imports): strings/objects in, a validated TrainConfig or a UsageError out.
 */
import { didYouMean, UsageError } from '../errors.js';
import { formatTasks, parseTasks } from '../data/multitask.js';

import type { PresetName } from '../data/task.js';
import type { EngineName } from '../engine/model.js';
import { ATTENTION_NAMES, type AttentionName } from '../model/attention-name.js';
import type { InitName } from '../model/init.js';
import type { OptimizerName } from '../optim/optim.js';

/**
 * What the platform says when defaults are resolved (passed in: no import side effects). In Node:
 * `{ wasmAvailable: wasmAvailable() }` from io/wasm.ts; without it the engine defaults to ts.
 */
export interface ConfigEnv {
  /** The WebAssembly kernel loads here: the default engine of a one-layer run is then wasm. */
  wasmAvailable?: boolean;
}

/** A fully resolved configuration of one training run (what run.json stores under `config`). */
export interface TrainConfig {
  /** Model family (run/model-families.ts): softmax = the seed's one-layer multi-head softmax attention (and its stacks). */
  attention: AttentionName;
  /** Task family (run/task-families.ts): gaussian = the seed's linear regression (either convention, AR(1) x); multitask = several coordinate blocks (`tasks`). Derived from `tasks` unless given. */
  task: TaskName;
  layers: number;
  heads: number;
  d: number;
  contextLength: number;
  nOut: number;
  /** Multi-task regression: coordinate blocks of x, "0:4,2:6" (data/multitask.ts and the multi-task modules of each layer); '' = the single task. */
  tasks: string;
  /** A finite pool of M tasks (data/beta-prior.ts); 0 = a fresh beta per prompt. */
  taskPool: number;
  /** Seed of the task pool's draw (default: seed). */
  poolSeed: number;
  /** s-sparse beta (data/beta-prior.ts); 0 = dense. */
  sparsity: number;
  weightTying: boolean;
  /** Kernel of the single-layer step: ts (engine/ts/attention.ts) or wasm (engine/wasm/attention.ts); runs are bit-identical within one engine. */
  engine: EngineName;
  preset: PresetName;
  noiseStd: number;
  rho: number;
  init: InitName;
  optimizer: OptimizerName;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  batchSize: number;
  steps: number;
  seed: number;
  dynamicsEvery: number;
  qkEvery: number;
  lossEvery: number;
  valEvery: number;
  valSamples: number;
  printEvery: number;
  checkpointEvery: number;
  checkpointSecs: number;
  divergeLoss: number;
}

export type FieldKey = keyof TrainConfig;
type Kind = 'int' | 'float' | 'enum' | 'bool' | 'pair' | 'tasks';

export interface Field {
  readonly key: FieldKey;
  readonly kind: Kind;
  /** Default; `null` = derived from other fields in resolve() (said in `help`). */
  readonly default: number | string | boolean | [number, number] | null;
  readonly help: string;
  /** Inclusive / exclusive bounds for numbers (each value of a pair). */
  readonly min?: number;
  readonly max?: number;
  readonly gt?: number;
  readonly lt?: number;
  readonly values?: readonly string[];
  /** Accepts a comma-separated list: one run per combination (`--heads 1,2,4,8`). */
  readonly list?: true;
  /** May be changed when resuming (does not change the trajectory). */
  readonly resumable?: true;
  /**
   * Says how the run logs, prints, checkpoints or guards itself, not what it trains: left out of the
   * web lab's "what differs from the others" (serve/data.ts NOT_DIFFERS).
   */
  readonly logging?: true;
  /** Placeholder in --help. */
  readonly arg?: string;
  /**
   * Added after runs existed: configToJson leaves it out where it has its (derived) default, so the
   * checkpoints and sweep ids of earlier runs keep their bytes; run.json states it (explicit).
   */
  readonly implicit?: true;
}

/** The model families a config can name (run/model-families.ts registers each; the names: model/attention-name.ts). */
export { ATTENTION_NAMES, type AttentionName };
/** The task families a config can name (run/task-families.ts registers each). */
export type TaskName = 'gaussian' | 'pool' | 'sparse' | 'multitask';
export const TASK_NAMES: readonly TaskName[] = ['gaussian', 'pool', 'sparse', 'multitask'];

const MAX_STEPS = 100_000_000; // train_loss is preallocated: 8 bytes per step
const BIG = 1e12;

/** The field table. Order = order in --help and in run.json. */
export const FIELDS: readonly Field[] = [
  { key: 'attention', kind: 'enum', default: 'softmax', values: ATTENTION_NAMES, implicit: true, help: "model family: softmax = the seed's multi-head softmax attention; linear = linear attention a_i = s_i / L (Zhang-Frei-Bartlett), linear-sum = a_i = s_i (von Oswald et al.), one layer (docs/readme/linear-attention.md)" },
  { key: 'task', kind: 'enum', default: null, values: TASK_NAMES, implicit: true, help: 'task family: gaussian = linear regression y = beta^T x + noise (the seed\'s; --preset, --rho, --noise-std); pool = beta from a finite pool of --task-pool tasks; sparse = --sparsity-sparse beta; multitask = one task per coordinate block of --tasks. Default: the one the other flags give, else gaussian (docs/readme/task-families.md)' },
  { key: 'layers', kind: 'int', default: 1, min: 1, max: 64, help: 'attention layers: 1 = the seed\'s single-layer model; > 1 = a strictly-causal stack with final_linear (docs/readme/stack.md)' },
  { key: 'heads', kind: 'int', default: 2, min: 1, max: 256, list: true, help: 'heads H (list: one run each, e.g. 1,2,4,8)' },
  { key: 'd', kind: 'int', default: 5, min: 1, max: 1024, list: true, help: 'regression dimension d (token width E = d+1)' },
  { key: 'contextLength', kind: 'int', default: 40, min: 1, max: 100_000, list: true, arg: '<L>', help: 'context length L (in-context examples per prompt)' },
  { key: 'nOut', kind: 'int', default: 1, min: 1, max: 64, help: 'output width n_out (1; with --tasks the number of tasks)' },
  { key: 'tasks', kind: 'tasks', default: '', arg: '<blocks>', help: "multi-task regression (the authors' icl_linear_multitask): one task per coordinate block x[START:END) of x, e.g. 0:4,2:6; beta_k ~ N(0, I), context noise sqrt(dx_k)*noise_std, noise-free query targets; tokens [x, y_1..y_N], n_out = N (docs/readme/paper.md). Empty: the single task" },
  { key: 'taskPool', kind: 'int', default: 0, min: 0, max: 1_048_576, list: true, implicit: true, arg: '<M>', help: 'a finite pool of M tasks (Raventós et al. 2023): M betas drawn once from the prior (from --pool-seed), each prompt\'s beta uniform among them; the pool is saved as task_pool.safetensors (0 = a fresh beta per prompt)' },
  { key: 'poolSeed', kind: 'int', default: null, min: 0, max: 4_294_967_295, implicit: true, help: 'RNG seed of the task pool\'s draw (default: --seed)' },
  { key: 'sparsity', kind: 'int', default: 0, min: 0, max: 1024, list: true, implicit: true, arg: '<s>', help: 's-sparse beta (Garg et al. 2022): s of the d coordinates, support uniform per prompt, entries scaled by sqrt(d/s) so E||beta||^2 is unchanged (0 = dense)' },
  { key: 'weightTying', kind: 'bool', default: false, help: 'tie the weights of all layers (needs --layers > 1)' },
  { key: 'engine', kind: 'enum', default: null, values: ['ts', 'wasm'], help: 'kernel of the training step: ts (TypeScript) or wasm (WebAssembly SIMD, same float64 results to ~1e-15; a run resumes on its own engine). Default: wasm when dist/wasm/attention.wasm loads, else ts (a stack, --layers > 1, a multi-task run, --tasks, and linear attention, --attention linear, have wasm kernels too: asm/stack.ts, asm/multitask.ts, asm/linear-attention.ts)' },
  { key: 'preset', kind: 'enum', default: 'seed', values: ['seed', 'paper'], help: "task convention: seed (beta~N(0,I), y noise sqrt(d)*noise_std, noise-free y_q) or paper (beta~N(0,I/d), noise on context and query)" },
  { key: 'noiseStd', kind: 'float', default: 0.01, min: 0, max: 1e6, help: 'label noise standard deviation' },
  { key: 'rho', kind: 'float', default: 0, min: 0, lt: 1, help: 'x covariance Sigma_ij = rho^|i-j| (0 = isotropic, the seed)' },
  { key: 'init', kind: 'enum', default: 'random', values: ['random', 'small_id', 'small_id_qk', 'oppo_small_id', 'zfb'], help: 'weight initialisation, the seed\'s (docs/readme/train.md): small_id = 1e-6 identities in q, k, v, and in o_proj only where it writes a whole token (a stack layer; the one-layer model\'s scalar o_proj stays random, as in the seed); zfb = Zhang-Frei-Bartlett\'s: every head a small GD construction, QK x-block 0.1 I, OV y-entry 0.1, all else 0 (one-layer single-task model; docs/readme/linear-attention.md)' },
  { key: 'optimizer', kind: 'enum', default: 'adam', values: ['sgd', 'adam', 'adamw'], help: 'optimizer' },
  { key: 'lr', kind: 'float', default: 1e-3, gt: 0, max: 1e12, help: 'learning rate' },
  { key: 'betas', kind: 'pair', default: [0.9, 0.999], min: 0, lt: 1, arg: '<b1,b2>', help: 'Adam/AdamW betas' },
  { key: 'eps', kind: 'float', default: 1e-8, gt: 0, max: 1, help: 'Adam/AdamW epsilon' },
  { key: 'weightDecay', kind: 'float', default: null, min: 0, max: 1e6, help: 'weight decay (default: 0.001 for adamw, 0 otherwise)' },
  { key: 'batchSize', kind: 'int', default: 128, min: 1, max: 1_000_000, help: 'prompts per training step' },
  { key: 'steps', kind: 'int', default: 500_001, min: 1, max: MAX_STEPS, resumable: true, help: 'total training steps of the run' },
  { key: 'seed', kind: 'int', default: 1024, min: 0, max: 4_294_967_295, list: true, help: 'RNG seed (init and data)' },
  { key: 'dynamicsEvery', logging: true, kind: 'int', default: 1000, min: 1, max: BIG, help: 'log w^h and mu^h of every head every N steps' },
  { key: 'qkEvery', logging: true, kind: 'int', default: 1000, min: 1, max: BIG, help: 'snapshot QK^h and OV^h matrices every N steps' },
  { key: 'lossEvery', logging: true, kind: 'int', default: 1000, min: 1, max: BIG, resumable: true, help: 'refresh the loss shown in the progress display every N steps (train_loss itself is stored at every step)' },
  { key: 'divergeLoss', logging: true, kind: 'float', default: 1e8, min: 0, max: 1e300, resumable: true, help: 'stop the run as failed (diverged) when the training loss is not finite or above this (0 = only when not finite)' },
  { key: 'valEvery', logging: true, kind: 'int', default: 1000, min: 1, max: BIG, help: 'validation loss on a fresh batch every N steps' },
  { key: 'valSamples', logging: true, kind: 'int', default: null, min: 1, max: 10_000_000, help: 'prompts in each validation batch (default: --batch-size, as the seed)' },
  { key: 'printEvery', logging: true, kind: 'int', default: 50_000, min: 1, max: BIG, resumable: true, help: "print the seed's 'After N steps' line every N steps (at validation steps)" },
  { key: 'checkpointEvery', logging: true, kind: 'int', default: 0, min: 0, max: BIG, resumable: true, help: 'write checkpoint + metrics every N steps (0 = only by time)' },
  { key: 'checkpointSecs', logging: true, kind: 'float', default: 30, min: 0, max: 1e9, resumable: true, help: 'write checkpoint + metrics every S seconds (0 = only by steps)' },
];

export const FIELD_BY_KEY: ReadonlyMap<FieldKey, Field> = new Map(FIELDS.map((f) => [f.key, f]));

/** `contextLength` -> `--context-length`. */
export function flagName(key: FieldKey): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
/** `contextLength` -> `context_length`. */
export function jsonKey(key: FieldKey): string {
  return key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}
const KEY_BY_JSON: ReadonlyMap<string, FieldKey> = new Map(
  FIELDS.flatMap((f) => [[jsonKey(f.key), f.key], [flagName(f.key).slice(2), f.key]] as [string, FieldKey][]),
);

/**
 * A checked config from overrides of the defaults, for library callers (`icl-lab reproduce`):
 * `makeTrainConfig({ heads: 4, steps: 20_000 })`. Values are validated like flags (UsageError).
 * Derived fields (weight_decay, val_samples) follow the overrides unless given.
 */
export function makeTrainConfig(overrides: Partial<TrainConfig> = {}, env: ConfigEnv = {}): TrainConfig {
  const obj: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) obj[FIELD_BY_KEY.has(k as FieldKey) ? jsonKey(k as FieldKey) : k] = v;
  return resolveConfig(parseConfigObject(obj, 'makeTrainConfig'), new Set(), env);
}

/** The notebook's main experiment with derived fields resolved. */
export function defaultTrainConfig(env: ConfigEnv = {}): TrainConfig {
  return resolveConfig({}, new Set(), env);
}

// ---------------------------------------------------------------------------------------------
// Parsing single values
// ---------------------------------------------------------------------------------------------

const NUMBER_RE = /^[+-]?(\d[\d_]*(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

function describeAllowed(f: Field): string {
  if (f.kind === 'enum') return `one of ${f.values!.join(', ')}`;
  if (f.kind === 'bool') return 'true or false';
  if (f.kind === 'tasks') return 'coordinate blocks START:END,... (e.g. 0:4,2:6)';
  const what = f.kind === 'int' ? 'an integer' : 'a number';
  const lo = f.gt !== undefined ? `> ${f.gt}` : f.min !== undefined ? `>= ${f.min}` : '';
  const hi = f.lt !== undefined ? `< ${f.lt}` : f.max !== undefined ? `<= ${fmt(f.max)}` : '';
  const range = [lo, hi].filter(Boolean).join(' and ');
  const base = f.min !== undefined && f.max !== undefined && f.min === f.max ? `${what} equal to ${f.min}` : `${what}${range ? ' ' + range : ''}`;
  return f.kind === 'pair' ? `two numbers "b1,b2", each ${range}` : base;
}

function fmt(x: number): string {
  const e = x.toExponential();
  return Math.abs(x) >= 1e6 && !e.includes('.') ? e.replace('e+', 'e') : String(x);
}

function usage(f: Field, got: unknown, src: Source): UsageError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : safeJson(got);
  const where = src === 'json' ? `config key "${jsonKey(f.key)}"` : flagName(f.key);
  const hint = listHint(f, got, src);
  return new UsageError(`${where} must be ${describeAllowed(f)}, got ${shown}${hint?.text ?? ''}`, 2, hint?.command);
}

/** `--lr 1e-3,3e-3`: a list where the flag takes one value; says which flags take lists and how to grid this one. */
function listHint(f: Field, got: unknown, src: Source): { text: string; command: string } | undefined {
  if (src === 'json' || f.list || (f.kind !== 'int' && f.kind !== 'float') || typeof got !== 'string' || !got.includes(',')) return undefined;
  if (!got.split(',').every((x) => NUMBER_RE.test(x.trim()))) return undefined;
  const lists = FIELDS.filter((x) => x.list).map((x) => flagName(x.key)).join(', ');
  return { text: `; only ${lists} take lists (one run each); for a grid over ${flagName(f.key)}:`, command: `sweep --grid ${jsonKey(f.key)}=${got.replace(/\s+/g, '')} --out DIR` };
}

function safeJson(x: unknown): string {
  try {
    const s = JSON.stringify(x);
    return s === undefined ? String(x) : s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(x);
  }
}

type Source = 'flag' | 'json';

function checkNumber(f: Field, x: number, got: unknown, src: Source): number {
  if (!Number.isFinite(x)) throw usage(f, got, src);
  if (f.kind === 'int' && !Number.isSafeInteger(x)) throw usage(f, got, src);
  if (f.min !== undefined && x < f.min) throw usage(f, got, src);
  if (f.max !== undefined && x > f.max) throw usage(f, got, src);
  if (f.gt !== undefined && !(x > f.gt)) throw usage(f, got, src);
  if (f.lt !== undefined && !(x < f.lt)) throw usage(f, got, src);
  return x;
}

function parseNumberText(f: Field, s: string, src: Source, whole: unknown): number {
  const t = s.trim();
  if (!NUMBER_RE.test(t)) throw usage(f, whole, src);
  return checkNumber(f, Number(t.replace(/_/g, '')), whole, src);
}

/** One scalar value from a flag string or a JSON value. */
function parseScalar(f: Field, v: unknown, src: Source, whole: unknown = v): number | string | boolean | [number, number] {
  switch (f.kind) {
    case 'int':
    case 'float':
      if (typeof v === 'number') return checkNumber(f, v, whole, src);
      if (typeof v === 'string') return parseNumberText(f, v, src, whole);
      throw usage(f, whole, src);
    case 'enum': {
      const s = typeof v === 'string' ? v.trim().toLowerCase() : v;
      if (typeof s === 'string' && f.values!.includes(s)) return s;
      throw usage(f, whole, src);
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw usage(f, whole, src);
    case 'tasks': {
      if (v === '' || v === null) return '';
      const text = typeof v === 'string' ? v : Array.isArray(v) && v.every((b) => Array.isArray(b) && b.length === 2) ? v.map((b) => `${b[0]}:${b[1]}`).join(',') : null;
      if (text === null) throw usage(f, whole, src);
      try {
        return formatTasks(parseTasks(text));
      } catch (e) {
        throw new UsageError(`${src === 'json' ? `config key "${jsonKey(f.key)}"` : flagName(f.key)}: ${(e as Error).message.replace(/^tasks: /, '')}`);
      }
    }
    case 'pair': {
      const parts = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : null;
      if (!parts || parts.length !== 2) throw usage(f, whole, src);
      const [a, b] = parts.map((p) => {
        if (typeof p === 'number') return checkNumber(f, p, whole, src);
        if (typeof p === 'string') return parseNumberText(f, p, src, whole);
        throw usage(f, whole, src);
      }) as [number, number];
      return [a, b];
    }
  }
}

/** A field value as given: a scalar, or for list fields possibly several. */
export type RawValue = number | string | boolean | [number, number] | number[];

function parseValue(f: Field, v: unknown, src: Source): RawValue {
  if (f.list) {
    const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [v];
    if (items.length === 0) throw usage(f, v, src);
    const out = items.map((it) => parseScalar(f, it, src, v) as number);
    const seen = new Set<number>();
    for (const x of out) {
      if (seen.has(x)) throw new UsageError(`${src === 'json' ? `config key "${jsonKey(f.key)}"` : flagName(f.key)} lists ${x} twice`);
      seen.add(x);
    }
    return out.length === 1 ? out[0]! : out;
  }
  return parseScalar(f, v, src);
}

// ---------------------------------------------------------------------------------------------
// Sources: flags (strings from commander) and JSON config objects
// ---------------------------------------------------------------------------------------------

/** Partial, parsed (but not yet cross-checked) settings. List fields may hold several values. */
export type PartialSpec = Partial<Record<FieldKey, RawValue>>;

/**
 * Parse flag values as commander hands them over (`{ contextLength: '40', weightTying: true }`,
 * keys = TrainConfig property names; undefined = not given). Non-field keys are ignored.
 */
export function parseFlags(opts: Record<string, unknown>): PartialSpec {
  const out: PartialSpec = {};
  for (const f of FIELDS) {
    const v = opts[f.key];
    if (v === undefined) continue;
    out[f.key] = parseValue(f, v, 'flag');
  }
  return out;
}

/** Parse a `--config` JSON object: keys in snake_case (`context_length`) or flag form (`context-length`). */
export function parseConfigObject(obj: unknown, what = 'config file'): PartialSpec {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new UsageError(`${what} must hold a JSON object of settings, e.g. {"heads": 4, "lr": 0.001}`);
  }
  const out: PartialSpec = {};
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const key = KEY_BY_JSON.get(k);
    if (!key) {
      throw new UsageError(`${what}: unknown key "${k}";${didYouMean(k, FIELDS.map((f) => jsonKey(f.key))) || ' not a setting.'} Allowed: ${FIELDS.map((f) => jsonKey(f.key)).join(', ')}`);
    }
    if (out[key] !== undefined) throw new UsageError(`${what}: "${k}" given twice (as ${jsonKey(key)} and ${flagName(key).slice(2)})`);
    if (v === null && FIELD_BY_KEY.get(key)!.default === null) continue; // null = "use the derived default"
    out[key] = parseValue(FIELD_BY_KEY.get(key)!, v, 'json');
  }
  return out;
}

/**
 * Parse the text of a `--config` file: an object of settings, or a run's run.json (its `config`
 * is used, so `--config runs/h2/run.json --seed 7` repeats a run with another seed).
 */
export function parseConfigText(text: string, what = 'config file'): PartialSpec {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (obj !== null && typeof obj === 'object' && 'icl_lab_version' in obj && 'config' in obj) {
    return parseConfigObject((obj as { config: unknown }).config, `${what} (run.json config)`);
  }
  return parseConfigObject(obj, what);
}

// ---------------------------------------------------------------------------------------------
// Resolution: defaults, derived fields, list expansion, cross-field checks
// ---------------------------------------------------------------------------------------------

/** Keys of the list fields that hold several values in `spec`, in table order. */
export function varyingKeys(spec: PartialSpec): FieldKey[] {
  return FIELDS.filter((f) => f.list && Array.isArray(spec[f.key])).map((f) => f.key);
}

/**
 * Merge `spec` over the defaults, expand lists into one config per combination (table order:
 * heads varies slowest, seed fastest), fill derived fields and check every combination. `given` = keys the user set on the command line
 * (used only for "this flag has no effect with ..." errors).
 */
export function resolveConfigs(spec: PartialSpec, given: ReadonlySet<FieldKey> = new Set(), env: ConfigEnv = {}): TrainConfig[] {
  const vary = varyingKeys(spec);
  let combos: PartialSpec[] = [{ ...spec }];
  for (const key of vary) {
    const next: PartialSpec[] = [];
    for (const c of combos) for (const x of spec[key] as number[]) next.push({ ...c, [key]: x });
    combos = next;
  }
  if (combos.length > 4096) throw new UsageError(`the lists ask for ${combos.length} runs; at most 4096 at once`);
  return combos.map((c) => resolveConfig(c, given, env));
}

/** One config from scalar settings (lists not allowed here). */
export function resolveConfig(spec: PartialSpec, given: ReadonlySet<FieldKey> = new Set(), env: ConfigEnv = {}): TrainConfig {
  const cfg: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const v = spec[f.key];
    if (Array.isArray(v) && f.kind !== 'pair') throw new UsageError(`${flagName(f.key)}: a list is not allowed here`);
    cfg[f.key] = v !== undefined ? v : Array.isArray(f.default) ? [...f.default] : f.default;
  }
  const c = cfg as unknown as TrainConfig;
  if ((c.weightDecay as number | null) === null) c.weightDecay = c.optimizer === 'adamw' ? 1e-3 : 0; // SEED_NOTES #7
  if ((c.valSamples as number | null) === null) c.valSamples = c.batchSize;
  if ((c.engine as EngineName | null) === null) c.engine = env.wasmAvailable ? 'wasm' : 'ts';
  if ((c.poolSeed as number | null) === null) c.poolSeed = c.seed;
  if ((c.task as TaskName | null) === null) c.task = derivedTask(c);
  if (c.tasks !== '') {
    const N = parseTasks(c.tasks).length;
    if (given.has('nOut') && c.nOut !== N) throw new UsageError(`--n-out ${c.nOut} does not match --tasks ${c.tasks} (${N} tasks: n_out = ${N})`);
    c.nOut = N;
  }
  checkCombination(c, given);
  return c;
}

function checkCombination(c: TrainConfig, given: ReadonlySet<FieldKey>): void {
  const given1 = [c.tasks !== '' ? '--tasks' : '', c.taskPool > 0 ? '--task-pool' : '', c.sparsity > 0 ? '--sparsity' : ''].filter(Boolean);
  if (given1.length > 1) throw new UsageError(`${given1.join(' and ')} name different task families; give one of them`);
  if (c.task === 'multitask' && c.tasks === '') throw new UsageError('--task multitask needs its coordinate blocks: give --tasks, e.g. --tasks 0:4,2:6');
  if (c.task === 'pool' && c.taskPool === 0) throw new UsageError('--task pool needs its size: give --task-pool M');
  if (c.task === 'sparse' && c.sparsity === 0) throw new UsageError('--task sparse needs its sparsity: give --sparsity s');
  if (given1.length === 1 && derivedTask(c) !== c.task) throw new UsageError(`${given1[0]} belongs to the ${derivedTask(c)} family; it does not go with --task ${c.task}`);
  if (c.sparsity > c.d) throw new UsageError(`--sparsity ${c.sparsity} is more coordinates than --d ${c.d}`);
  if ((c.task === 'pool' || c.task === 'sparse') && c.layers !== 1) throw new UsageError(`--task ${c.task} trains the single-layer model; it needs --layers 1`);
  if (c.tasks === '' && c.nOut !== 1) throw new UsageError(`--n-out ${c.nOut}: the single regression task has one output; several outputs come with --tasks`);
  if (c.tasks !== '') {
    const tasks = parseTasks(c.tasks);
    const end = Math.max(...tasks.map((t) => t[1]));
    if (end > c.d) throw new UsageError(`--tasks ${c.tasks} reads x up to coordinate ${end}, but --d is ${c.d}`);
    if (c.layers !== 1) throw new UsageError('--tasks trains the single-layer model; it needs --layers 1');
    if (c.preset !== 'seed' || c.rho !== 0) throw new UsageError('--tasks has its own noise convention (the authors\' multi-task sampler); leave --preset and --rho at their defaults');
  }
  if (c.attention !== 'softmax') {
    if (c.layers !== 1) throw new UsageError(`--attention ${c.attention} is the one-layer model; it needs --layers 1, got ${c.layers}`);
    if (c.tasks !== '') throw new UsageError(`--attention ${c.attention} trains the single-task regression model; it does not go with --tasks`);
  }
  if (c.weightTying && c.layers === 1) {
    throw new UsageError('--weight-tying ties the weights of the layers of a stack; it needs --layers > 1');
  }
  if (c.init === 'zfb' && (c.layers !== 1 || c.tasks !== '')) throw new UsageError('--init zfb starts the one-layer single-task model in the GD subspace; it needs --layers 1 and no --tasks');
  if (c.init === 'oppo_small_id' && c.heads % 2 !== 0) {
    throw new UsageError(`--init oppo_small_id gives half the heads the opposite sign, so --heads must be even, got ${c.heads}`);
  }
  if (c.optimizer === 'sgd') {
    for (const k of ['betas', 'eps'] as const) {
      if (given.has(k)) throw new UsageError(`${flagName(k)} has no effect with --optimizer sgd (only adam, adamw)`);
    }
  }
  const values = c.batchSize * c.contextLength * (c.d + 1);
  if (values > 1e8) {
    throw new UsageError(`--batch-size x --context-length x (--d + 1) = ${values} values per batch; at most 1e8`);
  }
  const valValues = c.valSamples * c.contextLength * (c.d + 1);
  if (valValues > 1e8) {
    throw new UsageError(`--val-samples x --context-length x (--d + 1) = ${valValues} values per validation batch; at most 1e8`);
  }
  const snapValues = countLogged(c.steps, c.qkEvery) * c.layers * c.heads * (c.d + 1) * (c.d + 2);
  if (snapValues > 2e8) {
    throw new UsageError(`--qk-every ${c.qkEvery} with --steps ${c.steps} would keep ${snapValues} snapshot values; raise --qk-every`);
  }
  const dynValues = countLogged(c.steps, c.dynamicsEvery) * c.layers * c.heads * 2;
  if (dynValues > 2e8) {
    throw new UsageError(`--dynamics-every ${c.dynamicsEvery} with --steps ${c.steps} would keep ${dynValues} values; raise --dynamics-every`);
  }
}

/** How many of the steps 0..steps-1 are multiples of `every` (the seed logs at step % every == 0). */
export function countLogged(steps: number, every: number): number {
  return steps <= 0 ? 0 : Math.floor((steps - 1) / every) + 1;
}

/** Fields that differ between two configs, except the resumable ones. */
export function incompatibleFields(a: TrainConfig, b: TrainConfig): FieldKey[] {
  return FIELDS.filter((f) => !f.resumable && JSON.stringify(a[f.key]) !== JSON.stringify(b[f.key])).map((f) => f.key);
}

// ---------------------------------------------------------------------------------------------
// Serialisation (run.json `config`) and run names
// ---------------------------------------------------------------------------------------------

/** The task family the other fields give: --tasks, --task-pool or --sparsity, else gaussian. */
function derivedTask(c: TrainConfig): TaskName {
  return c.tasks !== '' ? 'multitask' : c.taskPool > 0 ? 'pool' : c.sparsity > 0 ? 'sparse' : 'gaussian';
}

/** The value an implicit field takes when not given. */
function implicitDefault(f: Field, c: TrainConfig): unknown {
  return f.key === 'task' ? derivedTask(c) : f.key === 'poolSeed' ? c.seed : f.default;
}

/**
 * The config as JSON: snake_case keys, table order. Implicit fields at their default are left out
 * (checkpoints, sweep ids) unless `explicit` (run.json states every field).
 */
export function configToJson(c: TrainConfig, o: { explicit?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    if (f.implicit && !o.explicit && c[f.key] === implicitDefault(f, c)) continue;
    out[jsonKey(f.key)] = c[f.key];
  }
  return out;
}

/** Read back a run.json `config` (strict: every key known and valid). */
export function configFromJson(obj: unknown, what = 'run.json config'): TrainConfig {
  // runs written before the engine field existed were trained on the TypeScript kernel
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj) && !('engine' in obj)) obj = { ...obj, engine: 'ts' };
  return resolveConfig(parseConfigObject(obj, what));
}

const NAME_PART: Partial<Record<FieldKey, string>> = { heads: 'h', seed: 'seed', d: 'd', contextLength: 'L' };

/**
 * Subdirectory name of a run inside `--out` when lists are given: only the varying field when one
 * list varies (`h2`, `seed7`, `d10`, `L80`), all four when several vary (`h2-seed1024-d5-L40`).
 */
export function runName(c: TrainConfig, vary: readonly FieldKey[]): string {
  const keys: FieldKey[] = vary.length === 1 ? [vary[0]!] : ['heads', 'seed', 'd', 'contextLength'];
  return keys.map((k) => `${NAME_PART[k] ?? k}${c[k]}`).join('-');
}

/** Keys (among the list fields) whose values differ across `configs`. */
export function varyingAcross(configs: readonly TrainConfig[]): FieldKey[] {
  return FIELDS.filter((f) => f.list && new Set(configs.map((c) => c[f.key])).size > 1).map((f) => f.key);
}

/** `--help` text of a field: `[type] meaning (default: x)`. */
export function fieldHelp(f: Field): string {
  const type = f.kind === 'tasks' ? 'start:end,...' : f.kind === 'enum' ? f.values!.join('|') : f.kind === 'pair' ? 'number,number' : f.kind === 'int' ? (f.list ? 'int[,int...]' : 'int') : f.kind === 'bool' ? 'flag' : 'number';
  const dflt = f.default === null || f.default === '' ? '' : ` (default: ${Array.isArray(f.default) ? f.default.join(',') : typeof f.default === 'number' ? fmt(f.default) : f.default})`;
  return `[${type}] ${f.help}${dflt}`;
}
