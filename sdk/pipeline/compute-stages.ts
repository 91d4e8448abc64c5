/**
 * Creates the Opt and Refine stages of a reconstructor on the chosen backend (issue 5,
 * "Backends, chosen explicitly and reported"), once per reconstructor:
 *
 * - `'wasm'`: mofa.wasm is fetched and compiled ONCE; the Opt backend, the Refine backend and
 *   the Cholesky solver each instantiate the compiled module (cheap: no recompilation) so their
 *   long-lived heaps never interleave (the stub runtime's bump allocator).
 * - `'webgpu'`: one `GpuContext` owned by these stages (device + every buffer); the WebGPU Opt
 *   and Refine backends build their pipelines on it once. The 257×257 Gauss-Newton solve still
 *   runs in mofa.wasm (float64 Cholesky on the CPU). The GPU modules are imported lazily, so a
 *   wasm-only run (and Node without WebGPU) never evaluates them.
 *
 * `destroy()` frees the backends and, for WebGPU, the context with its device.
 */
import { MofaError } from '../errors.js';
import { loadLinalg, type WasmLinalg } from '../wasm/linalg.js';
import { createWasmOptBackend } from '../wasm/opt-backend.js';
import { WasmRefineBackend } from '../wasm/refine-backend.js';
import { loadModelBytes } from '../vision/onnx-session.js';
import { GaussNewtonOptStage, type OptStageSettings } from './opt-stage.js';
import { ShadingRefineStage, type RefineStageSettings } from './refine-stage.js';

/** The Opt + Refine stages of one reconstructor and what they hold. */
export interface ComputeStages {
  backend: 'webgpu' | 'wasm';
  opt: GaussNewtonOptStage;
  refine: ShadingRefineStage;
  /** Adapter description when backend is 'webgpu' (e.g. "google swiftshader …"), else null. */
  adapter: string | null;
  /** Number of live GPU buffers of the stages' GpuContext (0 for wasm; leak checks). */
  liveGpuBuffers(): number;
  /**
   * True once the GPU device of a 'webgpu' stage set was lost (driver reset, `device.destroy()`,
   * …; reported asynchronously by `GPUDevice.lost`); always false for 'wasm'. Lost stages
   * cannot run again: the pipeline destroys and recreates them.
   */
  isLost(): boolean;
  /** Frees everything (backends, GpuContext and its device). Twice is harmless. */
  destroy(): void;
}

export interface ComputeStageSettings {
  opt?: Partial<OptStageSettings>;
  refine?: Partial<RefineStageSettings>;
}

/**
 * A minimal module with one v128 instruction: `WebAssembly.validate` says whether this engine
 * has WebAssembly SIMD (needed by mofa.wasm), to tell "unsupported here" from "corrupt file".
 */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/**
 * Loads and compiles mofa.wasm once.
 * @throws MofaError('ASSET_LOAD') if it cannot be read; ('NO_BACKEND') without WebAssembly
 *   SIMD; ('MODEL_INTEGRITY') if the bytes are not a valid module (truncated / wrong file).
 */
export async function compileMofaWasm(source: string | URL | ArrayBuffer | Uint8Array): Promise<WebAssembly.Module> {
  const bytes = await loadModelBytes(source, 'mofa.wasm');
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new MofaError('NO_BACKEND', "this JavaScript engine lacks WebAssembly SIMD, which quality 'balanced' / 'high' need: use quality 'fast' or a current browser / Node ≥ 16");
  }
  try {
    return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (cause) {
    throw new MofaError('MODEL_INTEGRITY', `mofa.wasm (${bytes.byteLength} B) is not a valid WebAssembly module (${(cause as Error).message}): the file is truncated or not mofa-web's; rebuild it with \`npm run build:wasm\` or fix assets.mofaWasm`, { cause });
  }
}

/**
 * Creates the stages on `backend`.
 * @param wasm the compiled mofa.wasm (compileMofaWasm).
 * @throws MofaError('NO_BACKEND') when 'webgpu' has no adapter/device; ('MODEL_INTEGRITY')
 *   when mofa.wasm lacks a kernel.
 */
export async function createComputeStages(backend: 'webgpu' | 'wasm', wasm: WebAssembly.Module, settings: ComputeStageSettings = {}): Promise<ComputeStages> {
  const linalg: WasmLinalg = await loadLinalg(wasm);
  if (backend === 'wasm') {
    const optBackend = await createWasmOptBackend(wasm);
    let refineBackend: WasmRefineBackend;
    try {
      refineBackend = await WasmRefineBackend.create(wasm);
    } catch (e) {
      optBackend.destroy();
      throw e;
    }
    const opt = new GaussNewtonOptStage(optBackend, linalg, settings.opt);
    const refine = new ShadingRefineStage(refineBackend, settings.refine);
    return {
      backend,
      opt,
      refine,
      adapter: null,
      liveGpuBuffers: () => 0,
      isLost: () => false,
      destroy() {
        opt.destroy();
        refine.destroy();
      },
    };
  }
  const [{ GpuContext }, { WebGpuOptBackend }, { WebGpuRefineBackend }] = await Promise.all([
    import('../gpu/gpu-context.js'),
    import('../gpu/opt-backend.js'),
    import('../gpu/refine-backend.js'),
  ]);
  const context = await GpuContext.create({ label: 'mofa-web/reconstruct' });
  let lost = false;
  void context.device.lost.then(() => {
    lost = true;
  });
  try {
    const opt = new GaussNewtonOptStage(new WebGpuOptBackend(context), linalg, settings.opt);
    const refine = new ShadingRefineStage(new WebGpuRefineBackend(context, false), settings.refine);
    const a = context.adapter;
    return {
      backend,
      opt,
      refine,
      adapter: a ? [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unknown adapter' : null,
      liveGpuBuffers: () => context.liveBufferCount,
      isLost: () => lost,
      destroy() {
        opt.destroy();
        refine.destroy();
        context.destroy();
      },
    };
  } catch (e) {
    context.destroy();
    throw e;
  }
}
