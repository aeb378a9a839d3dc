/**
 * Builds the web lab (index.html, served by `icl-lab serve`) and the standalone playground
 * (playground.html, works from any static host) into dist/web/. `npm run build:web`.
 */
import { defineConfig, type Plugin } from 'vite';
import { fileURLToPath } from 'node:url';

/**
 * src/io/safetensors.ts (the encoder the playground uses to download a model) imports node:fs for
 * its file helpers, which the browser never calls. Those imports resolve to stubs that throw if used.
 */
function nodeStubs(): Plugin {
  const names: Record<string, string[]> = {
    'node:fs': ['accessSync', 'closeSync', 'constants', 'existsSync', 'fsyncSync', 'mkdirSync', 'openSync', 'readFileSync', 'readdirSync', 'realpathSync', 'renameSync', 'rmSync', 'statSync', 'unlinkSync', 'writeFileSync', 'writeSync'],
    'node:path': ['basename', 'dirname', 'extname', 'isAbsolute', 'join', 'parse', 'relative', 'resolve', 'sep'],
    'node:crypto': ['createHash', 'randomBytes'],
    'node:url': ['fileURLToPath'],
    'node:os': ['availableParallelism', 'cpus', 'hostname', 'totalmem'],
  };
  return {
    name: 'icl-lab-node-stubs',
    enforce: 'pre',
    resolveId(id) {
      return id in names ? `\0stub:${id}` : null;
    },
    load(id) {
      if (!id.startsWith('\0stub:')) return null;
      const mod = id.slice('\0stub:'.length);
      const fn = `() => { throw new Error('${mod} is not available in the browser'); }`;
      return names[mod]!.map((n) => `export const ${n} = ${fn};`).join('\n') + `\nexport default {};\n`;
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [nodeStubs()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  worker: { format: 'es', plugins: () => [nodeStubs()] },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      checks: { pluginTimings: false },
      input: {
        index: fileURLToPath(new URL('index.html', import.meta.url)),
        playground: fileURLToPath(new URL('playground.html', import.meta.url)),
      },
    },
  },
});
