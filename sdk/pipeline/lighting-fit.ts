/**
 * SH lighting γ by linear least squares given the geometry (issue 5, initial code): with the
 * albedo fixed (the model mean A_r) and the normals fixed, Eq. (4)
 *
 *   I(u_i)_c ≈ r_{i,c} · Σ_b γ'_{c,b} H_b(n_i)                                    (Eq. 4)
 *
 * is linear in γ' = γ + ambient offset, separately per channel c: 9 unknowns per channel. The
 * rows are the front-face vertices (model.frontFace) that are visible in the crop (projected
 * inside it, facing the camera, and not hidden: z-buffer test against the rasterised mesh).
 * One re-weighted pass (Huber-like weights from the first pass's residuals) reduces the pull
 * of hair, eyebrows, glasses and specular highlights. A small ridge on the non-DC coefficients
 * keeps the solve well-posed when the visible normals span few directions.
 */
import { MofaError } from '../errors.js';
import { type CameraIntrinsics, project, rotateVectors, toCamera } from '../model/camera.js';
import { choleskySolveRef, CholeskyStatus } from '../model/cholesky-ref.js';
import { shBasis, SH_AMBIENT_OFFSET, SH_COEFFS, SH_LAMBERT_FACTORS, GAMMA_DIM } from '../model/shading.js';
import { rasterize } from '../render/rasterize.js';
import type { LinearImage } from './stages.js';

/** Ridge on the 8 non-DC SH coefficients (per channel, relative to the mean diagonal of the normal matrix). */
export const LIGHTING_RIDGE = 1e-3;
/** Depth tolerance of the z-buffer visibility test, mm. */
export const VISIBILITY_TOLERANCE_MM = 2;
/** Huber threshold of the re-weighted pass, in units of the first pass's RMS residual. */
export const LIGHTING_HUBER_K = 1.5;

/** Output of `fitLightingLinear`. */
export interface LightingFit {
  /** (27) γ code (ambient offset removed), layout gamma[9·c + b], camera frame. */
  gamma: Float64Array;
  /** RMS linear-RGB residual over the used vertices after the fit (unweighted). */
  rms: number;
  /** Number of vertices used. */
  vertices: number;
}

/** Bilinear sample of a linear image at image-frame px (u, v) (centres at +0.5, clamped to the edge). */
function sample(img: LinearImage, u: number, v: number, out: Float64Array): void {
  const x = Math.min(Math.max(u - 0.5, 0), img.width - 1), y = Math.min(Math.max(v - 0.5, 0), img.height - 1);
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const x1 = Math.min(x0 + 1, img.width - 1), y1 = Math.min(y0 + 1, img.height - 1);
  const fx = x - x0, fy = y - y0;
  const W = img.width, d = img.rgb;
  for (let c = 0; c < 3; c++) {
    const a = d[3 * (y0 * W + x0) + c], b = d[3 * (y0 * W + x1) + c];
    const e = d[3 * (y1 * W + x0) + c], g = d[3 * (y1 * W + x1) + c];
    out[c] = (a * (1 - fx) + b * fx) * (1 - fy) + (e * (1 - fx) + g * fx) * fy;
  }
}

/**
 * Vertices of `candidates` visible in the crop: projected inside it onto a pixel the mesh
 * covers, front-facing (n_cam · (−p_cam) > 0) and within VISIBILITY_TOLERANCE_MM of the z-buffer.
 * @param camPos (N, 3) camera-frame positions, mm. @param camNormal (N, 3) camera-frame normals.
 * @returns the visible subset of `candidates` and the projection of all vertices.
 */
export function visibleVertices(
  camPos: Float32Array,
  camNormal: Float32Array,
  index: Uint32Array,
  intrinsics: CameraIntrinsics,
  candidates: Uint32Array,
): { visible: Uint32Array; screen: Float32Array } {
  const { screen, depth } = project(camPos, intrinsics);
  const W = intrinsics.width, H = intrinsics.height;
  const zbuf = rasterize({ width: W, height: H, screen, depth, index }, { cullBackFaces: true }).depth;
  const out: number[] = [];
  for (const i of candidates) {
    const u = screen[2 * i], v = screen[2 * i + 1];
    if (!(u >= 0 && u < W && v >= 0 && v < H)) continue;
    const facing = -(camNormal[3 * i] * camPos[3 * i] + camNormal[3 * i + 1] * camPos[3 * i + 1] + camNormal[3 * i + 2] * camPos[3 * i + 2]);
    if (!(facing > 0)) continue;
    const zb = zbuf[Math.floor(v) * W + Math.floor(u)];
    // The pixel must be covered by the mesh (boundary vertices can land just outside it, on
    // hair / background) and the vertex must be the nearest surface there.
    if (!(zb < Infinity && depth[i] <= zb + VISIBILITY_TOLERANCE_MM)) continue;
    out.push(i);
  }
  return { visible: Uint32Array.from(out), screen };
}

