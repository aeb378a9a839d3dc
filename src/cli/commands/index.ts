import type { Command } from 'commander';
import { register as predict } from './predict.js';
import { register as prompts } from './prompts.js';
import { register as bench } from './bench.js';
import { register as train } from './train.js';
import { register as plot } from './plot.js';
import { register as analyze } from './analyze.js';
import { register as evaluate } from './evaluate.js';
import { register as report } from './report.js';
import { register as reproduce } from './reproduce.js';
import { register as sweep } from './sweep.js';
import { register as worker } from './worker.js';
import { register as serve } from './serve.js';
import { register as exportCmd } from './export.js';

/** Each command lives in its own file and adds itself to the program here. */
export type Register = (program: Command) => void;

export const commands: Register[] = [reproduce, train, prompts, predict, analyze, evaluate, plot, report, bench, sweep, worker, serve, exportCmd];
