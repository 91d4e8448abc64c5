/**
 * reconstruct() in Node (in-thread pipeline, quality 'fast'): the landmark fit and the SH
 * lighting fit on synthetic data with known answers, then end to end on the two public-domain
 * portraits (landmarks vs an independent landmarker run, albedo/lighting plausibility, finite
 * outputs), and the error corpus (BAD_INPUT, NO_FACE, ABORTED, CLOSED, NO_BACKEND for a switched-off stage).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MofaError } from '../../sdk/errors.js';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import { DEFAULT_INTRINSICS, project, rotateVectors, rotationMatrix, toCamera } from '../../sdk/model/camera.js';
import { CODE_DIM, CODE_OFFSET } from '../../sdk/model/code-layout.js';
import { computeShape } from '../../sdk/model/decode.js';
import { computeNormals } from '../../sdk/model/normals.js';
import { gammaFromLights, irradiance } from '../../sdk/model/shading.js';
import { readImage } from '../../sdk/node/image-io.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import { resizeBilinear } from '../../sdk/render/draw.js';
import { createReconstructor, reconstruct, type Reconstructor } from '../../sdk/reconstructor.js';
import { downscaleForDetection } from '../../sdk/pipeline/input.js';
import { ReconstructionPipeline } from '../../sdk/pipeline/pipeline.js';
import { resolveAssets } from '../../sdk/pipeline/assets.js';
import type { OptStage } from '../../sdk/pipeline/stages.js';
import { fitLandmarksPerspective, landmarkBasis } from '../../sdk/pipeline/landmark-fit.js';
import { fitLightingLinear } from '../../sdk/pipeline/lighting-fit.js';
import { selectBackend } from '../../sdk/pipeline/backend-select.js';
import { resultTransferables, type PlainReconstructionResult } from '../../sdk/pipeline/result.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import type { ReconstructProgress } from '../../sdk/types/reconstruct-options.js';
import type { ReconstructionResult } from '../../sdk/types/reconstruct-result.js';
import { FaceDetector } from '../../sdk/vision/face-detector.js';
import { FaceLandmarker } from '../../sdk/vision/face-landmarker.js';
import type { RgbaImage } from '../../sdk/vision/image.js';

const PORTRAITS = ['demo/assets/astronaut.png', 'demo/assets/grace_hopper.jpg'];
const DEG = Math.PI / 180;

function median(v: ArrayLike<number>): number {
  const a = Float64Array.from(v).sort();
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : 0.5 * (a[m - 1] + a[m]);
}

/** Deterministic N(0, 1) samples. */
function gaussians(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

async function expectCode(p: Promise<unknown>, code: string): Promise<MofaError> {
  const e = await p.then(
    () => {
      throw new Error(`expected MofaError ${code}, but the call resolved`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MofaError);
  expect((e as MofaError).code, (e as Error).message).toBe(code);
  return e as MofaError;
}

let model: FaceModel;
beforeAll(async () => {
  model = await loadFaceModel('models/mofa-face-v1.mofa');
});

describe('landmark fit (perspective Gauss-Newton)', () => {
  it('recovers pose, shape and expression from exact projected landmarks of a known face', () => {
    const alpha = gaussians(80, 3).map((v) => 0.7 * v);
    const delta = gaussians(64, 9).map((v, k) => (k < 10 ? 0.6 * v : 0.1 * v));
    const euler = [6 * DEG, -12 * DEG, 4 * DEG];
    const t = [8, -5, -880];
    const V = computeShape(model, alpha, delta);
    const cam = toCamera(V.subarray(0, 468 * 3), rotationMatrix(euler), t);
    const { screen, depth } = project(cam, DEFAULT_INTRINSICS);
    // Landmarker-like input: x, y crop px; z relative depth px (smaller = closer), centred.
    const pts = new Float64Array(468 * 3);
    const s = DEFAULT_INTRINSICS.focalPx / 880;
    for (let i = 0; i < 468; i++) {
      pts[3 * i] = screen[2 * i];
      pts[3 * i + 1] = screen[2 * i + 1];
      pts[3 * i + 2] = s * (depth[i] - 880);
    }
    const fit = fitLandmarksPerspective(landmarkBasis(model), pts, DEFAULT_INTRINSICS);
    expect(median(fit.residualPx)).toBeLessThan(0.3);
    for (let k = 0; k < 3; k++) expect(Math.abs(fit.euler[k] - euler[k])).toBeLessThan(2.5 * DEG);
    expect(Math.abs(fit.translation[0] - t[0])).toBeLessThan(5);
    expect(Math.abs(fit.translation[1] - t[1])).toBeLessThan(5);
    expect(Math.abs(fit.translation[2] - t[2]) / 880).toBeLessThan(0.08); // depth ↔ size ambiguity: within 8 %
    // The energy decreases monotonically (LM only accepts decreasing steps).
    for (let i = 1; i < fit.energies.length; i++) expect(fit.energies[i]).toBeLessThanOrEqual(fit.energies[i - 1]);
    // Expression: the strongly-activated columns come back with the right sign.
    let agree = 0;
    for (let k = 0; k < 10; k++) if (Math.abs(delta[k]) > 0.3 && Math.sign(fit.delta[k]) === Math.sign(delta[k])) agree++;
    const strong = delta.slice(0, 10).filter((d) => Math.abs(d) > 0.3).length;
    expect(agree).toBeGreaterThanOrEqual(strong - 1);
  });
});

describe('SH lighting by linear least squares', () => {
  it('recovers the lighting of a face rendered with known γ', () => {
    const alpha = new Float64Array(80), delta = new Float64Array(64);
    const position = computeShape(model, alpha, delta);
    const normal = computeNormals(position, model.t1.index);
    const R = rotationMatrix([0, 10 * DEG, 0]), t = [0, 0, -900];
    const gamma = gammaFromLights([0.5, 0.45, 0.4], [{ direction: [-0.5, 0.4, 0.75], color: [0.5, 0.5, 0.5] }]);
    const r = renderMesh({ position, index: model.t1.index, albedo: model.albedoMean, gamma, rotation: R, translation: t, intrinsics: DEFAULT_INTRINSICS, normal }, { cullBackFaces: true });
    const rgb = new Float32Array(240 * 240 * 3);
    for (let p = 0; p < 240 * 240; p++) for (let c = 0; c < 3; c++) rgb[3 * p + c] = r.image.data[4 * p + c] / 255; // 'linear' encoding
    const fit = fitLightingLinear(position, normal, model.t1.index, model.albedoMean, R, t, DEFAULT_INTRINSICS, { width: 240, height: 240, rgb }, model.frontFace);
    expect(fit.vertices).toBeGreaterThan(3000);
    expect(fit.rms).toBeLessThan(0.02); // 8-bit rendering, per-pixel colour interpolation
    // γ itself is not identifiable from one view (over a hemisphere of normals the bands are
    // correlated), the light it produces on the visible face is: compare irradiance there.
    const camN = rotateVectors(normal, R);
    const Efit = irradiance(camN, fit.gamma), Etrue = irradiance(camN, gamma);
    let maxErr = 0;
    for (const v of model.frontFace) if (camN[3 * v + 2] > 0.2) for (let c = 0; c < 3; c++) maxErr = Math.max(maxErr, Math.abs(Efit[3 * v + c] - Etrue[3 * v + c]));
    console.info(`lighting fit: rms ${fit.rms.toFixed(4)}, max irradiance error on camera-facing vertices ${maxErr.toFixed(4)}`);
    expect(maxErr).toBeLessThan(0.04);
  });
});

describe('backend selection (explicit, reported)', () => {
  const fakeGpu = (adapter: unknown) => ({ requestAdapter: async () => adapter }) as unknown as GPU;
  it("'auto' → wasm without WebGPU or with a software adapter, webgpu with a hardware adapter; reasons given", async () => {
    expect(await selectBackend('auto', undefined)).toEqual({ backend: 'wasm', reason: expect.stringMatching(/navigator\.gpu is missing/) });
    expect(await selectBackend('auto', fakeGpu(null))).toEqual({ backend: 'wasm', reason: expect.stringMatching(/no adapter/) });
    const swiftshader = { info: { vendor: 'google', architecture: 'swiftshader', description: '', isFallbackAdapter: false } };
    expect(await selectBackend('auto', fakeGpu(swiftshader))).toEqual({ backend: 'wasm', reason: expect.stringMatching(/software\/fallback adapter \(google swiftshader\)/) });
    const flagged = { info: { vendor: 'x', architecture: 'y', isFallbackAdapter: true } };
    expect((await selectBackend('auto', fakeGpu(flagged))).backend).toBe('wasm');
    const hw = { info: { vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false } };
    expect(await selectBackend('auto', fakeGpu(hw))).toEqual({ backend: 'webgpu', reason: expect.stringMatching(/hardware WebGPU adapter \(nvidia hopper\)/) });
    expect((await selectBackend('wasm', fakeGpu(hw))).backend).toBe('wasm');
    expect((await selectBackend('webgpu', fakeGpu(swiftshader))).reason).toMatch(/slower than wasm/);
  });
  it("'webgpu' without WebGPU is NO_BACKEND, an unknown name BAD_INPUT", async () => {
    await expectCode(selectBackend('webgpu', undefined), 'NO_BACKEND');
    await expectCode(selectBackend('webgpu', fakeGpu(null)), 'NO_BACKEND');
    await expectCode(selectBackend('cuda' as 'wasm', undefined), 'BAD_INPUT');
  });
});

describe('downscaleForDetection', () => {
  it('box-filters a large image to the maximum side and reports the scale', () => {
    const W = 300, H = 200, data = new Uint8ClampedArray(W * H * 4);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set([x % 2 ? 200 : 100, y < 100 ? 0 : 255, 50, 255], 4 * (y * W + x));
    const { image, scaleX, scaleY } = downscaleForDetection({ data, width: W, height: H }, 150);
    expect([image.width, image.height]).toEqual([150, 100]);
    expect(scaleX).toBe(2);
    expect(scaleY).toBe(2);
    expect(image.data[0]).toBe(150); // mean of 100 and 200
    expect(image.data[1]).toBe(0);
    expect(image.data[4 * (99 * 150) + 1]).toBe(255);
    const same = { data, width: W, height: H };
    expect(downscaleForDetection(same, 1024).image).toBe(same);
  });
});

describe('reconstruct() in Node, quality fast', () => {
  let rec: Reconstructor;
  let detector: FaceDetector;
  let landmarker: FaceLandmarker;
  const results = new Map<string, ReconstructionResult>();

  beforeAll(async () => {
    rec = await createReconstructor({ runIn: 'thread' });
    detector = await FaceDetector.create({ model: 'models/face_detector_short.onnx' });
    landmarker = await FaceLandmarker.create({ model: 'models/face_landmarker.onnx' });
  }, 60_000);
  afterAll(async () => {
    await rec?.close();
    await detector?.close();
    await landmarker?.close();
  });

  for (const file of PORTRAITS) {
    it(`${file}: landmarks on the face, plausible albedo and lighting, finite outputs`, async () => {
      const progress: ReconstructProgress[] = [];
      const res = await rec.reconstruct(file, { onProgress: (p) => progress.push(p) });
      results.set(file, res);
      expect(res.faces).toHaveLength(1);
      const f = res.faces[0];
      const img = readImage(file);
      expect(res.imageSize).toEqual({ width: img.width, height: img.height });

      // Independent landmarker run on the same image; the fitted model's 468 vertices, projected
      // into the original image, must land on its points.
      const [det] = await detector.detect(img);
      const lm = await landmarker.landmarks(img, det);
      const proj = f.projectToImage(f.mesh.position.subarray(0, 468 * 3));
      const err = Array.from({ length: 468 }, (_, i) => Math.hypot(proj[2 * i] - lm.points[3 * i], proj[2 * i + 1] - lm.points[3 * i + 1]));
      const iod = Math.hypot(lm.points[3 * 263] - lm.points[3 * 33], lm.points[3 * 263 + 1] - lm.points[3 * 33 + 1]);
      const med = median(err);
      console.info(`${file}: median landmark error ${med.toFixed(2)} px (${((100 * med) / iod).toFixed(2)} % IOD), p90 ${[...err].sort((a, b) => a - b)[Math.floor(0.9 * 468)].toFixed(2)} px; stageMs ${JSON.stringify(Object.fromEntries(Object.entries(res.diagnostics.stageMs).map(([k, v]) => [k, Math.round(v!)])))}; energies ${JSON.stringify(res.diagnostics.energies[0])}`);
      expect(med).toBeLessThan(3);
      expect(med / iod).toBeLessThan(0.03);
      // result.landmarks is exactly that projection.
      for (let i = 0; i < 468 * 2; i++) expect(f.landmarks[i]).toBeCloseTo(proj[i], 3);

      // Mesh: T1 in the camera frame, in front of the camera, ~face-sized, normals unit and facing the camera on the nose.
      expect(f.mesh.topology).toBe('T1');
      expect(f.mesh.position.length).toBe(model.t1.vertexCount * 3);
      expect(f.mesh.index.length).toBe(model.t1.index.length);
      expect(f.mesh.uv.length).toBe(model.t1.vertexCount * 2);
      for (const a of [f.mesh.position, f.mesh.normal, f.mesh.uv, f.albedo, f.lighting.sh, f.code, f.landmarks]) expect(a.every(Number.isFinite)).toBe(true);
      expect(f.pose.translation[2]).toBeLessThan(-300);
      expect(f.pose.translation[2]).toBeGreaterThan(-3000);
      const nose = 1; // MediaPipe landmark 1 = nose tip
      expect(f.mesh.normal[3 * nose + 2]).toBeGreaterThan(0.5);
      // Pose matrix = R(euler), and p_cam = R·v + t reproduces the mesh.
      const R = rotationMatrix(f.pose.rotation.euler);
      for (let k = 0; k < 9; k++) expect(f.pose.rotation.matrix[k]).toBeCloseTo(R[k], 10);
      expect(f.code.length).toBe(CODE_DIM);
      expect(f.code[CODE_OFFSET.translation + 2]).toBeCloseTo(f.pose.translation[2], 6);

      // Albedo: the model mean ('fast'), linear RGB in a skin range, red ≥ green ≥ blue on average.
      const mean = [0, 0, 0];
      for (const v of model.frontFace) for (let c = 0; c < 3; c++) mean[c] += f.albedo[3 * v + c] / model.frontFace.length;
      for (const c of [0, 1, 2]) expect(mean[c]).toBeGreaterThan(0.05);
      for (const c of [0, 1, 2]) expect(mean[c]).toBeLessThan(0.9);
      expect(mean[0]).toBeGreaterThan(mean[2]);

      // Lighting: albedo × irradiance reproduces the photo's mean colour over the visible face.
      const E = f.lighting.irradiance(f.mesh.normal);
      const all = f.projectToImage();
      const lut = (v: number) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      const shaded = [0, 0, 0], observed = [0, 0, 0];
      let n = 0;
      for (const v of model.frontFace) {
        const facing = -(f.mesh.normal[3 * v] * f.mesh.position[3 * v] + f.mesh.normal[3 * v + 1] * f.mesh.position[3 * v + 1] + f.mesh.normal[3 * v + 2] * f.mesh.position[3 * v + 2]);
        if (facing <= 0.3 * Math.hypot(f.mesh.position[3 * v], f.mesh.position[3 * v + 1], f.mesh.position[3 * v + 2])) continue;
        const x = Math.floor(all[2 * v]), y = Math.floor(all[2 * v + 1]);
        if (!(x >= 0 && y >= 0 && x < img.width && y < img.height)) continue;
        for (let c = 0; c < 3; c++) {
          shaded[c] += f.albedo[3 * v + c] * E[3 * v + c];
          observed[c] += lut(img.data[4 * (y * img.width + x) + c]);
        }
        n++;
      }
      expect(n).toBeGreaterThan(2000);
      for (const c of [0, 1, 2]) expect(Math.abs(shaded[c] - observed[c]) / n).toBeLessThan(0.05);
      for (let v = 0; v < model.t1.vertexCount; v += 97) for (let c = 0; c < 3; c++) expect(E[3 * v + c]).toBeGreaterThan(-0.2);

      // Blendshapes: ARKit names only, finite.
      expect(Object.keys(f.blendshapes)).toHaveLength(model.expressionNames.filter((n) => !n.startsWith('residual')).length);
      expect(f.blendshapes).toHaveProperty('jawOpen');
      expect(f.blendshapes).toHaveProperty('mouthSmile_L');
      const k = model.expressionNames.indexOf('jawOpen');
      expect(f.blendshapes.jawOpen).toBeCloseTo(model.expressionSigma[k] * f.code[CODE_OFFSET.delta + k], 10);
      expect(Object.values(f.blendshapes).every(Number.isFinite)).toBe(true);

      // Face box contains the landmarks' centre; diagnostics complete; progress monotone to 1.
      const cx = median(Array.from({ length: 468 }, (_, i) => f.landmarks[2 * i]));
      expect(cx).toBeGreaterThan(f.faceBox.x);
      expect(cx).toBeLessThan(f.faceBox.x + f.faceBox.width);
      const d = res.diagnostics;
      expect(d.quality).toBe('fast');
      expect(d.runIn).toBe('thread');
      expect(d.backend).toBe('wasm');
      expect(d.backendReason).toMatch(/navigator\.gpu is missing/);
      expect(d.initializer).toBe('landmark-fit');
      expect(d.modelVersion).toBe(model.version);
      expect(Object.keys(d.assetVersions).sort()).toEqual(['faceDetector', 'faceLandmarker', 'faceModel']);
      for (const s of ['decode', 'detect', 'landmarks', 'init', 'result', 'total'] as const) expect(d.stageMs[s]).toBeGreaterThanOrEqual(0);
      expect(progress.map((p) => p.stage).filter((s) => s !== 'load')).toEqual(['decode', 'detect', 'landmarks', 'init', 'result']);
      for (let i = 1; i < progress.length; i++) expect(progress[i].fraction).toBeGreaterThan(progress[i - 1].fraction);
      expect(progress.at(-1)!.fraction).toBe(1);
    }, 60_000);
  }

  it('accepts an RGBA buffer and encoded bytes as well as a path, with the same answer', async () => {
    const file = PORTRAITS[0];
    const ref = results.get(file) ?? (await rec.reconstruct(file));
    const img = readImage(file);
    const fromRgba = await rec.reconstruct({ data: img.data, width: img.width, height: img.height });
    const { readFileSync } = await import('node:fs');
    const fromBytes = await rec.reconstruct(new Uint8Array(readFileSync(file)));
    for (const r of [fromRgba, fromBytes]) {
      expect(Array.from(r.faces[0].code)).toEqual(Array.from(ref.faces[0].code));
    }
  }, 60_000);

  it('a large image (4× upscaled portrait, 2048² px) is downscaled for detection only, and lands on the same face', async () => {
    const small = readImage(PORTRAITS[0]);
    const F = 4, W = small.width * F, H = small.height * F;
    const data = new Uint8ClampedArray(W * H * 4);
    const src = new Uint32Array(small.data.buffer, small.data.byteOffset, small.width * small.height);
    const dst = new Uint32Array(data.buffer);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) dst[y * W + x] = src[((y / F) | 0) * small.width + ((x / F) | 0)];
    const big = await rec.reconstruct({ data, width: W, height: H });
    expect(big.diagnostics.detectionImageSize).toEqual({ width: 1024, height: 1024 });
    expect(big.imageSize).toEqual({ width: W, height: H });
    const ref = results.get(PORTRAITS[0]) ?? (await rec.reconstruct(small));
    // Pixel replication maps small px x to big px F·x (corners of pixels, so centres shift by (F−1)/2 big px).
    const d = Array.from({ length: 468 }, (_, i) => Math.hypot(big.faces[0].landmarks[2 * i] / F - ref.faces[0].landmarks[2 * i], big.faces[0].landmarks[2 * i + 1] / F - ref.faces[0].landmarks[2 * i + 1]));
    console.info(`2048² image: median landmark difference to the 512² result ${median(d).toFixed(2)} small-image px, stageMs ${JSON.stringify(Object.fromEntries(Object.entries(big.diagnostics.stageMs).map(([k, v]) => [k, Math.round(v!)])))}`);
    expect(median(d)).toBeLessThan(1.5);
  }, 60_000);

  it('maxFaces: two portraits side by side give two faces, highest score first, each fitted', async () => {
    const a = readImage(PORTRAITS[0]);
    const b = resizeBilinear(readImage(PORTRAITS[1]), 437, 512);
    const W = a.width + b.width, H = 512, data = new Uint8ClampedArray(W * H * 4);
    for (let y = 0; y < H; y++) {
      data.set(a.data.subarray(4 * y * a.width, 4 * (y + 1) * a.width), 4 * y * W);
      data.set(b.data.subarray(4 * y * b.width, 4 * (y + 1) * b.width), 4 * (y * W + a.width));
    }
    // The astronaut's face is small after letterboxing the 949-px-wide image (score ≈ 0.35).
    const r = await rec.reconstruct({ data, width: W, height: H }, { maxFaces: 3, minDetectionScore: 0.25 });
    expect(r.faces).toHaveLength(2);
    expect(r.faces[0].detectionScore).toBeGreaterThanOrEqual(r.faces[1].detectionScore);
    expect(r.faces[0].faceBox.x).toBeGreaterThan(a.width); // Grace Hopper (right half) scores higher
    expect(r.faces[1].faceBox.x + r.faces[1].faceBox.width).toBeLessThan(a.width);
    expect(r.diagnostics.energies).toHaveLength(2);
    for (const e of r.diagnostics.energies) expect(e.landmarkMedianPx).toBeLessThan(1.5);
    const one = await rec.reconstruct({ data, width: W, height: H }, { minDetectionScore: 0.25 });
    expect(one.faces).toHaveLength(1); // default maxFaces = 1
  }, 60_000);

  it('top-level reconstruct() lazily creates one default instance and reuses it', async () => {
    const a = await reconstruct(PORTRAITS[1]);
    const b = await reconstruct(PORTRAITS[1]);
    expect(a.diagnostics.stageMs.load).toBeGreaterThan(0);
    expect(b.diagnostics.stageMs.load).toBeUndefined(); // same instance: assets already loaded
    expect(Array.from(b.faces[0].code)).toEqual(Array.from(a.faces[0].code));
  }, 60_000);

  it('every typed array of a result is listed for transfer across the worker boundary', () => {
    const res = results.get(PORTRAITS[0]);
    expect(res).toBeDefined();
    const views = new Set<ArrayBuffer>();
    const walk = (v: unknown): void => {
      if (ArrayBuffer.isView(v)) views.add(v.buffer as ArrayBuffer);
      else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
    };
    walk(res);
    expect(new Set(resultTransferables(res as unknown as PlainReconstructionResult))).toEqual(views);
  });

  it('MODEL_INTEGRITY for a truncated face model, ASSET_LOAD for a missing one', async () => {
    const { readFileSync } = await import('node:fs');
    const bytes = new Uint8Array(readFileSync('models/mofa-face-v1.mofa'));
    const truncated = await createReconstructor({ runIn: 'thread', assets: { faceModel: bytes.subarray(0, bytes.length >> 1) } });
    await expectCode(truncated.reconstruct(PORTRAITS[0]), 'MODEL_INTEGRITY');
    await truncated.close();
    const missing = await createReconstructor({ runIn: 'thread', assets: { faceModel: 'models/no-such-model.mofa' } });
    await expectCode(missing.reconstruct(PORTRAITS[0]), 'ASSET_LOAD');
    await missing.close();
  }, 30_000);

  it('BAD_INPUT for non-image bytes, 0×0, 1×1, a wrong-length buffer and a missing file', async () => {
    await expectCode(rec.reconstruct(new TextEncoder().encode('definitely not an image, just some text bytes')), 'BAD_INPUT');
    await expectCode(rec.reconstruct({ data: new Uint8ClampedArray(0), width: 0, height: 0 }), 'BAD_INPUT');
    await expectCode(rec.reconstruct({ data: new Uint8ClampedArray(4), width: 1, height: 1 }), 'BAD_INPUT');
    await expectCode(rec.reconstruct({ data: new Uint8ClampedArray(10), width: 64, height: 64 }), 'BAD_INPUT');
    await expectCode(rec.reconstruct('demo/assets/no-such-photo.png'), 'BAD_INPUT');
    await expectCode(rec.reconstruct(PORTRAITS[0], { maxFaces: 0 }), 'BAD_INPUT');
  });

  it('NO_FACE for an image without a face (a smooth gradient)', async () => {
    const W = 320, H = 240, data = new Uint8ClampedArray(W * H * 4);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set([(255 * x) / W, (255 * y) / H, 128, 255], 4 * (y * W + x));
    const e = await expectCode(rec.reconstruct({ data, width: W, height: H }), 'NO_FACE');
    expect(e.message).toMatch(/no face/);
  });

  it('ABORTED for a pre-aborted signal and for an abort between stages', async () => {
    const pre = new AbortController();
    pre.abort();
    await expectCode(rec.reconstruct(PORTRAITS[0], { signal: pre.signal }), 'ABORTED');
    const mid = new AbortController();
    const seen: string[] = [];
    await expectCode(
      rec.reconstruct(PORTRAITS[0], {
        signal: mid.signal,
        onProgress: (p) => {
          seen.push(p.stage);
          if (p.stage === 'detect') mid.abort();
        },
      }),
      'ABORTED',
    );
    expect(seen).not.toContain('init');
  });

  it("NO_BACKEND for quality 'balanced' / 'high' when the Opt / Refine stage is switched off", async () => {
    const pipe = new ReconstructionPipeline({ assets: resolveAssets(), backend: 'auto', runIn: 'thread', stages: { opt: null, refine: null } });
    await expectCode(pipe.run(PORTRAITS[0], { quality: 'balanced' }), 'NO_BACKEND');
    await expectCode(pipe.run(PORTRAITS[0], { quality: 'high' }), 'NO_BACKEND');
    await pipe.close();
  }, 60_000);

  it("a plugged-in OptStage runs at quality 'balanced' and is reported; 'high' needs a Refine stage", async () => {
    // Test double of the Opt slot: records its input and moves the code by a known amount.
    const calls: { x0: number[]; landmarks: number }[] = [];
    let destroyed = 0;
    const opt: OptStage = {
      name: 'test-opt',
      backend: 'wasm',
      async optimize(input, x0) {
        calls.push({ x0: Array.from(x0), landmarks: input.landmarks.length });
        const x = Float64Array.from(x0);
        x[CODE_OFFSET.translation + 2] -= 10; // 10 mm farther away
        return { code: x, energies: [3, 2, 1] };
      },
      destroy: () => void destroyed++,
    };
    const pipe = new ReconstructionPipeline({ assets: resolveAssets(), backend: 'auto', runIn: 'thread', stages: { opt, refine: null } });
    const stages: string[] = [];
    const r = await pipe.run(PORTRAITS[1], { quality: 'balanced', onProgress: (p) => stages.push(p.stage) });
    expect(calls).toHaveLength(1);
    expect(calls[0].landmarks).toBe(468 * 3);
    expect(stages).toEqual(['load', 'decode', 'detect', 'landmarks', 'init', 'opt', 'result']);
    expect(r.diagnostics.quality).toBe('balanced');
    expect(r.diagnostics.energies[0].opt).toEqual([3, 2, 1]);
    expect(r.faces[0].pose.translation[2]).toBeCloseTo(calls[0].x0[CODE_OFFSET.translation + 2] - 10, 6);
    await expectCode(pipe.run(PORTRAITS[1], { quality: 'high' }), 'NO_BACKEND');
    await pipe.close();
    expect(destroyed).toBe(1);
  }, 60_000);

  it('CLOSED after close(); close() twice is harmless; queued calls settle', async () => {
    const r2 = await createReconstructor({ runIn: 'thread' });
    const img: RgbaImage = readImage(PORTRAITS[1]);
    const first = r2.reconstruct(img);
    await first; // loads the sessions
    const queued = r2.reconstruct(img);
    const closing = r2.close();
    await expectCode(queued, 'CLOSED');
    await closing;
    await r2.close();
    await expectCode(r2.reconstruct(img), 'CLOSED');
  }, 60_000);
});
