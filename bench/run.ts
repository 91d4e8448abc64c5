/**
 * `npm run bench` — Opt benchmark (issue 3, item 7; stages and problem: bench/opt-bench.ts) and
 * Refine benchmark (issue 4, item 6; bench/refine-bench.ts) and pipeline benchmark (issue 5,
 * item 9: createReconstructor + reconstruct() end to end; bench/pipeline-bench.ts); how to read the output:
 * bench/README.md. Prints ONE JSON object per line to stdout:
 *   {"stage","backend","vertices","ms_median","ms_min","runs","ratio_vs_reference"}
 * (+ "extrapolated_from_iterations" on the refine_250 reference row when it is extrapolated)
 * and progress / context (adapter, machine load, |P|, energies) to stderr.
 *
 * Default: bundles test/browser/pages/bench-entry.ts (rollup + ts.transpileModule, WGSL as
 * strings) into build/bench/bench-entry.js, serves the repository on 127.0.0.1 with COOP/COEP/CORP
 * (test/browser/static-server.ts), launches ONE headless Chromium (flags of
 * shared/recipes/webgpu-headless.md, temporary profile removed at the end) and runs the
 * reference, wasm and webgpu backends inside test/browser/pages/bench.html (the pipeline
 * stages: `createReconstructor({ runIn: 'thread' })` in the page itself, onnxruntime-web and
 * comlink kept external and mapped by bench.html's import map).
 *
 * Options:
 *   --node          reference + wasm rows in Node only (no browser, no bundle).
 *   --no-webgpu     browser run without the WebGPU backend (total_high on SwiftShader takes ~15 s a call).
 *   --samples=2000,5000   sample sizes of the sampled problems (default 2000,5000).
 *   --runs=<scale>  multiply run counts (default 1; never below the minimums of README.md).
 *   --only=opt|refine|pipeline   run only the Opt, the Refine or the pipeline stages (default: all
 *                   three, in that order).
 *   --ref-its=<k>   iterations the TS reference runs for refine_250 (default 20, extrapolated to 250).
 * Needs build/wasm/mofa.wasm (`npm run build:wasm`) and models/mofa-face-v1.mofa.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './opt-bench.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WASM = path.join(ROOT, 'build/wasm/mofa.wasm');
const MODEL = path.join(ROOT, 'models/mofa-face-v1.mofa');
/** The portrait of the pipeline stages (public domain, demo/assets/). */
const PORTRAIT = 'demo/assets/astronaut.png';
const ENTRY = path.join(ROOT, 'test/browser/pages/bench-entry.ts');
const BUNDLE = path.join(ROOT, 'build/bench/bench-entry.js');
const PAGE = '/test/browser/pages/bench.html';
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Exactly the flags of shared/recipes/webgpu-headless.md (never --disable-software-rasterizer). */
const CHROMIUM_ARGS = [
  '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--enable-unsafe-webgpu',
];

type Suite = 'opt' | 'refine' | 'pipeline';
const SUITES: Suite[] = ['opt', 'refine', 'pipeline'];

interface Cli {
  node: boolean;
  webgpu: boolean;
  only: Suite[];
  refIts?: number;
  samples?: number[];
  runScale?: number;
}

