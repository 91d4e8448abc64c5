/**
 * WebGPU Opt backend (sdk/gpu/opt-backend.ts and its kernels in wgsl/) against the TypeScript
 * references, in headless Chromium (WebGPU on SwiftShader: correct but slow, so the heavy
 * kernels run on a sampled subset of vertices). The page bundle build/test-pages/opt-gpu-entry.js
 * is built here from test/browser/pages/opt-gpu-entry.ts (rollup + TypeScript transpile, WGSL as
 * strings); the face model is loaded with the library bundle dist/mofa-web.js. Every GPU run is
 * wrapped in `withDevice` (fails on any validation / OOM error) and checks that the backend
 * leaves no live buffer behind.
 *
 * Tolerances (float32 GPU vs float64 / float32 reference):
 * - decode: |Δv| ≤ 2e-3 mm (|v| ≲ 150 mm: ~1e-5 relative, K = 144 f32 terms), |Δr| ≤ 1e-5;
 *   normals, R n ≤ 1e-4; p ≤ 2e-3 mm; u ≤ 5e-3 px (f/d ≈ 1.1 px per mm); c ≤ 1e-4.
 * - JᵀJ: max_pq |Δ_pq| / sqrt(A_pp A_qq) ≤ 1e-4 and relative Frobenius error ≤ 1e-5; JᵀF:
 *   max_p |Δ_p| / sqrt(A_pp · 2E) ≤ 1e-4 (scaled by the Cauchy–Schwarz bounds of the entries,
 *   so the errors are relative to what an entry can be; measured ≈ 5e-7, 1e-7, 2.5e-7 on the
 *   smooth synthetic image: f32 sums over ~3000 rows and f32 projection / image gradients).
 * - energies: relative ≤ 1e-5 (measured ≤ 4e-7).
 * - photometric set: identical to the reference's, or ≤ 0.5 % of it different (a vertex on the
 *   silhouette can flip between f32 and f64); JᵀJ is then compared on the GPU's set.
 * - rasteriser: same inputs as the CPU reference: ≥ 99.9 % of pixels see the same triangle
 *   (exact integer coverage; depth ties resolved in f32 vs f64), colour within 1 byte,
 *   depth within 1e-5 relative.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { rollup, type Plugin } from 'rollup';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- plain ESM config module without type declarations
import { wgslString } from '../../rollup.config.mjs';
import { openPage, withDevice } from './harness.js';

const ENTRY = 'test/browser/pages/opt-gpu-entry.ts';
const BUNDLE = 'build/test-pages/opt-gpu-entry.js';
const OUT_DIR = 'build/test-output/opt-gpu';

/** Resolves `./x.js` imports to `./x.ts` and strips types with ts.transpileModule (no type-check). */
function transpileTs(): Plugin {
  return {
    name: 'transpile-ts',
    async resolveId(source, importer) {
      if (!importer || !source.startsWith('.') || !source.endsWith('.js')) return null;
      const ts = path.resolve(path.dirname(importer), source.slice(0, -3) + '.ts');
      return (await this.resolve(ts, importer, { skipSelf: true }))?.id ?? ts;
    },
    transform(code, id) {
      if (!id.endsWith('.ts')) return null;
      const out = ts.transpileModule(code, {
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true, verbatimModuleSyntax: false },
        fileName: id,
      });
      return { code: out.outputText, map: out.sourceMapText ? JSON.parse(out.sourceMapText) : null };
    },
  };
}

type Entry = Record<string, (device: GPUDevice, arg: unknown) => Promise<any>>;

beforeAll(async () => {
  const bundle = await rollup({ input: ENTRY, plugins: [wgslString(), transpileTs()], onwarn: (w) => { throw new Error(w.message); } });
  await bundle.write({ file: BUNDLE, format: 'es', sourcemap: true });
  await bundle.close();
  mkdirSync(OUT_DIR, { recursive: true });
});

async function runInPage<T>(name: string, arg: unknown): Promise<{ result: T; live: number }> {
  const page = await openPage('/test/browser/pages/opt-gpu.html');
  const result = await withDevice(page, (device, a: { name: string; arg: unknown }) =>
    ((globalThis as unknown as { optGpu: Entry }).optGpu[a.name])(device, a.arg), { name, arg });
  const live = await page.evaluate(() => (globalThis as unknown as { lastLiveBuffers?: number }).lastLiveBuffers ?? -1);
  return { result: result as T, live };
}

