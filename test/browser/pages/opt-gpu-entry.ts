/**
 * Page-side half of test/browser/opt-gpu.test.ts, bundled by that test (rollup + TypeScript
 * transpile) into build/test-pages/opt-gpu-entry.js and loaded by opt-gpu.html. Each function
 * runs the WebGPU kernels on the `withDevice` device, computes the plain-TypeScript reference
 * of the same math in the page, and returns error metrics and timings (the test asserts).
 * The face model comes from the library bundle (globalThis.mofa.loadFaceModel, dist/mofa-web.js).
 */
import { GpuContext } from '../../../sdk/gpu/gpu-context.js';
import { WebGpuOptBackend } from '../../../sdk/gpu/opt-backend.js';
import { rasterizeOnGpu } from '../../../sdk/gpu/rasterize.js';
import { NormalEquationsPass, partialsBytes, TILE_COUNT, unpackNormalEquations, chunkCount } from '../../../sdk/gpu/normal-equations.js';
import { ReducePartialsPass } from '../../../sdk/gpu/reduce-partials.js';
import { JACOBIAN_COLUMNS } from '../../../sdk/gpu/residual-rows.js';
import { CODE_DIM, CODE_OFFSET, packCode } from '../../../sdk/model/code-layout.js';
import { project, rotateVectors, rotationMatrix, toCamera } from '../../../sdk/model/camera.js';
import { computeAlbedo, computeShape } from '../../../sdk/model/decode.js';
import { computeNormals } from '../../../sdk/model/normals.js';
import { shade } from '../../../sdk/model/shading.js';
import type { OptProblem } from '../../../sdk/opt/backend.js';
import { energyReference, linearizeReference } from '../../../sdk/opt/reference-backend.js';
import {
  accumulateNormalEquations, decodeGeometry, evaluateResiduals, irlsScales, symmetrize,
} from '../../../sdk/opt/residuals.js';
import { rasterize } from '../../../sdk/render/rasterize.js';
import type { FaceModel } from '../../../sdk/types/face-model.js';

let modelPromise: Promise<FaceModel> | null = null;
function loadModel(): Promise<FaceModel> {
  const mofa = (globalThis as unknown as { mofa: { loadFaceModel(url: string): Promise<FaceModel> } }).mofa;
  modelPromise ??= mofa.loadFaceModel('/models/mofa-face-v1.mofa');
  return modelPromise;
}

/** Deterministic N(0, 1)-ish numbers (sum of uniforms from an LCG). */
function gaussians(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const uni = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = uni() + uni() + uni() + uni() - 2; // var 1/3
  return out;
}

/** Smooth synthetic 240×240 linear-RGB image (low-frequency sinusoids per channel). */
function syntheticImage(width = 240, height = 240) {
  const rgb = new Float32Array(3 * width * height);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      const x = j + 0.5, y = i + 0.5, p = 3 * (i * width + j);
      rgb[p] = 0.5 + 0.3 * Math.sin((2 * Math.PI * x) / 60) * Math.cos((2 * Math.PI * y) / 45);
      rgb[p + 1] = 0.45 + 0.25 * Math.sin((2 * Math.PI * (x + y)) / 70 + 1);
      rgb[p + 2] = 0.4 + 0.2 * Math.cos((2 * Math.PI * (x - 0.5 * y)) / 50);
    }
  }
  return { width, height, rgb };
}

/** A non-trivial code: random shape / expression / albedo, a turned head, coloured light. */
function testCode(seed = 7): Float64Array {
  const g = gaussians(257, seed);
  return packCode({
    alpha: Array.from(g.subarray(0, 80), (v) => 1.2 * v),
    delta: Array.from(g.subarray(80, 144), (v) => 0.5 * v),
    beta: Array.from(g.subarray(144, 224), (v) => 1.2 * v),
    rotation: [0.12, -0.25, 0.06],
    translation: [4, -6, -900],
    gamma: Array.from(g.subarray(230, 257), (v) => 0.2 * v),
  });
}

