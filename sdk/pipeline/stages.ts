/**
 * The pluggable stages of the reconstruction pipeline (issue 5):
 *
 *   detect → crop → landmarks → Initializer → [OptStage] → [RefineStage] → result
 *
 * - `Initializer` produces the initial 257-d code. Today: the landmark fit
 *   (`LandmarkFitInitializer`); later the paper's CNN encoder becomes the default and the
 *   landmark fit stays selectable (it also serves user-supplied face models that have no
 *   trained encoder).
 * - `OptStage` (quality 'balanced' and 'high'): Gauss-Newton analysis-by-synthesis (Sec. 9.1).
 * - `RefineStage` (quality 'high'): shading-based refinement on T2 (Sec. 9.2).
 * The pipeline calls only these interfaces; a quality whose stage is not plugged in fails with
 * MofaError('NO_BACKEND') — never a silent downgrade.
 */
import type { FaceModel } from '../types/face-model.js';
import type { LinearImage } from '../opt/backend.js';
import type { FaceCrop } from './crop.js';

export type { LinearImage };

/** Everything a model-based stage gets about one face. Nothing in it may be modified. */
export interface FaceStageInput {
  model: FaceModel;
  /** The face crop (axis-aligned, 240×240) and its camera. */
  crop: FaceCrop;
  /** The crop as linear RGB (sRGB-decoded), (240, 240, 3) 0..1: the photometric target I. */
  cropImage: LinearImage;
  /** (468, 3) landmarker points in crop px (x, y; z relative depth in crop px, smaller = closer). */
  landmarks: Float64Array;
  /** Checked by long stages between iterations; they throw MofaError('ABORTED') when it fires. */
  signal?: AbortSignal;
}

/** Summary numbers of the initial fit, reported in diagnostics.energies. */
export interface InitialFitReport {
  /** Median / RMS ‖u_i − û_i‖ over the 468 landmarks, crop px. */
  landmarkMedianPx: number;
  landmarkRmsPx: number;
  /** ‖α‖² + ‖δ‖². */
  regularizer: number;
  /** RMS linear-RGB photometric residual of the lighting fit over the vertices it used. */
  photometricRms: number;
  /** Number of visible front-face vertices the lighting fit used. */
  photometricVertices: number;
}

export interface InitialCode {
  /** (257) code x laid out by sdk/model/code-layout.ts; pose relative to `FaceStageInput.crop.intrinsics`. */
  code: Float64Array;
  report: InitialFitReport;
}

/** Produces the initial code of one face. */
export interface Initializer {
  /** Reported in diagnostics.initializer, e.g. 'landmark-fit'. */
  readonly name: string;
  initialize(input: FaceStageInput): Promise<InitialCode>;
}

/** Energy terms of one Opt evaluation (Eq. 7; weights of sdk/opt/weights.ts). */
export interface OptEnergyTerms {
  total: number;
  /** w_photo-weighted photometric term (Eq. 8 via IRLS, Eq. 11). */
  photo: number;
  /** w_land-weighted landmark term (Eq. 9), crop px². */
  land: number;
  /** Weighted regulariser (Eq. 10). */
  reg: number;
  /** Photometric vertices used (sample ∩ visible). */
  photoVertices: number;
}

/** What an OptStage returns for one face. */
export interface OptStageResult {
  /** (257) optimised code; finite (a stage throws rather than return NaN). */
  code: Float64Array;
  /** Energy per Gauss-Newton iteration: [0] at the start, [k + 1] after iteration k (see OptResult.energies). */
  energies: number[];
  /** The terms of each entry of `energies` (same length), when the stage reports them. */
  terms?: OptEnergyTerms[];
}

/** Analysis-by-synthesis on the crop (Sec. 9.1). */
export interface OptStage {
  readonly name: string;
  /** The backend its kernels run on (reported in diagnostics.backend). */
  readonly backend: 'webgpu' | 'wasm';
  /**
   * @param x0 (257) starting code (not modified).
   * @returns the optimised code and the energy per Gauss-Newton iteration.
   */
  optimize(input: FaceStageInput, x0: Float64Array, onFraction?: (fraction: number) => void): Promise<OptStageResult>;
  /** Frees backend resources; twice is harmless. */
  destroy(): void;
}

/** Geometry + albedo refined on T2 (Sec. 9.2), model frame (pose stays that of `code`). */
export interface RefinedSurface {
  /** (N2, 3) mm, model frame, T2 topology. */
  position: Float32Array;
  /** (N2, 3) linear RGB. */
  albedo: Float32Array;
  /** Refine energies (Eq. 19) that were evaluated: at the start of `iteration` (= iterations for the final one). */
  energies?: { iteration: number; energy: number }[];
  /** Vertices whose displacement was reduced to undo folded triangles (0 = none folded). */
  foldRepairedVertices?: number;
}

/** Shading-based refinement (Sec. 9.2). */
export interface RefineStage {
  readonly name: string;
  readonly backend: 'webgpu' | 'wasm';
  refine(input: FaceStageInput, code: Float64Array, onFraction?: (fraction: number) => void): Promise<RefinedSurface>;
  /** Frees backend resources; twice is harmless. */
  destroy(): void;
}
