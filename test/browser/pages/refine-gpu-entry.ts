/**
 * Page-side module of test/browser/refine-gpu.test.ts, bundled by the test (esbuild, `.wgsl` as
 * text) to build/test/refine-gpu.js and loaded by refine-gpu.html as `globalThis.refineGpu`.
 * It builds a synthetic Refine problem on the real face model and runs the WebGPU backend
 * (sdk/gpu/refine-backend.ts) and the TypeScript reference (sdk/refine/reference.ts) in the
 * page; comparisons return plain numbers, the assertions live in the test.
 */
import { GpuContext } from '../../../sdk/gpu/gpu-context.js';
import { WebGpuRefineBackend } from '../../../sdk/gpu/refine-backend.js';
import { RefineRemapPass } from '../../../sdk/gpu/refine-remap.js';
import { DEFAULT_INTRINSICS, rotationMatrix } from '../../../sdk/model/camera.js';
import { loadFaceModel } from '../../../sdk/model/load-face-model.js';
import { computeNormals } from '../../../sdk/model/normals.js';
import { gammaFromLights } from '../../../sdk/model/shading.js';
import { REFINE_DEFAULTS } from '../../../sdk/refine/defaults.js';
import { prepareRefineState, refineForward, refineGradient, refreshWeights, runRefineReference, type RefineProblem } from '../../../sdk/refine/reference.js';
import { remapAttribute } from '../../../sdk/refine/remap.js';
import { renderMesh } from '../../../sdk/render/render-mesh.js';
import type { FaceModel } from '../../../sdk/types/face-model.js';

let modelPromise: Promise<FaceModel> | null = null;

/** The committed face model (models/mofa-face-v1.mofa), loaded once per page (`source`: URL or, in Node, a path). */
export function faceModel(source = '/models/mofa-face-v1.mofa'): Promise<FaceModel> {
  modelPromise ??= loadFaceModel(source);
  return modelPromise;
}

/**
 * A synthetic Refine problem on the real T2 mesh: the mean T1 shape and albedo, a slightly
 * turned head (pitch 0.08, yaw 0.25 rad) at 900 mm, a key + fill light, and as the image I a
 * render (sdk/render, z-buffered) of the T2 mesh carrying a known detail displacement
 * (1.2 mm · sin ripples along the normal) on a grey background, linear RGB (bytes / 255).
 * So there is real detail for Refine to recover and a silhouette with off-face pixels.
 */
export async function syntheticProblem(modelSource?: string): Promise<RefineProblem> {
  const model = await faceModel(modelSource);
  const R = rotationMatrix([0.08, 0.25, 0]);
  const t = [0, 5, -900];
  const gamma = gammaFromLights([0.35, 0.33, 0.32], [{ direction: [0.5, 0.4, 0.8], color: [0.65, 0.62, 0.6] }]);
  const positionT1 = model.t1.meanShape;
  const albedoT1 = model.albedoMean;
  const coarse = remapAttribute(positionT1, 3, model.t2.fromT1);
  const albedo = remapAttribute(albedoT1, 3, model.t2.fromT1);
  const normal = computeNormals(coarse, model.t2.index);
  const detailed = new Float32Array(coarse.length);
  for (let i = 0; i < coarse.length; i += 3) {
    const h = 1.2 * Math.sin(coarse[i] / 4) * Math.sin(coarse[i + 1] / 5);
    for (let c = 0; c < 3; c++) detailed[i + c] = coarse[i + c] + h * normal[i + c];
  }
  const render = renderMesh(
    { position: detailed, index: model.t2.index, albedo, gamma, rotation: R, translation: t, intrinsics: DEFAULT_INTRINSICS },
    { background: [128, 128, 128, 255], encoding: 'linear' },
  );
  const { width, height, data } = render.image;
  const rgb = new Float32Array(3 * width * height);
  for (let p = 0; p < width * height; p++) for (let c = 0; c < 3; c++) rgb[3 * p + c] = data[4 * p + c] / 255;
  return {
    model,
    positionT1,
    albedoT1,
    R,
    t,
    gamma,
    intrinsics: { focalPx: DEFAULT_INTRINSICS.focalPx, cx: DEFAULT_INTRINSICS.cx, cy: DEFAULT_INTRINSICS.cy },
    image: { width, height, rgb },
  };
}

/** Error statistics of an f32 (N, 3) field against a float64 reference. */
export interface FieldComparison {
  /** ‖a − ref‖₂ / ‖ref‖₂. */
  relL2: number;
  /** max_i ‖a_i − ref_i‖ / max_i ‖ref_i‖. */
  maxRel: number;
  /** Fraction of vertices with ‖a_i − ref_i‖ > tol · max_i ‖ref_i‖. */
  fractionAboveTol: number;
  /** max_i ‖ref_i‖. */
  refMax: number;
  /** Whether every component of a is finite. */
  finite: boolean;
}

