/**
 * Result of `reconstruct(image)` (issue 5). All arrays are plain typed arrays (three.js
 * attribute conventions); none aliases the face model or another result.
 *
 * Frames
 * - **Camera frame** (mesh, normals, lighting, pose): millimetres, OpenGL-like: origin at the
 *   centre of projection, +x image right, +y image up, +z toward the viewer; the camera looks
 *   down −z, so visible points have z < 0 (sdk/model/camera.ts). p_cam = R·v_model + t.
 * - **Model frame** (the face model's own): mm; +x subject's left, +y up, +z out of the face.
 * - **Image frame**: px of the caller's ORIGINAL image (before any internal downscaling or
 *   cropping), origin at the top-left corner, +x right, +y down, pixel centres at +0.5.
 * - **Crop frame**: px of the internal 240×240 face crop the model was fitted in (same
 *   conventions as the image frame); `pose.cropToImage` maps it into the image frame.
 */
import type { Affine2x3, Box } from '../vision/image.js';
import type { CameraIntrinsics } from '../model/camera.js';
import type { ReconstructBackend, ReconstructQuality, ReconstructStage } from './reconstruct-options.js';

/**
 * The reconstructed surface: T1 (7,152 vertices) for 'fast' / 'balanced'; for 'high' the
 * refined T2 (24,343 vertices; positions = Refine's displaced surface, normals recomputed from
 * it, uv and index of T2, albedo = the Opt albedo remapped T1 → T2 and clamped to 0..1).
 */
export interface ReconstructedMesh {
  /** (N, 3) vertex positions, mm, camera frame. */
  position: Float32Array;
  /** (N, 3) unit vertex normals (one-ring, area-weighted; pointing out of the face), camera frame. */
  normal: Float32Array;
  /** (F, 3) triangle vertex indices, counter-clockwise seen from outside the face. */
  index: Uint32Array;
  /** (N, 2) texture coordinates 0..1, v up (MediaPipe canonical UV layout). */
  uv: Float32Array;
  /** Which topology the arrays use. */
  topology: 'T1' | 'T2';
}

/** Spherical-harmonics illumination (paper Eq. 4), camera frame. */
export interface ReconstructedLighting {
  /**
   * (27) γ, the SH radiance coefficients of the code vector (3 bands × RGB), channel-major
   * `sh[9*c + b]`, c = 0 R, 1 G, 2 B; b ordered l² + l + m (sdk/model/shading.ts). Stored
   * WITHOUT the paper's ambient offset: the light actually used is γ with `ambientOffset` added
   * to each channel's b = 0 coefficient (`irradiance` does that).
   */
  sh: Float32Array;
  /** The paper's ambient offset added to sh[0], sh[9], sh[18] when shading: 0.7. */
  ambientOffset: number;
  /**
   * Irradiance Σ_b γ'_{c,b} H_b(n) (Eq. 4 without the albedo factor) for camera-frame unit
   * normals. Multiply by an albedo to get the shaded linear-RGB colour.
   * @param normal (M, 3) unit normals, camera frame (e.g. `mesh.normal`).
   * @returns (M, 3) linear RGB irradiance (≥ 0 for physical light; not clamped).
   */
  irradiance(normal: ArrayLike<number>): Float32Array;
}

/** Rigid head pose Φ and the camera Π (paper Eq. 5). */
export interface ReconstructedPose {
  rotation: {
    /** [pitch, yaw, roll], radians, R = Rz(roll)·Ry(yaw)·Rx(pitch); (0, 0, 0) = frontal. */
    euler: [number, number, number];
    /** Row-major 3×3 R (model → camera frame), det = +1. */
    matrix: Float64Array;
  };
  /** t, mm, camera frame: p_cam = R·v_model + t (the model origin, ~52 mm behind the nasion); t_z < 0. */
  translation: [number, number, number];
  /**
   * Pinhole intrinsics of the ORIGINAL image (px, image frame; width/height = the image's),
   * such that Π(p_cam) gives image px. Equals `cropIntrinsics` mapped through `cropToImage`
   * (the crop is axis-aligned, so this is an exact pinhole camera).
   */
  intrinsics: CameraIntrinsics;
  /** Intrinsics of the 240×240 crop the fit ran in: f = 1000 px, principal point (120, 120). */
  cropIntrinsics: CameraIntrinsics;
  /** Crop px → image px, 2×3 row-major [a, b, c, d, e, f] (x' = a·x + b·y + c, y' = d·x + e·y + f). */
  cropToImage: Affine2x3;
}

