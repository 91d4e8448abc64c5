/**
 * Smoke test of the browser stack: a module Web Worker (dist/workers/smoke-worker.js, built
 * by rollup from workers/smoke-worker.ts) driven through Comlink runs (a) a WGSL kernel on
 * WebGPU, (b) onnxruntime-web's WASM backend and (c) the AssemblyScript Cholesky solver;
 * every result is checked numerically here, in Node, from independent arithmetic.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'puppeteer-core';
import { describe, expect, it } from 'vitest';
import { openPage, pageLog, withDevice } from './harness.js';

const ORT_WASM_PATHS = '/node_modules/onnxruntime-web/dist/';
const DETECTOR = 'models/face_detector_short.onnx';

interface SmokeGlobals {
  smoke: {
    axpy(n: number, a: number, samples: number[]): Promise<{
      adapter: { vendor: string; architecture: string; isFallbackAdapter: boolean; features: string[] };
      n: number;
      maxAbsError: number;
      samples: Array<{ index: number; value: number }>;
      liveBuffersAfterPass: number;
      milliseconds: number;
    }>;
    onnx(url: string, wasmPaths: string, feeds: Record<string, { dims: number[]; data: Float32Array }>, threads?: number): Promise<{
      inputNames: string[];
      outputs: Record<string, { dims: number[]; data: number[] }>;
      milliseconds: number;
    }>;
    choleskySolve(a: Float64Array, b: Float64Array, lambda: number): Promise<{ status: number; x: number[] | null }>;
  };
  smokeWorkerIsolated: boolean;
}

/** Same deterministic inputs as workers/smoke-worker.ts, recomputed independently here. */
const xAt = (i: number) => ((i * 7919) % 1024) / 1024 - 0.5;
const yAt = (i: number) => ((i * 104729) % 4096) / 4096;