function parseArgs(argv: string[]): Cli {
  const cli: Cli = { node: false, webgpu: true, only: [...SUITES] };
  for (const a of argv) {
    if (a === '--node') cli.node = true;
    else if (a === '--no-webgpu') cli.webgpu = false;
    else if (a.startsWith('--samples=')) cli.samples = a.slice(10).split(',').map(Number);
    else if (a.startsWith('--runs=')) cli.runScale = Number(a.slice(7));
    else if (a.startsWith('--ref-its=')) cli.refIts = Number(a.slice(10));
    else if (a.startsWith('--only=')) {
      const s = a.slice(7);
      if (!SUITES.includes(s as Suite)) throw new Error(`--only: 'opt', 'refine' or 'pipeline', got '${s}'`);
      cli.only = [s as Suite];
    }
    else if (a === '--help' || a === '-h') {
      process.stderr.write('usage: npm run bench [-- --node | --no-webgpu | --only=opt|refine|pipeline | --samples=2000,5000 | --runs=1 | --ref-its=20]\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (cli.samples && !cli.samples.every((s) => Number.isInteger(s) && s > 0)) throw new Error('--samples: positive integers, comma-separated');
  if (cli.runScale !== undefined && !(cli.runScale > 0)) throw new Error('--runs: a positive number');
  if (cli.refIts !== undefined && !(Number.isInteger(cli.refIts) && cli.refIts >= 1 && cli.refIts <= 250)) throw new Error('--ref-its: an integer in 1..250');
  return cli;
}

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const emit = (row: BenchRow) => process.stdout.write(`${JSON.stringify(row)}\n`);

function machine(): string {
  const l = loadavg().map((v) => v.toFixed(2)).join(' ');
  return `${cpus().length} × ${cpus()[0]?.model ?? '?'}; load average ${l}`;
}

async function runNode(cli: Cli): Promise<void> {
  const { loadFaceModel } = await import('../sdk/model/load-face-model.js');
  const { runOptBench } = await import('./opt-bench.js');
  const { runRefineBench } = await import('./refine-bench.js');
  const model = await loadFaceModel(MODEL);
  const wasm = await WebAssembly.compile(readFileSync(WASM));
  log(`Node ${process.version}, reference + wasm only; stages: ${cli.only.join(', ')}`);
  if (cli.only.includes('opt')) await runOptBench({ model, wasm, samples: cli.samples, runScale: cli.runScale, emit, log });
  const cpuMs = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
  if (cli.only.includes('refine')) await runRefineBench({ model, wasm, runScale: cli.runScale, referenceIterations: cli.refIts, cpuMs, emit, log });
  if (cli.only.includes('pipeline')) {
    const { runPipelineBench } = await import('./pipeline-bench.js');
    const { createReconstructor } = await import('../sdk/reconstructor.js');
    const { readImage } = await import('../sdk/node/image-io.js');
    const image = readImage(path.join(ROOT, PORTRAIT));
    log(`pipeline: ${PORTRAIT} ${image.width}×${image.height}; createReconstructor({ runIn: 'thread', backend: 'wasm' }), default assets (models/, build/wasm/mofa.wasm)`);
    await runPipelineBench({
      image, runScale: cli.runScale, emit, log,
      backends: [{ name: 'wasm', create: () => createReconstructor({ runIn: 'thread', backend: 'wasm' }) }],
    });
  }
}

/** Bundles the page entry: `./x.js` imports resolve to `./x.ts`, types stripped by ts.transpileModule. */
async function bundlePage(): Promise<void> {
  const [{ rollup }, { default: ts }] = await Promise.all([import('rollup'), import('typescript')]);
  // @ts-expect-error -- plain ESM config module without type declarations
  const { wgslString, assetUrl } = await import('../rollup.config.mjs');
  const transpileTs = {
    name: 'transpile-ts',
    async resolveId(this: any, source: string, importer: string | undefined) {
      if (!importer || !source.startsWith('.') || !source.endsWith('.js')) return null;
      const file = path.resolve(path.dirname(importer), source.slice(0, -3) + '.ts');
      return existsSync(file) ? file : null;
    },
    transform(code: string, id: string) {
      if (!id.endsWith('.ts')) return null;
      const out = ts.transpileModule(code, {
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true, verbatimModuleSyntax: false },
        fileName: id,
      });
      return { code: out.outputText, map: out.sourceMapText ? JSON.parse(out.sourceMapText) : null };
    },
  };
  const bundle = await rollup({
    input: ENTRY,
    // The page maps these through bench.html's import map (as test/browser/pages/sdk.html does).
    external: [/^onnxruntime-web(\/.*)?$/, 'comlink'],
    // mofa.wasm?url (sdk/wasm/mofa-wasm-url.ts, reachable from the reconstructor) → build/bench/assets/.
    plugins: [wgslString(), assetUrl(), transpileTs],
    onwarn: (w) => {
      // load-face-model.ts imports node:fs by a variable name on Node only; harmless in the page.
      if (w.code === 'UNRESOLVED_IMPORT' && /node:/.test(w.message)) return;
      throw new Error(`bundling ${ENTRY}: ${w.message}`);
    },
  });
  // One file: the reconstructor's lazily imported modules (GPU stages, the wasm URL) are inlined.
  await bundle.write({ file: BUNDLE, format: 'es', sourcemap: true, inlineDynamicImports: true });
  await bundle.close();
}

async function runBrowser(cli: Cli): Promise<void> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} not found: apt-get install chromium (or use --node)`);
  const t0 = performance.now();
  await bundlePage();
  log(`bundled ${path.relative(ROOT, BUNDLE)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const { default: puppeteer } = await import('puppeteer-core');
  const { startStaticServer } = await import('../test/browser/static-server.js');
  if (!process.env.XDG_RUNTIME_DIR || !existsSync(process.env.XDG_RUNTIME_DIR)) process.env.XDG_RUNTIME_DIR = '/tmp';
  const server = await startStaticServer(ROOT);
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'mofa-bench-chromium-'));
  let browser: Awaited<ReturnType<typeof puppeteer.launch>> | null = null;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM_PATH, headless: true, userDataDir, args: CHROMIUM_ARGS,
      protocolTimeout: 900_000, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR },
    });
    log(`Chromium ${await browser.version()}`);
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') log(`page ${m.type()}: ${m.text()}`); });
    await page.exposeFunction('benchEmit', (row: BenchRow) => emit(row));
    await page.exposeFunction('benchLog', (m: string) => log(m));
    await page.goto(`${server.baseUrl}${PAGE}`, { waitUntil: 'load' });
    await page.evaluate(() => (globalThis as { __ready?: Promise<unknown> }).__ready);
    if (problems.length) throw new Error(problems.join('\n'));
    await page.evaluate(
      (o) => (globalThis as unknown as { mofaBench: { run(o: unknown): Promise<unknown> } }).mofaBench.run(o).then(() => undefined),
      { webgpu: cli.webgpu, samples: cli.samples, runScale: cli.runScale, only: cli.only, referenceIterations: cli.refIts, portrait: `/${PORTRAIT}` },
    );
    if (problems.length) throw new Error(problems.join('\n'));
  } finally {
    await browser?.close().catch(() => browser?.process()?.kill('SIGKILL'));
    await server.close();
    await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

const cli = parseArgs(process.argv.slice(2));
if (!existsSync(WASM)) throw new Error(`${path.relative(ROOT, WASM)} is missing: run \`npm run build:wasm\` first.`);
if (!existsSync(MODEL)) throw new Error(`${path.relative(ROOT, MODEL)} is missing: run \`npm run build:model\` first.`);
const start = performance.now();
log(`machine: ${machine()}`);
await (cli.node ? runNode(cli) : runBrowser(cli));
log(`done in ${((performance.now() - start) / 1000).toFixed(1)} s; ${machine()}`);
