/**
 * Options of `createReconstructor(options)` and of each `reconstruct(image, options)` call.
 *
 * Frames used in the docs below: **image frame** = px of the caller's original image, origin at
 * the top-left corner, +x right, +y down, pixel centres at +0.5 (sdk/vision/image.ts).
 */

/**
 * How much work a reconstruction does (issue 5, paper Sec. 9):
 * - `'fast'`: detection → landmarks → initial code (landmark fit of pose, shape, expression;
 *   mean albedo; SH lighting by linear least squares). No analysis-by-synthesis.
 * - `'balanced'`: `'fast'` + Gauss-Newton analysis-by-synthesis ("Opt", Sec. 9.1).
 * - `'high'`: `'balanced'` + shading-based refinement ("Refine", Sec. 9.2) on the T2 mesh.
 */
export type ReconstructQuality = 'fast' | 'balanced' | 'high';

/**
 * Compute backend of the Opt / Refine stages:
 * - `'auto'`: `'webgpu'` when a hardware WebGPU adapter exists, `'wasm'` when `navigator.gpu` is
 *   missing, no adapter is returned, or the adapter is a fallback/software one (SwiftShader:
 *   measured slower than plain JS for these kernels). The choice and its reason are reported
 *   in `diagnostics.backend` / `diagnostics.backendReason`; there is no silent fallback.
 * - `'webgpu'`: WGSL kernels; creation fails with MofaError('NO_BACKEND') when WebGPU is
 *   unavailable.
 * - `'wasm'`: AssemblyScript SIMD kernels.
 * The face detector and landmarker always run on onnxruntime-web's wasm execution provider
 * (its WebGPU provider is ~100× slower on software adapters and not faster for these small
 * networks on hardware ones).
 */
export type ReconstructBackend = 'auto' | 'webgpu' | 'wasm';

/**
 * Where the model assets come from. Each entry is a URL (absolute, or relative to the page in
 * the browser), a file path (Node only), or the bytes themselves.
 */
export interface ReconstructAssets {
  /**
   * Face-model bundle (`.mofa`). Default: `assets/mofa-face-v1.mofa` next to the library
   * bundle (`dist/assets/`), or `models/mofa-face-v1.mofa` when running from the source tree.
   */
  faceModel?: string | URL | ArrayBuffer | Uint8Array;
  /** BlazeFace short-range detector ONNX. Default: `face_detector_short.onnx`, located as `faceModel`. */
  faceDetector?: string | URL | ArrayBuffer | Uint8Array;
  /** MediaPipe 468-point landmarker ONNX. Default: `face_landmarker.onnx`, located as `faceModel`. */
  faceLandmarker?: string | URL | ArrayBuffer | Uint8Array;
  /**
   * mofa-web's AssemblyScript kernels (`mofa.wasm`: Opt and Refine on backend 'wasm', and the
   * 257×257 Cholesky solve of Opt on every backend). Loaded and compiled once per reconstructor,
   * on the first 'balanced' / 'high' call. Default: `assets/mofa-[hash].wasm` next to the library
   * bundle (emitted by Rollup), or `build/wasm/mofa.wasm` when running from the source tree.
   */
  mofaWasm?: string | URL | ArrayBuffer | Uint8Array;
  /**
   * Browser only: URL prefix (ending in `/`) where onnxruntime-web's `dist/` files
   * (`ort-wasm-simd-threaded.{mjs,wasm}`) are served, set as `ort.env.wasm.wasmPaths` inside
   * the worker. Default: onnxruntime-web's own default (the directory of its script), which is
   * wrong when the worker is bundled, so apps normally set this, e.g.
   * `'/node_modules/onnxruntime-web/dist/'` or a CDN URL of the same version.
   */
  ortWasmPaths?: string;
  /**
   * Browser only: URL of the reconstruction worker script. Default:
   * `workers/reconstruct-worker.js` next to the library bundle (`dist/workers/`).
   */
  worker?: string | URL;
}

/** One progress report: called after every pipeline stage finishes. */
export interface ReconstructProgress {
  /** The stage that just finished. */
  stage: ReconstructStage;
  /** Fraction of the whole call that is done, 0..1 (1 after 'result'). Monotone within a call. */
  fraction: number;
}

/** Pipeline stages in execution order (Opt / Refine only at the matching quality). */
export type ReconstructStage = 'load' | 'decode' | 'detect' | 'landmarks' | 'init' | 'opt' | 'refine' | 'result';

/** Options of one `reconstruct()` call; they override the reconstructor's defaults. */
export interface ReconstructOptions {
  /** See `ReconstructQuality`. Default `'fast'`. */
  quality?: ReconstructQuality;
  /**
   * Maximum number of faces reconstructed, integer 1..16, highest detection score first.
   * Default 1.
   */
  maxFaces?: number;
  /**
   * Minimum face-detector score for a face to be reconstructed, range 0.25..1 (the detector
   * keeps nothing below 0.25; other values are BAD_INPUT). Default 0.5. No face at or above it →
   * MofaError('NO_FACE').
   */
  minDetectionScore?: number;
  /** Called after each stage (see `ReconstructProgress`); exceptions it throws are ignored. Default none. */
  onProgress?: (progress: ReconstructProgress) => void;
  /**
   * Cancels the call: checked before the call starts and between stages; the promise then
   * rejects with MofaError('ABORTED'). Default none.
   */
  signal?: AbortSignal;
}

/** Options of `createReconstructor()`. */
export interface ReconstructorOptions extends Omit<ReconstructOptions, 'signal' | 'onProgress'> {
  /** See `ReconstructBackend`. Default `'auto'`. */
  backend?: ReconstructBackend;
  /** Asset locations; see `ReconstructAssets` for each default. */
  assets?: ReconstructAssets;
  /**
   * Where the pipeline runs: `'worker'` (a dedicated module Web Worker, browser), `'thread'`
   * (the calling thread; Node, or a page that is itself a worker). Default: `'worker'` when
   * `Worker` and `document` exist (a browser page), else `'thread'`.
   */
  runIn?: 'worker' | 'thread';
  /**
   * Iteration counts of the analysis-by-synthesis stages (lower = faster, less accurate).
   * Mainly for tests and slow devices; the defaults are the paper's.
   */
  iterations?: StageIterations;
}

/** Iteration counts of Opt and Refine (`ReconstructorOptions.iterations`). */
export interface StageIterations {
  /** Gauss-Newton iterations of Opt (quality 'balanced' / 'high'), integer 1..50. Default 5 (paper Sec. 9.1). */
  opt?: number;
  /** Vertices sampled per Gauss-Newton iteration for the photometric term, integer ≥ 0 (0 = all front-face vertices). Default 2000 (paper Sec. 7). */
  optSamples?: number;
  /** Gradient-descent iterations of Refine (quality 'high'), integer 1..1000. Default 250 (paper Sec. 9.2). */
  refine?: number;
}
