/**
 * Default energy weights of Opt (paper Eq. 7, 10; Sec. 9.1) in mofa-web's units:
 * photometric residuals in linear RGB 0..1, landmark residuals in px of the 240×240 crop
 * (f = 1000 px), code entries in standard deviations.
 *
 *   E = w_photo · (1/|P|) Σ_i ‖c_i − I(u_i)‖₂          (Eq. 8 via IRLS Eq. 11; ℓ2,1, 1-homogeneous)
 *     + w_land  · (1/L) Σ_j c_j ‖u_kj − s_j‖²          (Eq. 9, px²)
 *     + w_reg   · (Σ α² + w_β Σ β² + w_δ Σ δ²)          (Eq. 10)
 */
import type { OptWeights } from './backend.js';

/**
 * The paper's Opt weights (Sec. 9.1: w_photo 0.44, w_reg 0.01, w_β 0.11, w_δ 0.01) with one unit
 * conversion, plus a landmark weight for MediaPipe's 468 landmarks.
 *
 * photo = 0.44 × 255 = 112.2. The photometric term is 1-homogeneous in the intensity unit, so
 * the paper's balance between w_photo and w_reg depends on that unit. Used verbatim with our
 * 0..1 residuals, E_reg dominates by 15–60× (synthetic test scene at the start code: E_photo
 * 0.046, E_reg 0.75) and Opt pulls the shape to the mean: the mean front-face error grew from
 * 1.84 mm to 4.12 mm in 5 iterations. Reading the paper's residuals as 8-bit intensities
 * (0..255) — the hypothesis behind the factor 255, the paper does not state its unit — gives
 * E_photo ≈ 112 × (mean residual) and Opt reaches the noise floor of the synthetic image
 * (photometric error 0.0078 vs 0.0077 for the true code) from both a perturbed and a mean-shape
 * start. w_reg, w_β, w_δ are the paper's.
 *
 * land = 4.68 = L · w_reg / σ² with L = 468 landmarks and σ = 1 px. Reasoning: read E as a
 * negative log-posterior at temperature τ (E/τ). The regulariser w_reg Σα² is the N(0, 1)
 * prior of the σ-scaled basis exactly when τ = 2 w_reg. Landmarks with independent Gaussian
 * errors of σ px then need w_land / L = τ / (2σ²), i.e. w_land = L · w_reg / σ². σ = 1 px is
 * MediaPipe's typical error on a 240-px crop (≈ 1.5 % of the ≈ 65-px inter-ocular distance).
 * Measured on the synthetic scene (0.5-px landmark noise, 5 iterations, 2000 samples) with
 * photo 112.2: w_land 1.17 (σ = 2 px) → 2.47/2.92 mm (perturbed/mean start), 4.68 → 2.25/2.31 mm,
 * 18.7 (σ = 0.5 px) → 2.32/2.36 mm. Because E_land is divided by L, use L · w_reg / σ² for
 * other landmark sets (e.g. 0.68 for iBUG 68 at σ = 1 px).
 */
export const defaultOptWeights: Readonly<OptWeights> = Object.freeze({
  photo: 0.44 * 255,
  land: (468 * 0.01) / (1 * 1),
  reg: 0.01,
  beta: 0.11,
  delta: 0.01,
});
