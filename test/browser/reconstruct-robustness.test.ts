/**
 * Robustness of reconstruct() in Chromium through the Web Worker (issue 5, item 7):
 * - 20 concurrent calls on the same input all resolve, with identical results;
 * - 200 sequential calls in one reconstructor leave exactly one worker and a bounded JS heap
 *   (worker and page heaps measured with the DevTools protocol after a forced GC);
 * - backend 'webgpu' (SwiftShader here, chosen explicitly): repeated 'balanced' calls leak no
 *   GPU buffers, and after the GPU device is destroyed inside the worker (simulated device
 *   loss) the next call recreates the device and succeeds;
 * - a 1×1 PNG → BAD_INPUT and a truncated face model → MODEL_INTEGRITY across the worker boundary;
 * - a 20000×20000 PNG Blob (made in Node: test/browser/huge-png.ts) is decoded downscaled
 *   (MAX_DECODED_SIDE), not rejected, and its landmarks come back in the original pixels.
 *
 * The worker is test/browser/pages/gpu-instrumented-worker.js: the real
 * dist/workers/reconstruct-worker.js preceded by a TEST-ONLY module that counts the live
 * GPUBuffers of every device the worker creates and can destroy those devices. The SDK has no
 * test hook; the counts are independent of its own bookkeeping.
 *
 * Input: a 160×160 crop of the portrait around the face (small, so 'fast' calls are cheap).
 */
import type { Page, WebWorker } from 'puppeteer-core';
import { describe, expect, it } from 'vitest';
import type { Reconstructor } from '../../sdk/reconstructor.js';
import { MAX_DECODED_SIDE, MAX_DETECTION_SIDE } from '../../sdk/pipeline/input.js';
import { openPage } from './harness.js';
import { hugePortraitPng } from './huge-png.js';

const ORT_WASM_PATHS = '/node_modules/onnxruntime-web/dist/';
const PORTRAIT = '/demo/assets/astronaut.png';
/** 160×160 crop of the 512×512 portrait containing the face (landmark box ≈ x 179..273, y 69..177). */
const CROP = { x: 146, y: 43, size: 160 };
const WORKER = '/test/browser/pages/gpu-instrumented-worker.js';
/** Issue 5 asks for 200; MOFA_SEQUENTIAL_CALLS (≥ 2 chunks' worth) shortens local runs (each 'fast' call costs ~0.2–0.5 s here). */
const SEQUENTIAL_CALLS = Number(process.env.MOFA_SEQUENTIAL_CALLS ?? 200);
const CHUNK = 50;

type MofaModule = typeof import('../../sdk/index.js');
interface GpuReport {
  live: number;
  created: number;
  lost: string | null;
}
interface PageGlobals {
  mofa: MofaModule;
  rec: Reconstructor;
  crop: ImageData;
  codes: number[][];
}
interface WorkerGlobals {
  __mofaTestGpu: { report(): GpuReport[]; destroyDevices(): number };
}

/** Opens the SDK page and stores the 160×160 face crop as `globalThis.crop`. */
async function openWithCrop(): Promise<Page> {
  const page = await openPage('/test/browser/pages/sdk.html');
  await page.evaluate(
    async (src: string, c: typeof CROP) => {
      const bmp = await createImageBitmap(await (await fetch(src)).blob());
      const canvas = new OffscreenCanvas(c.size, c.size);
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(bmp, -c.x, -c.y);
      (globalThis as unknown as PageGlobals).crop = ctx.getImageData(0, 0, c.size, c.size);
    },
    PORTRAIT,
    CROP,
  );
  return page;
}

const reconstructWorkers = (page: Page): WebWorker[] => page.workers().filter((w) => w.url().includes('gpu-instrumented-worker'));

/** Waits (≤ 5 s) until Puppeteer lists `n` reconstruction workers (it learns of them asynchronously); returns the count. */
async function settleWorkerCount(page: Page, n: number): Promise<number> {
  for (let i = 0; i < 50 && reconstructWorkers(page).length !== n; i++) await new Promise((r) => setTimeout(r, 100));
  return reconstructWorkers(page).length;
}