describe('WebGPU Opt backend (SwiftShader)', () => {
  it('decode, normals and project_shade match decode.ts / normals.ts / camera.ts / shading.ts on all T1 vertices', async () => {
    const { result: r, live } = await runInPage<any>('forward', { sampleCount: 1000, visibility: 'front-facing' });
    console.info(`forward: ${JSON.stringify(r)}`);
    expect(r.vertexCount).toBeGreaterThan(5000);
    expect(r.positionErrMm).toBeLessThanOrEqual(2e-3);
    expect(r.albedoErr).toBeLessThanOrEqual(1e-5);
    expect(r.normalErr).toBeLessThanOrEqual(1e-4);
    expect(r.normalCameraErr).toBeLessThanOrEqual(1e-4);
    expect(r.cameraErrMm).toBeLessThanOrEqual(2e-3);
    expect(r.depthErrMm).toBeLessThanOrEqual(2e-3);
    expect(r.screenErrPx).toBeLessThanOrEqual(5e-3);
    expect(r.colorErr).toBeLessThanOrEqual(1e-4);
    expect(r.front).toBeGreaterThan(1000);
    expect(r.frontMismatch).toBeLessThanOrEqual(3);
    expect(live).toBe(0);
  });

  for (const visibility of ['front-facing', 'zbuffer'] as const) {
    it(`linearize / energy match the reference backend (${visibility}, 1000 sampled vertices + 68 landmarks)`, async () => {
      const { result: r, live } = await runInPage<any>('linearize', { sampleCount: 1000, visibility, repeats: 3 });
      console.info(`linearize ${visibility}: ${JSON.stringify(r)}`);
      expect(r.photoVertices).toBeGreaterThan(300);
      expect(r.onlyGpu + r.onlyRef).toBeLessThanOrEqual(Math.ceil(0.005 * r.refPhotoVertices));
      expect(r.symmetric).toBe(true);
      expect(r.badDiag).toBe(''); // diagonal entries off by > 1e-3 relative, listed by column
      expect(r.jtjScaled).toBeLessThanOrEqual(1e-4);
      expect(r.jtjFrobeniusRel).toBeLessThanOrEqual(1e-5);
      expect(r.jtfScaled).toBeLessThanOrEqual(1e-4);
      for (const k of ['total', 'photo', 'land', 'reg'] as const) expect(r.energyRel[k]).toBeLessThanOrEqual(1e-5);
      for (const k of ['total', 'photo', 'land'] as const) expect(r.trialEnergyRel[k]).toBeLessThanOrEqual(1e-5);
      expect(r.trialEnergy).not.toBe(r.energy.total); // the trial step changes E
      expect(r.behindTotal).toBe('Infinity');
      expect(live).toBe(0);
    });
  }

  // Every front-face vertex (~6100 used, ~18 000 rows) takes ~25 s on SwiftShader: opt in with
  // MOFA_OPT_GPU_FULL=1.
  const profileSamples = process.env.MOFA_OPT_GPU_FULL ? [1000, 0] : [1000];
  it(`profiles linearize per pass (sampleCount ${profileSamples.join(', ')}; 0 = every front-face vertex)`, async () => {
    for (const sampleCount of profileSamples) {
      const { result: r, live } = await runInPage<any>('profile', { sampleCount, visibility: 'zbuffer', repeats: 2 });
      console.info(`profile sampleCount=${sampleCount}: ${JSON.stringify(r)}`);
      expect(r.finite).toBe(true);
      expect(r.stages.map((s: { stage: string }) => s.stage)).toEqual([
        'decode', 'normals', 'project_shade', 'rasterize', 'photo_select', 'residual_rows', 'energy',
        'normal_equations', 'reduce_partials', 'copy_results',
      ]);
      expect(live).toBe(0);
    }
  });

  it('normal_equations + reduce_partials: AᵀA of a random 3000 × 258 matrix matches float64 JS; timings', async () => {
    // Row counts: 3·1000 + 2·68 (the sampled test problem) and 3·6862 + 2·68 (every front-face vertex).
    const cases = [{ rows: 3136, rowsPerChunk: 64 }, { rows: 3136, rowsPerChunk: 256 }, { rows: 3136, rowsPerChunk: 1024 }, { rows: 20722, rowsPerChunk: 256 }];
    const { result: r, live } = await runInPage<any>('normalEquations', { checkRows: 3000, cases, repeats: 1 });
    console.info(`normal equations: ${JSON.stringify(r)}`);
    expect(r.check.maxScaled).toBeLessThanOrEqual(1e-5);
    expect(live).toBe(0);
  });

  it('rasterize + rasterize_resolve match sdk/render/rasterize.ts (z-buffer, top-left rule, colours)', async () => {
    const { result: r } = await runInPage<any>('raster', { width: 480, height: 480, focalPx: 2000 });
    const { rgba, ...summary } = r;
    console.info(`raster: ${JSON.stringify(summary)}`);
    const png = new PNG({ width: 480, height: 480 });
    png.data.set(rgba);
    writeFileSync(path.join(OUT_DIR, 'raster-gpu.png'), PNG.sync.write(png));
    expect(r.covered).toBeGreaterThan(0.2 * r.pixels);
    expect(r.idMismatch).toBeLessThanOrEqual(0.001 * r.covered);
    expect(r.colorErrBytes).toBeLessThanOrEqual(1);
    expect(r.depthRel).toBeLessThanOrEqual(1e-5);
    expect(r.skipped).toBe(0);
    expect(r.live).toBe(0);
  });
});
