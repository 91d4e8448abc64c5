/**
 * The pipeline's Refine stage (quality 'high'): shading-based refinement on the T2 mesh
 * (paper Sec. 9.2; math docs/design/refine.md) from the Opt code, on a `RefineBackend` — WASM
 * SIMD or WebGPU — that the pipeline creates once per reconstructor
 * (sdk/pipeline/compute-stages.ts) and reuses.
 *
 *   code → V^C_T1 = Eq. (2), r_T1 = Eq. (3) → remap to T2 (L) → 250 gradient-descent steps on
 *   per-vertex displacements (Eq. 19–22) → fold repair → refined T2 positions (model frame,
 *   mm) and the remapped albedo.
 */
import { MofaError } from '../errors.js';
import { codeSlices } from '../model/code-layout.js';
import { computeAlbedo, computeShape } from '../model/decode.js';
import type { RefineBackend, RefineOptions } from '../refine/backend.js';
import { REFINE_DEFAULTS } from '../refine/defaults.js';
import { toRefinedMesh } from '../refine/mesh.js';
import { remapAttribute } from '../refine/remap.js';
import type { FaceStageInput, RefinedSurface, RefineStage } from './stages.js';

/** Settings of the Refine stage. */
export interface RefineStageSettings {
  /** Gradient-descent iterations, integer ≥ 1. Default 250 (REFINE_DEFAULTS, paper Sec. 9.2). */
  iterations: number;
  /** Step of D ← D − step·∇E (mm² per energy unit). Default REFINE_DEFAULTS.step (1000). */
  step: number;
  /** w_grad of Eq. (19). Default REFINE_DEFAULTS.wGrad (1). */
  wGrad: number;
  /** w_reg of Eq. (19), per mm². Default `PHOTO_REFINE_W_REG` (0.05), not REFINE_DEFAULTS' 0.005: see there. */
  wReg: number;
  /**
   * WebGPU only: reduce the energy on the GPU every `energyEvery` iterations (the final energy
   * always); WASM evaluates it every iteration at no extra cost. Default 10.
   */
  energyEvery: number;
}

/**
 * w_reg of Refine on real photographs: 10× REFINE_DEFAULTS.wReg (0.005, tuned on the synthetic
 * Lambertian detail scene, where every intensity change is geometry). On photos, texture that
 * the albedo model cannot explain (eyebrows, nostrils, lip and eye edges, image noise) is
 * otherwise turned into sub-millimetre zig-zag geometry: measured at step 1000 / 250
 * iterations, triangles flipped relative to the coarse surface (of 48k): astronaut.png 71 →
 * 12 / 4 / 2 at w_reg 0.02 / 0.05 / 0.1, grace_hopper.jpg 204 → 1 / 1 at 0.05 / 0.1; mean
 * displacement stays ~0.6 mm and E still falls by 40–50 %. Explicit gradient descent diverges
 * (E → 1e24) at w_reg 0.2 with step 1000 (the Laplacian² term's stability limit, ∝ step·w_reg),
 * so 0.05 keeps a ~3× margin. The remaining folds are undone by `repairFolds`.
 */
export const PHOTO_REFINE_W_REG = 0.05;

export const DEFAULT_REFINE_STAGE_SETTINGS: Readonly<RefineStageSettings> = Object.freeze({
  iterations: REFINE_DEFAULTS.iterations,
  step: REFINE_DEFAULTS.step,
  wGrad: REFINE_DEFAULTS.wGrad,
  wReg: PHOTO_REFINE_W_REG,
  energyEvery: 10,
});

/** Halving rounds of `repairFolds` before it resets the remaining offenders to the coarse surface. */
const FOLD_HALVING_ROUNDS = 6;

/**
 * Undoes folds: triangles whose orientation (the sign of (b − a) × (c − a) against the same
 * triangle of the coarse surface) flipped during Refine. The displacements d = v − v^C of their
 * corners are halved, up to FOLD_HALVING_ROUNDS times, then set to 0; each round re-tests all
 * triangles (a repaired vertex can fold a neighbour). Terminates: a triangle whose corners are
 * all at v^C has the coarse orientation, and each final round resets at least one more vertex.
 * @param coarse (N, 3) v^C, mm (any frame shared with `refined`).
 * @param refined (N, 3) refined positions, mm; modified in place.
 * @param index (F, 3) triangles.
 * @returns the number of vertices whose displacement was reduced (0 = nothing folded).
 */
export function repairFolds(coarse: Float32Array, refined: Float32Array, index: Uint32Array): number {
  const touched = new Uint8Array(coarse.length / 3);
  /** Unnormalised normal (b − a) × (c − a) of triangle t in P. */
  const normal = (P: Float32Array, t: number): [number, number, number] => {
    const a = 3 * index[3 * t], b = 3 * index[3 * t + 1], c = 3 * index[3 * t + 2];
    const ux = P[b] - P[a], uy = P[b + 1] - P[a + 1], uz = P[b + 2] - P[a + 2];
    const vx = P[c] - P[a], vy = P[c + 1] - P[a + 1], vz = P[c + 2] - P[a + 2];
    return [uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx];
  };
  /** Degenerate coarse triangles (zero area) have no orientation to keep and are skipped. */
  const folded = (t: number): boolean => {
    const q = normal(coarse, t);
    if (!(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] > 0)) return false;
    const p = normal(refined, t);
    return !(p[0] * q[0] + p[1] * q[1] + p[2] * q[2] > 0);
  };
  for (let round = 0; ; round++) {
    const offenders = new Set<number>();
    for (let t = 0; t < index.length / 3; t++) {
      if (folded(t)) for (let k = 0; k < 3; k++) offenders.add(index[3 * t + k]);
    }
    if (offenders.size === 0) break;
    const keep = round < FOLD_HALVING_ROUNDS ? 0.5 : 0;
    for (const v of offenders) {
      touched[v] = 1;
      for (let c = 0; c < 3; c++) refined[3 * v + c] = coarse[3 * v + c] + keep * (refined[3 * v + c] - coarse[3 * v + c]);
    }
  }
  let count = 0;
  for (const t of touched) count += t;
  return count;
}