/** JS heap in use (bytes) after a forced major GC, through the DevTools protocol of a page or worker. */
async function heapAfterGc(client: { send(m: 'HeapProfiler.collectGarbage'): Promise<unknown>; send(m: 'Runtime.getHeapUsage'): Promise<{ usedSize: number }> }): Promise<number> {
  await client.send('HeapProfiler.collectGarbage');
  return (await client.send('Runtime.getHeapUsage')).usedSize;
}

const MB = 1024 * 1024;

describe('reconstruct() robustness in a Web Worker (Chromium)', () => {
  it("20 concurrent 'fast' calls resolve with identical results; 1×1 PNG → BAD_INPUT; truncated face model → MODEL_INTEGRITY", async () => {
    const page = await openWithCrop();
    const out = await page.evaluate(
      async (worker: string, ortWasmPaths: string) => {
        const g = globalThis as unknown as PageGlobals;
        const { mofa } = g;
        const codeOf = async (p: Promise<unknown>) => {
          try {
            await p;
            return 'resolved';
          } catch (e) {
            return `${e instanceof mofa.MofaError}:${(e as { code?: string }).code}:${(e as Error).message.slice(0, 80)}`;
          }
        };
        const rec = await mofa.createReconstructor({ assets: { ortWasmPaths, worker } });
        await rec.reconstruct(g.crop); // load the assets first: the concurrent calls then measure the queue
        const t0 = performance.now();
        const results = await Promise.all(Array.from({ length: 20 }, () => rec.reconstruct(g.crop, { quality: 'fast' })));
        const ms = performance.now() - t0;
        const canvas = new OffscreenCanvas(1, 1);
        canvas.getContext('2d')!.fillRect(0, 0, 1, 1);
        const onePx = await codeOf(rec.reconstruct(await canvas.convertToBlob({ type: 'image/png' })));
        await rec.close();
        const model = new Uint8Array(await (await fetch('/dist/assets/mofa-face-v1.mofa')).arrayBuffer());
        const recTrunc = await mofa.createReconstructor({ assets: { ortWasmPaths, worker, faceModel: model.slice(0, model.length >> 1) } });
        const truncated = await codeOf(recTrunc.reconstruct(g.crop));
        await recTrunc.close();
        return {
          ms,
          faces: results.map((r) => r.faces.length),
          codes: results.map((r) => Array.from(r.faces[0].code)),
          landmarks: results.map((r) => Array.from(r.faces[0].landmarks)),
          positions0: Array.from(results[0].faces[0].mesh.position.subarray(0, 30)),
          positions19: Array.from(results[19].faces[0].mesh.position.subarray(0, 30)),
          imageSizes: results.map((r) => `${r.imageSize.width}x${r.imageSize.height}`),
          onePx,
          truncated,
        };
      },
      WORKER,
      ORT_WASM_PATHS,
    );
    console.info(`20 concurrent 'fast' calls on a ${CROP.size}² crop: ${out.ms.toFixed(0)} ms (${(out.ms / 20).toFixed(0)} ms/call); 1×1 PNG: ${out.onePx}; truncated model: ${out.truncated}`);
    expect(out.faces).toEqual(Array(20).fill(1));
    expect(new Set(out.imageSizes)).toEqual(new Set([`${CROP.size}x${CROP.size}`]));
    for (let i = 1; i < 20; i++) {
      expect(out.codes[i]).toEqual(out.codes[0]); // bit-identical: no cross-talk between queued calls
      expect(out.landmarks[i]).toEqual(out.landmarks[0]);
    }
    expect(out.positions19).toEqual(out.positions0);
    // The face is where the crop put it: landmarks inside the crop, around the face centre.
    const xs = out.landmarks[0].filter((_, k) => k % 2 === 0), ys = out.landmarks[0].filter((_, k) => k % 2 === 1);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean(xs) - (226 - CROP.x))).toBeLessThan(15);
    expect(Math.abs(mean(ys) - (123 - CROP.y))).toBeLessThan(15);
    expect(out.onePx).toMatch(/^true:BAD_INPUT:/);
    expect(out.truncated).toMatch(/^true:MODEL_INTEGRITY:/);
  });

  it(`${SEQUENTIAL_CALLS} sequential 'fast' calls: one worker throughout, no unbounded JS heap growth (worker and page)`, async () => {
    expect(SEQUENTIAL_CALLS % CHUNK === 0 && SEQUENTIAL_CALLS >= 2 * CHUNK, `MOFA_SEQUENTIAL_CALLS must be a multiple of ${CHUNK}, ≥ ${2 * CHUNK}`).toBe(true);
    const page = await openWithCrop();
    await page.evaluate(
      async (worker: string, ortWasmPaths: string) => {
        const g = globalThis as unknown as PageGlobals;
        g.rec = await g.mofa.createReconstructor({ assets: { ortWasmPaths, worker } });
        g.codes = [];
      },
      WORKER,
      ORT_WASM_PATHS,
    );
    const pageCdp = await page.createCDPSession();
    const samples: { calls: number; workers: number; workerHeap: number; pageHeap: number; ms: number }[] = [];
    for (let done = 0; done < SEQUENTIAL_CALLS; done += CHUNK) {
      const ms = await page.evaluate(async (n: number) => {
        const g = globalThis as unknown as PageGlobals;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const r = await g.rec.reconstruct(g.crop, { quality: 'fast' });
          if (i === n - 1) g.codes.push(Array.from(r.faces[0].code.subarray(224, 230)));
        }
        return performance.now() - t0;
      }, CHUNK);
      const workers = await settleWorkerCount(page, 1);
      const [w] = reconstructWorkers(page);
      samples.push({ calls: done + CHUNK, workers, workerHeap: await heapAfterGc(w.client), pageHeap: await heapAfterGc(pageCdp), ms });
    }
    const codes = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      await g.rec.close();
      return g.codes;
    });
    const after = await settleWorkerCount(page, 0);
    await pageCdp.detach();
    console.info(
      `${SEQUENTIAL_CALLS} sequential 'fast' calls: ` +
        samples.map((s) => `after ${s.calls}: ${s.workers} worker, worker heap ${(s.workerHeap / MB).toFixed(1)} MB, page heap ${(s.pageHeap / MB).toFixed(1)} MB, ${(s.ms / CHUNK).toFixed(0)} ms/call`).join('; ') +
        `; workers after close(): ${after}`,
    );
    for (const s of samples) expect(s.workers).toBe(1);
    expect(after).toBe(0);
    // Steady state after the first chunk (JIT, ORT arenas, caches warmed): the heaps after a
    // forced GC may not grow by more than 8 MB over the next 150 calls. One leaked result per
    // call (T1 mesh + albedo ≈ 0.3 MB) would add ≈ 45 MB.
    const first = samples[0], last = samples.at(-1)!;
    expect(last.workerHeap - first.workerHeap).toBeLessThan(8 * MB);
    expect(last.pageHeap - first.pageHeap).toBeLessThan(8 * MB);
    // Same input, same answer, from the first to the last call.
    for (const c of codes) expect(c).toEqual(codes[0]);
  }, 300_000);

  it("backend 'webgpu' (SwiftShader), 'balanced': no GPU buffer leak over repeated calls; after the device is destroyed the next call recreates it and succeeds", async () => {
    const page = await openWithCrop();
    const run = (): Promise<{ backend: string; quality: string; opt: number[]; finite: boolean }> =>
      page.evaluate(async () => {
        const g = globalThis as unknown as PageGlobals;
        const r = await g.rec.reconstruct(g.crop, { quality: 'balanced' });
        const f = r.faces[0];
        return {
          backend: r.diagnostics.backend,
          quality: r.diagnostics.quality,
          opt: r.diagnostics.energies[0].opt,
          finite: [f.mesh.position, f.code, f.landmarks].every((a) => Array.from(a).every(Number.isFinite)),
        };
      });
    await page.evaluate(
      async (worker: string, ortWasmPaths: string) => {
        const g = globalThis as unknown as PageGlobals;
        g.rec = await g.mofa.createReconstructor({ backend: 'webgpu', assets: { ortWasmPaths, worker }, iterations: { opt: 1, optSamples: 500 } });
      },
      WORKER,
      ORT_WASM_PATHS,
    );
    const gpu = async (): Promise<GpuReport[]> => {
      const [w] = reconstructWorkers(page);
      return w.evaluate(() => (self as unknown as WorkerGlobals).__mofaTestGpu.report());
    };
    const t0 = performance.now();
    const runs = [];
    const reports: GpuReport[][] = [];
    for (let k = 0; k < 3; k++) {
      runs.push(await run());
      reports.push(await gpu());
    }
    const tLeak = performance.now() - t0;
    // Simulated device loss between calls: destroy the worker's GPUDevice.
    const [w] = reconstructWorkers(page);
    const destroyed = await w.evaluate(() => (self as unknown as WorkerGlobals).__mofaTestGpu.destroyDevices());
    const afterLoss = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      try {
        const r = await g.rec.reconstruct(g.crop, { quality: 'balanced' });
        return { ok: true, backend: r.diagnostics.backend, code: '' };
      } catch (e) {
        return { ok: false, backend: '', code: `${e instanceof g.mofa.MofaError}:${(e as { code?: string }).code}:${(e as Error).message.slice(0, 80)}` };
      }
    });
    const reportAfterLoss = await gpu();
    const next = await run();
    const reportNext = await gpu();
    await page.evaluate(() => (globalThis as unknown as PageGlobals).rec.close());
    console.info(
      `webgpu 'balanced' (1 GN iteration, 500 samples): 3 calls ${tLeak.toFixed(0)} ms; live GPU buffers after each call ${reports.map((r) => r.map((d) => d.live).join('/')).join(', ')} (created ${reports.map((r) => r.map((d) => d.created).join('/')).join(', ')}); ` +
        `destroyed ${destroyed} device(s); next call: ${afterLoss.ok ? `succeeded (${afterLoss.backend})` : afterLoss.code}; devices then ${JSON.stringify(reportAfterLoss)}; call after: ${JSON.stringify(reportNext)}`,
    );
    for (const r of runs) {
      expect(r.backend).toBe('webgpu');
      expect(r.quality).toBe('balanced');
      expect(r.finite).toBe(true);
      expect(r.opt.at(-1)!).toBeLessThan(r.opt[0]);
    }
    // One device; its live buffer count returns to the post-first-call level after every call.
    for (const r of reports) expect(r).toHaveLength(1);
    expect(reports[0][0].live).toBeGreaterThan(0);
    expect(reports[1][0].live).toBe(reports[0][0].live);
    expect(reports[2][0].live).toBe(reports[0][0].live);
    // Device loss is recovered: the call right after the loss succeeds on a new device (the
    // pipeline notices the lost device before using it) ...
    expect(destroyed).toBe(1);
    expect(afterLoss).toEqual({ ok: true, backend: 'webgpu', code: '' });
    expect(reportAfterLoss).toHaveLength(2);
    expect(reportAfterLoss[0].lost).toBe('destroyed');
    expect(reportAfterLoss[1].lost).toBeNull();
    // ... which holds the same number of live buffers as the first device did, and keeps it.
    expect(reportAfterLoss[1].live).toBe(reports[0][0].live);
    expect(next.backend).toBe('webgpu');
    expect(next.finite).toBe(true);
    expect(reportNext).toHaveLength(2);
    expect(reportNext[1].live).toBe(reports[0][0].live);
  }, 300_000);

  it('a 20000×20000 PNG Blob is decoded downscaled, not rejected; its landmarks are in the original pixels', async () => {
    const tGen = performance.now();
    // The portrait upscaled 39× (19968 px) nearly fills the image: the face (≈ 18 % of the image
    // width) stays within the short-range detector's range after the downscale to 1024 px.
    // (At 16× the face is 7.5 % of the width, ≈ 10 px at the detector's 128 px input: NO_FACE,
    // as for any photo with a face that small, whatever its resolution.)
    const png = await hugePortraitPng(PORTRAIT.slice(1), 20000, 39, 16, 16);
    const genMs = performance.now() - tGen;
    const page = await openPage('/test/browser/pages/sdk.html');
    const out = await page.evaluate(
      async (b64: string, worker: string, ortWasmPaths: string, portrait: string) => {
        const { mofa } = globalThis as unknown as PageGlobals;
        const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' });
        const rec = await mofa.createReconstructor({ assets: { ortWasmPaths, worker } });
        try {
          const ref = await rec.reconstruct(portrait);
          const t0 = performance.now();
          const big = await rec.reconstruct(blob);
          const ms = performance.now() - t0;
          const f = big.faces[0];
          return {
            ms,
            blobBytes: blob.size,
            imageSize: big.imageSize,
            detectionImageSize: big.diagnostics.detectionImageSize,
            stageMs: big.diagnostics.stageMs,
            landmarks: Array.from(f.landmarks),
            projected: Array.from(f.projectToImage(f.mesh.position.subarray(0, 468 * 3))),
            detected: Array.from(f.detectedLandmarks),
            faceBox: f.faceBox,
            ref: Array.from(ref.faces[0].landmarks),
            refBox: ref.faces[0].faceBox,
          };
        } finally {
          await rec.close();
        }
      },
      Buffer.from(png.bytes).toString('base64'),
      WORKER,
      ORT_WASM_PATHS,
      PORTRAIT,
    );
    const { factor: F, offsetX, offsetY } = png;
    // Original px → portrait px: (x − offset) / F.
    const d = Array.from({ length: 468 }, (_, i) => Math.hypot((out.landmarks[2 * i] - offsetX) / F - out.ref[2 * i], (out.landmarks[2 * i + 1] - offsetY) / F - out.ref[2 * i + 1]));
    const dDet = Array.from({ length: 468 }, (_, i) => Math.hypot((out.detected[3 * i] - offsetX) / F - out.ref[2 * i], (out.detected[3 * i + 1] - offsetY) / F - out.ref[2 * i + 1]));
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
    console.info(
      `${png.width}×${png.height} PNG (${(out.blobBytes / 1e6).toFixed(1)} MB, generated in ${genMs.toFixed(0)} ms): reconstructed in ${out.ms.toFixed(0)} ms ${JSON.stringify(Object.fromEntries(Object.entries(out.stageMs).map(([k, v]) => [k, Math.round(v as number)])))}; ` +
        `detection image ${out.detectionImageSize.width}×${out.detectionImageSize.height}; median landmark offset vs the 512² portrait ${med(d).toFixed(2)} portrait px (detected landmarks ${med(dDet).toFixed(2)}); face box ${JSON.stringify(out.faceBox)}`,
    );
    expect(out.imageSize).toEqual({ width: 20000, height: 20000 });
    expect(Math.max(out.detectionImageSize.width, out.detectionImageSize.height)).toBe(MAX_DETECTION_SIDE);
    expect(MAX_DECODED_SIDE).toBeLessThan(20000);
    // Landmarks, projectToImage and the landmarker's points are all in original (20000²) pixels
    // and land on the face: within 1.5 portrait px (= 58 original px) of the portrait's own result.
    expect(med(d)).toBeLessThan(1.5);
    expect(med(dDet)).toBeLessThan(1.5);
    for (let i = 0; i < 468 * 2; i++) expect(out.landmarks[i]).toBeCloseTo(out.projected[i], 1);
    expect(Math.abs((out.faceBox.x - offsetX) / F - out.refBox.x)).toBeLessThan(4);
    expect(Math.abs(out.faceBox.width / F - out.refBox.width)).toBeLessThan(6);
  }, 300_000);
});
