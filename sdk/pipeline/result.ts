/**
 * Result assembly: code + crop → the public `FaceReconstruction` (sdk/types/reconstruct-result.ts).
 *
 * The pipeline (in a worker or in-thread) builds a *plain* result — typed arrays and numbers
 * only, structured-clone safe, whose buffers are transferred across the worker boundary — and
 * `hydrateResult` adds the two methods (`projectToImage`, `lighting.irradiance`) on the caller's
 * side. Both sides therefore compute them with the same code.
 */
import { type CameraIntrinsics, project, rotateVectors, rotationMatrix, toCamera } from '../model/camera.js';
import { CODE_OFFSET, CODE_SIZE, codeSlices } from '../model/code-layout.js';
import { computeAlbedo, computeShape } from '../model/decode.js';
import { computeNormals } from '../model/normals.js';
import { irradiance, SH_AMBIENT_OFFSET } from '../model/shading.js';
import { MofaError } from '../errors.js';
import type { FaceModel } from '../types/face-model.js';
import type { FaceReconstruction, ReconstructedLighting, ReconstructionResult } from '../types/reconstruct-result.js';
import type { Box } from '../vision/image.js';
import { type FaceCrop, imageIntrinsics } from './crop.js';
import type { RefinedSurface } from './stages.js';

/** A `FaceReconstruction` without its methods (what crosses the worker boundary). */
export type PlainFaceReconstruction = Omit<FaceReconstruction, 'projectToImage' | 'lighting'> & {
  lighting: Omit<ReconstructedLighting, 'irradiance'>;
};
/** A `ReconstructionResult` without methods. */
export type PlainReconstructionResult = Omit<ReconstructionResult, 'faces'> & { faces: PlainFaceReconstruction[] };

/** Number of MediaPipe landmarks (= T1 vertices 0..467). */
const LANDMARK_COUNT = 468;

/**
 * Builds one face's plain result from its code.
 * @param code (257) final code (pose relative to the crop camera; the crop is axis-aligned so
 *   the camera frame is shared with the original image).
 * @param refined T2 surface from Refine, when it ran.
 */
export function assembleFace(
  model: FaceModel,
  code: Float64Array,
  crop: FaceCrop,
  imageSize: { width: number; height: number },
  detection: { box: Box; score: number },
  detectedLandmarks: Float32Array,
  refined?: RefinedSurface,
): PlainFaceReconstruction {
  const x = codeSlices(code);
  const euler: [number, number, number] = [x.rotation[0], x.rotation[1], x.rotation[2]];
  const t: [number, number, number] = [x.translation[0], x.translation[1], x.translation[2]];
  const R = rotationMatrix(euler);
  const topo = refined ? model.t2 : model.t1;
  const modelPos = refined ? refined.position : computeShape(model, x.alpha, x.delta);
  const albedo = refined ? Float32Array.from(refined.albedo) : computeAlbedo(model, x.beta);
  const modelNormal = computeNormals(modelPos, topo.index);
  const position = toCamera(modelPos, R, t);
  const normal = rotateVectors(modelNormal, R);
  const intrinsics = imageIntrinsics(crop, imageSize.width, imageSize.height);
  // Landmarks: the T1 landmark vertices of the fitted model (Eq. 2 on T1 even after Refine).
  const t1Pos = refined ? computeShape(model, x.alpha, x.delta) : modelPos;
  const lmCam = toCamera(t1Pos.subarray(0, 3 * LANDMARK_COUNT), R, t);
  const landmarks = project(lmCam, intrinsics).screen;
  const blendshapes: Record<string, number> = {};
  for (let k = 0; k < model.expressionDim; k++) {
    const name = model.expressionNames[k];
    if (isArkitName(name)) blendshapes[name] = model.expressionSigma[k] * x.delta[k];
  }
  return {
    mesh: { position, normal, index: Uint32Array.from(topo.index), uv: Float32Array.from(topo.uv), topology: refined ? 'T2' : 'T1' },
    albedo,
    lighting: { sh: Float32Array.from(x.gamma), ambientOffset: SH_AMBIENT_OFFSET },
    pose: {
      rotation: { euler, matrix: R },
      translation: t,
      intrinsics,
      cropIntrinsics: { ...crop.intrinsics },
      cropToImage: [...crop.cropToImage] as FaceCrop['cropToImage'],
    },
    code: Float64Array.from(code),
    blendshapes,
    landmarks,
    detectedLandmarks: Float32Array.from(detectedLandmarks),
    faceBox: { ...detection.box },
    detectionScore: detection.score,
  };
}

