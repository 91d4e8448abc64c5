/**
 * Illumination model of the paper (Sec. 5, Eq. 4): distant low-frequency light represented by
 * B = 3 bands (B² = 9 coefficients per colour channel) of real spherical harmonics (SH) on a
 * Lambertian surface:
 *
 *   C(r_i, n_i, γ) = r_i · Σ_{b=0}^{8} γ'_b H_b(n_i)                       (Eq. 4)
 *
 * evaluated per channel c ∈ {R, G, B}.
 *
 * Basis H_b. We use the *irradiance* basis H_b(n) = Â_l(b) · Y_b(n), where Y_b are the
 * orthonormal real SH basis functions on the unit sphere and Â_l are the Lambertian
 * clamped-cosine convolution factors of band l (Ramamoorthi & Hanrahan 2001):
 * Â_0 = π, Â_1 = 2π/3, Â_2 = π/4. With this choice γ are the SH coefficients of the distant
 * *radiance* and Σ_b γ_b H_b(n) is the irradiance at a surface with normal n (no 1/π albedo
 * factor: the albedo r is multiplied with the irradiance directly, as in Eq. 4).
 *
 * Ordering b = l² + l + m (n = (x, y, z), unit):
 *   b | l, m  | Y_b(n)
 *   0 | 0, 0  | 0.282095 (= 1 / (2√π))
 *   1 | 1, −1 | 0.488603 · y           (0.488603 = √(3 / 4π))
 *   2 | 1, 0  | 0.488603 · z
 *   3 | 1, 1  | 0.488603 · x
 *   4 | 2, −2 | 1.092548 · x y         (1.092548 = ½ √(15/π))
 *   5 | 2, −1 | 1.092548 · y z
 *   6 | 2, 0  | 0.315392 · (3z² − 1)   (0.315392 = ¼ √(5/π))
 *   7 | 2, 1  | 1.092548 · x z
 *   8 | 2, 2  | 0.546274 · (x² − y²)   (0.546274 = ¼ √(15/π))
 *
 * Frame: n and γ are in the *camera* frame (Eq. 5 shades with T n_i: rotate model-frame
 * normals with `rotateVectors(R, normals)` from camera.ts first). The camera frame is
 * OpenGL-like (+x image right, +y image up, +z toward the viewer), see camera.ts.
 *
 * γ layout (27 values, the illumination block of the 257-d code vector): channel-major,
 * `gamma[9 * c + b]`, c = 0 R, 1 G, 2 B; i.e. nine R coefficients, then nine G, then nine B.
 *
 * Ambient offset: the paper (Sec. 8, training details) adds 0.7 to the ambient (DC, b = 0) coefficient of every
 * channel so that a zero code gives a lit face. `SH_AMBIENT_OFFSET` is that constant; it is
 * added in exactly one place, `effectiveGamma`, which `irradiance` and `shade` call. So a
 * zero γ gives a uniform irradiance of 0.7 · H_0 = 0.7 · √π / 2 ≈ 0.620 in every channel.
 */
import { MofaError } from '../errors.js';

/** Number of SH bands B (paper Sec. 5). */
export const SH_BANDS = 3;
/** Number of SH coefficients per channel, B². */
export const SH_COEFFS = 9;
/** Length of γ: 9 coefficients × RGB. */
export const GAMMA_DIM = 27;
/** The paper's ambient offset (Sec. 8), added to the DC coefficient γ_0 of each channel in `effectiveGamma`. */
export const SH_AMBIENT_OFFSET = 0.7;

const Y0 = 0.5 / Math.sqrt(Math.PI); // 0.282095
const Y1 = Math.sqrt(3 / (4 * Math.PI)); // 0.488603
const Y2A = 0.5 * Math.sqrt(15 / Math.PI); // 1.092548
const Y2B = 0.25 * Math.sqrt(5 / Math.PI); // 0.315392
const Y2C = 0.25 * Math.sqrt(15 / Math.PI); // 0.546274

