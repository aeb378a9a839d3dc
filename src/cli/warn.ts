/** A warning on stderr (`icl-lab: warning: ...`); nothing for null. */
export function warn(message: string | null): void {
  if (message) process.stderr.write(`icl-lab: ${message}\n`);
}
