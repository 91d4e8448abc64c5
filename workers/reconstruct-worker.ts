/**
 * The reconstruction Web Worker (issue 5): runs `ReconstructionPipeline` off the main thread,
 * exposed with Comlink; driven by sdk/pipeline/worker-client.ts.
 *
 * - Errors cross as MofaError (code preserved) through the transfer handler of
 *   sdk/pipeline/comlink-errors.ts.
 * - Results are plain typed arrays, transferred (not copied) with `Comlink.transfer`.
 * - Calls queue inside the pipeline; `abort(callId)` cancels one call at its next stage boundary.
 * - onnxruntime-web's wasm build is bundled here; its .wasm/.mjs files are loaded from
 *   `ortWasmPaths` (ort.env.wasm.wasmPaths).
 */
import * as Comlink from 'comlink';
import * as ort from 'onnxruntime-web/wasm';
import { MofaError } from '../sdk/errors.js';
import { registerMofaErrorTransfer } from '../sdk/pipeline/comlink-errors.js';
import type { ImageInput } from '../sdk/pipeline/input.js';
import { type PipelineRunOptions, ReconstructionPipeline } from '../sdk/pipeline/pipeline.js';
import { type PlainReconstructionResult, resultTransferables } from '../sdk/pipeline/result.js';
import type { ReconstructProgress } from '../sdk/types/reconstruct-options.js';
import type { WorkerInitConfig } from '../sdk/pipeline/worker-client.js';
import type { Ort } from '../sdk/vision/onnx-session.js';

registerMofaErrorTransfer();

let pipeline: ReconstructionPipeline | null = null;
const controllers = new Map<number, AbortController>();

const api = {
  /** Configures the pipeline (assets load lazily on the first call). Calling it twice is an error. */
  init(config: WorkerInitConfig): void {
    if (pipeline) throw new MofaError('INTERNAL', 'reconstruct worker initialised twice');
    if (config.ortWasmPaths) ort.env.wasm.wasmPaths = config.ortWasmPaths;
    ort.env.wasm.numThreads = config.ortThreads ?? (self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1);
    pipeline = new ReconstructionPipeline({ assets: config.assets, backend: config.backend, runIn: 'worker', ort: ort as unknown as Ort, iterations: config.iterations });
  },

  /**
   * Reconstructs one image. `onProgress`, when given, is a Comlink proxy of the caller's
   * callback (released here when the call ends).
   */
  async reconstruct(
    callId: number,
    input: ImageInput,
    options: Omit<PipelineRunOptions, 'signal' | 'onProgress'>,
    onProgress?: (p: ReconstructProgress) => void,
  ): Promise<PlainReconstructionResult> {
    if (!pipeline) throw new MofaError('INTERNAL', 'reconstruct worker used before init()');
    const controller = new AbortController();
    controllers.set(callId, controller);
    try {
      const result = await pipeline.run(input, {
        ...options,
        signal: controller.signal,
        onProgress: onProgress ? (p) => void Promise.resolve(onProgress(p)).catch(() => undefined) : undefined,
      });
      return Comlink.transfer(result, resultTransferables(result));
    } finally {
      controllers.delete(callId);
      if (input instanceof ImageBitmap) input.close(); // the client transferred a bitmap it made for this call
      if (typeof VideoFrame !== 'undefined' && input instanceof VideoFrame) input.close();
      (onProgress as unknown as { [Comlink.releaseProxy]?: () => void } | undefined)?.[Comlink.releaseProxy]?.();
    }
  },

  /** Cancels call `callId` (it rejects with ABORTED at its next stage boundary). Unknown ids are ignored. */
  abort(callId: number): void {
    controllers.get(callId)?.abort();
  },

  /** Releases the ONNX sessions and the Opt / Refine backends; later calls reject with CLOSED. */
  async close(): Promise<void> {
    await pipeline?.close();
  },
};

export type ReconstructWorkerApi = typeof api;

Comlink.expose(api);
