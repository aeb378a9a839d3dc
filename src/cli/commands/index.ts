import type { Command } from 'commander';

/** Each command lives in its own file and adds itself to the program here. */
export type Register = (program: Command) => void;

export const commands: Register[] = [];
