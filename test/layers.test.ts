// The layering rule of src/ (scripts/check-layers.mjs, run by `npm test`): imports only go down.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script without types
import { importCycles, LAYERS, upwardImports } from '../scripts/check-layers.mjs';
import { root, tempDir } from './cli.helpers.js';

const tmp = tempDir('layers');

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmp, 'src-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

describe('check-layers', () => {
  it('src/ has no upward import', () => {
    expect(upwardImports(join(root, 'src'))).toEqual([]);
  });

  it('catches an upward import (model importing run), a dynamic one, and a root file importing a layer', () => {
    const dir = tree({
      'errors.ts': "import { x } from './cli/main.js';\n",
      'model/params.ts': "import type { TrainConfig } from '../run/config.js';\nexport const a = 1;\n",
      'run/config.ts': "import { a } from '../model/params.js';\nexport type TrainConfig = { a: typeof a };\n",
      'data/task.ts': "export async function f() { return import('../analysis/theory.js'); }\n",
      'cli/main.ts': "import { a } from '../model/params.js';\nexport const x = a;\n",
    });
    const bad = upwardImports(dir).map((b: { file: string; from: string; to: string }) => `${b.file} ${b.from}->${b.to}`).sort();
    expect(bad).toEqual(['data/task.ts data->analysis', 'errors.ts (root)->cli', 'model/params.ts model->run']);
  });

  it('src/ has no import circle', () => {
    expect(importCycles(join(root, 'src'))).toEqual([]);
  });

  it('catches import circles: two files, a three-file ring through a dynamic and a type-only import, a self-import; a chain is no circle', () => {
    const dir = tree({
      'report/a.ts': "import { b } from './b.js';\nexport const a = 1;\n",
      'report/b.ts': "import { a } from './a.js';\nexport const b = 2;\n",
      'run/x.ts': "import type { Y } from './y.js';\nexport type X = Y;\n",
      'run/y.ts': "export async function y() { return import('./z.js'); }\nexport type Y = number;\n",
      'run/z.ts': "import { x } from './x.js';\nexport const z = 0;\n",
      'data/self.ts': "import { s } from './self.js';\nexport const s = 1;\n",
      'math/p.ts': "import { q } from './q.js';\nexport const p = q;\n",
      'math/q.ts': 'export const q = 1;\n',
    });
    expect(importCycles(dir)).toEqual([['data/self.ts'], ['report/a.ts', 'report/b.ts'], ['run/x.ts', 'run/y.ts', 'run/z.ts']]);
  });

  it('the script exits 1 naming the circle', () => {
    const dir = tree({ 'report/a.ts': "import './b.js';\n", 'report/b.ts': "import './a.js';\n" });
    const r = spawnSync(process.execPath, [join(root, 'scripts/check-layers.mjs'), dir], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('src/report/a.ts <-> src/report/b.ts');
  });

  it('a folder that is not a layer is reported', () => {
    const dir = tree({ 'widgets/a.ts': 'export const a = 1;\n' });
    expect(upwardImports(dir).map((b: { from: string }) => b.from)).toEqual(['widgets']);
    expect(LAYERS).toContain('model');
  });
});
