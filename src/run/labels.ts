/**
 * A run's labels: a display name, tags and a note (`train --name NAME --tag T --tag U --note TEXT`),
 * recorded in run.json (`name`, `tags`, `note`) beside the config, never in it: they change nothing
 * the run computes, so they are not in the config hash, "what differs", or the checkpoint. A resume
 * keeps them. Sweeps tag their runs `sweep:<folder>`, `reproduce` tags `experiment:<name>`.
 *
 * What is allowed: a name is one line of at most MAX_NAME characters (no control characters); a tag
 * is TAG_PATTERN (letters, digits and _ . : / + = @ -, at most MAX_TAG characters, starting with a
 * letter or digit); a note is at most MAX_NOTE characters (lines and tabs allowed, no other control
 * characters); names and notes hold no bidirectional override or isolate, and a name shows at least
 * one visible character. Lengths count code points. Readers still escape them where they show them (the web lab, TensorBoard's text).
 * Pure module: strings in, checked labels or a UsageError / message out.
 */
import { UsageError } from '../errors.js';

export interface RunLabels {
  name?: string;
  tags?: string[];
  note?: string;
}

export const MAX_NAME = 200;
export const MAX_TAG = 64;
export const MAX_TAGS = 32;
export const MAX_NOTE = 10_000;
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/+=@-]*$/;
const TAG_CHARS = 'letters, digits and _ . : / + = @ - (starting with a letter or digit)';

// C0 and C1 controls, DEL, the line and paragraph separators
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const NOTE_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;
// bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they reorder the
// text after them, so "\u202Eevil" shows as "live" in the runs table and a terminal (Trojan Source)
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;
// a name must show something: not only spaces, format characters (zero-width space, joiners, BOM,
// marks) and combining marks
const VISIBLE = /[^\p{White_Space}\p{Cf}\p{M}\p{Default_Ignorable_Code_Point}]/u;

/** Characters as a reader counts them (code points: an emoji is one, not two UTF-16 units). */
export const charCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Why `name` is not a run name, or null. */
export function nameProblem(name: string): string | null {
  if (name.trim() === '') return 'is empty';
  if (/[\r\n\u2028\u2029]/.test(name)) return 'has a line break (a name is one line)';
  if (CONTROL.test(name)) return 'has a control character';
  if (BIDI.test(name)) return 'has a bidirectional override or isolate (U+202A..U+202E, U+2066..U+2069), which reorders the text shown after it';
  if (charCount(name) > MAX_NAME) return `is ${charCount(name)} characters long (at most ${MAX_NAME})`;
  if (!VISIBLE.test(name)) return 'has no visible character (only spaces, zero-width or format characters)';
  return null;
}

/** Why `tag` is not a tag, or null. */
export function tagProblem(tag: string): string | null {
  if (tag === '') return 'is empty';
  if (tag.length > MAX_TAG) return `is ${tag.length} characters long (at most ${MAX_TAG})`;
  if (!TAG_PATTERN.test(tag)) {
    const bad = [...tag].find((c) => !/[A-Za-z0-9_.:/+=@-]/.test(c));
    return bad !== undefined ? `has ${JSON.stringify(bad)}` : `starts with ${JSON.stringify(tag[0])}`;
  }
  return null;
}

/** Why `note` is not a note, or null. */
export function noteProblem(note: string): string | null {
  if (NOTE_CONTROL.test(note)) return 'has a control character (lines and tabs are allowed)';
  if (BIDI.test(note)) return 'has a bidirectional override or isolate (U+202A..U+202E, U+2066..U+2069), which reorders the text shown after it';
  if (charCount(note) > MAX_NOTE) return `is ${charCount(note)} characters long (at most ${MAX_NOTE})`;
  return null;
}

