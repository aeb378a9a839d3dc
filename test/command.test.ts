/** The command prefix icl-lab prints (issue 22 item 18): what runs here, not a bare `icl-lab` that npm ci never put on the PATH. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliCommand, commandPrefixFor } from '../src/command.js';

const top = mkdtempSync(join(tmpdir(), 'icl-command-'));
const repo = join(top, 'my repo');
const script = join(repo, 'bin', 'icl-lab');
mkdirSync(join(repo, 'bin'), { recursive: true });
writeFileSync(script, '#!/usr/bin/env node\n');
const linked = join(top, 'linked-bin');
mkdirSync(linked);
symlinkSync(script, join(linked, 'icl-lab')); // what `npm link` makes
const other = join(top, 'other-bin');
mkdirSync(other);
writeFileSync(join(other, 'icl-lab'), '#!/bin/sh\n'); // another icl-lab, not this one
afterAll(() => rmSync(top, { recursive: true, force: true }));

describe('commandPrefixFor', () => {
  it('from the repository root: node bin/icl-lab', () => {
    expect(commandPrefixFor(script, repo, '/usr/bin')).toBe('node bin/icl-lab');
  });
  it('from elsewhere: the absolute path, shell-quoted', () => {
    expect(commandPrefixFor(script, join(top, 'other-bin'), '/usr/bin')).toBe(`node '${script}'`);
  });
  it('from /: the absolute path, not home/…/bin/icl-lab', () => {
    expect(commandPrefixFor(script, '/', '/usr/bin')).toBe(`node '${script}'`);
  });
  it('icl-lab itself only when that name on the PATH is this script', () => {
    expect(commandPrefixFor(script, repo, `/usr/bin:${linked}`)).toBe('icl-lab');
    expect(commandPrefixFor(join(linked, 'icl-lab'), '/', linked)).toBe('icl-lab');
    expect(commandPrefixFor(script, repo, other)).toBe('node bin/icl-lab');
  });
  it('in this test process (vitest started from the repository): a node command', () => {
    expect(cliCommand('train --resume runs/h2')).toMatch(/^node \S+ train --resume runs\/h2$/);
  });
});