function compareFields(a: ArrayLike<number>, ref: ArrayLike<number>, tol: number): FieldComparison {
  const n = ref.length / 3;
  let num = 0, den = 0, maxErr = 0, refMax = 0, finite = true;
  const errs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let e2 = 0, r2 = 0;
    for (let c = 0; c < 3; c++) {
      const x = a[3 * i + c];
      if (!Number.isFinite(x)) finite = false;
      const d = x - ref[3 * i + c];
      e2 += d * d;
      r2 += ref[3 * i + c] * ref[3 * i + c];
    }
    num += e2; den += r2;
    errs[i] = Math.sqrt(e2);
    maxErr = Math.max(maxErr, errs[i]);
    refMax = Math.max(refMax, Math.sqrt(r2));
  }
  let above = 0;
  for (let i = 0; i < n; i++) if (errs[i] > tol * refMax) above++;
  return { relL2: Math.sqrt(num / den), maxRel: maxErr / refMax, fractionAboveTol: above / n, refMax, finite };
}

/**
 * One iteration on the GPU (device given: the test's withDevice device) against the reference
 * gradient at D = 0 and the updated positions v^C − step·∇E.
 * @param tol per-vertex tolerance relative to the largest reference vector (see FieldComparison).
 */
export async function oneIteration(device: GPUDevice, tol: number) {
  const problem = await syntheticProblem();
  const ctx = GpuContext.adopt(device);
  const backend = new WebGpuRefineBackend(ctx);
  let gpu;
  try {
    await backend.setProblem(problem);
    gpu = await backend.run({ iterations: 1 });
  } finally {
    backend.destroy();
  }
  const liveBuffersAfterDestroy = ctx.liveBufferCount;
  const state = prepareRefineState(problem, REFINE_DEFAULTS);
  const n = state.n;
  const g = new Float64Array(3 * n);
  const e0 = refineGradient(state, new Float64Array(3 * n), g);
  const step = REFINE_DEFAULTS.step;
  const stepped = new Float64Array(3 * n);
  for (let k = 0; k < 3 * n; k++) stepped[k] = -step * g[k];
  const displacement = compareFields(gpu.displacements, stepped, tol);
  let maxPositionErrMm = 0;
  for (let k = 0; k < 3 * n; k++) maxPositionErrMm = Math.max(maxPositionErrMm, Math.abs(gpu.positions[k] - (state.coarse[k] + stepped[k])));
  const normalsRef = computeNormals(gpu.positions, state.index);
  let maxNormalErr = 0;
  for (let k = 0; k < 3 * n; k++) maxNormalErr = Math.max(maxNormalErr, Math.abs(gpu.normals[k] - normalsRef[k]));
  return {
    n,
    faces: state.index.length / 3,
    gradient: compareFields(gpu.gradient, g, tol),
    displacement,
    maxPositionErrMm,
    maxNormalErr,
    energyGpu: gpu.energyRecords[0],
    energyRef: e0,
    liveBuffersAfterDestroy,
  };
}

/**
 * `iterations` iterations on the GPU and on the reference; energies of both, the final
 * displacement comparison and timings.
 */
export async function compareRuns(device: GPUDevice, iterations: number, energyEvery: number, tol: number, runReference: boolean) {
  const problem = await syntheticProblem();
  const ctx = GpuContext.adopt(device);
  const backend = new WebGpuRefineBackend(ctx);
  let gpu;
  let warmMs = 0;
  try {
    await backend.setProblem(problem);
    warmMs = (await backend.run({ iterations: 1 })).ms; // first submit compiles pipelines lazily on some drivers
    gpu = await backend.run({ iterations, energyEvery });
  } finally {
    backend.destroy();
  }
  const ref = runReference ? runRefineReference(problem, { iterations }) : null;
  const allFinite = [gpu.positions, gpu.normals, gpu.displacements].every((a) => a.every(Number.isFinite));
  return {
    n: gpu.positions.length / 3,
    gpuEnergies: Array.from(gpu.energies),
    gpuRecords: gpu.energyRecords,
    refEnergies: ref ? Array.from(ref.energies) : null,
    displacement: ref ? compareFields(gpu.displacements, ref.displacements, tol) : null,
    maxDisplacementMm: gpu.displacements.reduce((m, x) => Math.max(m, Math.abs(x)), 0),
    allFinite,
    gpuMs: gpu.ms,
    gpuEncodeMs: gpu.encodeMs,
    warmMs,
    refMs: ref ? ref.ms : null,
    liveBuffersAfterDestroy: ctx.liveBufferCount,
  };
}