describe('smoke: WebGPU + onnxruntime-web + AssemblyScript in a Comlink worker', () => {
  let page: Page;

  it('runs y = a·x + y over 1M floats in WGSL and matches JS; reports the adapter', async () => {
    page = await openPage('/test/browser/pages/smoke.html');
    const n = 1 << 20;
    const a = 0.75;
    const samples = [0, 1, 2, 1023, 4097, 65_536, 333_333, n - 2, n - 1];
    const report = await page.evaluate(
      (n2, a2, s) => (globalThis as unknown as SmokeGlobals).smoke.axpy(n2, a2, s),
      n,
      a,
      samples,
    );
    console.info(`adapter ${JSON.stringify(report.adapter)}; axpy ${report.n} floats in ${report.milliseconds.toFixed(0)} ms`);
    expect(report.adapter.vendor).toBeTypeOf('string');
    expect(report.adapter.vendor.length + report.adapter.architecture.length).toBeGreaterThan(0);
    expect(report.adapter.isFallbackAdapter).toBeTypeOf('boolean');
    expect(report.n).toBe(n);
    expect(report.maxAbsError).toBeLessThanOrEqual(2.5e-7); // ≤ 2 ulp of values < 2
    for (const { index, value } of report.samples) {
      expect(value).toBeCloseTo(a * xAt(index) + yAt(index), 6);
    }
    expect(report.liveBuffersAfterPass).toBe(0);
  });

  it('runs an ONNX MatMul on the onnxruntime-web WASM backend (2 threads, cross-origin isolated)', async () => {
    page = await openPage('/test/browser/pages/smoke.html');
    expect(await page.evaluate(() => (globalThis as unknown as SmokeGlobals).smokeWorkerIsolated)).toBe(true);
    const x = [1, 2, 3, -4, 0.5, 6];
    const report = await page.evaluate(
      (x2, wasmPaths) =>
        (globalThis as unknown as SmokeGlobals).smoke.onnx('/test/fixtures/matmul.onnx', wasmPaths, {
          x: { dims: [2, 3], data: new Float32Array(x2) },
        }),
      x,
      ORT_WASM_PATHS,
    );
    expect(report.inputNames).toEqual(['x']);
    expect(report.outputs.y.dims).toEqual([2, 4]);
    const w = (i: number, j: number) => (i + 1) / 2 - j / 4; // test/fixtures/make-matmul-onnx.py
    for (let r = 0; r < 2; r++) {
      for (let j = 0; j < 4; j++) {
        let expected = 0;
        for (let i = 0; i < 3; i++) expected += x[r * 3 + i] * w(i, j);
        expect(report.outputs.y.data[r * 4 + j]).toBeCloseTo(expected, 5);
      }
    }
    const threadWarnings = pageLog(page).console.filter((m) => /thread|SharedArrayBuffer|crossOriginIsolated/i.test(m));
    expect(threadWarnings).toEqual([]);
  });

  it.skipIf(!existsSync(DETECTOR))('runs the face detector ONNX model (1×128×128×3 NHWC) with finite outputs', async () => {
    page = await openPage('/test/browser/pages/smoke.html');
    const report = await page.evaluate((url, wasmPaths) => {
      const data = new Float32Array(128 * 128 * 3);
      for (let i = 0; i < data.length; i++) data[i] = ((i % 251) / 251) * 2 - 1; // range [-1, 1]
      return (globalThis as unknown as SmokeGlobals).smoke.onnx(url, wasmPaths, { input: { dims: [1, 128, 128, 3], data } });
    }, `/${DETECTOR}`, ORT_WASM_PATHS);
    console.info(`face detector ran in ${report.milliseconds.toFixed(0)} ms (incl. session creation)`);
    expect(report.inputNames).toEqual(['input']);
    const shapes = Object.values(report.outputs).map((o) => o.dims.join('×')).sort();
    expect(shapes).toEqual(['1×896×16', '1×896×1'].sort());
    for (const o of Object.values(report.outputs)) expect(o.data.every(Number.isFinite)).toBe(true);
  });

  it('solves an SPD system with the AssemblyScript WASM module inside the worker', async () => {
    page = await openPage('/test/browser/pages/smoke.html');
    // A = L·Lᵀ with L = [[2,0,0],[6,1,0],[-8,5,3]]; x* = [1, −2, 3] → b = A·x*.
    const a = [4, 12, -16, 12, 37, -43, -16, -43, 98];
    const xTrue = [1, -2, 3];
    const b = [0, 1, 2].map((i) => a[3 * i] * xTrue[0] + a[3 * i + 1] * xTrue[1] + a[3 * i + 2] * xTrue[2]);
    const solve = (lambda: number, aa = a) =>
      page.evaluate(
        (a2, b2, l) => (globalThis as unknown as SmokeGlobals).smoke.choleskySolve(new Float64Array(a2), new Float64Array(b2), l),
        aa,
        b,
        lambda,
      );
    const plain = await solve(0);
    expect(plain.status).toBe(0);
    plain.x!.forEach((v, i) => expect(v).toBeCloseTo(xTrue[i], 10));

    const lambda = 0.5; // (A + λ·diag A) x = b
    const damped = await solve(lambda);
    expect(damped.status).toBe(0);
    for (let i = 0; i < 3; i++) {
      let s = lambda * a[4 * i] * damped.x![i];
      for (let k = 0; k < 3; k++) s += a[3 * i + k] * damped.x![k];
      expect(s).toBeCloseTo(b[i], 10);
    }

    const indefinite = await solve(0, [1, 2, 0, 2, 1, 0, 0, 0, 1]);
    expect(indefinite).toEqual({ status: 2, x: null });
  });
});

describe('withDevice', () => {
  it('runs a GPU round trip on a fresh device and returns its result', async () => {
    const page = await openPage('/test/browser/pages/blank.html');
    const out = await withDevice(
      page,
      async (device, values: number[]) => {
        const src = device.createBuffer({ label: 'src', size: 16, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
        new Float32Array(src.getMappedRange()).set(values);
        src.unmap();
        const dst = device.createBuffer({ label: 'dst', size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
        const enc = device.createCommandEncoder();
        enc.copyBufferToBuffer(src, 0, dst, 0, 16);
        device.queue.submit([enc.finish()]);
        await dst.mapAsync(GPUMapMode.READ);
        return Array.from(new Float32Array(dst.getMappedRange()));
      },
      [1.5, -2, 3.25, 4],
    );
    expect(out).toEqual([1.5, -2, 3.25, 4]);
  });

  it('fails when a WebGPU validation error occurs even though fn itself returns normally', async () => {
    const page = await openPage('/test/browser/pages/blank.html');
    const run = withDevice(page, (device) => {
      const layout = device.createBindGroupLayout({
        label: 'needs-storage',
        entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } }],
      });
      // A uniform-only buffer bound as storage: invalid, reported asynchronously, no exception.
      const buffer = device.createBuffer({ label: 'uniform-only', size: 16, usage: GPUBufferUsage.UNIFORM });
      device.createBindGroup({ label: 'invalid', layout, entries: [{ binding: 0, resource: { buffer } }] });
      return 'returned normally';
    });
    await expect(run).rejects.toThrow(/validation error/i);
  });
});
