/**
 * The face-model bundle in the browser: dist/mofa-web.js's loadFaceModel fetches, checks
 * (SHA-256 via WebCrypto) and expands models/mofa-face-v1.mofa in Chromium, and a truncated
 * copy is rejected with MODEL_INTEGRITY. Prints the load time (docs/model evidence).
 */
import { describe, expect, it } from 'vitest';
import { openPage } from './harness.js';

interface Loaded {
  ms: number;
  bytes: number;
  t1: number;
  t2: number;
  shapeDim: number;
  names: number;
  finite: boolean;
}

describe('face-model bundle in Chromium', () => {
  it('loads, validates and expands the bundle', async () => {
    const page = await openPage('/test/browser/pages/sdk.html');
    const r = await page.evaluate(async (): Promise<Loaded> => {
      const m = (globalThis as any).mofa;
      const bytes = new Uint8Array(await (await fetch('/models/mofa-face-v1.mofa')).arrayBuffer());
      const t0 = performance.now();
      const model = await m.loadFaceModel(bytes);
      const ms = performance.now() - t0;
      let finite = true;
      for (const a of [model.t1.meanShape, model.shapeBasis, model.expressionBasis, model.albedoBasis]) {
        for (let i = 0; i < a.length; i += 97) if (!Number.isFinite(a[i])) finite = false;
      }
      return { ms, bytes: bytes.length, t1: model.t1.vertexCount, t2: model.t2.vertexCount, shapeDim: model.shapeDim, names: model.expressionNames.length, finite };
    });
    console.info(`bundle ${(r.bytes / 1e6).toFixed(2)} MB parsed+verified+expanded in ${r.ms.toFixed(1)} ms (Chromium)`);
    expect(r.t1).toBeGreaterThanOrEqual(5000);
    expect(r.t2).toBeGreaterThanOrEqual(20000);
    expect(r.shapeDim).toBe(80);
    expect(r.names).toBe(64);
    expect(r.finite).toBe(true);
  });

  it('loads from a URL and rejects a truncated copy (a 404 is tested in Node: the harness fails on HTTP errors) with MODEL_INTEGRITY', async () => {
    const page = await openPage('/test/browser/pages/sdk.html');
    const r = await page.evaluate(async () => {
      const m = (globalThis as any).mofa;
      const model = await m.loadFaceModel('/models/mofa-face-v1.mofa');
      const bytes = new Uint8Array(await (await fetch('/models/mofa-face-v1.mofa')).arrayBuffer());
      const err = await m.loadFaceModel(bytes.subarray(0, bytes.length >> 1)).then(() => null, (e: any) => e);
      return {
        version: model.version,
        code: err?.code,
        isMofaError: err instanceof m.MofaError,
      };
    });
    expect(r.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(r.code).toBe('MODEL_INTEGRITY');
    expect(r.isMofaError).toBe(true);
  });
});
