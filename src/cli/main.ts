import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { UsageError } from './errors.js';
import { VERSION } from '../version.js';

const program = new Command('icl-lab')
  .description('Train one-layer multi-head softmax attention on in-context linear regression, read its circuits out, compare it with kernel / gradient-descent / ridge / OLS estimators, and reproduce the seed notebook.')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed the message (or help/version, which exit 0).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof UsageError) {
    process.stderr.write(`icl-lab: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`icl-lab: error: ${msg}\n`);
    if (process.env.ICL_LAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