/** Lambertian convolution factors Â_l(b) for b = 0..8 (π, 2π/3 ×3, π/4 ×5). */
export const SH_LAMBERT_FACTORS: readonly number[] = Object.freeze([
  Math.PI,
  (2 * Math.PI) / 3, (2 * Math.PI) / 3, (2 * Math.PI) / 3,
  Math.PI / 4, Math.PI / 4, Math.PI / 4, Math.PI / 4, Math.PI / 4,
]);

/**
 * Orthonormal real SH basis Y_b(n), b = 0..8, ordering as in the module comment.
 * @param nx, ny, nz unit direction (not renormalised here).
 * @param out receives 9 values at `out[offset .. offset + 9)`.
 */
export function shBasis(nx: number, ny: number, nz: number, out: Float64Array | Float32Array | number[], offset = 0): void {
  out[offset] = Y0;
  out[offset + 1] = Y1 * ny;
  out[offset + 2] = Y1 * nz;
  out[offset + 3] = Y1 * nx;
  out[offset + 4] = Y2A * nx * ny;
  out[offset + 5] = Y2A * ny * nz;
  out[offset + 6] = Y2B * (3 * nz * nz - 1);
  out[offset + 7] = Y2A * nx * nz;
  out[offset + 8] = Y2C * (nx * nx - ny * ny);
}

/**
 * Irradiance basis H_b(n) = Â_l(b) · Y_b(n) used in Eq. (4), b = 0..8.
 * @returns Float64Array(9).
 */
export function irradianceBasis(nx: number, ny: number, nz: number): Float64Array {
  const h = new Float64Array(SH_COEFFS);
  shBasis(nx, ny, nz, h);
  for (let b = 0; b < SH_COEFFS; b++) h[b] *= SH_LAMBERT_FACTORS[b];
  return h;
}

function checkGamma(gamma: ArrayLike<number>): void {
  if (gamma.length !== GAMMA_DIM) {
    throw new MofaError('BAD_INPUT', `gamma has ${gamma.length} values, expected ${GAMMA_DIM} (9 SH coefficients × RGB, layout gamma[9*c + b])`);
  }
}

/**
 * The SH coefficients actually used for lighting: γ with `SH_AMBIENT_OFFSET` added to the DC
 * coefficient of each channel (`gamma[9 * c]`). This is the only place the offset is applied.
 * @param gamma (27) code-vector illumination, layout `gamma[9 * c + b]`.
 * @returns Float64Array(27), same layout; `gamma` is not modified.
 */
export function effectiveGamma(gamma: ArrayLike<number>): Float64Array {
  checkGamma(gamma);
  const g = Float64Array.from(gamma);
  for (let c = 0; c < 3; c++) g[SH_COEFFS * c] += SH_AMBIENT_OFFSET;
  return g;
}

/**
 * Irradiance E_c(n_i) = Σ_b γ'_{c,b} H_b(n_i) per vertex and channel (the sum in Eq. 4), with
 * γ' = effectiveGamma(γ).
 * @param normal (N, 3) unit normals, camera frame.
 * @param gamma (27) illumination code, layout `gamma[9 * c + b]`.
 * @returns (N, 3) linear RGB irradiance (≥ 0 for physically valid light; not clamped).
 */
export function irradiance(normal: Float32Array, gamma: ArrayLike<number>): Float32Array {
  return shadeInternal(null, normal, gamma);
}

/**
 * Eq. (4): C(r_i, n_i, γ) = r_i ⊙ Σ_b γ'_b H_b(n_i), γ' = effectiveGamma(γ).
 * @param albedo (N, 3) reflectance r_i, linear RGB 0..1 (e.g. from computeAlbedo).
 * @param normal (N, 3) unit normals, camera frame (T n_i in Eq. 5).
 * @param gamma (27) illumination code, layout `gamma[9 * c + b]`.
 * @returns (N, 3) radiosity, linear RGB (not clamped; clamp to 0..1 for display).
 */
