/**
 * Self-check worker: exercises the three compute back ends the SDK runs inside its Web Worker —
 * WebGPU (a real WGSL kernel through GpuContext), onnxruntime-web's WASM backend, and the
 * AssemblyScript WASM module — and reports numbers the caller checks. Exposed with Comlink.
 * Used by test/browser/smoke.test.ts; also a quick capability probe for a new browser.
 */
import * as Comlink from 'comlink';
import * as ort from 'onnxruntime-web/wasm';
import { GpuContext, type GpuAdapterReport } from '../sdk/gpu/gpu-context.js';
import { AxpyPass, axpyRef } from '../sdk/gpu/axpy.js';
import { loadLinalg } from '../sdk/wasm/linalg.js';
import { MOFA_WASM_URL } from '../sdk/wasm/mofa-wasm-url.js';

/** Deterministic f32 test vectors: x_i ∈ [−0.5, 0.5), y_i ∈ [0, 1) (exact in f32). */
function axpyInputs(n: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = ((i * 7919) % 1024) / 1024 - 0.5;
    y[i] = ((i * 104729) % 4096) / 4096;
  }
  return { x, y };
}

export interface AxpyReport {
  adapter: GpuAdapterReport;
  n: number;
  /** max_i |y_gpu[i] − y_js[i]| */
  maxAbsError: number;
  /** Some GPU results for the caller to check against its own arithmetic. */
  samples: Array<{ index: number; value: number }>;
  /** Live GpuContext buffers after the pass was destroyed and before context.destroy(). */
  liveBuffersAfterPass: number;
  milliseconds: number;
}

export interface OnnxReport {
  inputNames: readonly string[];
  outputs: Record<string, { dims: readonly number[]; data: number[] }>;
  milliseconds: number;
}

const api = {
  /** Runs y ← a·x + y on the GPU over n floats and compares with the JS reference. */
  async axpy(n: number, a: number, sampleIndices: number[]): Promise<AxpyReport> {
    const t0 = performance.now();
    const ctx = await GpuContext.create({ label: 'smoke-worker' });
    try {
      const { x, y } = axpyInputs(n);
      const pass = new AxpyPass(ctx);
      const xBuf = ctx.createBufferWithData('smoke/x', x, GPUBufferUsage.STORAGE);
      const yBuf = ctx.createBufferWithData('smoke/y', y, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const encoder = ctx.device.createCommandEncoder({ label: 'smoke/axpy' });
      pass.encode(encoder, a, xBuf, yBuf, n);
      ctx.device.queue.submit([encoder.finish()]);
      const yGpu = new Float32Array(await ctx.readback(yBuf, 0, n * 4));
      axpyRef(a, x, y);
      let maxAbsError = 0;
      for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs(yGpu[i] - y[i]));
      if (Number.isNaN(yGpu.reduce((s, v) => s + v, 0))) maxAbsError = NaN;
      pass.destroy();
      ctx.destroyBuffer(xBuf);
      ctx.destroyBuffer(yBuf);
      return {
        adapter: ctx.adapter!,
        n,
        maxAbsError,
        samples: sampleIndices.map((index) => ({ index, value: yGpu[index] })),
        liveBuffersAfterPass: ctx.liveBufferCount,
        milliseconds: performance.now() - t0,
      };
    } finally {
      ctx.destroy();
    }
  },

  /**
   * Runs an ONNX model on onnxruntime-web's WASM backend. `wasmPaths` is the URL prefix where
   * onnxruntime-web's dist/ files (ort-wasm-simd-threaded.{mjs,wasm}) are served.
   */
  async onnx(modelUrl: string, wasmPaths: string, feeds: Record<string, { dims: number[]; data: Float32Array }>, numThreads = 2): Promise<OnnxReport> {
    const t0 = performance.now();
    ort.env.wasm.wasmPaths = wasmPaths;
    ort.env.wasm.numThreads = numThreads;
    const session = await ort.InferenceSession.create(modelUrl, { executionProviders: ['wasm'] });
    try {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [name, f] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', f.data, f.dims);
      const result = await session.run(inputs);
      const outputs: OnnxReport['outputs'] = {};
      for (const [name, t] of Object.entries(result)) {
        outputs[name] = { dims: t.dims, data: Array.from(t.data as Float32Array) };
        t.dispose();
      }
      return { inputNames: session.inputNames, outputs, milliseconds: performance.now() - t0 };
    } finally {
      await session.release();
    }
  },

  /** Solves (A + λ·diag A) x = b with the bundled AssemblyScript module. */
  async choleskySolve(a: Float64Array, b: Float64Array, lambda: number): Promise<{ status: number; x: number[] | null }> {
    const linalg = await loadLinalg(new URL(MOFA_WASM_URL, self.location.href));
    const { status, x } = linalg.choleskySolve(a, b, lambda);
    return { status, x: x ? Array.from(x) : null };
  },

  /** Whether this worker is cross-origin isolated (SharedArrayBuffer → ORT threads). */
  crossOriginIsolated(): boolean {
    return self.crossOriginIsolated;
  },
};

export type SmokeWorkerApi = typeof api;

Comlink.expose(api);
