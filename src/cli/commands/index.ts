import type { Command } from 'commander';
import { register as predict } from './predict.js';

/** Each command lives in its own file and adds itself to the program here. */
export type Register = (program: Command) => void;

export const commands: Register[] = [predict];
