/**
 * The pipeline's Opt stage (quality 'balanced' and 'high'): Gauss-Newton analysis-by-synthesis
 * on the 240×240 crop (paper Sec. 9.1; math docs/design/opt.md), driven by `runOpt`
 * (sdk/opt/gauss-newton.ts) over an `OptBackend` — WASM SIMD or WebGPU — that the pipeline
 * creates once per reconstructor (sdk/pipeline/compute-stages.ts) and reuses for every face.
 *
 * Energy (Eq. 7, weights `defaultOptWeights`): photometric term over a fresh sample of 2000
 * front-face vertices per iteration (Sec. 7) + the 468 landmarker points in crop px (Eq. 9,
 * confidence 1) + the statistical regulariser (Eq. 10).
 */
import { MofaError } from '../errors.js';
import type { LandmarkTargets, OptBackend, OptProblem, OptWeights } from '../opt/backend.js';
import { runOpt } from '../opt/gauss-newton.js';
import { defaultOptWeights } from '../opt/weights.js';
import type { WasmLinalg } from '../wasm/linalg.js';
import type { FaceStageInput, OptEnergyTerms, OptStage, OptStageResult } from './stages.js';

/** Number of MediaPipe landmarks (T1 vertices 0..467). */
const LANDMARK_COUNT = 468;

/** Settings of the Opt stage. */
export interface OptStageSettings {
  /** Gauss-Newton iterations, integer ≥ 1. Default 5 (paper Sec. 9.1). */
  iterations: number;
  /** Front-face vertices sampled per iteration for the photometric term; 0 = all. Default 2000 (paper Sec. 7). */
  sampleCount: number;
  /** Seed of the deterministic vertex sampler (same seed → same result). */
  seed: number;
  /** Energy weights (Eq. 7, 10). Default `defaultOptWeights`. */
  weights: OptWeights;
}

export const DEFAULT_OPT_STAGE_SETTINGS: Readonly<OptStageSettings> = Object.freeze({
  iterations: 5,
  sampleCount: 2000,
  seed: 0x6d6f6661, // "mofa"
  weights: defaultOptWeights,
});

/** `OptStageResult` plus E_k(x_k), the energy at the start of each iteration (its own sample / IRLS weights). */
export interface GaussNewtonOptResult extends OptStageResult {
  terms: OptEnergyTerms[];
  /** (iterations) E_k(x_k): energies[k + 1] ≤ atLinearization[k] for every k (step acceptance). */
  atLinearization: number[];
  /** Whether iteration k accepted a step. */
  accepted: boolean[];
}

/**
 * The 468 landmarker points as Eq. (9) targets.
 * @param landmarks (468, 3) crop px (x, y, relative depth); only x, y are used.
 */
export function landmarkTargetsFromCrop(landmarks: Float64Array): LandmarkTargets {
  if (landmarks.length !== 3 * LANDMARK_COUNT) throw new MofaError('INTERNAL', `expected (468, 3) landmarks, got ${landmarks.length} values`);
  const vertex = new Uint32Array(LANDMARK_COUNT);
  const position = new Float32Array(2 * LANDMARK_COUNT);
  for (let j = 0; j < LANDMARK_COUNT; j++) {
    vertex[j] = j;
    position[2 * j] = landmarks[3 * j];
    position[2 * j + 1] = landmarks[3 * j + 1];
  }
  return { vertex, position, confidence: new Float32Array(LANDMARK_COUNT).fill(1) };
}

/** The Opt problem of one face: its crop image and camera, landmarks, weights and sampler. */
export function optProblemFromFace(input: FaceStageInput, settings: OptStageSettings): OptProblem {
  return {
    model: input.model,
    image: input.cropImage,
    intrinsics: { focalPx: input.crop.intrinsics.focalPx, cx: input.crop.intrinsics.cx, cy: input.crop.intrinsics.cy },
    landmarks: landmarkTargetsFromCrop(input.landmarks),
    weights: settings.weights,
    visibility: 'front-facing',
    sampleCount: settings.sampleCount,
    seed: settings.seed,
  };
}

/** Codes that pass through unchanged: they are about the call or the device, not about Opt. */
const PASS_THROUGH = new Set(['ABORTED', 'CLOSED', 'DEVICE_LOST']);

export class GaussNewtonOptStage implements OptStage {
  readonly name = 'gauss-newton';
  readonly backend: 'webgpu' | 'wasm';
  private readonly settings: OptStageSettings;
  private impl: OptBackend | null;

  /**
   * @param impl the backend (owned: `destroy()` destroys it).
   * @param linalg the AssemblyScript Cholesky for the 257×257 solves (owned by the caller).
   */
  constructor(impl: OptBackend, private readonly linalg: WasmLinalg | undefined, settings: Partial<OptStageSettings> = {}) {
    if (impl.kind === 'reference') throw new MofaError('INTERNAL', 'the pipeline runs Opt on the wasm or webgpu backend, not the TypeScript reference');
    this.backend = impl.kind;
    this.impl = impl;
    this.settings = { ...DEFAULT_OPT_STAGE_SETTINGS, ...settings };
    const { iterations, sampleCount } = this.settings;
    if (!(Number.isInteger(iterations) && iterations >= 1)) throw new MofaError('BAD_INPUT', `Opt iterations must be an integer ≥ 1, got ${iterations}`);
    if (!(Number.isInteger(sampleCount) && sampleCount >= 0)) throw new MofaError('BAD_INPUT', `Opt sample count must be an integer ≥ 0, got ${sampleCount}`);
  }

  /**
   * Optimises one face's code.
   * @throws MofaError('ABORTED') when `input.signal` fires (checked between Gauss-Newton
   *   iterations and solves); ('INTERNAL') when Opt cannot produce a finite code — never NaN.
   */
  async optimize(input: FaceStageInput, x0: Float64Array, onFraction?: (fraction: number) => void): Promise<GaussNewtonOptResult> {
    if (!this.impl) throw new MofaError('CLOSED', 'this Opt stage was destroyed');
    const impl = this.impl;
    let r;
    try {
      await impl.setProblem(optProblemFromFace(input, this.settings));
      r = await runOpt(impl, x0, {
        iterations: this.settings.iterations,
        linalg: this.linalg,
        signal: input.signal,
        onProgress: onFraction ? (p) => onFraction(p.fraction) : undefined,
      });
    } catch (e) {
      if (e instanceof MofaError && PASS_THROUGH.has(e.code)) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new MofaError('INTERNAL', `Opt (Gauss-Newton, ${this.backend}) failed on this face: ${why}. Use quality 'fast' for this image, and please report it.`, { cause: e });
    }
    for (let k = 0; k < r.x.length; k++) {
      if (!Number.isFinite(r.x[k])) throw new MofaError('INTERNAL', `Opt (${this.backend}) produced a non-finite code entry x[${k}]; use quality 'fast' for this image, and please report it.`);
    }
    const terms = r.energies.map((e) => ({ total: e.total, photo: e.photo, land: e.land, reg: e.reg, photoVertices: e.photoVertices }));
    if (!terms.every((t) => Number.isFinite(t.total))) throw new MofaError('INTERNAL', `Opt (${this.backend}) reported a non-finite energy: ${terms.map((t) => t.total).join(', ')}`);
    return {
      code: r.x,
      energies: terms.map((t) => t.total),
      terms,
      atLinearization: r.linearizationEnergies.map((e) => e.total),
      accepted: r.accepted,
    };
  }

  destroy(): void {
    this.impl?.destroy();
    this.impl = null;
  }
}
