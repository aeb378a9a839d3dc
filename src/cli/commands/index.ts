import type { Command } from 'commander';
import { register as predict } from './predict.js';
import { register as plot } from './plot.js';
import { register as analyze } from './analyze.js';
import { register as evaluate } from './evaluate.js';

/** Each command lives in its own file and adds itself to the program here. */
export type Register = (program: Command) => void;

export const commands: Register[] = [predict, analyze, evaluate, plot];
