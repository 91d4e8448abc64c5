/**
 * Synthetic Opt scenes for the tests (test/unit/opt*.test.ts): a face rendered by the CPU
 * renderer (sdk/render) from a known code, its 468 projected landmarks, and error measures.
 */
import { DEFAULT_INTRINSICS, rotationMatrix } from '../../sdk/model/camera.js';
import { CODE_OFFSET, codeSlices, packCode } from '../../sdk/model/code-layout.js';
import { computeAlbedo, computeShape } from '../../sdk/model/decode.js';
import { gammaFromLights } from '../../sdk/model/shading.js';
import type { LandmarkTargets, LinearImage, OptProblem, OptWeights } from '../../sdk/opt/backend.js';
import { linearImageFromRgba } from '../../sdk/opt/image.js';
import { decodeGeometry, selectPhotometricVertices, VertexState, vertexForward } from '../../sdk/opt/residuals.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { fitSimilarity } from '../../sdk/vision/similarity.js';
import { rng } from './reference-meshes.js';

export function randn(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

const DEG = Math.PI / 180;

/** The ground-truth code of the synthetic scene: a random plausible face, mild expression, slightly turned, lit from the upper left. */
export function trueCode(seed = 11): Float64Array {
  const r = rng(seed);
  return packCode({
    alpha: Array.from({ length: 80 }, () => 0.8 * randn(r)),
    delta: Array.from({ length: 64 }, (_, k) => (k < 8 ? 0.5 * randn(r) : 0.1 * randn(r))),
    beta: Array.from({ length: 80 }, () => 0.6 * randn(r)),
    rotation: [4 * DEG, -8 * DEG, 2 * DEG],
    translation: [3, -4, -900],
    gamma: gammaFromLights([0.55, 0.52, 0.5], [{ direction: [-0.45, 0.5, 0.74], color: [0.55, 0.55, 0.55] }]),
  });
}

/** x_true perturbed: pose (pitch, yaw, roll) by (+8°, −10°, +6°), t by (4, −3, 25) mm, Gaussian noise on α (1.5), δ (0.3), β (0.5), γ (0.08). */
export function perturbedCode(xTrue: Float64Array, seed = 5): Float64Array {
  const r = rng(seed);
  const x = Float64Array.from(xTrue);
  const s = codeSlices(x);
  for (let k = 0; k < s.alpha.length; k++) s.alpha[k] += 1.5 * randn(r);
  for (let k = 0; k < s.delta.length; k++) s.delta[k] += 0.3 * randn(r);
  for (let k = 0; k < s.beta.length; k++) s.beta[k] += 0.5 * randn(r);
  for (let k = 0; k < s.gamma.length; k++) s.gamma[k] += 0.08 * randn(r);
  s.rotation[0] += 8 * DEG; s.rotation[1] -= 10 * DEG; s.rotation[2] += 6 * DEG;
  s.translation[0] += 4; s.translation[1] -= 3; s.translation[2] += 25;
  return x;
}

export interface SyntheticScene {
  xTrue: Float64Array;
  image: LinearImage;
  /** The rendered sRGB RGBA8 image (for looking at). */
  rgba: { data: Uint8ClampedArray; width: number; height: number };
  landmarks: LandmarkTargets;
  /** (N, 3) true shape, mm, model frame. */
  shape: Float32Array;
}

/** Renders the face of `xTrue` (240×240, f = 1000 px, sRGB-encoded, grey background) and its 468 landmarks with N(0, noisePx²) noise. */
export function syntheticScene(model: FaceModel, xTrue = trueCode(), noisePx = 0.5, seed = 3): SyntheticScene {
  const s = codeSlices(Float64Array.from(xTrue));
  const shape = computeShape(model, s.alpha, s.delta);
  const render = renderMesh({
    position: shape, index: model.t1.index, albedo: computeAlbedo(model, s.beta), gamma: s.gamma,
    rotation: rotationMatrix(s.rotation), translation: s.translation, intrinsics: DEFAULT_INTRINSICS,
  }, { encoding: 'srgb', background: [96, 104, 112, 255] });
  const { data, width, height } = render.image;
  const r = rng(seed);
  const L = model.landmarks.mediapipe468.length;
  const position = new Float32Array(2 * L);
  for (let j = 0; j < L; j++) {
    const i = model.landmarks.mediapipe468[j];
    position[2 * j] = render.screen[2 * i] + noisePx * randn(r);
    position[2 * j + 1] = render.screen[2 * i + 1] + noisePx * randn(r);
  }
  return {
    xTrue: Float64Array.from(xTrue), image: linearImageFromRgba(data, width, height), rgba: render.image, shape,
    landmarks: { vertex: Uint32Array.from(model.landmarks.mediapipe468), position, confidence: new Float32Array(L).fill(1) },
  };
}

export function sceneProblem(model: FaceModel, scene: SyntheticScene, weights: OptWeights, sampleCount = 2000, withLandmarks = true): OptProblem {
  const { focalPx, cx, cy } = DEFAULT_INTRINSICS;
  return {
    model, image: scene.image, intrinsics: { focalPx, cx, cy }, landmarks: withLandmarks ? scene.landmarks : undefined,
    weights, visibility: 'front-facing', sampleCount, seed: 1,
  };
}

/** Mean front-face vertex distance (mm) between the shape of x and the true shape after a similarity alignment. */
export function geometricErrorMm(model: FaceModel, x: Float64Array, trueShape: Float32Array): number {
  const s = codeSlices(Float64Array.from(x));
  const shape = computeShape(model, s.alpha, s.delta);
  const idx = model.frontFace;
  const src = new Float64Array(3 * idx.length), dst = new Float64Array(3 * idx.length);
  for (let k = 0; k < idx.length; k++) for (let a = 0; a < 3; a++) {
    src[3 * k + a] = shape[3 * idx[k] + a];
    dst[3 * k + a] = trueShape[3 * idx[k] + a];
  }
  const fit = fitSimilarity(src, dst);
  let sum = 0;
  for (const v of fit.residuals) sum += v;
  return sum / idx.length;
}

/** Mean ‖c_i − I(u_i)‖₂ (linear RGB) over all visible front-face vertices inside the image at x (the ℓ2,1 error of Eq. 8). */
export function photometricError(problem: OptProblem, x: Float64Array): number {
  const all = { ...problem, sampleCount: 0 };
  const geo = decodeGeometry(all, x);
  const used = selectPhotometricVertices(all, geo, 0);
  const s = new VertexState();
  let sum = 0;
  for (const i of used) {
    vertexForward(all, geo, i, s);
    sum += Math.hypot(s.e[0], s.e[1], s.e[2]);
  }
  return sum / used.length;
}

/** Mean landmark error (px) of x against the targets. */
export function landmarkErrorPx(problem: OptProblem, x: Float64Array, targets: LandmarkTargets): number {
  const geo = decodeGeometry(problem, x);
  const s = new VertexState();
  let sum = 0;
  for (let j = 0; j < targets.vertex.length; j++) {
    vertexForward(problem, geo, targets.vertex[j], s, false);
    sum += Math.hypot(s.u - targets.position[2 * j], s.v - targets.position[2 * j + 1]);
  }
  return sum / targets.vertex.length;
}

/** Rotation angle (degrees) between the poses of two codes. */
export function rotationErrorDeg(a: Float64Array, b: Float64Array): number {
  const o = CODE_OFFSET.rotation;
  const Ra = rotationMatrix(a.subarray(o, o + 3)), Rb = rotationMatrix(b.subarray(o, o + 3));
  let tr = 0;
  for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) tr += Ra[3 * i + k] * Rb[3 * i + k];
  return Math.acos(Math.min(1, Math.max(-1, (tr - 1) / 2))) / DEG;
}
