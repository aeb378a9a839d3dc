/**
 * `renderAllRunFigures` and `icl-lab plot` on a synthetic run directory written with the
 * contract's tensor names and shapes (metrics / snapshots / model .safetensors, run.json,
 * evaluation.json). The CLI part runs the compiled dist/ (built by `npm test`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layerCircuits } from '../src/model/circuits.js';
import { initParams } from '../src/model/init.js';
import { Rng } from '../src/data/rng.js';
import { loadModel, saveModel } from '../src/io/model-file.js';
import { tensorF64, writeSafetensors } from '../src/io/safetensors.js';
import { renderAllRunFigures } from '../src/plots/run-figures.js';
import { root, tempDir } from './cli.helpers.js';

const tmp = tempDir('plot-run');

const d = 5, E = 6, H = 2, layers = 1;
const steps = 2000, nDyn = 21, nSnap = 5, nVal = 9;

function normals(n: number, rng: Rng, scale: number): Float64Array {
  const a = new Float64Array(n);
  rng.fillNormal(a);
  return a.map((x) => x * scale);
}

/** A run directory like `icl-lab train` writes (contract in docs/CONTRACTS.md). */
function writeRun(dir: string, withModel: boolean): void {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(2024);
  const train = Float64Array.from({ length: steps }, (_, i) => 0.7 + 4 * Math.exp(-i / 200) + 0.1 * Math.abs(rng.normal()));
  const valStep = Float64Array.from({ length: nVal }, (_, i) => i * 250);
  writeSafetensors(join(dir, 'metrics.safetensors'), {
    train_loss: tensorF64([steps], train),
    val_loss: tensorF64([nVal], valStep.map((t) => 0.7 + 4 * Math.exp(-t / 200))),
    val_step: tensorF64([nVal], valStep),
    qk_dynamics: tensorF64([nDyn, layers, H], normals(nDyn * H, rng, 0.1)),
    ov_dynamics: tensorF64([nDyn, layers, H], normals(nDyn * H, rng, 2)),
    dyn_step: tensorF64([nDyn], Float64Array.from({ length: nDyn }, (_, i) => i * 100)),
  });
  writeSafetensors(join(dir, 'snapshots.safetensors'), {
    qk: tensorF64([nSnap, layers, H, E, E], normals(nSnap * H * E * E, rng, 0.1)),
    ov: tensorF64([nSnap, layers, H, E], normals(nSnap * H * E, rng, 2)),
    snapshot_step: tensorF64([nSnap], [0, 500, 1000, 1500, 2000]),
  });
  if (withModel) saveModel(join(dir, 'model.safetensors'), initParams(d, H, 'random', rng));
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ status: 'completed', step: steps, config: { context_length: 40, heads: H, d } }));
}

const evaluation = {
  lengths: [5, 10, 20, 40, 80],
  methods: {
    transformer: { mse: [3.7, 2.3, 1.3, 0.67, 0.4], stderr: [0.1, 0.07, 0.04, 0.02, 0.01] },
    'one-step-gd': { mse: [6.0, 2.9, 1.5, 0.76, 0.39], stderr: [0.2, 0.09, 0.05, 0.02, 0.01] },
    ols: { mse: [null, 0.9, 2e-3, 7e-5, 3e-5], stderr: [null, 0.2, 1e-4, 5e-6, 2e-6] },
  },
};

describe('renderAllRunFigures', () => {
  it('writes loss, dynamics, QK evolution, one circuit figure per head and error vs L, as SVG + PNG', async () => {
    const dir = join(tmp, 'h2');
    writeRun(dir, true);
    writeFileSync(join(dir, 'evaluation.json'), JSON.stringify(evaluation));
    const seen: string[] = [];
    const res = await renderAllRunFigures(dir, { onFigure: (name) => seen.push(name), raster: { scale: 1, minWidth: 0 } });
    const names = ['loss', 'dynamics', 'qk_evolution_layer1', 'circuits_layer1_head1', 'circuits_layer1_head2', 'error_vs_length'];
    expect(Object.keys(res.figures).sort()).toEqual([...names].sort());
    expect(seen.sort()).toEqual([...names].sort());
    expect(res.skipped).toEqual([]);
    expect(res.outDir).toBe(join(dir, 'figures'));
    expect(readdirSync(res.outDir).sort()).toEqual(names.flatMap((n) => [`${n}.png`, `${n}.svg`]).sort());

    // Circuits come from the final weights (model.safetensors), not from the last snapshot.
    const p = loadModel(join(dir, 'model.safetensors'));
    const heads = layerCircuits(p);
    const m = Math.max(...Array.from(heads[1]!.qk, Math.abs));
    const svg = readFileSync(join(res.outDir, 'circuits_layer1_head2.svg'), 'utf8');
    expect(svg).toContain('Layer 1, Head 2: QKʰ (scaled by 1/√(d+1))');
    // issue 12, figures: every figure says what it is about, from run.json (a PNG shared alone keeps its context)
    for (const n of names) {
      expect(readFileSync(join(res.outDir, `${n}.svg`), 'utf8'), n).toContain('run h2 · H = 2 · d = 5 · L = 40 · seed preset');
    }
    expect(svg).toContain(`final weights; d+1 = 6, limits ±${m.toPrecision(3)}`);

    // The error figure marks the training L from run.json and skips OLS where it is undefined.
    const err = readFileSync(join(res.outDir, 'error_vs_length.svg'), 'utf8');
    expect(err).toContain('training L = 40');
    expect((err.match(/aria-roledescription="line mark"/g) ?? []).length).toBeGreaterThanOrEqual(3);
  });

  it('falls back to the last snapshot without a model file, and says what it skipped', async () => {
    const dir = join(tmp, 'nomodel');
    writeRun(dir, false);
    const res = await renderAllRunFigures(dir, { outDir: join(tmp, 'nomodel-figs'), columns: 3, raster: { scale: 1, minWidth: 0 } });
    expect(res.figures['circuits_layer1_head1']).toBeDefined();
    const svg = readFileSync(join(tmp, 'nomodel-figs', 'circuits_layer1_head1.svg'), 'utf8');
    expect(svg).toContain('snapshot at step 2000');
    const evo = readFileSync(join(tmp, 'nomodel-figs', 'qk_evolution_layer1.svg'), 'utf8');
    expect(['Step 0', 'Step 1,000', 'Step 2,000 (last)'].every((s) => evo.includes(s))).toBe(true);
    expect(evo).not.toContain('Step 500');
    // it says how to make the evaluation the figure needs
    expect(res.skipped).toEqual([expect.stringMatching(new RegExp(`^error_vs_length: no evaluation \\(write one with \`.*evaluate ${dir} --out ${join(dir, 'evaluation.json')}\`, or pass --evaluation FILE\\.json\\)$`))]);
  });

  it('refuses a folder that is not a run directory', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    await expect(renderAllRunFigures(empty)).rejects.toThrow(/not a run directory; train one with `.*train --out .*empty`$/);
  });

  it('a folder of runs (runs/reproduce) is refused naming its runs and the command on them, by plot and by report', async () => {
    const holder = join(tmp, 'holder');
    for (const n of ['h2', 'h1']) {
      mkdirSync(join(holder, n), { recursive: true });
      writeFileSync(join(holder, n, 'run.json'), '{}');
    }
    mkdirSync(join(holder, 'report')); // not a run: left out
    await expect(renderAllRunFigures(holder)).rejects.toThrow(new RegExp(`not a run directory; it holds 2 run directories \\(h1, h2\\): give one, e\\.g\\. \`.*plot ${join(holder, 'h1')}\`$`));
    const { loadReportRuns } = await import('../src/report/runs.js');
    expect(() => loadReportRuns([holder])).toThrow(new RegExp(`is not a run directory \\(no run\\.json\\); it holds 2 run directories \\(h1, h2\\): give them, e\\.g\\. \`.*report ${join(holder, 'h1')} ${join(holder, 'h2')}\`$`));
  });
});

