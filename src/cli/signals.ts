/**
 * Ctrl-C / SIGTERM for long commands: the first signal asks the work to stop cleanly (finish the
 * step, checkpoint); a second one quits at once. A repeat within `graceMs` of the first is the same
 * interrupt delivered twice (a terminal or `timeout` signals both the process group and the child),
 * not a second request, so it is ignored.
 */
export function onInterrupt(stop: (sig: NodeJS.Signals) => void, graceMs = 1000): () => void {
  let first = 0;
  const handler = (sig: NodeJS.Signals): void => {
    const now = Date.now();
    if (first === 0) {
      first = now;
      stop(sig);
    } else if (now - first > graceMs) {
      process.exit(130); // files on disk are always a consistent earlier version (atomic writes)
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
