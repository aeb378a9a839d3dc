import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { UsageError } from '../errors.js';
import { cliCommand } from '../command.js';
import { FileFormatError } from '../io/safetensors.js';
import { VERSION } from '../version.js';
import { describeFsError } from '../io/input-file.js';

function fsErrorLine(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e || typeof e.code !== 'string' || typeof e.path !== 'string') return undefined;
  return describeFsError(e, e.path, e.syscall === 'open' || e.syscall === 'read' || e.syscall === 'scandir' ? 'read' : 'write');
}

// A reader that stops early (`icl-lab sweep --dry-run | head`) closes the pipe: stdout's writes then
// fail with EPIPE. Drop the rest of stdout and go on (a training keeps training; its files are the
// result), instead of an unhandled 'error' event's stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

const program = new Command('icl-lab')
  .description('Train one-layer multi-head softmax attention on in-context linear regression, read its circuits out, compare it with kernel / gradient-descent / ridge / OLS estimators, and reproduce the seed notebook.')
  .version(VERSION)
  .exitOverride()
  .configureOutput({
    writeErr: (s) => process.stderr.write(s),
    // commander's own errors (unknown option or command, missing argument): one icl-lab line, as every other error
    outputError: (s, write) => write(`icl-lab: ${s.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see --help)\n`),
  });

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed the message (or help/version, which exit 0).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof UsageError || err instanceof FileFormatError) {
    // bad input (a flag, or a file that is not what the command needs): one line, exit 2
    const fix = err instanceof UsageError && err.command ? ` ${cliCommand(err.command)}` : '';
    process.stderr.write(`icl-lab: ${err.message.trim().replace(/\s*\n\s*/g, ' ')}${fix}\n`);
    process.exitCode = err instanceof UsageError ? err.exitCode : 2;
  } else if (fsErrorLine(err)) {
    // a system error on a path the user gave (no permission, a file where a folder is needed, a full disk)
    process.stderr.write(`icl-lab: ${fsErrorLine(err)}\n`);
    process.exitCode = (err as NodeJS.ErrnoException).code === 'ENOSPC' ? 1 : 2;
  } else {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`icl-lab: error: ${msg}\n`);
    if (process.env.ICL_LAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