describe('icl-lab plot', () => {
  const cli = join(root, 'bin', 'icl-lab');
  // the CLI runs the compiled dist/ (npm test builds it first): a missing build is a failure, never a skip
  if (!existsSync(join(root, 'dist', 'cli', 'commands', 'plot.js'))) throw new Error('dist/ is not built: run `npm run build` first');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'plot', ...args], { encoding: 'utf8', cwd: tmp });

  it('plots a run with --evaluation and lists what it wrote', () => {
    const dir = join(tmp, 'cli');
    writeRun(dir, true);
    const evalPath = join(tmp, 'eval.json');
    writeFileSync(evalPath, JSON.stringify(evaluation));
    const r = run('cli', '--evaluation', evalPath);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}error_vs_length +cli\/figures\/error_vs_length\.svg {2}cli\/figures\/error_vs_length\.png$/m);
    expect(r.stdout).toMatch(/^plot: 6 figures in cli\/figures \(\d+\.\d s\)$/m);
    expect(existsSync(join(dir, 'figures', 'circuits_layer1_head2.png'))).toBe(true);
  });

  it('--paper --format svg writes title-less SVGs only, in the paper font (issue 22 item 15)', () => {
    const dir = join(tmp, 'paper');
    writeRun(dir, true);
    const r = run('paper', '--paper', '--font-size', '16', '--format', 'svg', '--out', 'paper/fig');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}loss +paper\/fig\/loss\.svg$/m);
    const files = readdirSync(join(dir, 'fig')).sort();
    expect(files.every((f) => f.endsWith('.svg'))).toBe(true);
    expect(files).toContain('dynamics.svg');
    const loss = readFileSync(join(dir, 'fig', 'loss.svg'), 'utf8');
    expect(loss).not.toMatch(/Training and Validation Loss|run paper|role-title/);
    expect(loss).toContain('font-size="16px"');
    expect(loss).not.toContain('font-size="11px"');
  });

  it('refuses --format pdf, an unknown format and --font-size without --paper, each in one line (exit 2)', () => {
    const pdf = run('cli', '--format', 'pdf');
    expect(pdf.status).toBe(2);
    expect(pdf.stderr).toBe('icl-lab: --format pdf is not available: icl-lab has no PDF renderer; use --format svg (vector) and convert it, e.g. rsvg-convert -f pdf -o FIG.pdf FIG.svg, or inkscape FIG.svg -o FIG.pdf\n');
    const jpg = run('cli', '--format', 'svg,jpg');
    expect([jpg.status, jpg.stderr]).toEqual([2, 'icl-lab: --format: expected one of svg, png; got "jpg"\n']);
    const fs = run('cli', '--font-size', '16');
    expect([fs.status, fs.stderr]).toEqual([2, 'icl-lab: --font-size sets the font of --paper figures: add --paper\n']);
    const big = run('cli', '--paper', '--font-size', '99');
    expect(big.status).toBe(2);
    expect(big.stderr).toMatch(/^icl-lab: --font-size must be an integer from 6 to 40/);
  });

  it('exits 2 with a one-line message for a missing run or evaluation file', () => {
    const a = run('nope');
    expect(a.status).toBe(2);
    expect(a.stderr).toBe('icl-lab: RUN nope is not a directory\n');
    const b = run('cli', '--evaluation', 'missing.json');
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--evaluation: no such file: missing\.json/);
  });
});