/** One reconstructed face. */
export interface FaceReconstruction {
  mesh: ReconstructedMesh;
  /**
   * Projects camera-frame points into the ORIGINAL image.
   * @param points (M, 3) mm, camera frame; default `mesh.position`.
   * @returns (M, 2) image px (NaN for points with z ≥ 0, i.e. behind the camera).
   */
  projectToImage(points?: ArrayLike<number>): Float32Array;
  /** (N, 3) per-vertex albedo (reflectance, Eq. 3), linear RGB, nominally 0..1 (unclamped), same vertices as `mesh`. */
  albedo: Float32Array;
  lighting: ReconstructedLighting;
  pose: ReconstructedPose;
  /**
   * (257) the semantic code x = (α 80 | δ 64 | β 80 | rotation 3 | translation 3 | γ 27)
   * (paper Eq. 1); offsets, units and frames in `CODE_SEGMENTS` (sdk/model/code-layout.ts).
   * Rotation/translation are `pose` (the crop is axis-aligned, so crop and image share the
   * camera frame; the code pairs with `pose.cropIntrinsics`, the mesh with `pose.intrinsics`).
   */
  code: Float64Array;
  /**
   * ARKit-named blendshape weights, keyed by ARKit's raw names (e.g. "jawOpen", "mouthSmile_L"
   * for `.mouthSmileLeft`), one per named expression column of the model (43 for
   * mofa-face-v1; residual modes are not reported): weight_k =
   * expressionSigma[k]·δ_k, 1 = full activation, 0 = neutral. The linear model does not
   * constrain the sign, so values may fall slightly outside 0..1; clamp for ARKit consumers.
   */
  blendshapes: Record<string, number>;
  /** (468, 2) MediaPipe landmark positions of the fitted model (T1 vertices 0..467), image px. */
  landmarks: Float32Array;
  /**
   * (468, 3) the landmarker's own points the fit used: x, y image px; z relative depth in the
   * same px scale, smaller = closer to the camera (sdk/vision/types.ts FaceLandmarks).
   */
  detectedLandmarks: Float32Array;
  /** Face detector box, image px (axis-aligned, top-left + size). */
  faceBox: Box;
  /** Face detector score, 0..1. */
  detectionScore: number;
}

/** Energies of one face's fit (lower is better). */
export interface FaceEnergies {
  /**
   * Landmark term after the initial fit: median and RMS distance between the 468 projected
   * model landmarks and the landmarker's points, crop px (240×240 crop).
   */
  landmarkMedianPx: number;
  landmarkRmsPx: number;
  /** Regulariser ‖α‖² + ‖δ‖² (units of prior standard deviations squared). */
  regularizer: number;
  /**
   * Photometric term after the SH lighting fit: RMS linear-RGB difference between the image
   * and the shaded mean-albedo model over the visible front-face vertices, 0..1 scale.
   */
  photometricRms: number;
  /** Number of visible front-face vertices the lighting fit used. */
  photometricVertices: number;
  /**
   * Gauss-Newton energies of Opt (Eq. 7, dimensionless; weights of sdk/opt/weights.ts), length
   * iterations + 1: [0] at the initial code, [k + 1] after iteration k, each evaluated with
   * iteration k's vertex sample and IRLS weights (a fresh sample of 2000 front-face vertices per
   * iteration, paper Sec. 7, so consecutive entries compare slightly different objectives).
   * Empty when Opt did not run.
   */
  opt: number[];
  /** The terms of each `opt` entry: w-weighted photometric (Eq. 8/11), landmark (Eq. 9, crop px²), regulariser (Eq. 10), and the photometric vertex count. Empty when Opt did not run. */
  optTerms: { total: number; photo: number; land: number; reg: number; photoVertices: number }[];
  /**
   * E_k(x_k), the energy at the start of Gauss-Newton iteration k with that iteration's sample
   * (length iterations). Opt only accepts descending steps: opt[k + 1] ≤ optAtLinearization[k].
   * Empty when Opt did not run.
   */
  optAtLinearization: number[];
  /**
   * Refine energies (Eq. 19, per-vertex-normalised) that were evaluated: at the start of
   * gradient-descent iteration `iteration`, and after the last update (iteration = count). WASM
   * evaluates every iteration, WebGPU every 10th. Empty when Refine did not run.
   */
  refine: { iteration: number; energy: number }[];
  /**
   * T2 vertices whose Refine displacement was shrunk (halved, at worst reset) because a
   * triangle around them had flipped its orientation relative to the coarse surface (texture
   * read as geometry, e.g. eyebrows); 0 when nothing folded or Refine did not run.
   */
  refineFoldRepairedVertices: number;
}

export interface ReconstructionDiagnostics {
  /** The quality that ran. */
  quality: ReconstructQuality;
  /**
   * Backend of the Opt / Refine stages (never 'auto'); the networks always run on
   * onnxruntime-web wasm, and Opt's 257×257 Cholesky solve runs in mofa.wasm on both backends.
   */
  backend: Exclude<ReconstructBackend, 'auto'>;
  /** Why this backend was chosen (e.g. "requested", "navigator.gpu is missing", "adapter is a fallback adapter (SwiftShader)"). */
  backendReason: string;
  /** Where the pipeline ran: a Web Worker or the calling thread. */
  runIn: 'worker' | 'thread';
  /**
   * Wall time of each stage that ran, ms, plus `total`. 'load' only on a call that loaded the
   * assets or created the Opt / Refine backends (first 'balanced' / 'high' call: mofa.wasm
   * compilation, GPU pipelines); 'opt' / 'refine' are the per-call work only.
   */
  stageMs: Partial<Record<ReconstructStage | 'total', number>>;
  /** One entry per face, same order as `faces`. */
  energies: FaceEnergies[];
  /** Face-model bundle version string (e.g. "1.0.0") and its data SHA-256 (hex). */
  modelVersion: string;
  modelSha256: string;
  /** Identification of every asset in use: name → version / size information. */
  assetVersions: Record<string, string>;
  /** Name of the initialiser that produced the initial code (e.g. "landmark-fit"). */
  initializer: string;
  /**
   * Size of the image the detector ran on (the input downscaled so its longer side is at most
   * `MAX_DETECTION_SIDE` px), and the original size.
   */
  detectionImageSize: { width: number; height: number };
}

/** What `reconstruct()` resolves to. */
export interface ReconstructionResult {
  /** Reconstructed faces, highest detection score first; 1..maxFaces entries (never empty: no face → NO_FACE). */
  faces: FaceReconstruction[];
  /** Size of the original input image, px. */
  imageSize: { width: number; height: number };
  diagnostics: ReconstructionDiagnostics;
}