export function shade(albedo: Float32Array, normal: Float32Array, gamma: ArrayLike<number>): Float32Array {
  if (albedo.length !== normal.length) {
    throw new MofaError('BAD_INPUT', `albedo (${albedo.length}) and normal (${normal.length}) must both be (N, 3) for the same N`);
  }
  return shadeInternal(albedo, normal, gamma);
}

function shadeInternal(albedo: Float32Array | null, normal: Float32Array, gamma: ArrayLike<number>): Float32Array {
  if (normal.length % 3 !== 0) throw new MofaError('BAD_INPUT', `normal length ${normal.length} is not a multiple of 3`);
  const g = effectiveGamma(gamma);
  // Fold the Lambertian factors into the coefficients once: E_c = Σ_b (Â_b γ'_{c,b}) Y_b(n).
  for (let c = 0; c < 3; c++) for (let b = 0; b < SH_COEFFS; b++) g[SH_COEFFS * c + b] *= SH_LAMBERT_FACTORS[b];
  const out = new Float32Array(normal.length);
  const y = new Float64Array(SH_COEFFS);
  for (let i = 0; i < normal.length; i += 3) {
    shBasis(normal[i], normal[i + 1], normal[i + 2], y);
    for (let c = 0; c < 3; c++) {
      const o = SH_COEFFS * c;
      let e = 0;
      for (let b = 0; b < SH_COEFFS; b++) e += g[o + b] * y[b];
      out[i + c] = albedo ? albedo[i + c] * e : e;
    }
  }
  return out;
}

/** A distant light for `gammaFromLights`. */
export interface DirectionalLight {
  /** Unit-less direction *toward* the light, camera frame (+x right, +y up, +z toward the viewer); normalised here. */
  direction: [number, number, number];
  /** Linear RGB intensity: the irradiance on a surface facing the light (≥ 0). */
  color: [number, number, number];
}

/**
 * Builds an illumination code γ (27, layout `gamma[9 * c + b]`) such that `irradiance(n, γ)`
 * approximates E_c(n) = ambient_c + Σ_lights color_c · max(0, n · d) (the 3-band SH
 * projection of the clamped cosine; exact for the ambient term). A directional light of
 * intensity k toward d has radiance coefficients k · Y_b(d). Because `effectiveGamma` adds
 * `SH_AMBIENT_OFFSET` to the DC terms, the returned *code* has that offset subtracted, i.e.
 * `effectiveGamma(gammaFromLights(…))` holds the physical coefficients.
 * @param ambient linear RGB uniform irradiance.
 * @param lights directional lights (camera frame).
 */
export function gammaFromLights(ambient: [number, number, number], lights: DirectionalLight[] = []): Float64Array {
  const g = new Float64Array(GAMMA_DIM);
  const h0 = SH_LAMBERT_FACTORS[0] * Y0; // H_0 = √π / 2
  for (let c = 0; c < 3; c++) g[SH_COEFFS * c] = ambient[c] / h0;
  const y = new Float64Array(SH_COEFFS);
  for (const light of lights) {
    const [dx, dy, dz] = light.direction;
    const len = Math.hypot(dx, dy, dz);
    if (!(len > 0)) throw new MofaError('BAD_INPUT', 'a directional light needs a non-zero direction');
    shBasis(dx / len, dy / len, dz / len, y);
    for (let c = 0; c < 3; c++) for (let b = 0; b < SH_COEFFS; b++) g[SH_COEFFS * c + b] += light.color[c] * y[b];
  }
  // Inverse of effectiveGamma: return the code, whose DC term the renderer offsets by SH_AMBIENT_OFFSET.
  for (let c = 0; c < 3; c++) g[SH_COEFFS * c] -= SH_AMBIENT_OFFSET;
  return g;
}