/**
 * The 52 ARKit blendshapes by their raw names (ARFaceAnchor.BlendShapeLocation raw values, e.g.
 * "mouthSmile_L" for `.mouthSmileLeft`), which the face model uses for its named expression
 * columns. Columns with one of these names are reported in `blendshapes` under that name; the
 * model's residual modes are not.
 */
export const ARKIT_BLENDSHAPES: readonly string[] = Object.freeze([
  'browDown_L', 'browDown_R', 'browInnerUp', 'browOuterUp_L', 'browOuterUp_R',
  'cheekPuff', 'cheekSquint_L', 'cheekSquint_R',
  'eyeBlink_L', 'eyeBlink_R', 'eyeLookDown_L', 'eyeLookDown_R', 'eyeLookIn_L', 'eyeLookIn_R',
  'eyeLookOut_L', 'eyeLookOut_R', 'eyeLookUp_L', 'eyeLookUp_R', 'eyeSquint_L', 'eyeSquint_R',
  'eyeWide_L', 'eyeWide_R',
  'jawForward', 'jawLeft', 'jawOpen', 'jawRight',
  'mouthClose', 'mouthDimple_L', 'mouthDimple_R', 'mouthFrown_L', 'mouthFrown_R', 'mouthFunnel',
  'mouthLeft', 'mouthLowerDown_L', 'mouthLowerDown_R', 'mouthPress_L', 'mouthPress_R', 'mouthPucker',
  'mouthRight', 'mouthRollLower', 'mouthRollUpper', 'mouthShrugLower', 'mouthShrugUpper', 'mouthSmile_L',
  'mouthSmile_R', 'mouthStretch_L', 'mouthStretch_R', 'mouthUpperUp_L', 'mouthUpperUp_R',
  'noseSneer_L', 'noseSneer_R', 'tongueOut',
]);
const ARKIT_SET = new Set(ARKIT_BLENDSHAPES);
function isArkitName(name: string | undefined): name is string {
  return !!name && ARKIT_SET.has(name);
}

/** Every ArrayBuffer of a plain result (to transfer, not copy, across the worker boundary). */
export function resultTransferables(result: PlainReconstructionResult): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (a: ArrayBufferView) => {
    if (a.buffer instanceof ArrayBuffer) out.add(a.buffer);
  };
  for (const f of result.faces) {
    add(f.mesh.position); add(f.mesh.normal); add(f.mesh.index); add(f.mesh.uv);
    add(f.albedo); add(f.lighting.sh); add(f.pose.rotation.matrix); add(f.code);
    add(f.landmarks); add(f.detectedLandmarks);
  }
  return [...out];
}

/** Projects (M, 3) camera-frame points with `intrinsics` → (M, 2) px (NaN behind the camera). */
function projectPoints(points: ArrayLike<number>, intrinsics: CameraIntrinsics): Float32Array {
  if (points.length % 3 !== 0) throw new MofaError('BAD_INPUT', `projectToImage: points must be (M, 3) camera-frame mm, got length ${points.length}`);
  return project(points instanceof Float32Array ? points : Float32Array.from(points), intrinsics).screen;
}

/** Adds `projectToImage` and `lighting.irradiance` to a plain result (in place; returns it typed). */
export function hydrateResult(plain: PlainReconstructionResult): ReconstructionResult {
  for (const f of plain.faces as (PlainFaceReconstruction & Partial<FaceReconstruction>)[]) {
    const intrinsics = f.pose.intrinsics;
    const mesh = f.mesh;
    (f as FaceReconstruction).projectToImage = (points?: ArrayLike<number>) => projectPoints(points ?? mesh.position, intrinsics);
    const sh = f.lighting.sh;
    (f.lighting as ReconstructedLighting).irradiance = (normal: ArrayLike<number>) => {
      if (normal.length % 3 !== 0) throw new MofaError('BAD_INPUT', `irradiance: normal must be (M, 3) unit vectors, got length ${normal.length}`);
      return irradiance(normal instanceof Float32Array ? normal : Float32Array.from(normal), sh);
    };
  }
  return plain as unknown as ReconstructionResult;
}

/** The code segment sizes the pipeline relies on; a face model must match them. */
export function checkModelMatchesCodeLayout(model: FaceModel): void {
  const want = { alpha: model.shapeDim, delta: model.expressionDim, beta: model.albedoDim };
  for (const [name, n] of Object.entries(want) as [keyof typeof CODE_SIZE, number][]) {
    if (CODE_SIZE[name] !== n) {
      throw new MofaError('MODEL_INTEGRITY', `face model has ${n} ${name} coefficients but the 257-d code has ${CODE_SIZE[name]} (offset ${CODE_OFFSET[name]}): use a model with 80 shape, 64 expression and 80 albedo modes`);
    }
  }
}
