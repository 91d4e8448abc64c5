/**
 * reconstruct() in Chromium through the Web Worker (dist/mofa-web.js + dist/workers/
 * reconstruct-worker.js, default asset locations dist/assets/): quality 'fast' on a portrait
 * (compared with the same reconstruction in Node), MofaError codes crossing the worker
 * boundary with `instanceof`, concurrent calls, progress, abort, close (no worker left).
 */
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReconstructor, type Reconstructor } from '../../sdk/reconstructor.js';
import type { ReconstructionResult } from '../../sdk/types/reconstruct-result.js';
import { openPage } from './harness.js';

const ORT_WASM_PATHS = '/node_modules/onnxruntime-web/dist/';
const PORTRAIT = 'demo/assets/astronaut.png';

type MofaModule = typeof import('../../sdk/index.js');
interface PageGlobals {
  mofa: MofaModule;
}

function median(v: ArrayLike<number>): number {
  const a = Float64Array.from(v).sort();
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : 0.5 * (a[m - 1] + a[m]);
}

describe('reconstruct() in a Web Worker (Chromium)', () => {
  let nodeRec: Reconstructor;
  let nodeResult: ReconstructionResult;

  beforeAll(async () => {
    nodeRec = await createReconstructor({ runIn: 'thread' });
    nodeResult = await nodeRec.reconstruct(PORTRAIT);
  }, 120_000);
  afterAll(async () => {
    await nodeRec?.close();
  });

  it("reconstructs a portrait at quality 'fast' (img element → worker), matching the Node result", async () => {
    const page: Page = await openPage('/test/browser/pages/sdk.html');
    const out = await page.evaluate(
      async (src: string, ortWasmPaths: string) => {
        const { mofa } = globalThis as unknown as PageGlobals;
        const img = new Image();
        img.src = src;
        await img.decode();
        const rec = await mofa.createReconstructor({ assets: { ortWasmPaths } });
        const stages: string[] = [];
        const t0 = performance.now();
        const res = await rec.reconstruct(img, { onProgress: (p) => stages.push(`${p.stage}:${p.fraction.toFixed(2)}`) });
        const ms = performance.now() - t0;
        const f = res.faces[0];
        const proj = f.projectToImage(f.mesh.position.subarray(0, 468 * 3));
        const E = f.lighting.irradiance(f.mesh.normal.subarray(0, 3));
        await rec.close();
        return {
          runIn: rec.runIn,
          ms,
          stages,
          faces: res.faces.length,
          imageSize: res.imageSize,
          diagnostics: res.diagnostics,
          types: [f.mesh.position, f.mesh.normal, f.mesh.index, f.mesh.uv, f.albedo, f.code].map((a) => a.constructor.name),
          lengths: [f.mesh.position.length, f.mesh.index.length, f.code.length, f.lighting.sh.length],
          landmarks: Array.from(f.landmarks),
          projected: Array.from(proj),
          detected: Array.from(f.detectedLandmarks),
          code: Array.from(f.code),
          irradianceFinite: Array.from(E).every(Number.isFinite),
          finite: [f.mesh.position, f.mesh.normal, f.albedo, f.code].every((a) => Array.from(a).every(Number.isFinite)),
        };
      },
      `/${PORTRAIT}`,
      ORT_WASM_PATHS,
    );
    const nf = nodeResult.faces[0];
    const err = Array.from({ length: 468 }, (_, i) => Math.hypot(out.projected[2 * i] - out.detected[3 * i], out.projected[2 * i + 1] - out.detected[3 * i + 1]));
    const vsNode = Array.from({ length: 468 }, (_, i) => Math.hypot(out.landmarks[2 * i] - nf.landmarks[2 * i], out.landmarks[2 * i + 1] - nf.landmarks[2 * i + 1]));
    console.info(`worker reconstruction ${out.ms.toFixed(0)} ms (incl. loading): stageMs ${JSON.stringify(Object.fromEntries(Object.entries(out.diagnostics.stageMs).map(([k, v]) => [k, Math.round(v as number)])))}; median landmark error ${median(err).toFixed(2)} px; median |browser − Node| ${median(vsNode).toFixed(3)} px; backend ${out.diagnostics.backend}: ${out.diagnostics.backendReason}`);
    expect(out.runIn).toBe('worker');
    expect(out.diagnostics.runIn).toBe('worker');
    expect(out.faces).toBe(1);
    expect(out.imageSize).toEqual(nodeResult.imageSize);
    expect(out.types).toEqual(['Float32Array', 'Float32Array', 'Uint32Array', 'Float32Array', 'Float32Array', 'Float64Array']);
    expect(out.lengths).toEqual([nf.mesh.position.length, nf.mesh.index.length, 257, 27]);
    expect(out.finite).toBe(true);
    expect(out.irradianceFinite).toBe(true);
    expect(median(err)).toBeLessThan(3);
    expect(median(vsNode)).toBeLessThan(1); // same pipeline, browser PNG decode + ORT wasm vs Node
    for (let i = 0; i < 468 * 2; i++) expect(out.landmarks[i]).toBeCloseTo(out.projected[i], 3);
    // SwiftShader (no GPU here) → 'auto' picks wasm and says why; never silently.
    expect(out.diagnostics.backend).toBe('wasm');
    expect(out.diagnostics.backendReason).toMatch(/software|fallback|navigator\.gpu|no adapter/i);
    expect(out.diagnostics.modelVersion).toBe(nodeResult.diagnostics.modelVersion);
    expect(out.diagnostics.assetVersions).toEqual(nodeResult.diagnostics.assetVersions);
    expect(out.stages.map((s) => s.split(':')[0])).toEqual(['load', 'decode', 'detect', 'landmarks', 'init', 'result']);
    expect(out.stages.at(-1)).toBe('result:1.00');
  });

  it('MofaError codes cross the worker boundary (instanceof + code); 5 concurrent calls resolve; close() leaves no worker', async () => {
    const page: Page = await openPage('/test/browser/pages/sdk.html');
    const out = await page.evaluate(
      async (src: string, ortWasmPaths: string) => {
        const { mofa } = globalThis as unknown as PageGlobals;
        const rec = await mofa.createReconstructor({ assets: { ortWasmPaths } });
        const codeOf = async (p: Promise<unknown>) => {
          try {
            await p;
            return 'resolved';
          } catch (e) {
            return `${e instanceof mofa.MofaError}:${(e as { code?: string }).code}:${(e as Error).message.slice(0, 60)}`;
          }
        };
        const badBytes = await codeOf(rec.reconstruct(new TextEncoder().encode('not an image at all')));
        const empty = await codeOf(rec.reconstruct({ data: new Uint8ClampedArray(0), width: 0, height: 0 }));
        const ac = new AbortController();
        ac.abort();
        const aborted = await codeOf(rec.reconstruct(src, { signal: ac.signal }));
        // A corrupt mofa.wasm asset: the error of the 'balanced' stage crosses the worker boundary.
        const recBadWasm = await mofa.createReconstructor({ assets: { ortWasmPaths, mofaWasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0]) } });
        const badWasm = await codeOf(recBadWasm.reconstruct(src, { quality: 'balanced' }));
        await recBadWasm.close();
        // 5 concurrent calls on an ImageData (structured-cloned: the caller's buffer stays usable).
        const bmp = await createImageBitmap(await (await fetch(src)).blob());
        const canvas = new OffscreenCanvas(bmp.width, bmp.height);
        const ctx = canvas.getContext('2d')!;
        ctx.drawImage(bmp, 0, 0);
        const imageData = ctx.getImageData(0, 0, bmp.width, bmp.height);
        const t0 = performance.now();
        const results = await Promise.all(Array.from({ length: 5 }, () => rec.reconstruct(imageData)));
        const concurrentMs = performance.now() - t0;
        const inputIntact = imageData.data.length === bmp.width * bmp.height * 4;
        // The same photo as a URL string and as a Blob (both decoded inside the worker) and as an ImageBitmap.
        const blob = await (await fetch(src)).blob();
        const viaUrl = await rec.reconstruct(src);
        const viaBlob = await rec.reconstruct(blob);
        const viaBitmap = await rec.reconstruct(bmp);
        const bitmapUsable = bmp.width > 0; // cloned, not transferred: the caller's bitmap stays open
        const otherCodes = [viaUrl, viaBlob, viaBitmap].map((r) => Array.from(r.faces[0].code.slice(224, 230)));
        const firstCodes = results.map((r) => Array.from(r.faces[0].code.slice(224, 230)));
        (globalThis as unknown as { rec: typeof rec; imageData: ImageData }).rec = rec;
        (globalThis as unknown as { rec: typeof rec; imageData: ImageData }).imageData = imageData;
        return { badBytes, empty, aborted, badWasm, concurrentMs, inputIntact, firstCodes, otherCodes, bitmapUsable };
      },
      `/${PORTRAIT}`,
      ORT_WASM_PATHS,
    );
    // One worker for `rec`; the closed `recBadWasm` one may still be listed for a moment
    // (Puppeteer learns of terminated workers asynchronously): poll for up to 5 s.
    const countWorkers = () => page.workers().filter((w) => w.url().includes('reconstruct-worker')).length;
    for (let i = 0; i < 50 && countWorkers() > 1; i++) await new Promise((r) => setTimeout(r, 100));
    const workersOpen = countWorkers();
    const closed = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals & { rec: Reconstructor; imageData: ImageData };
      await g.rec.close();
      await g.rec.close(); // twice is harmless
      try {
        await g.rec.reconstruct(g.imageData);
        return 'resolved';
      } catch (e) {
        return `${e instanceof g.mofa.MofaError}:${(e as { code?: string }).code}:${(e as Error).message.slice(0, 60)}`;
      }
    });
    console.info(`5 concurrent worker calls: ${out.concurrentMs.toFixed(0)} ms; errors: ${JSON.stringify([out.badBytes, out.empty, out.aborted, out.badWasm, closed])}`);
    expect(workersOpen).toBe(1);
    expect(out.badBytes).toMatch(/^true:BAD_INPUT:/);
    expect(out.empty).toMatch(/^true:BAD_INPUT:/);
    expect(out.aborted).toMatch(/^true:ABORTED:/);
    expect(out.badWasm).toMatch(/^true:MODEL_INTEGRITY:/);
    expect(closed).toMatch(/^true:CLOSED:/);
    expect(out.inputIntact).toBe(true);
    expect(out.firstCodes).toHaveLength(5);
    for (const c of out.firstCodes) expect(c).toEqual(out.firstCodes[0]); // deterministic, no cross-talk between queued calls
    expect(out.bitmapUsable).toBe(true);
    for (const c of out.otherCodes) for (let k = 0; k < 6; k++) expect(c[k]).toBeCloseTo(out.firstCodes[0][k], 4); // URL / Blob / ImageBitmap decode to the same pixels
    // Pose of the concurrent results matches the Node reconstruction of the same photo.
    const nodePose = Array.from(nodeResult.faces[0].code.slice(224, 230));
    for (let k = 0; k < 3; k++) expect(Math.abs(out.firstCodes[0][k] - nodePose[k])).toBeLessThan(0.02);
    // No worker survives close().
    // (Puppeteer learns of the terminated worker asynchronously: poll for up to 5 s.)
    for (let i = 0; i < 50 && countWorkers() > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(countWorkers()).toBe(0);
  });
});
