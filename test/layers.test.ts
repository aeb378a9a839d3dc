// The layering rule of src/ (scripts/check-layers.mjs, run by `npm test`): imports only go down.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script without types
import { LAYERS, upwardImports } from '../scripts/check-layers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'icl-layers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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

  it('a folder that is not a layer is reported', () => {
    const dir = tree({ 'widgets/a.ts': 'export const a = 1;\n' });
    expect(upwardImports(dir).map((b: { from: string }) => b.from)).toEqual(['widgets']);
    expect(LAYERS).toContain('model');
  });
});
