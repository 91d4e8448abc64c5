/**
 * Default asset locations (ReconstructAssets docs): next to the library bundle
 * (`dist/assets/`, `dist/workers/`) when running the built package, or the repository's
 * `models/` and `dist/workers/` when running from the TypeScript sources (tsx / vitest).
 */
import type { ReconstructAssets } from '../types/reconstruct-options.js';
import type { PipelineAssets } from './pipeline.js';

export const FACE_MODEL_FILE = 'mofa-face-v1.mofa';
export const FACE_DETECTOR_FILE = 'face_detector_short.onnx';
export const FACE_LANDMARKER_FILE = 'face_landmarker.onnx';
export const RECONSTRUCT_WORKER_FILE = 'reconstruct-worker.js';
/** The AssemblyScript kernels (Opt / Refine on the 'wasm' backend, the Cholesky solve of every backend). */
export const MOFA_WASM_FILE = 'mofa.wasm';

/** Whether this module runs from the TypeScript sources (not the rollup bundle). */
function fromSources(): boolean {
  return /\.ts($|\?)/.test(import.meta.url);
}

/** Base URL of the default model assets. */
export function defaultAssetBase(): URL {
  return fromSources() ? new URL('../../models/', import.meta.url) : new URL('./assets/', import.meta.url);
}

/** Default URL of the reconstruction worker script. */
export function defaultWorkerUrl(): URL {
  return fromSources() ? new URL(`../../dist/workers/${RECONSTRUCT_WORKER_FILE}`, import.meta.url) : new URL(`./workers/${RECONSTRUCT_WORKER_FILE}`, import.meta.url);
}

/**
 * Default location of mofa.wasm: from the sources, the repository's `build/wasm/mofa.wasm`
 * (built by `npm run build:wasm`); in the bundle, the URL Rollup gives the emitted
 * `dist/assets/mofa-[hash].wasm` (sdk/wasm/mofa-wasm-url.ts, imported lazily so the sources
 * never import a `?url` module, which only Rollup / Vite understand).
 * Resolved where the pipeline runs (inside the worker the URL is relative to the worker bundle,
 * which Rollup also points at dist/assets/).
 */
export async function defaultMofaWasm(): Promise<string> {
  if (fromSources()) return new URL(`../../build/wasm/${MOFA_WASM_FILE}`, import.meta.url).href;
  const { MOFA_WASM_URL } = await import('../wasm/mofa-wasm-url.js');
  return new URL(MOFA_WASM_URL, import.meta.url).href;
}

/**
 * Fills in defaults and makes every URL absolute (relative URLs against `base`, the page's
 * base URI in a browser), so the sources mean the same inside a worker whose own location differs.
 * Bytes and Node file paths are passed through.
 */
export function resolveAssets(assets: ReconstructAssets = {}, base?: string): PipelineAssets {
  const root = defaultAssetBase();
  const resolve = (v: ReconstructAssets['faceModel'], file: string): PipelineAssets['faceModel'] => {
    if (v === undefined) return new URL(file, root).href;
    if (v instanceof URL) return v.href;
    if (typeof v === 'string' && base && !/^[a-z][a-z0-9+.-]*:/i.test(v)) return new URL(v, base).href;
    return v;
  };
  return {
    faceModel: resolve(assets.faceModel, FACE_MODEL_FILE),
    faceDetector: resolve(assets.faceDetector, FACE_DETECTOR_FILE),
    faceLandmarker: resolve(assets.faceLandmarker, FACE_LANDMARKER_FILE),
    // undefined = `defaultMofaWasm()`, resolved by the pipeline where it runs.
    mofaWasm: assets.mofaWasm === undefined ? undefined : resolve(assets.mofaWasm, MOFA_WASM_FILE),
  };
}