interface ProblemOptions {
  sampleCount: number;
  visibility: 'front-facing' | 'zbuffer';
}

async function makeProblem(o: ProblemOptions): Promise<{ problem: OptProblem; x: Float64Array }> {
  const model = await loadModel();
  const image = syntheticImage();
  const intrinsics = { focalPx: 1000, cx: 120, cy: 120 };
  const x = testCode();
  // Landmark targets: the iBUG-68 vertices projected at x, displaced by a few px.
  const lmVertex = model.landmarks.ibug68;
  const pos = computeShape(model, x.subarray(0, 80), x.subarray(80, 144));
  const R = rotationMatrix(x.subarray(CODE_OFFSET.rotation, CODE_OFFSET.rotation + 3));
  const cam = toCamera(pos, R, x.subarray(CODE_OFFSET.translation, CODE_OFFSET.translation + 3));
  const { screen } = project(cam, { ...intrinsics, width: 240, height: 240 });
  const noise = gaussians(2 * lmVertex.length, 3);
  const position = new Float32Array(2 * lmVertex.length);
  const confidence = new Float32Array(lmVertex.length);
  lmVertex.forEach((v, j) => {
    position[2 * j] = screen[2 * v] + 4 * noise[2 * j];
    position[2 * j + 1] = screen[2 * v + 1] + 4 * noise[2 * j + 1];
    confidence[j] = 0.5 + 0.5 * ((j * 37) % 11) / 10;
  });
  const problem: OptProblem = {
    model, image, intrinsics,
    landmarks: { vertex: lmVertex, position, confidence },
    weights: { photo: 0.44, land: 0.05, reg: 0.01, beta: 0.11, delta: 0.01 },
    visibility: o.visibility,
    sampleCount: o.sampleCount,
    seed: 1234,
  };
  return { problem, x };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Errors of decode / normals / project_shade against decode.ts, normals.ts, camera.ts, shading.ts. */
async function forward(device: GPUDevice, o: ProblemOptions) {
  const ctx = GpuContext.adopt(device);
  const backend = new WebGpuOptBackend(ctx);
  try {
    const { problem, x } = await makeProblem(o);
    const { model } = problem;
    const t0 = performance.now();
    await backend.setProblem(problem);
    const tSetup = performance.now() - t0;
    await backend.decodeVertices(x); // warm-up (pipeline first use)
    const t1 = performance.now();
    const gpu = await backend.decodeVertices(x);
    const tDecode = performance.now() - t1;
    const position = computeShape(model, x.subarray(0, 80), x.subarray(80, 144));
    const albedo = computeAlbedo(model, x.subarray(144, 224));
    const normal = computeNormals(position, model.t1.index);
    const R = rotationMatrix(x.subarray(224, 227));
    const camera = toCamera(position, R, x.subarray(227, 230));
    const { screen, depth } = project(camera, { focalPx: 1000, cx: 120, cy: 120, width: 240, height: 240 });
    const nCam = rotateVectors(normal, R);
    const color = shade(albedo, nCam, x.subarray(230, 257));
    let frontMismatch = 0, front = 0;
    for (let i = 0; i < model.t1.vertexCount; i++) {
      const dot = nCam[3 * i] * camera[3 * i] + nCam[3 * i + 1] * camera[3 * i + 1] + nCam[3 * i + 2] * camera[3 * i + 2];
      const f = dot < 0 && depth[i] > 0 ? 1 : 0;
      front += f;
      if (f !== gpu.frontFacing[i]) frontMismatch++;
    }
    let maxPos = 0, maxAlb = 0;
    for (let i = 0; i < position.length; i++) maxPos = Math.max(maxPos, Math.abs(position[i]));
    for (let i = 0; i < albedo.length; i++) maxAlb = Math.max(maxAlb, Math.abs(albedo[i]));
    return {
      vertexCount: model.t1.vertexCount,
      positionErrMm: maxAbsDiff(gpu.position, position), positionScaleMm: maxPos,
      albedoErr: maxAbsDiff(gpu.albedo, albedo), albedoScale: maxAlb,
      normalErr: maxAbsDiff(gpu.normal, normal),
      cameraErrMm: maxAbsDiff(gpu.camera, camera),
      screenErrPx: maxAbsDiff(gpu.screen, screen),
      depthErrMm: maxAbsDiff(gpu.depth, depth),
      normalCameraErr: maxAbsDiff(gpu.normalCamera, nCam),
      colorErr: maxAbsDiff(gpu.color, color),
      front, frontMismatch,
      ms: { setProblem: tSetup, decodeVerticesWithReadback: tDecode },
    };
  } finally {
    backend.destroy();
    (globalThis as unknown as { lastLiveBuffers: number }).lastLiveBuffers = ctx.liveBufferCount;
  }
}

/** Reference JᵀJ, JᵀF and energy (residuals.ts, float64) for a given photometric set. */
function referenceForSet(problem: OptProblem, x: Float64Array, vertices: Uint32Array) {
  const geo = decodeGeometry(problem, x);
  const set = irlsScales(problem, geo, vertices);
  const { F, J, energy } = evaluateResiduals(problem, geo, set, true);
  const jtj = new Float64Array(CODE_DIM * CODE_DIM);
  const jtf = new Float64Array(CODE_DIM);
  accumulateNormalEquations(J!, F, F.length, jtj, jtf);
  symmetrize(jtj);
  return { jtj, jtf, energy, set };
}

/** Scaled errors: JᵀJ entries by sqrt(A_pp A_qq), JᵀF by sqrt(A_pp · 2E) (Cauchy–Schwarz bounds). */
function compareNormalEquations(jtj: Float64Array, jtf: Float64Array, ref: { jtj: Float64Array; jtf: Float64Array; energy: { total: number } }) {
  const n = CODE_DIM;
  let jtjScaled = 0, num = 0, den = 0, worst = [0, 0];
  for (let p = 0; p < n; p++) {
    for (let q = 0; q < n; q++) {
      const d = jtj[p * n + q] - ref.jtj[p * n + q];
      num += d * d;
      den += ref.jtj[p * n + q] ** 2;
      const s = Math.sqrt(ref.jtj[p * n + p] * ref.jtj[q * n + q]);
      const e = s > 0 ? Math.abs(d) / s : Math.abs(d);
      if (!(e <= jtjScaled)) { jtjScaled = Number.isNaN(e) ? Infinity : e; worst = [p, q]; }
    }
  }
  let jtfScaled = 0;
  for (let p = 0; p < n; p++) {
    const s = Math.sqrt(ref.jtj[p * n + p] * 2 * ref.energy.total);
    const e = s > 0 ? Math.abs(jtf[p] - ref.jtf[p]) / s : Math.abs(jtf[p] - ref.jtf[p]);
    if (!(e <= jtfScaled)) jtfScaled = Number.isNaN(e) ? Infinity : e;
  }
  let symmetric = true;
  for (let p = 0; p < n; p++) for (let q = 0; q < p; q++) if (jtj[p * n + q] !== jtj[q * n + p]) symmetric = false;
  const badDiag: string[] = [];
  for (let p = 0; p < n; p++) {
    const g = jtj[p * n + p], r = ref.jtj[p * n + p];
    if (Math.abs(g - r) > 1e-3 * Math.abs(r)) badDiag.push(`${p}:${g.toPrecision(5)}/${r.toPrecision(5)}`);
  }
  return { badDiag: badDiag.slice(0, 40).join(' '), jtjScaled, jtjWorst: worst, jtjFrobeniusRel: Math.sqrt(num / den), jtfScaled, symmetric };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** linearize / energy of the GPU backend against the reference backend (residuals.ts). */
async function linearize(device: GPUDevice, o: ProblemOptions & { repeats: number }) {
  const ctx = GpuContext.adopt(device);
  const backend = new WebGpuOptBackend(ctx);
  try {
    const { problem, x } = await makeProblem(o);
    await backend.setProblem(problem);
    const times: number[] = [];
    let lin = await backend.linearize(x, 0);
    for (let r = 0; r < o.repeats; r++) {
      const t = performance.now();
      lin = await backend.linearize(x, 0);
      times.push(performance.now() - t);
    }
    const tr = performance.now();
    const refBackend = linearizeReference(problem, x, 0);
    const tRef = performance.now() - tr;
    // Set agreement; the matrices are compared on the GPU's set (f32 vs f64 can flip a
    // vertex on the silhouette / image border, which changes |P| and so every row scale).
    const refSet = refBackend.set.vertex;
    const gpuSet = lin.photometricVertices;
    const inRef = new Set(refSet);
    const inGpu = new Set(gpuSet);
    const onlyGpu = gpuSet.filter((v) => !inRef.has(v)).length;
    const onlyRef = refSet.filter((v) => !inGpu.has(v)).length;
    const ref = onlyGpu === 0 && onlyRef === 0 ? refBackend : referenceForSet(problem, x, gpuSet);
    const cmp = compareNormalEquations(lin.jtj, lin.jtf, ref);
    // Energies at the linearisation point and at a trial step (fixed set and IRLS weights).
    const x2 = Float64Array.from(x);
    const d = gaussians(257, 99);
    for (let k = 0; k < 257; k++) x2[k] += (k >= 224 && k < 230 ? 0.002 : 0.05) * d[k];
    const eTimes: number[] = [];
    let e2 = await backend.energy(x2);
    for (let r = 0; r < o.repeats; r++) {
      const t = performance.now();
      e2 = await backend.energy(x2);
      eTimes.push(performance.now() - t);
    }
    const e2Ref = energyReference(problem, ref.set, x2);
    // A step that puts the face behind the camera must give +∞.
    const xBehind = Float64Array.from(x);
    xBehind[229] = 50;
    const eBehind = await backend.energy(xBehind);
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
    return {
      sampled: o.sampleCount,
      photoVertices: lin.energy.photoVertices,
      refPhotoVertices: refSet.length,
      onlyGpu, onlyRef,
      ...cmp,
      energy: lin.energy, refEnergy: ref.energy,
      energyRel: { total: rel(lin.energy.total, ref.energy.total), photo: rel(lin.energy.photo, ref.energy.photo), land: rel(lin.energy.land, ref.energy.land), reg: rel(lin.energy.reg, ref.energy.reg) },
      trialEnergyRel: { total: rel(e2.total, e2Ref.total), photo: rel(e2.photo, e2Ref.photo), land: rel(e2.land, e2Ref.land) },
      trialEnergy: e2.total, trialRefEnergy: e2Ref.total,
      behindTotal: String(eBehind.total),
      ms: { linearize: median(times), energy: median(eTimes), referenceLinearize: tRef },
    };
  } finally {
    backend.destroy();
    (globalThis as unknown as { lastLiveBuffers: number }).lastLiveBuffers = ctx.liveBufferCount;
  }
}

/**
 * normal_equations.wgsl + reduce_partials.wgsl alone on a random augmented J (rows × 260):
 * checks AᵀA against float64 JS on `checkRows` rows and times larger row counts.
 */
async function normalEquations(device: GPUDevice, o: { checkRows: number; cases: Array<{ rows: number; rowsPerChunk: number }>; repeats: number }) {
  const ctx = GpuContext.adopt(device);
  const ne = new NormalEquationsPass(ctx);
  const red = new ReducePartialsPass(ctx);
  const timings: Array<{ rows: number; rowsPerChunk: number; ms: number }> = [];
  let check = { maxScaled: 0, jsMs: 0 };
  try {
    const maxRows = Math.max(o.checkRows, ...o.cases.map((c) => c.rows));
    const g = gaussians(maxRows * JACOBIAN_COLUMNS, 5);
    const A = new Float32Array(g.length);
    for (let i = 0; i < A.length; i++) A[i] = (i % JACOBIAN_COLUMNS) >= 258 ? 0 : g[i];
    const J = ctx.createBufferWithData('ne-test/jacobian', A, GPUBufferUsage.STORAGE);
    const tiles = ctx.createBuffer('ne-test/tiles', TILE_COUNT * 64, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const run = async (rows: number, rpc: number) => {
      const partials = ctx.createBuffer('ne-test/partials', partialsBytes(rows, rpc), GPUBufferUsage.STORAGE);
      const t = performance.now();
      let enc = device.createCommandEncoder();
      ne.encode(enc, J, partials, rows, rpc);
      device.queue.submit([enc.finish()]);
      enc = device.createCommandEncoder();
      red.encode(enc, partials, tiles, TILE_COUNT * 4, chunkCount(rows, rpc));
      device.queue.submit([enc.finish()]);
      const out = new Float32Array(await ctx.readback(tiles));
      const ms = performance.now() - t;
      ctx.destroyBuffer(partials);
      return { out, ms };
    };
    // Correctness on checkRows.
    const { out } = await run(o.checkRows, 256);
    const { jtj, jtf, ftf } = unpackNormalEquations(out);
    const t = performance.now();
    const n = CODE_DIM;
    const ref = new Float64Array((n + 1) * (n + 1));
    const row = new Float64Array(n + 1);
    for (let r = 0; r < o.checkRows; r++) {
      for (let p = 0; p <= n; p++) row[p] = A[r * JACOBIAN_COLUMNS + p];
      for (let p = 0; p <= n; p++) {
        const v = row[p];
        if (v === 0) continue;
        const base = p * (n + 1);
        for (let q = p; q <= n; q++) ref[base + q] += v * row[q];
      }
    }
    const jsMs = performance.now() - t;
    let maxScaled = 0;
    const diag = (p: number) => ref[p * (n + 1) + p];
    for (let p = 0; p <= n; p++) {
      for (let q = p; q <= n; q++) {
        const gpu = p < n && q < n ? jtj[p * n + q] : p < n ? jtf[p] : ftf;
        const e = Math.abs(gpu - ref[p * (n + 1) + q]) / Math.sqrt(diag(p) * diag(q));
        if (!(e <= maxScaled)) maxScaled = Number.isNaN(e) ? Infinity : e;
      }
    }
    check = { maxScaled, jsMs };
    for (const { rows, rowsPerChunk: rpc } of o.cases) {
      const ms: number[] = [];
      for (let k = 0; k < o.repeats; k++) ms.push((await run(rows, rpc)).ms);
      timings.push({ rows, rowsPerChunk: rpc, ms: Math.min(...ms) });
    }
    ctx.destroyBuffer(J);
    ctx.destroyBuffer(tiles);
  } finally {
    ne.destroy();
    red.destroy();
    (globalThis as unknown as { lastLiveBuffers: number }).lastLiveBuffers = ctx.liveBufferCount;
    ctx.destroy();
  }
  return { check, timings };
}

/** rasterize.wgsl + rasterize_resolve.wgsl against sdk/render/rasterize.ts on the same inputs. */
async function raster(device: GPUDevice, o: { width: number; height: number; focalPx: number }) {
  const ctx = GpuContext.adopt(device);
  try {
    const model = await loadModel();
    const x = testCode();
    const position = computeShape(model, x.subarray(0, 80), x.subarray(80, 144));
    const albedo = computeAlbedo(model, x.subarray(144, 224));
    const R = rotationMatrix(x.subarray(224, 227));
    const cam = toCamera(position, R, x.subarray(227, 230));
    const intr = { focalPx: o.focalPx, cx: o.width / 2, cy: o.height / 2, width: o.width, height: o.height };
    const { screen, depth } = project(cam, intr);
    const color = shade(albedo, rotateVectors(computeNormals(position, model.t1.index), R), x.subarray(230, 257));
    const input = { width: o.width, height: o.height, screen, depth, color, index: model.t1.index };
    await rasterizeOnGpu(ctx, input); // warm-up
    const t = performance.now();
    const gpu = await rasterizeOnGpu(ctx, input);
    const ms = performance.now() - t;
    const tc = performance.now();
    const cpu = rasterize(input);
    const cpuMs = performance.now() - tc;
    const pixels = o.width * o.height;
    let covered = 0, idMismatch = 0, colorErr = 0, depthRel = 0;
    for (let p = 0; p < pixels; p++) {
      if (cpu.triangleId[p] >= 0) covered++;
      if (cpu.triangleId[p] !== gpu.triangleId[p]) { idMismatch++; continue; }
      if (cpu.triangleId[p] < 0) continue;
      depthRel = Math.max(depthRel, Math.abs(gpu.depth[p] - cpu.depth[p]) / cpu.depth[p]);
      for (let c = 0; c < 3; c++) {
        // The CPU image is RGBA8 (round(255·clamp(c))): compare in byte units.
        const g = Math.round(255 * Math.min(1, Math.max(0, gpu.color[4 * p + c])));
        colorErr = Math.max(colorErr, Math.abs(g - cpu.image.data[4 * p + c]));
      }
    }
    // A PNG-able RGBA8 copy of the GPU image for the test to write out.
    const rgba = Array.from({ length: pixels * 4 }, (_, k) => (k % 4 === 3 ? (gpu.color[k] > 0 ? 255 : 0) : Math.round(255 * Math.min(1, Math.max(0, gpu.color[k])))));
    return { pixels, covered, idMismatch, colorErrBytes: colorErr, depthRel, skipped: gpu.skippedTriangles, ms, cpuMs, live: ctx.liveBufferCount, rgba };
  } finally {
    ctx.destroy();
  }
}

/** Per-pass wall times of linearize (one submit + queue wait per pass), and whole calls. */
async function profile(device: GPUDevice, o: ProblemOptions & { repeats: number }) {
  const ctx = GpuContext.adopt(device);
  const backend = new WebGpuOptBackend(ctx);
  try {
    const { problem, x } = await makeProblem(o);
    await backend.setProblem(problem);
    await backend.profileLinearize(x, 0); // warm-up
    const runs: Array<Array<{ stage: string; ms: number }>> = [];
    for (let r = 0; r < o.repeats; r++) runs.push(await backend.profileLinearize(x, 0));
    const stages = runs[0].map((s, k) => ({ stage: s.stage, ms: Math.min(...runs.map((run) => run[k].ms)) }));
    const whole: number[] = [];
    let lin = await backend.linearize(x, 0);
    for (let r = 0; r < o.repeats; r++) {
      const t = performance.now();
      lin = await backend.linearize(x, 0);
      whole.push(performance.now() - t);
    }
    const e: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const t = performance.now();
      await backend.energy(x);
      e.push(performance.now() - t);
    }
    // An empty submit + queue wait: the fixed cost inside every stage time above.
    const t0 = performance.now();
    device.queue.submit([device.createCommandEncoder().finish()]);
    await device.queue.onSubmittedWorkDone();
    const emptySubmitMs = performance.now() - t0;
    return {
      photoVertices: lin.energy.photoVertices, finite: Number.isFinite(lin.energy.total),
      stages, emptySubmitMs, linearizeMs: Math.min(...whole), energyMs: Math.min(...e),
    };
  } finally {
    backend.destroy();
    (globalThis as unknown as { lastLiveBuffers: number }).lastLiveBuffers = ctx.liveBufferCount;
  }
}

export const optGpu = { forward, linearize, normalEquations, raster, profile };
