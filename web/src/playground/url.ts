/**
 * The playground's settings as its URL (as tensorflow/playground does): the hash's query holds every
 * setting that differs from the defaults, so a configuration is shared as a link. A value that is not
 * one the form allows is ignored (the default stays), never an error.
 */
import type { PlaygroundSettings } from './protocol';

type Key = keyof PlaygroundSettings;

/** The allowed values of each setting: a number range (integer or not) or a list. */
export const SETTING_RULES: { [K in Key]: { min: number; max: number; int: boolean } | readonly string[] } = {
  attention: ['softmax', 'linear', 'linear-sum'],
  heads: { min: 1, max: 16, int: true },
  d: { min: 1, max: 32, int: true },
  contextLength: { min: 1, max: 400, int: true },
  init: ['random', 'small_id', 'small_id_qk', 'oppo_small_id'],
  optimizer: ['adam', 'adamw', 'sgd'],
  lr: { min: 0, max: 1e6, int: false },
  noiseStd: { min: 0, max: 1e6, int: false },
  preset: ['seed', 'paper'],
  steps: { min: 1, max: 1_000_000, int: true },
  batchSize: { min: 1, max: 4096, int: true },
  seed: { min: 0, max: 4_294_967_295, int: true },
  engine: ['wasm', 'ts'],
};

/** The settings a query names, the defaults for the rest (and for any value out of range). */
export function settingsFromQuery(query: string, defaults: PlaygroundSettings): PlaygroundSettings {
  const q = new URLSearchParams(query);
  const out: Record<string, unknown> = { ...defaults };
  for (const k of Object.keys(SETTING_RULES) as Key[]) {
    const raw = q.get(k);
    if (raw === null) continue;
    const rule = SETTING_RULES[k];
    if (Array.isArray(rule)) {
      if (rule.includes(raw)) out[k] = raw;
    } else {
      const r = rule as { min: number; max: number; int: boolean };
      const v = Number(raw);
      if (raw.trim() !== '' && Number.isFinite(v) && v >= r.min && v <= r.max && (!r.int || Number.isInteger(v))) out[k] = v;
    }
  }
  return out as unknown as PlaygroundSettings;
}

/** The query of the settings that differ from the defaults ('' when none do). */
export function settingsToQuery(s: PlaygroundSettings, defaults: PlaygroundSettings): string {
  const q = new URLSearchParams();
  for (const k of Object.keys(SETTING_RULES) as Key[]) if (s[k] !== defaults[k]) q.set(k, String(s[k]));
  return q.toString();
}

/** The query part of this page's hash (`#/playground?heads=4` in the lab, `#?heads=4` in playground.html). */
export function hashQuery(): string {
  const h = location.hash;
  const i = h.indexOf('?');
  return i < 0 ? '' : h.slice(i + 1);
}

/** Put the settings into the hash without a new history entry or a hashchange. */
export function writeHashQuery(query: string): void {
  const h = location.hash;
  const i = h.indexOf('?');
  const base = i < 0 ? h : h.slice(0, i);
  const next = `${base || '#'}${query ? `?${query}` : ''}`;
  if (next !== (h || '#')) history.replaceState(null, '', `${location.pathname}${location.search}${next}`);
}
