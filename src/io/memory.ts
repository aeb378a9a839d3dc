/**
 * Memory a command will need, checked before it allocates: a size inside every flag's range can
 * still multiply out to more than the machine has (train --heads 64 --d 1024, evaluate --lengths
 * 1000000000), and JavaScript then dies late with "Invalid typed array length" or an out-of-memory
 * abort. `checkMemory` fails fast with one line naming the biggest parts and what to lower.
 *
 * The budget is half the machine's memory (or of the cgroup's limit when lower: the rest is left to
 * the system, V8 and other processes), overridable with ICL_LAB_MEMORY_BYTES; a single array may
 * hold at most 2^32 elements (V8's typed-array limit).
 */
import { totalmem } from 'node:os';
import { UsageError } from '../errors.js';
import { formatBytes } from './input-file.js';

/** One thing that takes memory: `bytes` in all, `largestArray` numbers in its biggest single array. */
export interface MemoryPart {
  what: string;
  bytes: number;
  /** Elements of its largest single typed array (default bytes / 8). */
  largestArray?: number;
}

/** The most elements one typed array can hold here. */
export const MAX_ARRAY_ELEMENTS = 2 ** 32;

/** Bytes a command may use: half the machine's (or cgroup's) memory, or ICL_LAB_MEMORY_BYTES. */
export function memoryBudget(): number {
  const env = process.env.ICL_LAB_MEMORY_BYTES;
  if (env !== undefined && /^\d+$/.test(env.trim())) return Number(env.trim());
  const total = totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return Math.floor((constrained && constrained > 0 && constrained < total ? constrained : total) / 2);
}

/**
 * Throw a UsageError when the parts need more than the budget (or one array is longer than
 * JavaScript allows). `command` names the command; `lower` says which flags to lower.
 */
export function checkMemory(command: string, parts: readonly MemoryPart[], lower: string): void {
  const total = parts.reduce((a, p) => a + p.bytes, 0);
  const budget = memoryBudget();
  const sorted = [...parts].filter((p) => p.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  const top = sorted.slice(0, 3).map((p) => `${p.what} ${formatBytes(p.bytes)}`).join(', ');
  const longest = sorted.map((p) => ({ p, n: p.largestArray ?? p.bytes / 8 })).sort((a, b) => b.n - a.n)[0];
  if (longest && longest.n > MAX_ARRAY_ELEMENTS) {
    throw new UsageError(`${command} would need one array of ${longest.n.toExponential(2)} elements for ${longest.p.what}, more than the 2^32 JavaScript allows; ${lower}`);
  }
  if (!(total <= budget)) {
    throw new UsageError(`${command} would need about ${formatBytes(total)} of memory (${top}), more than the ${formatBytes(budget)} a command may use here (half the memory; ICL_LAB_MEMORY_BYTES sets another limit); ${lower}`);
  }
}
