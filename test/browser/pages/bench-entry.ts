/**
 * Page-side half of `npm run bench` (bench/run.ts bundles this file into
 * build/bench/bench-entry.js; bench.html loads it). Runs bench/opt-bench.ts and
 * bench/refine-bench.ts in the page with the reference and WASM backends plus the WebGPU
 * backends (sdk/gpu/opt-backend.ts, sdk/gpu/refine-backend.ts, sdk/gpu/refine-remap.ts) on the
 * page's adapter (SwiftShader in headless Chromium without a GPU), all on one GpuContext, and
 * bench/pipeline-bench.ts with `createReconstructor({ runIn: 'thread', backend })` in this page
 * (backends 'wasm' and, unless o.webgpu is false, 'webgpu'; each reconstructor owns its own GPU
 * device). Rows go to Node through the function `benchEmit` that bench/run.ts exposes; log
 * lines through `benchLog`.
 */
import { runPipelineBench, type PipelineBackend } from '../../../bench/pipeline-bench.js';
import { runOptBench, type BenchRow, type DecodeFn, type ExtraBackend } from '../../../bench/opt-bench.js';
import { runRefineBench, type RefineExtraBackend, type RemapFn } from '../../../bench/refine-bench.js';
import { DecodePass, interleaveGeometryBasis } from '../../../sdk/gpu/decode.js';
import { GpuContext } from '../../../sdk/gpu/gpu-context.js';
import { incidentTriangles, NormalsPass } from '../../../sdk/gpu/normals.js';
import { OPT_FRAME_BYTES, packOptFrame } from '../../../sdk/gpu/opt-frame.js';
import { WebGpuOptBackend } from '../../../sdk/gpu/opt-backend.js';
import { WebGpuRefineBackend } from '../../../sdk/gpu/refine-backend.js';
import { RefineRemapPass } from '../../../sdk/gpu/refine-remap.js';
import { JACOBIAN_COLUMNS } from '../../../sdk/gpu/residual-rows.js';
import { CODE_DIM } from '../../../sdk/model/code-layout.js';
import { DEFAULT_INTRINSICS } from '../../../sdk/model/camera.js';
import { loadFaceModel } from '../../../sdk/model/load-face-model.js';
import { defaultOptWeights } from '../../../sdk/opt/weights.js';
import { createReconstructor } from '../../../sdk/reconstructor.js';
import type { ReconstructorOptions } from '../../../sdk/types/reconstruct-options.js';
import type { FaceModel } from '../../../sdk/types/face-model.js';
import type { RgbaImage } from '../../../sdk/vision/image.js';

interface BenchBridge {
  benchEmit(row: BenchRow): Promise<void>;
  benchLog(message: string): Promise<void>;
}

/**
 * GPU decode of all N vertices: the backend's decode and normals passes (wgsl/decode.wgsl,
 * wgsl/normals.wgsl) on buffers of their own, one submit, position / albedo / normal read back.
 */
