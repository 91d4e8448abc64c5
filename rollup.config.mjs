// Rollup build of mofa-web:
//   sdk/index.ts      → dist/mofa-web.js (ESM library; onnxruntime-web + comlink external) + dist/types/**.d.ts
//   workers/*.ts      → dist/workers/*.js (ESM module workers, self-contained: comlink and
//                       onnxruntime-web/wasm bundled; ORT's own .wasm/.mjs are located at run
//                       time through ort.env.wasm.wasmPaths)
//   build/wasm/mofa.wasm → dist/assets/mofa-[hash].wasm (imported as a URL: `…/mofa.wasm?url`)
//   models/*.mofa, *.onnx → dist/assets/ (copied when present)
//   sdk/node/cli.ts   → dist/cli.js (Node ESM, run by bin/mofa-web.mjs; onnxruntime-web, comlink,
//                       pngjs, jpeg-js and node:* external; its assets resolve to dist/assets/)
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodeResolve from '@rollup/plugin-node-resolve';
import typescript from '@rollup/plugin-typescript';

/** Imports `*.wgsl` files as their source text. */
export function wgslString() {
  return {
    name: 'wgsl-string',
    async load(id) {
      if (!id.endsWith('.wgsl')) return null;
      this.addWatchFile(id);
      return `export default ${JSON.stringify(await readFile(id, 'utf8'))};`;
    },
  };
}

/** `import url from './x.wasm?url'`: emits the file as an asset and exports its URL. */
export function assetUrl() {
  const SUFFIX = '?url';
  return {
    name: 'asset-url',
    resolveId(source, importer) {
      if (!source.endsWith(SUFFIX)) return null;
      const file = path.resolve(importer ? path.dirname(importer) : process.cwd(), source.slice(0, -SUFFIX.length));
      return `\0asset-url:${file}`;
    },
    async load(id) {
      if (!id.startsWith('\0asset-url:')) return null;
      const file = id.slice('\0asset-url:'.length);
      if (!existsSync(file)) this.error(`${file} is missing: run \`npm run build:wasm\` first.`);
      this.addWatchFile(file);
      const ref = this.emitFile({ type: 'asset', name: path.basename(file), source: await readFile(file) });
      return `export default import.meta.ROLLUP_FILE_URL_${ref};`;
    },
  };
}

/** Empties dist/ once before the first bundle is written, so stale hashed files do not pile up. */
function cleanDist() {
  let cleaned = false;
  return {
    name: 'clean-dist',
    async generateBundle() {
      if (cleaned) return;
      cleaned = true;
      await rm('dist', { recursive: true, force: true });
    },
  };
}

/** Copies model assets (models/*.mofa, models/*.onnx) to dist/assets/; absent files are fine. */
function copyModelAssets() {
  return {
    name: 'copy-model-assets',
    async writeBundle() {
      if (!existsSync('models')) return;
      const files = (await readdir('models')).filter((f) => f.endsWith('.mofa') || f.endsWith('.onnx'));
      if (files.length === 0) return;
      await mkdir('dist/assets', { recursive: true });
      await Promise.all(files.map((f) => copyFile(path.join('models', f), path.join('dist/assets', f))));
    },
  };
}

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const workerInputs = Object.fromEntries(
  readdirSync(path.join(ROOT, 'workers'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => [path.basename(f, '.ts'), path.join('workers', f)]),
);

const tsOptions = { tsconfig: './tsconfig.json', include: ['sdk/**/*.ts', 'workers/**/*.ts'], noEmitOnError: true };

export default [
  {
    input: { 'mofa-web': 'sdk/index.ts' },
    external: [/^onnxruntime-web(\/.*)?$/, 'comlink'],
    // Keep the library's own code in dist/mofa-web.js when dynamic imports (GPU stages, the
    // wasm URL) split chunks off: its worker URLs are resolved relative to that file.
    preserveEntrySignatures: 'allow-extension',
    plugins: [
      cleanDist(),
      wgslString(),
      assetUrl(),
      nodeResolve({ browser: true }),
      typescript({ ...tsOptions, outDir: 'dist', declaration: true, declarationDir: 'dist/types', sourceMap: true }),
      copyModelAssets(),
    ],
    output: {
      dir: 'dist',
      format: 'es',
      sourcemap: true,
      entryFileNames: '[name].js',
      chunkFileNames: 'chunks/[name]-[hash].js',
      assetFileNames: 'assets/[name]-[hash][extname]',
    },
  },
  {
    input: workerInputs,
    plugins: [
      wgslString(),
      assetUrl(),
      nodeResolve({ browser: true }),
      typescript({ ...tsOptions, outDir: 'dist', declaration: false, sourceMap: true }),
    ],
    output: {
      dir: 'dist',
      format: 'es',
      sourcemap: true,
      entryFileNames: 'workers/[name].js',
      chunkFileNames: 'workers/chunks/[name]-[hash].js',
      assetFileNames: 'assets/[name]-[hash][extname]', // shared with the library bundle
    },
  },
  {
    // The `mofa-web` CLI for Node. It decodes image files itself (sdk/node/image-io.ts, bundled
    // here) and passes RGBA buffers to reconstruct(), so it never needs the library's lazy
    // `../node/image-io.js` import, which Rollup does not emit.
    input: { cli: 'sdk/node/cli.ts' },
    // The SDK code must stay in dist/cli.js itself (the default asset locations are resolved
    // against its import.meta.url → dist/assets/): let Rollup add the exports the lazy chunks
    // need to the entry instead of moving everything into a chunk behind a facade.
    preserveEntrySignatures: 'allow-extension',
    external: [/^onnxruntime-web(\/.*)?$/, 'comlink', 'pngjs', 'jpeg-js', /^node:/],
    plugins: [
      wgslString(),
      assetUrl(),
      nodeResolve({ preferBuiltins: true }),
      typescript({ ...tsOptions, outDir: 'dist', declaration: false, sourceMap: true }),
    ],
    output: {
      dir: 'dist',
      format: 'es',
      sourcemap: true,
      entryFileNames: '[name].js',
      chunkFileNames: 'chunks/cli-[name]-[hash].js', // the lazily imported GPU / Opt / Refine backends
      assetFileNames: 'assets/[name]-[hash][extname]', // shared with the library bundle
    },
  },
];