const PASS_THROUGH = new Set(['ABORTED', 'CLOSED', 'DEVICE_LOST']);

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new MofaError('ABORTED', "Refine was aborted by the caller's AbortSignal");
}

export class ShadingRefineStage implements RefineStage {
  readonly name = 'shading-refine';
  readonly backend: 'webgpu' | 'wasm';
  private readonly settings: RefineStageSettings;
  private impl: RefineBackend | null;

  /** @param impl the backend (owned: `destroy()` destroys it). */
  constructor(impl: RefineBackend, settings: Partial<RefineStageSettings> = {}) {
    if (impl.kind === 'reference') throw new MofaError('INTERNAL', 'the pipeline runs Refine on the wasm or webgpu backend, not the TypeScript reference');
    this.backend = impl.kind;
    this.impl = impl;
    this.settings = { ...DEFAULT_REFINE_STAGE_SETTINGS, ...settings };
    const { iterations, energyEvery, step, wGrad, wReg } = this.settings;
    for (const [k, v] of [['step', step], ['wGrad', wGrad], ['wReg', wReg]] as const) {
      if (!(Number.isFinite(v) && v >= 0)) throw new MofaError('BAD_INPUT', `Refine ${k} must be a finite number ≥ 0, got ${v}`);
    }
    if (!(Number.isInteger(iterations) && iterations >= 1)) throw new MofaError('BAD_INPUT', `Refine iterations must be an integer ≥ 1, got ${iterations}`);
    if (!(Number.isInteger(energyEvery) && energyEvery >= 1)) throw new MofaError('BAD_INPUT', `Refine energyEvery must be an integer ≥ 1, got ${energyEvery}`);
  }

  /**
   * Refines one face.
   * @param code (257) the Opt code (pose relative to `input.crop.intrinsics`).
   * @returns T2 positions (N2, 3) mm, model frame (folds repaired, `repairFolds`), and the T1
   *   albedo remapped to T2 (linear RGB, clamped to 0..1 by toRefinedMesh), plus the evaluated
   *   energies and the number of fold-repaired vertices.
   * @throws MofaError('ABORTED') when `input.signal` has fired before the run; ('INTERNAL') when
   *   the result is not finite — never NaN.
   */
  async refine(input: FaceStageInput, code: Float64Array): Promise<RefinedSurface> {
    if (!this.impl) throw new MofaError('CLOSED', 'this Refine stage was destroyed');
    const impl = this.impl;
    const { model } = input;
    const x = codeSlices(code);
    const albedoT1 = computeAlbedo(model, x.beta);
    checkAbort(input.signal);
    const positionT1 = computeShape(model, x.alpha, x.delta);
    let run;
    try {
      await impl.setProblem({
        model,
        positionT1,
        albedoT1,
        R: x.rotation,
        t: x.translation,
        gamma: x.gamma,
        intrinsics: { focalPx: input.crop.intrinsics.focalPx, cx: input.crop.intrinsics.cx, cy: input.crop.intrinsics.cy },
        image: input.cropImage,
      });
      checkAbort(input.signal); // the run itself is one uninterruptible call (one command buffer / one wasm call)
      const { iterations, step, wGrad, wReg, energyEvery } = this.settings;
      const options: Partial<RefineOptions> & { energyEvery?: number } = { iterations, step, wGrad, wReg, energyEvery };
      run = await impl.run(options);
    } catch (e) {
      if (e instanceof MofaError && PASS_THROUGH.has(e.code)) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new MofaError('INTERNAL', `Refine (${this.backend}) failed on this face: ${why}. Use quality 'balanced' for this image, and please report it.`, { cause: e });
    }
    for (let k = 0; k < run.positions.length; k++) {
      if (!Number.isFinite(run.positions[k])) {
        throw new MofaError('INTERNAL', `Refine (${this.backend}) produced a non-finite position (vertex ${Math.floor(k / 3)}); use quality 'balanced' for this image, and please report it.`);
      }
    }
    const positions = Float32Array.from(run.positions);
    const repaired = repairFolds(remapAttribute(positionT1, 3, model.t2.fromT1), positions, model.t2.index);
    // Normals are recomputed from the repaired surface when anything moved.
    const mesh = toRefinedMesh(model, { positions, normals: repaired > 0 ? undefined : run.normals }, albedoT1);
    const energies: { iteration: number; energy: number }[] = [];
    run.energies.forEach((energy, iteration) => {
      if (Number.isFinite(energy)) energies.push({ iteration, energy });
    });
    return { position: mesh.position, albedo: mesh.color, energies, foldRepairedVertices: repaired };
  }

  destroy(): void {
    this.impl?.destroy();
    this.impl = null;
  }
}