/**
 * Fits γ (module comment).
 * @param position (N, 3) model-frame vertices, mm (Eq. 2). @param normal (N, 3) model-frame unit normals.
 * @param albedo (N, 3) linear RGB (Eq. 3). @param R, t pose Φ; @param intrinsics the crop camera.
 * @param image the crop, linear RGB. @param candidates vertices allowed in the fit (model.frontFace).
 * @throws MofaError('INTERNAL') when fewer than 50 vertices are visible.
 */
export function fitLightingLinear(
  position: Float32Array,
  normal: Float32Array,
  index: Uint32Array,
  albedo: Float32Array,
  R: ArrayLike<number>,
  t: ArrayLike<number>,
  intrinsics: CameraIntrinsics,
  image: LinearImage,
  candidates: Uint32Array,
): LightingFit {
  const camPos = toCamera(position, R, t);
  const camNormal = rotateVectors(normal, R);
  const { visible, screen } = visibleVertices(camPos, camNormal, index, intrinsics, candidates);
  const n = visible.length;
  if (n < 50) throw new MofaError('INTERNAL', `only ${n} face vertices are visible in the crop; the pose fit failed — please report this image`);
  // Per vertex: H_b(n_i) (9) and the observed colour.
  const Hs = new Float64Array(n * SH_COEFFS);
  const obs = new Float64Array(n * 3);
  const px = new Float64Array(3);
  const lambert = Float64Array.from(SH_LAMBERT_FACTORS);
  for (let j = 0; j < n; j++) {
    const i = visible[j];
    // H_b(n) = λ_b · Y_b(n) (the irradiance basis, cf. irradianceBasis), written in place.
    shBasis(camNormal[3 * i], camNormal[3 * i + 1], camNormal[3 * i + 2], Hs, j * SH_COEFFS);
    for (let q = 0; q < SH_COEFFS; q++) Hs[j * SH_COEFFS + q] *= lambert[q];
    sample(image, screen[2 * i], screen[2 * i + 1], px);
    obs[3 * j] = px[0];
    obs[3 * j + 1] = px[1];
    obs[3 * j + 2] = px[2];
  }
  const g = new Float64Array(GAMMA_DIM); // γ' (with the offset) while fitting
  const weights = new Float64Array(n).fill(1);
  const alb = new Float64Array(3 * n); // albedo of the used vertices, gathered once
  for (let j = 0; j < n; j++) for (let c = 0; c < 3; c++) alb[3 * j + c] = albedo[3 * visible[j] + c];
  const S = SH_COEFFS, S2 = S * S;
  const A3 = new Float64Array(3 * S2); // the three channels' 9×9 normal matrices (lower triangle accumulated)
  const b3 = new Float64Array(3 * S);
  const res = new Float64Array(n);
  let rms = 0;
  for (let pass = 0; pass < 2; pass++) {
    // Normal equations of the three channels in one sweep over the vertices; every entry is
    // accumulated in vertex order, as a per-channel loop would.
    A3.fill(0);
    b3.fill(0);
    for (let j = 0; j < n; j++) {
      const w = weights[j], o = j * S;
      for (let c = 0; c < 3; c++) {
        const a = alb[3 * j + c], y = obs[3 * j + c], oA = c * S2, ob = c * S;
        for (let p = 0; p < S; p++) {
          const wxp = w * (a * Hs[o + p]);
          b3[ob + p] += wxp * y;
          const wxpa = wxp * a, row = oA + p * S;
          for (let q = 0; q <= p; q++) A3[row + q] += wxpa * Hs[o + q];
        }
      }
    }
    for (let c = 0; c < 3; c++) {
      const A = A3.subarray(c * S2, (c + 1) * S2);
      const b = b3.subarray(c * S, (c + 1) * S);
      let tr = 0;
      for (let p = 0; p < S; p++) {
        for (let q = 0; q < p; q++) A[q * S + p] = A[p * S + q];
        tr += A[p * S + p] / S;
      }
      for (let p = 1; p < S; p++) A[p * S + p] += LIGHTING_RIDGE * tr;
      const status = choleskySolveRef(A, b, S, 0);
      if (status !== CholeskyStatus.OK) throw new MofaError('INTERNAL', `SH lighting solve failed (Cholesky status ${status}); please report this image`);
      g.set(b, S * c);
    }
    // Residuals → RMS and Huber weights for the second pass.
    let sq = 0;
    for (let j = 0; j < n; j++) {
      let r2 = 0;
      const o = j * S;
      for (let c = 0; c < 3; c++) {
        let e = 0;
        for (let p = 0; p < S; p++) e += g[S * c + p] * Hs[o + p];
        r2 += (alb[3 * j + c] * e - obs[3 * j + c]) ** 2;
      }
      res[j] = Math.sqrt(r2 / 3);
      sq += r2 / 3;
    }
    rms = Math.sqrt(sq / n);
    const kHuber = LIGHTING_HUBER_K * rms;
    for (let j = 0; j < n; j++) weights[j] = res[j] <= kHuber ? 1 : kHuber / res[j];
  }
  for (let c = 0; c < 3; c++) g[SH_COEFFS * c] -= SH_AMBIENT_OFFSET; // γ' → code γ (effectiveGamma adds it back)
  return { gamma: g, rms, vertices: n };
}
