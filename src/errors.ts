/**
 * A problem with what the user asked for: printed without a stack trace, exit code 2. `command`, when
 * given, is an icl-lab command line (without the program) that fixes it: the CLI prints it after the
 * message as it runs here (command.ts cliCommand), so pure modules, which the browser bundle shares,
 * need not know how icl-lab was started.
 */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, readonly exitCode = 2, readonly command?: string) {
    super(message);
  }
}

/** Edit distance (insert, delete, substitute, swap of neighbours) between a and b. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** ` did you mean "heads"?` for the allowed name nearest to `word` (within 1 edit for words of up to 4 letters, else 2 or a third of its length), else ''. */
export function didYouMean(word: string, allowed: readonly string[]): string {
  const w = word.toLowerCase().replace(/-/g, '_');
  let best = '';
  let bestD = Infinity;
  for (const a of allowed) {
    const dist = editDistance(w, a.toLowerCase());
    if (dist < bestD) [best, bestD] = [a, dist];
  }
  // 0: only case or - for _; a short word may be one edit off ("foo" is not a misspelt "rho")
  const limit = w.length <= 4 ? 1 : Math.max(2, Math.floor(w.length / 3));
  return best && bestD <= limit ? ` did you mean "${best}"?` : '';
}
