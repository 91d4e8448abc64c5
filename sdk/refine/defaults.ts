/**
 * Refine defaults (paper Sec. 9.2 "Optimization"), re-tuned for this project's units.
 * Reasoning: see REFINE_DEFAULTS below.
 */
import type { RefineEnergy } from './reference.js';

/** Energy weights of Eq. (19). */
export interface RefineWeights {
  /** w_grad of Eq. (19), dimensionless (gradient-alignment term, Eq. 21). */
  wGrad: number;
  /** w_reg of Eq. (19), energy units per mm² (E_reg is in mm², Eq. 22). */
  wReg: number;
}

/** Options of a Refine run (every backend). */
export interface RefineOptions extends RefineWeights {
  /** Gradient-descent iterations (paper: 250). */
  iterations: number;
  /** Step size of D ← D − step · ∇E, mm² per energy unit. */
  step: number;
  /** Called after the gradient of iteration `it` (reference backend only). */
  onIteration?: (it: number, energy: RefineEnergy) => void;
}

/**
 * Defaults, re-tuned from the paper's (250 iterations, step 0.008, w_grad 1.0, w_reg 133.3),
 * which are in the paper's units (its own mesh scale). Ours: positions in mm, colour linear RGB
 * 0..1, T2 with N = 24 343 vertices (mean edge 1.3 mm), every term normalised by 1/N (Eq. 20–22).
 *
 * - `step` = 1000. Because of the 1/N normalisation a vertex's gradient is O(1/N): a data-term
 *   gradient of ~1e-4 (shading change per mm of normal tilt, times 2/N) needs a step of ~1e3
 *   to move a vertex by ~0.1 mm per iteration. On the synthetic detail scene
 *   (test/unit/refine-scene.ts: 0.6 mm / 7 mm forehead ridges + 0.8 mm bumps, 240×240 crop)
 *   step 2000 converges to the lowest energy, 4000 starts to oscillate (final E higher than
 *   with 2000) and 8000 diverges; 1000 keeps a 4× margin to that, reaches the same detail error
 *   (normal-error RMS 0.41 → 0.10 mm, correlation 0.988 with the true height), and the IRLS
 *   weights (up to 1/0.02) stiffen the photo term as residuals shrink, so the margin matters.
 *   The stable step scales ∝ N: on a mesh with a different vertex count, scale it accordingly.
 * - `wReg` = 0.005 (paper 133.3). The Laplacian of a 7 mm-wavelength ridge on a 1.3 mm mesh is
 *   ~2× its height, so a detail of height h costs ~4h² mm² per vertex in E_reg, while the
 *   photometric gain is ~0.1–0.2 colour units per vertex: w_reg must be ≪ 0.05 for the detail
 *   to pay. Measured detail RMS: 0.003 → 0.101 (step 2000), 0.005 → 0.102 (step 1000) / 0.105
 *   (step 2000), 0.01 → 0.116 (step 2000), 0.03 → 0.18 mm (step 4000); 0.005 keeps most of the
 *   detail with more smoothing against image noise.
 * - `wGrad` = 1 (paper's value): E_grad is ~1/4 of E_photo at the start and leaves the detail
 *   error unchanged on the synthetic scene (0.132 vs 0.132 mm with w_grad 0, at step 4000,
 *   w_reg 0.01); kept as in the paper.
 * - `iterations` = 250 (paper's value). At step 1000 on the synthetic scene E goes 7.96e-3 →
 *   1.24e-3 (100 it) → 1.035e-3 (250 it) → 0.98e-3 (400 it); detail RMS 0.114 / 0.107 / 0.102 mm at
 *   100 / 150 / 250 it: most of the gain is in by ~150 iterations.
 */
export const REFINE_DEFAULTS: Readonly<RefineOptions> = Object.freeze({
  iterations: 250,
  step: 1000,
  wGrad: 1,
  wReg: 0.005,
});
