/**
 * JSON as the CLI prints it: keys in snake_case (as run.json), non-finite numbers as null. Keys of
 * the objects under `methods` (user-chosen names such as run names) are left as they are; single
 * capitals (d, E, H, L: the math symbols) stay.
 */
const FREE_KEYS = new Set(['methods']);

/** camelCase -> snake_case ("noiseStd" -> "noise_std", "lOverLPlusD" -> "l_over_l_plus_d"); "E", "L" unchanged. */
export function snakeKey(k: string): string {
  if (!/[a-z0-9][A-Z]/.test(k)) return k;
  return k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/** A copy of `v` with snake_case keys (typed arrays become arrays), non-finite numbers null. */
export function snakeCase(v: unknown, free = false): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v === null || typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, (x) => (Number.isFinite(x) ? x : null));
  if (Array.isArray(v)) return v.map((x) => snakeCase(x));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined) continue;
    out[free ? k : snakeKey(k)] = snakeCase(x, !free && FREE_KEYS.has(k));
  }
  return out;
}

/** JSON.stringify with snake_case keys and null for non-finite numbers. */
export function toJson(v: unknown): string {
  return JSON.stringify(snakeCase(v));
}