/**
 * The gradient of iteration 2 (at D₁ = the GPU's displacement after one step, visibility and
 * IRLS weights refreshed there) against the reference at the same D₁: covers the Laplacian
 * term (zero at D = 0) and normals of a moved surface. `wReg` raises the regulariser's share.
 */
export async function secondIteration(device: GPUDevice, tol: number, wReg: number) {
  const problem = await syntheticProblem();
  const ctx = GpuContext.adopt(device);
  const backend = new WebGpuRefineBackend(ctx);
  let first, second;
  try {
    await backend.setProblem(problem);
    first = await backend.run({ iterations: 1, wReg });
    second = await backend.run({ iterations: 2, wReg });
  } finally {
    backend.destroy();
  }
  const state = prepareRefineState(problem, { ...REFINE_DEFAULTS, wReg });
  const n = state.n;
  const d1 = Float64Array.from(first.displacements);
  const fwd = refineForward(state, d1);
  refreshWeights(state, d1, fwd);
  const g = new Float64Array(3 * n);
  const e1 = refineGradient(state, d1, g, fwd);
  return { gradient: compareFields(second.gradient, g, tol), energyGpu: second.energyRecords[1], energyRef: e1, liveBuffersAfterDestroy: ctx.liveBufferCount };
}

/**
 * The GPU T1 → T2 remap (sdk/gpu/refine-remap.ts) of the mean shape (width 3, mm) and the T1 uv
 * (width 2) against `remapAttribute`: max |difference| and the fraction of bit-identical values.
 */
export async function remapOnGpu(device: GPUDevice) {
  const model = await faceModel();
  const ctx = GpuContext.adopt(device);
  const pass = new RefineRemapPass(ctx, model.t2.fromT1);
  const out: Record<string, { maxAbs: number; identical: number; maxRef: number }> = {};
  try {
    for (const [name, src, width] of [['position', model.t1.meanShape, 3], ['uv', model.t1.uv, 2]] as const) {
      const srcBuf = ctx.createBufferWithData(`remap-src-${name}`, src, GPUBufferUsage.STORAGE);
      const dstBuf = ctx.createBuffer(`remap-dst-${name}`, 4 * pass.count * width, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const encoder = device.createCommandEncoder();
      pass.encode(encoder, srcBuf, dstBuf, width);
      device.queue.submit([encoder.finish()]);
      const gpu = new Float32Array(await ctx.readback(dstBuf, 0, 4 * pass.count * width));
      const ref = remapAttribute(src, width, model.t2.fromT1);
      let maxAbs = 0, identical = 0, maxRef = 0;
      for (let k = 0; k < ref.length; k++) {
        maxAbs = Math.max(maxAbs, Math.abs(gpu[k] - ref[k]));
        maxRef = Math.max(maxRef, Math.abs(ref[k]));
        if (gpu[k] === ref[k]) identical++;
      }
      out[name] = { maxAbs, identical: identical / ref.length, maxRef };
      ctx.destroyBuffer(srcBuf);
      ctx.destroyBuffer(dstBuf);
    }
  } finally {
    pass.destroy();
  }
  return { position: out.position, uv: out.uv, liveBuffersAfterDestroy: ctx.liveBufferCount };
}

/**
 * Lifecycle of a backend that owns its GpuContext (`WebGpuRefineBackend.create()`): run before
 * setProblem and bad options reject with BAD_INPUT, a short run works, destroy frees everything
 * (twice is harmless) and later calls reject with CLOSED. Returns the observed codes and counts.
 */
export async function lifecycle() {
  const backend = await WebGpuRefineBackend.create();
  const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string }) => e.code ?? String(e));
  const beforeProblem = await code(backend.run({ iterations: 1 }));
  await backend.setProblem(await syntheticProblem());
  const badOptions = await code(backend.run({ iterations: 1.5 }));
  const badEvery = await code(backend.run({ iterations: 2, energyEvery: 0 }));
  const result = await backend.run({ iterations: 2 });
  const liveWhileOpen = backend.context.liveBufferCount;
  backend.destroy();
  backend.destroy();
  return {
    kind: backend.kind,
    beforeProblem,
    badOptions,
    badEvery,
    energies: Array.from(result.energies),
    liveWhileOpen,
    liveAfterDestroy: backend.context.liveBufferCount,
    afterDestroy: await code(backend.run({ iterations: 1 })),
    setProblemAfterDestroy: await code(backend.setProblem(await syntheticProblem())),
  };
}
