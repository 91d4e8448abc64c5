/**
 * The contract every Opt backend implements (paper Sec. 9.1): the TypeScript reference
 * (`reference-backend.ts`), WebGPU (`sdk/gpu/opt-backend.ts`) and WASM/SIMD
 * (`sdk/wasm/opt-backend.ts`). The Gauss-Newton driver (`gauss-newton.ts`) only talks to this
 * interface, so backends are interchangeable and are tested against the reference.
 *
 * Math (all backends identical; see docs/design/opt.md):
 * - code x (257, Float64Array) laid out by `sdk/model/code-layout.ts`.
 * - residual vector F(x) (Eq. 11): photometric rows (3 per used vertex), landmark rows
 *   (2 per landmark), regulariser rows (α 80, β 80, δ 64). E = FᵀF.
 * - `linearize(x)` fixes, for this Gauss-Newton iteration, the IRLS weights 1/C_i (Eq. 11,
 *   from x_old = x), the visible set and the vertex sample; `energy(x')` then evaluates E at
 *   trial codes with those fixed, so step acceptance compares one objective.
 */
import type { FaceModel } from '../types/face-model.js';

/** Linear-RGB float image the photometric term compares against (the 240×240 crop). */
export interface LinearImage {
  width: number;
  height: number;
  /** (H, W, 3) linear RGB 0..1, row-major, top-left origin (sRGB-decoded input). */
  rgb: Float32Array;
}

/** 2D landmark targets for Eq. (9). */
export interface LandmarkTargets {
  /** T1 vertex index of each landmark (e.g. 0..467 for MediaPipe's 468). */
  vertex: Uint32Array;
  /** (L, 2) target positions in image px (top-left origin, +y down). */
  position: Float32Array;
  /** (L) confidence c_j in 0..1. */
  confidence: Float32Array;
}

/** Energy weights (Eq. 7, 10) with the Opt defaults documented in `defaultOptWeights`. */
export interface OptWeights {
  photo: number;
  land: number;
  reg: number;
  beta: number;
  delta: number;
}

export interface OptProblem {
  model: FaceModel;
  image: LinearImage;
  /** Camera intrinsics of `image` (see sdk/model/camera.ts). */
  intrinsics: { focalPx: number; cx: number; cy: number };
  landmarks?: LandmarkTargets;
  weights: OptWeights;
  /** Visibility test for photometric vertices: 'front-facing' (paper, default) or 'zbuffer'. */
  visibility: 'front-facing' | 'zbuffer';
  /** Number of front-face vertices sampled per iteration (Sec. 7); 0 = all. */
  sampleCount: number;
  /** Seed of the deterministic vertex sampler. */
  seed: number;
}

export interface EnergyTerms {
  total: number;
  photo: number;
  land: number;
  reg: number;
  /** Number of photometric vertices used (visible ∩ sampled). */
  photoVertices: number;
}

export interface Linearization {
  /** JᵀJ, 257×257 row-major (full symmetric matrix). */
  jtj: Float64Array;
  /** JᵀF, 257. The Gauss-Newton step solves (JᵀJ + λ D) Δ = −JᵀF. */
  jtf: Float64Array;
  /** Energy at the linearisation point (with the IRLS weights just computed). */
  energy: EnergyTerms;
}

export interface OptBackend {
  readonly kind: 'reference' | 'wasm' | 'webgpu';
  /** Uploads / prepares the problem (model bases, image, landmarks). */
  setProblem(problem: OptProblem): Promise<void>;
  /** Linearises F at x (fixing IRLS weights, visibility and the sample for this iteration). */
  linearize(x: Float64Array, iteration: number): Promise<Linearization>;
  /** Energy at x with the weights/visibility/sample fixed by the last `linearize`. */
  energy(x: Float64Array): Promise<EnergyTerms>;
  /** Frees every resource; calling twice is harmless. */
  destroy(): void;
}
