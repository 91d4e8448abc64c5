/**
 * Main-thread side of the reconstruction worker (workers/reconstruct-worker.ts): owns one
 * module Web Worker, forwards calls through Comlink, and turns the plain results back into
 * `ReconstructionResult` (adds the methods). See `createReconstructor`.
 *
 * Inputs that cannot cross to a worker (HTMLImageElement, HTMLCanvasElement, HTMLVideoElement,
 * OffscreenCanvas) become an ImageBitmap here, which is transferred; a relative URL string is
 * made absolute against the page. Everything else (ImageData / RGBA buffers, ImageBitmap,
 * VideoFrame, Blob, bytes) is structured-cloned, so the caller's objects stay usable.
 */
import * as Comlink from 'comlink';
import { MofaError } from '../errors.js';
import type { ReconstructOptions } from '../types/reconstruct-options.js';
import type { ReconstructionResult } from '../types/reconstruct-result.js';
import type { ReconstructWorkerApi } from '../../workers/reconstruct-worker.js';
import type { ReconstructBackend, StageIterations } from '../types/reconstruct-options.js';
import type { PipelineAssets } from './pipeline.js';
import { registerMofaErrorTransfer } from './comlink-errors.js';
import type { ImageInput } from './input.js';
import { hydrateResult } from './result.js';

/** Configuration the client sends to the worker once. */
export interface WorkerInitConfig {
  /** Absolute URLs (or bytes) of the assets. */
  assets: PipelineAssets;
  backend: ReconstructBackend;
  /** ort.env.wasm.wasmPaths (URL prefix of onnxruntime-web's dist/); undefined = ORT's default. */
  ortWasmPaths?: string;
  /** ORT wasm threads; default: min(4, hardwareConcurrency) when cross-origin isolated, else 1. */
  ortThreads?: number;
  /** Opt / Refine iteration counts (validated on the main thread). */
  iterations?: StageIterations;
}

/** What crosses to the worker for one input, and what to transfer with it. */
async function prepareInput(input: ImageInput): Promise<{ value: ImageInput; transfer: Transferable[] }> {
  const g = globalThis as unknown as Record<string, undefined | (abstract new (...a: never[]) => unknown)>;
  const is = (name: string): boolean => typeof g[name] === 'function' && input instanceof (g[name] as abstract new (...a: never[]) => unknown);
  if (is('HTMLImageElement')) {
    const el = input as HTMLImageElement;
    if (!el.complete) await el.decode().catch((cause) => {
      throw new MofaError('BAD_INPUT', `the <img> could not be loaded (${el.src}): check the URL`, { cause });
    });
  }
  if (is('HTMLImageElement') || is('HTMLCanvasElement') || is('HTMLVideoElement') || is('OffscreenCanvas')) {
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(input as ImageBitmapSource);
    } catch (cause) {
      throw new MofaError('BAD_INPUT', `could not read the pixels of the ${Object.prototype.toString.call(input)} (${(cause as Error).message}): is it loaded, non-empty and same-origin/CORS-enabled?`, { cause });
    }
    return { value: bmp, transfer: [bmp] };
  }
  if (typeof input === 'string' && typeof document !== 'undefined') return { value: new URL(input, document.baseURI).href, transfer: [] };
  if (input instanceof URL) return { value: input.href, transfer: [] };
  return { value: input, transfer: [] };
}

export class WorkerReconstructorClient {
  private readonly worker: Worker;
  private readonly remote: Comlink.Remote<ReconstructWorkerApi>;
  private readonly ready: Promise<void>;
  private closed: Promise<void> | null = null;
  private nextId = 1;
  /** Set when the worker failed to load or crashed: every later call rejects with it. */
  private failure: MofaError | null = null;
  /** Rejecters of calls in flight, so close() can settle them with CLOSED. */
  private readonly pending = new Map<number, (e: MofaError) => void>();

  constructor(workerUrl: string | URL, config: WorkerInitConfig) {
    registerMofaErrorTransfer();
    try {
      this.worker = new Worker(workerUrl, { type: 'module', name: 'mofa-reconstruct' });
    } catch (cause) {
      throw new MofaError('ASSET_LOAD', `could not start the reconstruction worker ${String(workerUrl)} (${(cause as Error).message}): check assets.worker`, { cause });
    }
    let failLoad: (e: MofaError) => void = () => undefined;
    const loadFailed = new Promise<never>((_, reject) => (failLoad = reject));
    loadFailed.catch(() => undefined);
    this.worker.addEventListener('error', (e) => {
      e.preventDefault();
      const err = new MofaError('ASSET_LOAD', `the reconstruction worker ${String(workerUrl)} failed to load or crashed (${e.message || 'see the console'}): check assets.worker and that the server sends it as JavaScript`);
      this.failure = err;
      failLoad(err);
      for (const reject of [...this.pending.values()]) reject(err);
    });
    this.remote = Comlink.wrap<ReconstructWorkerApi>(this.worker);
    this.ready = Promise.race([this.remote.init(config), loadFailed]);
    this.ready.catch(() => undefined);
  }

  async reconstruct(input: ImageInput, options: ReconstructOptions): Promise<ReconstructionResult> {
    if (this.closed) throw new MofaError('CLOSED', 'this reconstructor was closed; create a new one with createReconstructor()');
    if (this.failure) throw this.failure;
    // Only the plain, cloneable options cross to the worker.
    const { signal, onProgress, quality, maxFaces, minDetectionScore } = options;
    const rest = { quality, maxFaces, minDetectionScore };
    if (signal?.aborted) throw new MofaError('ABORTED', "reconstruction aborted by the caller's AbortSignal");
    const id = this.nextId++;
    return new Promise<ReconstructionResult>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.pending.delete(id);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => {
        void this.remote.abort(id).catch(() => undefined);
        settle(() => reject(new MofaError('ABORTED', "reconstruction aborted by the caller's AbortSignal")));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, (e) => settle(() => reject(e)));
      (async () => {
        await this.ready;
        const { value, transfer } = await prepareInput(input);
        const progress = onProgress ? Comlink.proxy(onProgress) : undefined;
        // Comlink.transfer keys a WeakMap by the value: only objects with something to transfer.
        const payload = transfer.length > 0 ? Comlink.transfer(value, transfer) : value;
        const plain = await this.remote.reconstruct(id, payload, rest, progress);
        return hydrateResult(plain);
      })().then(
        (r) => settle(() => resolve(r)),
        (e) => settle(() => reject(e instanceof MofaError ? e : new MofaError('INTERNAL', String((e as Error)?.message ?? e), { cause: e }))),
      );
    });
  }

  /** Rejects calls in flight with CLOSED, closes the pipeline in the worker and terminates it. Twice is harmless. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const err = new MofaError('CLOSED', 'this reconstructor was closed during the call; create a new one with createReconstructor()');
      for (const reject of [...this.pending.values()]) reject(err);
      // Give the worker a moment to release its sessions, but never hang on a stuck worker.
      await Promise.race([this.ready.then(() => this.remote.close()).catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
      this.remote[Comlink.releaseProxy]();
      this.worker.terminate();
    })();
    return this.closed;
  }
}
