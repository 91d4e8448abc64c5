/**
 * Explicit choice of the Opt / Refine backend (issue 5, "Backends, chosen explicitly and
 * reported"). `'auto'` picks `'wasm'` when WebGPU is missing, returns no adapter, or the adapter
 * is a fallback/software one (Chromium's SwiftShader on machines without a GPU, where these
 * kernels run slower than plain JS), and `'webgpu'` otherwise. The reason always comes back and
 * is reported in `diagnostics.backendReason`.
 */
import { MofaError } from '../errors.js';
import type { ReconstructBackend } from '../types/reconstruct-options.js';

export interface BackendChoice {
  backend: 'webgpu' | 'wasm';
  reason: string;
}

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}

/** Whether an adapter is a software / fallback one (flag, or SwiftShader / llvmpipe by name). */
export function isSoftwareAdapter(adapter: AdapterLike): { software: boolean; name: string } {
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  const flagged = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  return { software: flagged || /swiftshader|llvmpipe|software/i.test(name), name };
}

/**
 * Resolves the requested backend.
 * @throws MofaError('NO_BACKEND') when 'webgpu' is requested and WebGPU has no adapter;
 *   MofaError('BAD_INPUT') for an unknown name.
 */
export async function selectBackend(requested: ReconstructBackend, gpu: GPU | undefined = (globalThis.navigator as Navigator | undefined)?.gpu): Promise<BackendChoice> {
  if (requested !== 'auto' && requested !== 'webgpu' && requested !== 'wasm') {
    throw new MofaError('BAD_INPUT', `backend must be 'auto', 'webgpu' or 'wasm', got '${String(requested)}'`);
  }
  if (requested === 'wasm') return { backend: 'wasm', reason: "requested 'wasm'" };
  if (!gpu) {
    if (requested === 'webgpu') throw new MofaError('NO_BACKEND', "backend 'webgpu' was requested but WebGPU is not available here (navigator.gpu is missing): use backend 'wasm' or 'auto'");
    return { backend: 'wasm', reason: 'auto: navigator.gpu is missing (no WebGPU in this environment)' };
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    adapter = null;
  }
  if (!adapter) {
    if (requested === 'webgpu') throw new MofaError('NO_BACKEND', "backend 'webgpu' was requested but no WebGPU adapter is available: use backend 'wasm' or 'auto'");
    return { backend: 'wasm', reason: 'auto: WebGPU returned no adapter' };
  }
  const { software, name } = isSoftwareAdapter(adapter as unknown as AdapterLike);
  if (requested === 'webgpu') return { backend: 'webgpu', reason: `requested 'webgpu' (adapter: ${name}${software ? ', a software/fallback adapter: expect it to be slower than wasm' : ''})` };
  return software
    ? { backend: 'wasm', reason: `auto: the WebGPU adapter is a software/fallback adapter (${name}), slower than wasm for these kernels` }
    : { backend: 'webgpu', reason: `auto: hardware WebGPU adapter (${name})` };
}