function createGpuDecode(ctx: GpuContext, model: FaceModel): { decode: DecodeFn; destroy(): void } {
  const N = model.t1.vertexCount;
  const RW = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const frame = ctx.createBuffer('bench/frame', OPT_FRAME_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const code = ctx.createBuffer('bench/code', 4 * JACOBIAN_COLUMNS, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
  const geometryMean = ctx.createBufferWithData('bench/geometry-mean', model.t1.meanShape, GPUBufferUsage.STORAGE);
  const geometryBasis = ctx.createBufferWithData('bench/geometry-basis',
    interleaveGeometryBasis(model.shapeBasis, model.shapeDim, model.expressionBasis, model.expressionDim), GPUBufferUsage.STORAGE);
  const albedoMean = ctx.createBufferWithData('bench/albedo-mean', model.albedoMean, GPUBufferUsage.STORAGE);
  const albedoBasis = ctx.createBufferWithData('bench/albedo-basis', model.albedoBasis, GPUBufferUsage.STORAGE);
  const triangles = ctx.createBufferWithData('bench/triangles', model.t1.index, GPUBufferUsage.STORAGE);
  const incident = ctx.createBufferWithData('bench/incident', incidentTriangles(model.t1.index, N), GPUBufferUsage.STORAGE);
  const position = ctx.createBuffer('bench/position', 12 * N, RW);
  const albedo = ctx.createBuffer('bench/albedo', 12 * N, RW);
  const normal = ctx.createBuffer('bench/normal', 12 * N, RW);
  const all = [frame, code, geometryMean, geometryBasis, albedoMean, albedoBasis, triangles, incident, position, albedo, normal];
  const decodePass = new DecodePass(ctx);
  const normalsPass = new NormalsPass(ctx);
  const { focalPx, cx, cy } = DEFAULT_INTRINSICS;
  return {
    decode: async (x) => {
      ctx.device.queue.writeBuffer(frame, 0, packOptFrame({
        x, intrinsics: { focalPx, cx, cy }, weights: defaultOptWeights, vertexCount: N, sampleCount: 0, landmarkCount: 0,
        flags: 0, imageWidth: 240, imageHeight: 240,
      }));
      const c = new Float32Array(JACOBIAN_COLUMNS);
      for (let k = 0; k < CODE_DIM; k++) c[k] = x[k];
      ctx.device.queue.writeBuffer(code, 0, c);
      const encoder = ctx.device.createCommandEncoder({ label: 'bench/decode' });
      decodePass.encode(encoder, { frame, code, geometryMean, geometryBasis, albedoMean, albedoBasis, position, albedo }, N);
      normalsPass.encode(encoder, { frame, position, triangles, incident, normal }, N);
      ctx.device.queue.submit([encoder.finish()]);
      const [p, a, n] = await Promise.all([ctx.readback(position, 0, 12 * N), ctx.readback(albedo, 0, 12 * N), ctx.readback(normal, 0, 12 * N)]);
      return { position: new Float32Array(p), albedo: new Float32Array(a), normal: new Float32Array(n) };
    },
    destroy: () => { for (const b of all) ctx.destroyBuffer(b); },
  };
}

/**
 * GPU T1 → T2 remap of positions + albedo (wgsl/refine_remap.wgsl via RefineRemapPass): L is
 * uploaded once; per call the two (N1, 3) attributes are written, both remaps recorded in one
 * command buffer, submitted, and the two (N2, 3) results read back.
 */
function createGpuRemap(ctx: GpuContext, model: FaceModel): { remap: RemapFn; destroy(): void } {
  const N1 = model.t1.vertexCount, N2 = model.t2.vertexCount;
  const pass = new RefineRemapPass(ctx, model.t2.fromT1);
  const src = [0, 1].map((k) => ctx.createBuffer(`bench/remap-src-${k}`, 12 * N1, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST));
  const dst = [0, 1].map((k) => ctx.createBuffer(`bench/remap-dst-${k}`, 12 * N2, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC));
  return {
    remap: async (position, albedo) => {
      ctx.device.queue.writeBuffer(src[0], 0, position as Float32Array<ArrayBuffer>);
      ctx.device.queue.writeBuffer(src[1], 0, albedo as Float32Array<ArrayBuffer>);
      const encoder = ctx.device.createCommandEncoder({ label: 'bench/remap' });
      pass.encode(encoder, src[0], dst[0], 3);
      pass.encode(encoder, src[1], dst[1], 3);
      ctx.device.queue.submit([encoder.finish()]);
      const [p, a] = await Promise.all([ctx.readback(dst[0], 0, 12 * N2), ctx.readback(dst[1], 0, 12 * N2)]);
      return { position: new Float32Array(p), albedo: new Float32Array(a) };
    },
    destroy: () => {
      pass.destroy();
      for (const b of [...src, ...dst]) ctx.destroyBuffer(b);
    },
  };
}

/** Fetches and decodes an image (createImageBitmap → OffscreenCanvas) into RGBA8 pixels. */
async function fetchRgba(url: string): Promise<RgbaImage> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const bmp = await createImageBitmap(await res.blob());
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const c2d = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D;
  c2d.drawImage(bmp, 0, 0);
  bmp.close();
  const { data, width, height } = c2d.getImageData(0, 0, canvas.width, canvas.height);
  return { data, width, height };
}

/** Asset locations of the pipeline bench, served from the repository root by bench/run.ts. */
const PAGE_ASSETS: ReconstructorOptions['assets'] = {
  faceModel: '/models/mofa-face-v1.mofa',
  faceDetector: '/models/face_detector_short.onnx',
  faceLandmarker: '/models/face_landmarker.onnx',
  mofaWasm: '/build/wasm/mofa.wasm',
};

export const mofaBench = {
  /**
   * Runs the whole benchmark in this page.
   * @param o.webgpu include the WebGPU backends (default true); o.samples, o.runScale as in
   *   BenchOptions; o.only which suites (default all three: Opt, Refine, pipeline);
   *   o.referenceIterations as in RefineBenchOptions; o.portrait the URL of the pipeline
   *   stages' image (default /demo/assets/astronaut.png).
   */
  async run(o: { webgpu?: boolean; samples?: number[]; runScale?: number; only?: Array<'opt' | 'refine' | 'pipeline'>; referenceIterations?: number; portrait?: string } = {}): Promise<BenchRow[]> {
    const bridge = globalThis as unknown as BenchBridge;
    const log = (m: string) => void bridge.benchLog(m);
    const [model, wasm] = await Promise.all([
      loadFaceModel('/models/mofa-face-v1.mofa'),
      WebAssembly.compileStreaming(fetch('/build/wasm/mofa.wasm')),
    ]);
    const extra: ExtraBackend[] = [];
    const refineExtra: RefineExtraBackend[] = [];
    const only = o.only ?? ['opt', 'refine', 'pipeline'];
    let ctx: GpuContext | null = null;
    if ((o.webgpu ?? true) && (only.includes('opt') || only.includes('refine'))) {
      ctx = await GpuContext.create({ label: 'mofa-bench' });
      log(`webgpu adapter: ${JSON.stringify(ctx.adapter)}`);
      const gpuDecode = createGpuDecode(ctx, model);
      const c = ctx;
      extra.push({
        name: 'webgpu',
        create: async () => new WebGpuOptBackend(c),
        decode: gpuDecode.decode,
        destroy: gpuDecode.destroy,
      });
      refineExtra.push({
        name: 'webgpu',
        createRefine: async () => new WebGpuRefineBackend(c),
        createRemap: async (m) => createGpuRemap(c, m),
      });
    }
    const emit = (row: BenchRow) => void bridge.benchEmit(row);
    try {
      const rows: BenchRow[] = [];
      if (only.includes('opt')) rows.push(...await runOptBench({ model, wasm, extra, samples: o.samples, runScale: o.runScale, log, emit }));
      if (only.includes('refine')) rows.push(...await runRefineBench({ model, wasm, extra: refineExtra, runScale: o.runScale, referenceIterations: o.referenceIterations, log, emit }));
      if (only.includes('pipeline')) {
        const portrait = o.portrait ?? '/demo/assets/astronaut.png';
        const image = await fetchRgba(portrait);
        log(`pipeline: ${portrait} ${image.width}×${image.height}; createReconstructor({ runIn: 'thread', backend }) in the page (crossOriginIsolated ${globalThis.crossOriginIsolated})`);
        const backends: PipelineBackend[] = [{ name: 'wasm', create: () => createReconstructor({ runIn: 'thread', backend: 'wasm', assets: PAGE_ASSETS }) }];
        if (o.webgpu ?? true) {
          // SwiftShader: total_high ≈ 15 s a call, so the minimum of 2 timed calls per quality (+ 1 warm-up).
          backends.push({ name: 'webgpu', create: () => createReconstructor({ runIn: 'thread', backend: 'webgpu', assets: PAGE_ASSETS }), runs: { fast: 3, balanced: 2, high: 2 } });
        }
        rows.push(...await runPipelineBench({ image, backends, runScale: o.runScale, log, emit }));
      }
      return rows;
    } finally {
      for (const e of extra) e.destroy();
      ctx?.destroy();
    }
  },
};
