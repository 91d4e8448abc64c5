/**
 * The public reconstruction API (issue 5; style: MediaPipe tasks-vision):
 *
 *   const rec = await createReconstructor({ assets: { ortWasmPaths: '/ort/' } });
 *   const { faces: [face], diagnostics } = await rec.reconstruct(imageElement);
 *   rec.close();
 *
 * or the convenience `reconstruct(image)`, which lazily creates and reuses one default instance.
 * In a browser page the pipeline runs in a dedicated module Web Worker
 * (workers/reconstruct-worker.ts); in Node (and inside workers) it runs in the calling thread.
 */
import { MofaError } from './errors.js';
import { defaultWorkerUrl, resolveAssets } from './pipeline/assets.js';
import type { ImageInput } from './pipeline/input.js';
import { ReconstructionPipeline, resolveRunOptions, resolveStageIterations } from './pipeline/pipeline.js';
import { hydrateResult } from './pipeline/result.js';
import { WorkerReconstructorClient } from './pipeline/worker-client.js';
import type { ReconstructOptions, ReconstructorOptions } from './types/reconstruct-options.js';
import type { ReconstructionResult } from './types/reconstruct-result.js';

export type { ImageInput };

/** A reconstruction instance: owns its sessions (and worker); free them with `close()`. */
export interface Reconstructor {
  /**
   * Reconstructs the faces in `image` (see `ImageInput` for what is accepted). Concurrent calls
   * queue and run one after another.
   * @throws MofaError: BAD_INPUT (invalid image/option), NO_FACE, ASSET_LOAD, MODEL_INTEGRITY,
   *   NO_BACKEND (backend missing, e.g. 'webgpu' without an adapter or WebAssembly without
   *   SIMD), DEVICE_LOST (the next call recreates the GPU device), ABORTED, CLOSED, INTERNAL
   *   (e.g. Opt / Refine could not produce a finite result; never NaN in a result).
   */
  reconstruct(image: ImageInput, options?: ReconstructOptions): Promise<ReconstructionResult>;
  /** Where the pipeline runs. */
  readonly runIn: 'worker' | 'thread';
  /**
   * Releases the worker / ONNX sessions and the Opt / Refine backends (mofa.wasm instances, or
   * the GpuContext with its device and buffers); later calls reject with CLOSED. Calling it
   * twice is harmless.
   */
  close(): Promise<void>;
}

function defaultRunIn(): 'worker' | 'thread' {
  return typeof Worker !== 'undefined' && typeof document !== 'undefined' ? 'worker' : 'thread';
}

/**
 * Creates a reconstructor. Validates the options now; assets load on the first call (its
 * `diagnostics.stageMs.load` says how long that took).
 * @throws MofaError('BAD_INPUT') for invalid options; ('NO_BACKEND') when runIn 'worker' is
 *   requested where there are no Web Workers.
 */
export async function createReconstructor(options: ReconstructorOptions = {}): Promise<Reconstructor> {
  const defaults = resolveRunOptions(options); // validates quality / maxFaces / minDetectionScore
  const iterations = resolveStageIterations(options.iterations); // validates the Opt / Refine iteration counts
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'webgpu' && backend !== 'wasm') throw new MofaError('BAD_INPUT', `backend must be 'auto', 'webgpu' or 'wasm', got '${String(backend)}'`);
  const runIn = options.runIn ?? defaultRunIn();
  if (runIn !== 'worker' && runIn !== 'thread') throw new MofaError('BAD_INPUT', `runIn must be 'worker' or 'thread', got '${String(runIn)}'`);
  const base = typeof document !== 'undefined' ? document.baseURI : typeof location !== 'undefined' ? location.href : undefined;
  const assets = resolveAssets(options.assets, base);
  const merge = (o: ReconstructOptions = {}): ReconstructOptions => ({ ...defaults, ...stripUndefined(o) });

  if (runIn === 'worker') {
    if (typeof Worker === 'undefined') throw new MofaError('NO_BACKEND', "runIn 'worker' needs Web Workers, which this environment lacks: use runIn 'thread'");
    const workerUrl = options.assets?.worker ?? defaultWorkerUrl();
    const absWorker = typeof workerUrl === 'string' && base ? new URL(workerUrl, base) : workerUrl;
    const ortWasmPaths = options.assets?.ortWasmPaths && base ? new URL(options.assets.ortWasmPaths, base).href : options.assets?.ortWasmPaths;
    const client = new WorkerReconstructorClient(absWorker, { assets, backend, ortWasmPaths, iterations });
    return {
      runIn,
      reconstruct: (image, o) => client.reconstruct(image, merge(o)),
      close: () => client.close(),
    };
  }
  const pipeline = new ReconstructionPipeline({ assets, backend, runIn: 'thread', iterations });
  return {
    runIn,
    reconstruct: async (image, o) => hydrateResult(await pipeline.run(image, merge(o))),
    close: () => pipeline.close(),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

let defaultInstance: Promise<Reconstructor> | null = null;

/**
 * Convenience: reconstructs with a lazily created, reused default reconstructor
 * (`createReconstructor()` with default options: default asset locations, backend 'auto').
 * Use `createReconstructor` to set asset URLs or to free resources with `close()`.
 */
export async function reconstruct(image: ImageInput, options?: ReconstructOptions): Promise<ReconstructionResult> {
  defaultInstance ??= createReconstructor();
  defaultInstance.catch(() => {
    defaultInstance = null;
  });
  return (await defaultInstance).reconstruct(image, options);
}
