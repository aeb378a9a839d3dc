/**
 * "What differs from the others": the config fields whose values are not the same for every run of
 * a list, as `key=value`. Left out (NOT_DIFFERS): the logging fields (run/config.ts FIELDS with
 * `logging`), steps (the step column shows it) and engine (a kernel: the same results to ~1e-15);
 * and pool_seed unless a run has a task pool (only a pool run reads it). Pure: the server (data.ts)
 * fills the rows of every response with it, the runs table recomputes it over the rows it shows.
 */
import { FIELDS, jsonKey } from '../run/config.js';

export const NOT_DIFFERS: ReadonlySet<string> = new Set([...FIELDS.filter((f) => f.logging).map((f) => jsonKey(f.key)), 'steps', 'engine']);

/** For each config, `key=value` of the fields that vary across `configs` (sorted by key). */
export function differences(configs: readonly Record<string, unknown>[]): string[][] {
  const keys = new Set<string>();
  for (const c of configs) for (const k of Object.keys(c)) if (!NOT_DIFFERS.has(k)) keys.add(k);
  // pool_seed is read only by a task-pool run (task_pool > 0); elsewhere it just repeats the seed
  if (configs.every((c) => !(Number(c['task_pool'] ?? 0) > 0))) keys.delete('pool_seed');
  const varying = [...keys].filter((k) => new Set(configs.map((c) => JSON.stringify(c[k]))).size > 1).sort();
  return configs.map((c) => varying.map((k) => `${k}=${JSON.stringify(c[k] ?? null)}`));
}