/** A value quoted for a message, cut to 60 characters (a hand-edited run.json may hold megabytes). */
const show = (s: string): string => {
  const cps = [...s.slice(0, 64)]; // whole code points: a cut never splits an emoji
  const q = JSON.stringify(cps.length > 60 || s.length > 64 ? `${cps.slice(0, 60).join('')}…` : s);
  // format characters (bidi overrides, zero-width ones) as \uXXXX: printed raw they would reorder or hide the message
  return q.replace(/[\p{Cf}\u2028\u2029]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
};
/** Any JSON value quoted for a message, cut as `show` cuts strings. */
const showJson = (v: unknown): string => (typeof v === 'string' ? show(v) : (() => {
  const j = JSON.stringify(v) ?? String(v);
  return j.length > 80 ? `${j.slice(0, 80)}…` : j;
})());

/**
 * The labels of the flags, checked (tags deduplicated, in the order given); UsageError naming the
 * flag, the value and what is allowed. Undefined fields stay undefined.
 */
export function checkLabels(l: { name?: string | undefined; tags?: readonly string[] | undefined; note?: string | undefined }): RunLabels {
  const out: RunLabels = {};
  if (l.name !== undefined) {
    const p = nameProblem(l.name);
    if (p) throw new UsageError(`--name ${show(l.name)} ${p}; a run name is one line of at most ${MAX_NAME} characters`);
    out.name = l.name.trim();
  }
  if (l.tags !== undefined) {
    for (const t of l.tags) {
      const p = tagProblem(t);
      if (p) throw new UsageError(`--tag ${show(t)} ${p}; a tag is 1 to ${MAX_TAG} characters: ${TAG_CHARS}`);
    }
    const tags = [...new Set(l.tags)];
    if (tags.length > MAX_TAGS) throw new UsageError(`--tag is given ${tags.length} times; a run has at most ${MAX_TAGS} tags`);
    out.tags = tags;
  }
  if (l.note !== undefined) {
    const p = noteProblem(l.note);
    if (p) throw new UsageError(`--note ${p}; a note is text of at most ${MAX_NOTE} characters`);
    out.note = l.note;
  }
  return out;
}

/** run.json's labels (fields absent in runs of builds before issue 22: none); a message saying what is wrong, or the labels. */
export function labelsFromJson(r: Record<string, unknown>): RunLabels | string {
  const out: RunLabels = {};
  const name = r['name'];
  if (name !== undefined) {
    const p = typeof name === 'string' ? nameProblem(name) : 'is not a string';
    if (p !== null || typeof name !== 'string') return `name ${showJson(name)} ${p}; a run name is one line of at most ${MAX_NAME} characters`;
    out.name = name;
  }
  if (r['tags'] !== undefined) {
    const t = r['tags'];
    if (!Array.isArray(t) || t.length > MAX_TAGS) return `tags is ${showJson(t)}; expected a list of at most ${MAX_TAGS} tags`;
    const bad = t.find((x) => typeof x !== 'string' || tagProblem(x) !== null);
    if (bad !== undefined) return `tag ${showJson(bad)} is not a tag (1 to ${MAX_TAG} characters: ${TAG_CHARS})`;
    out.tags = t as string[];
  }
  const note = r['note'];
  if (note !== undefined) {
    const p = typeof note === 'string' ? noteProblem(note) : `is ${showJson(note)}, not a string`;
    if (p !== null || typeof note !== 'string') return `note ${p}; a note is text of at most ${MAX_NOTE} characters`;
    out.note = note;
  }
  return out;
}

/** `labels` with `extra` tags added after its own (each once). */
export function withTags(labels: RunLabels, extra: readonly string[]): RunLabels {
  if (extra.length === 0) return labels;
  return { ...labels, tags: [...new Set([...(labels.tags ?? []), ...extra])] };
}

/** A tag made from a folder or experiment name: `prefix:` + the name with every character a tag may not have as '-', cut to MAX_TAG. */
export function tagOf(prefix: string, name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.:/+=@-]/g, '-');
  return `${prefix}:${safe === '' ? '-' : safe}`.slice(0, MAX_TAG);
}

/** `labels` merged with `changes` (a resume's --name / --note replace, --tag adds). */
export function mergeLabels(labels: RunLabels, changes: RunLabels): RunLabels {
  const out: RunLabels = { ...labels };
  if (changes.name !== undefined) out.name = changes.name;
  if (changes.note !== undefined) out.note = changes.note;
  return changes.tags ? withTags(out, changes.tags) : out;
}
