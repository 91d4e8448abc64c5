/**
 * Shading-based surface refinement "Refine" (paper Sec. 9.2, Eq. 18–22): the plain TypeScript
 * reference (float64) of the math in docs/design/refine.md. The WASM (assembly/refine.ts) and
 * WebGPU backends implement the same energy and gradient and are tested against this file.
 *
 * Unknowns: per-vertex displacements D = {d_i} on T2, (N, 3) mm, model frame; v_i = v^C_i + d_i.
 *
 *   E(D) = E_photo + w_grad E_grad + w_reg E_reg                                        (Eq. 19)
 *   E_photo = (1/N) Σ_{i∈V} ‖I(u_i) − c_i‖² / C_i                             (Eq. 20 as Eq. 11)
 *   E_grad  = (1/N) Σ_{i∈V} Σ_{j∈N_i} ‖(c_i − c_j) − (I(u_i) − I(u_j))‖²                (Eq. 21)
 *   E_reg   = (1/N) Σ_i ‖Σ_{j∈N_i} (d_i − d_j)‖²                                        (Eq. 22)
 *
 * with, per vertex (Eq. 4, 5):
 *   m_i = Σ_{f∋i} (v_b − v_a) × (v_c − v_a)  (area-weighted one ring, CCW), n_i = m_i / ‖m_i‖
 *   p_i = R v_i + t (camera frame, mm), u_i = Π(p_i) (px), c_i = r_i ⊙ Σ_b γ'_b H_b(R n_i).
 *
 * "Frozen" per iteration (the IRLS linearisation, as Opt's `linearize`): the visible set V
 * (m_i ≠ 0, front-facing (R n_i)·p_i < 0, u_i inside the image) and the weights 1/C_i,
 * C_i = max(‖I(u_i) − c_i‖, IRLS_FLOOR), are computed from the current D at the start of every
 * iteration (`refreshWeights`) and then held constant, so `refineGradient` is the exact gradient
 * of `refineEnergy` at fixed weights/visibility (checked by finite differences in the tests).
 *
 * Gradient structure (docs/design/refine.md §4):
 *   s_i = c_i − I(u_i);  ∂E/∂s_k (grad term) = (2 w_grad/N) Σ_{j∈N_k} ([k∈V] + [j∈V]) (s_k − s_j)
 *   (the one-ring is symmetric); ∂E/∂c_i = ∂E/∂s_i − (2/N)[i∈V] r_i/C_i, ∂E/∂I_i = −∂E/∂s_i + (2/N)[i∈V] r_i/C_i,
 *   r_i = I(u_i) − c_i;  → ∂E/∂ñ_i = Σ_b (Σ_c ∂E/∂c_ic r_ic Â_b γ'_cb) ∇Y_b(ñ_i), ñ = R n,
 *   ∂E/∂m_i = (I − n nᵀ)/‖m_i‖ · Rᵀ ∂E/∂ñ_i;  per face g_f = Σ_{corners} ∂E/∂m:
 *   ∂/∂v_b += (v_c − v_a) × g_f, ∂/∂v_c += g_f × (v_b − v_a), ∂/∂v_a −= both;
 *   ∂E/∂u_i = Σ_c ∂E/∂I_ic ∇I_c(u_i) → ∂E/∂p_i (Π') → ∂E/∂v_i += Rᵀ ∂E/∂p_i;
 *   reg: ∂E/∂d_k += (2 w_reg/N)(deg_k L_k − Σ_{i∈N_k} L_i), L_i = deg_i d_i − Σ_{j∈N_i} d_j.
 */
import { MofaError } from '../errors.js';
import { rotationMatrix } from '../model/camera.js';
import { effectiveGamma, SH_LAMBERT_FACTORS } from '../model/shading.js';
import type { LinearImage } from '../opt/backend.js';
import { checkLinearImage, sampleBilinear } from '../opt/image.js';
import type { FaceModel } from '../types/face-model.js';
import { REFINE_DEFAULTS, type RefineOptions, type RefineWeights } from './defaults.js';
import { remapAttribute } from './remap.js';

export type { RefineOptions, RefineWeights };

/** The IRLS floor of C_i (docs/design/refine.md §3): residuals below it get weight 1/0.02. */
export const IRLS_FLOOR = 0.02;

/** Input of Refine: the Opt result on T1 plus the crop it was fitted to. */
export interface RefineProblem {
  /** Face model: uses t2.fromT1 (L), t2.index, t2.adjacency. */
  model: Pick<FaceModel, 't1' | 't2'>;
  /** (N1, 3) coarse T1 positions V^C (Eq. 2 at the Opt code), mm, model frame. */
  positionT1: Float32Array;
  /** (N1, 3) T1 albedo r (Eq. 3), linear RGB 0..1. */
  albedoT1: Float32Array;
  /** Rotation of Φ (p_cam = R v + t): 9 values row-major, or 3 Euler angles [pitch, yaw, roll] rad (rotationMatrix). */
  R: ArrayLike<number>;
  /** (3) translation of Φ, mm, camera frame (t_z < 0). */
  t: ArrayLike<number>;
  /** (27) SH illumination code, layout gamma[9·c + b]; the ambient offset is added by effectiveGamma. */
  gamma: ArrayLike<number>;
  /** Pinhole intrinsics of `image`, px (see sdk/model/camera.ts). */
  intrinsics: { focalPx: number; cx: number; cy: number };
  /** The crop I, linear RGB. */
  image: LinearImage;
}

/** Energy terms; `photo`, `grad`, `reg` are the unweighted terms, total = photo + w_grad·grad + w_reg·reg. */
export interface RefineEnergy {
  total: number;
  photo: number;
  grad: number;
  reg: number;
  /** |V|: vertices in the (frozen) visible set. */
  visible: number;
}

/** Everything the energy needs besides D; built once by `prepareRefineState`. */
export interface RefineState {
  /** T2 vertex count N. */
  n: number;
  /** (N, 3) coarse positions v^C on T2, mm, model frame. */
  coarse: Float64Array;
  /** (N, 3) albedo on T2, linear RGB. */
  albedo: Float64Array;
  /** (F, 3) T2 triangles, CCW seen from outside. */
  index: Uint32Array;
  /** T2 one-ring CSR (symmetric, no self loops). */
  offsets: Uint32Array;
  neighbors: Uint32Array;
  /** (9) row-major rotation, (3) translation mm. */
  R: Float64Array;
  t: Float64Array;
  /** (27) folded SH coefficients Â_b · γ'_{c,b}, layout [9·c + b]: irradiance E_c(ñ) = Σ_b sh[9c+b] Y_b(ñ). */
  sh: Float64Array;
  focalPx: number;
  cx: number;
  cy: number;
  image: LinearImage;
  weights: RefineWeights;
  /** (N) frozen visibility (1 = in V) and IRLS weights 1/C_i (0 outside V); see `refreshWeights`. */
  visible: Uint8Array;
  invC: Float64Array;
}

/** Per-vertex quantities of pass (a) at some D (all float64, row-major). */
export interface RefineForward {
  /** (N, 3) v = v^C + d, model frame mm. */
  position: Float64Array;
  /** (N, 3) unnormalised one-ring normal m, model frame. */
  m: Float64Array;
  /** (N) ‖m‖. */
  mLen: Float64Array;
  /** (N, 3) unit normal n = m/‖m‖, model frame (0 when ‖m‖ = 0). */
  normal: Float64Array;
  /** (N, 3) camera-frame position p, mm. */
  cam: Float64Array;
  /** (N, 2) image position u, px. */
  uv: Float64Array;
  /** (N, 3) shaded colour c (Eq. 4), linear RGB. */
  color: Float64Array;
  /** (N, 9) image sample [I_rgb, ∂I_rgb/∂u, ∂I_rgb/∂v] at u (bilinear, clamp to edge). */
  sample: Float64Array;
  /** (N) front-facing ∩ inside-image test of this D (not the frozen set). */
  front: Uint8Array;
}

/**
 * Builds the Refine state: remaps positions and albedo T1 → T2 with L, resolves R, folds the
 * Lambert factors and the ambient offset into the SH coefficients, and freezes weights at D = 0.
 * @throws MofaError('BAD_INPUT') on inconsistent sizes.
 */
/** Validates a RefineProblem's sizes (every backend calls this). @throws MofaError('BAD_INPUT'). */
export function checkRefineProblem(problem: RefineProblem): void {
  const n1 = problem.model.t1.vertexCount;
  if (problem.positionT1.length !== 3 * n1 || problem.albedoT1.length !== 3 * n1) {
    throw new MofaError('BAD_INPUT', `positionT1 (${problem.positionT1.length}) and albedoT1 (${problem.albedoT1.length}) must both be (N1, 3) with N1 = ${n1} T1 vertices`);
  }
  checkLinearImage(problem.image);
  if (problem.t.length !== 3) throw new MofaError('BAD_INPUT', `t must have 3 values (mm), got ${problem.t.length}`);
  if (!(problem.intrinsics.focalPx > 0)) throw new MofaError('BAD_INPUT', `intrinsics.focalPx must be > 0, got ${problem.intrinsics.focalPx}`);
}

export function prepareRefineState(problem: RefineProblem, weights: RefineWeights = REFINE_DEFAULTS): RefineState {
  checkRefineProblem(problem);
  const { model } = problem;
  const n = model.t2.vertexCount;
  const coarse = Float64Array.from(remapAttribute(problem.positionT1, 3, model.t2.fromT1));
  const albedo = Float64Array.from(remapAttribute(problem.albedoT1, 3, model.t2.fromT1));
  const state: RefineState = {
    n,
    coarse,
    albedo,
    index: model.t2.index,
    offsets: model.t2.adjacency.offsets,
    neighbors: model.t2.adjacency.neighbors,
    R: resolveRotation(problem.R),
    t: Float64Array.from(problem.t),
    sh: foldedSh(problem.gamma),
    focalPx: problem.intrinsics.focalPx,
    cx: problem.intrinsics.cx,
    cy: problem.intrinsics.cy,
    image: problem.image,
    weights: { ...weights },
    visible: new Uint8Array(n),
    invC: new Float64Array(n),
  };
  refreshWeights(state, new Float64Array(3 * n));
  return state;
}

/** R from 9 row-major values or 3 Euler angles. */
export function resolveRotation(R: ArrayLike<number>): Float64Array {
  if (R.length === 9) return Float64Array.from(R);
  if (R.length === 3) return rotationMatrix(R);
  throw new MofaError('BAD_INPUT', `R must be a row-major 3×3 rotation (9 values) or Euler angles [pitch, yaw, roll] (3 values), got ${R.length}`);
}

/** (27) Â_b · γ'_{c,b} with γ' = effectiveGamma(γ) (the one place the ambient offset is added). */
export function foldedSh(gamma: ArrayLike<number>): Float64Array {
  const g = effectiveGamma(gamma);
  for (let c = 0; c < 3; c++) for (let b = 0; b < 9; b++) g[9 * c + b] *= SH_LAMBERT_FACTORS[b];
  return g;
}

const Y0 = 0.5 / Math.sqrt(Math.PI);
const Y1 = Math.sqrt(3 / (4 * Math.PI));
const Y2A = 0.5 * Math.sqrt(15 / Math.PI);
const Y2B = 0.25 * Math.sqrt(5 / Math.PI);
const Y2C = 0.25 * Math.sqrt(15 / Math.PI);

/** Allocates the pass-(a) buffers for N vertices. */
export function allocForward(n: number): RefineForward {
  return {
    position: new Float64Array(3 * n), m: new Float64Array(3 * n), mLen: new Float64Array(n),
    normal: new Float64Array(3 * n), cam: new Float64Array(3 * n), uv: new Float64Array(2 * n),
    color: new Float64Array(3 * n), sample: new Float64Array(9 * n), front: new Uint8Array(n),
  };
}

/**
 * Pass (a): positions, one-ring normals, camera positions, projections, shaded colours (Eq. 4, 5)
 * and image samples for every vertex at displacement D.
 * @param D (N, 3) displacements, mm, model frame.
 */
export function refineForward(state: RefineState, D: ArrayLike<number>, out: RefineForward = allocForward(state.n)): RefineForward {
  const { n, coarse, albedo, index, R, t, sh, focalPx: f, cx, cy, image } = state;
  if (D.length !== 3 * n) throw new MofaError('BAD_INPUT', `D has ${D.length} values, expected (N, 3) = ${3 * n}`);
  const { position: v, m, mLen, normal, cam, uv, color, sample, front } = out;
  for (let k = 0; k < 3 * n; k++) v[k] = coarse[k] + D[k];
  m.fill(0);
  for (let f3 = 0; f3 < index.length; f3 += 3) {
    const a = 3 * index[f3], b = 3 * index[f3 + 1], c = 3 * index[f3 + 2];
    const ux = v[b] - v[a], uy = v[b + 1] - v[a + 1], uz = v[b + 2] - v[a + 2];
    const wx = v[c] - v[a], wy = v[c + 1] - v[a + 1], wz = v[c + 2] - v[a + 2];
    const nx = uy * wz - uz * wy, ny = uz * wx - ux * wz, nz = ux * wy - uy * wx;
    m[a] += nx; m[a + 1] += ny; m[a + 2] += nz;
    m[b] += nx; m[b + 1] += ny; m[b + 2] += nz;
    m[c] += nx; m[c + 1] += ny; m[c + 2] += nz;
  }
  const W = image.width, H = image.height;
  for (let i = 0; i < n; i++) {
    const i3 = 3 * i;
    const len = Math.hypot(m[i3], m[i3 + 1], m[i3 + 2]);
    mLen[i] = len;
    const inv = len > 0 ? 1 / len : 0;
    const nx = m[i3] * inv, ny = m[i3 + 1] * inv, nz = m[i3 + 2] * inv;
    normal[i3] = nx; normal[i3 + 1] = ny; normal[i3 + 2] = nz;
    const x = v[i3], y = v[i3 + 1], z = v[i3 + 2];
    const px = R[0] * x + R[1] * y + R[2] * z + t[0];
    const py = R[3] * x + R[4] * y + R[5] * z + t[1];
    const pz = R[6] * x + R[7] * y + R[8] * z + t[2];
    cam[i3] = px; cam[i3 + 1] = py; cam[i3 + 2] = pz;
    const d = -pz;
    const u = cx + (f * px) / d, w = cy - (f * py) / d;
    uv[2 * i] = u; uv[2 * i + 1] = w;
    // ñ = R n (camera frame) and the SH irradiance per channel (Eq. 4).
    const qx = R[0] * nx + R[1] * ny + R[2] * nz;
    const qy = R[3] * nx + R[4] * ny + R[5] * nz;
    const qz = R[6] * nx + R[7] * ny + R[8] * nz;
    const y1 = Y1 * qy, y2 = Y1 * qz, y3 = Y1 * qx;
    const y4 = Y2A * qx * qy, y5 = Y2A * qy * qz, y6 = Y2B * (3 * qz * qz - 1), y7 = Y2A * qx * qz, y8 = Y2C * (qx * qx - qy * qy);
    for (let c = 0; c < 3; c++) {
      const o = 9 * c;
      const e = sh[o] * Y0 + sh[o + 1] * y1 + sh[o + 2] * y2 + sh[o + 3] * y3 + sh[o + 4] * y4
        + sh[o + 5] * y5 + sh[o + 6] * y6 + sh[o + 7] * y7 + sh[o + 8] * y8;
      color[i3 + c] = albedo[i3 + c] * e;
    }
    sampleBilinear(image, u, w, sample, 9 * i);
    const facing = qx * px + qy * py + qz * pz < 0;
    front[i] = len > 0 && d > 0 && facing && u >= 0 && u < W && w >= 0 && w < H ? 1 : 0;
  }
  return out;
}

/**
 * Freezes, for the coming iteration, the visible set V and the IRLS weights 1/C_i
 * (C_i = max(‖I(u_i) − c_i‖, IRLS_FLOOR), Eq. 11) at displacement D. Writes state.visible / state.invC.
 * @returns the number of visible vertices.
 */
export function refreshWeights(state: RefineState, D: ArrayLike<number>, fwd: RefineForward = refineForward(state, D)): number {
  const { n, visible, invC } = state;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (fwd.front[i]) {
      const r0 = fwd.sample[9 * i] - fwd.color[3 * i];
      const r1 = fwd.sample[9 * i + 1] - fwd.color[3 * i + 1];
      const r2 = fwd.sample[9 * i + 2] - fwd.color[3 * i + 2];
      visible[i] = 1;
      invC[i] = 1 / Math.max(Math.hypot(r0, r1, r2), IRLS_FLOOR);
      count++;
    } else {
      visible[i] = 0;
      invC[i] = 0;
    }
  }
  return count;
}

/** The Laplacian L_i = Σ_{j∈N_i} (d_i − d_j) = deg_i d_i − Σ_j d_j of Eq. (22), (N, 3). */
export function displacementLaplacian(state: Pick<RefineState, 'n' | 'offsets' | 'neighbors'>, D: ArrayLike<number>, out = new Float64Array(3 * state.n)): Float64Array {
  const { n, offsets, neighbors } = state;
  for (let i = 0; i < n; i++) {
    const s = offsets[i], e = offsets[i + 1];
    const deg = e - s;
    let lx = deg * D[3 * i], ly = deg * D[3 * i + 1], lz = deg * D[3 * i + 2];
    for (let k = s; k < e; k++) {
      const j = 3 * neighbors[k];
      lx -= D[j]; ly -= D[j + 1]; lz -= D[j + 2];
    }
    out[3 * i] = lx; out[3 * i + 1] = ly; out[3 * i + 2] = lz;
  }
  return out;
}

/**
 * Eq. (19)–(22) at D with the frozen V and 1/C_i (see module comment).
 * @param D (N, 3) displacements, mm, model frame.
 */
export function refineEnergy(state: RefineState, D: ArrayLike<number>, fwd: RefineForward = refineForward(state, D)): RefineEnergy {
  const { n, offsets, neighbors, visible, invC, weights } = state;
  const { color, sample } = fwd;
  let photo = 0, grad = 0, reg = 0, count = 0;
  for (let i = 0; i < n; i++) {
    if (!visible[i]) continue;
    count++;
    const i3 = 3 * i, i9 = 9 * i;
    const r0 = sample[i9] - color[i3], r1 = sample[i9 + 1] - color[i3 + 1], r2 = sample[i9 + 2] - color[i3 + 2];
    photo += invC[i] * (r0 * r0 + r1 * r1 + r2 * r2);
    for (let k = offsets[i]; k < offsets[i + 1]; k++) {
      const j = neighbors[k], j3 = 3 * j, j9 = 9 * j;
      for (let c = 0; c < 3; c++) {
        const e = (color[i3 + c] - color[j3 + c]) - (sample[i9 + c] - sample[j9 + c]);
        grad += e * e;
      }
    }
  }
  const L = displacementLaplacian(state, D);
  for (let k = 0; k < L.length; k++) reg += L[k] * L[k];
  photo /= n; grad /= n; reg /= n;
  return { total: photo + weights.wGrad * grad + weights.wReg * reg, photo, grad, reg, visible: count };
}

/**
 * Exact gradient ∂E/∂D of `refineEnergy` (frozen V and 1/C_i), passes (a)–(d) of the design.
 * @param out (N, 3) receives ∂E/∂d_i (per mm).
 * @returns the energy at D (computed on the way).
 */
export function refineGradient(state: RefineState, D: ArrayLike<number>, out: Float64Array, fwd: RefineForward = refineForward(state, D)): RefineEnergy {
  const { n, offsets, neighbors, visible, invC, index, R, sh, albedo, focalPx: f, weights } = state;
  if (out.length !== 3 * n) throw new MofaError('BAD_INPUT', `gradient buffer has ${out.length} values, expected ${3 * n}`);
  const { position: v, mLen, normal, cam, color, sample } = fwd;
  const energy = refineEnergy(state, D, fwd);
  const twoOverN = 2 / n;
  // (b) ∂E/∂c and ∂E/∂I per vertex.
  const dC = new Float64Array(3 * n);
  const dI = new Float64Array(3 * n);
  for (let k = 0; k < n; k++) {
    const k3 = 3 * k, k9 = 9 * k;
    const vk = visible[k];
    for (let c = 0; c < 3; c++) {
      const sk = color[k3 + c] - sample[k9 + c];
      let gs = 0;
      for (let q = offsets[k]; q < offsets[k + 1]; q++) {
        const j = neighbors[q];
        const mult = vk + visible[j];
        if (mult) gs += mult * (sk - (color[3 * j + c] - sample[9 * j + c]));
      }
      gs *= twoOverN * weights.wGrad;
      // photo: r = I − c, ∂(w r²)/∂c = −2 w r, ∂/∂I = +2 w r.
      const gp = vk ? -twoOverN * invC[k] * sk : 0; // = (2/N) w r
      dC[k3 + c] = gs - gp;
      dI[k3 + c] = -gs + gp;
    }
  }
  out.fill(0);
  // (b) → ∂E/∂m (model frame) through the SH shading; and the direct ∂E/∂u term.
  const dM = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const i3 = 3 * i, i9 = 9 * i;
    if (mLen[i] > 0) {
      const nx = normal[i3], ny = normal[i3 + 1], nz = normal[i3 + 2];
      const qx = R[0] * nx + R[1] * ny + R[2] * nz;
      const qy = R[3] * nx + R[4] * ny + R[5] * nz;
      const qz = R[6] * nx + R[7] * ny + R[8] * nz;
      // h_b = Σ_c ∂E/∂c_ic · r_ic · sh_cb, then ∂E/∂ñ = Σ_b h_b ∇Y_b(ñ).
      const h = [0, 0, 0, 0, 0, 0, 0, 0, 0];
      for (let c = 0; c < 3; c++) {
        const a = dC[i3 + c] * albedo[i3 + c];
        for (let b = 1; b < 9; b++) h[b] += a * sh[9 * c + b];
      }
      const gx = Y1 * h[3] + Y2A * (h[4] * qy + h[7] * qz) + 2 * Y2C * h[8] * qx;
      const gy = Y1 * h[1] + Y2A * (h[4] * qx + h[5] * qz) - 2 * Y2C * h[8] * qy;
      const gz = Y1 * h[2] + Y2A * (h[5] * qy + h[7] * qx) + 6 * Y2B * h[6] * qz;
      // ∂E/∂n = Rᵀ ∂E/∂ñ; ∂E/∂m = (g − n (n·g)) / ‖m‖.
      const ex = R[0] * gx + R[3] * gy + R[6] * gz;
      const ey = R[1] * gx + R[4] * gy + R[7] * gz;
      const ez = R[2] * gx + R[5] * gy + R[8] * gz;
      const dot = nx * ex + ny * ey + nz * ez;
      const inv = 1 / mLen[i];
      dM[i3] = (ex - nx * dot) * inv;
      dM[i3 + 1] = (ey - ny * dot) * inv;
      dM[i3 + 2] = (ez - nz * dot) * inv;
    }
    // ∂E/∂u = Σ_c ∂E/∂I_c ∇I_c; Π': u = cx + f x/d, v = cy − f y/d, d = −z.
    const gu = dI[i3] * sample[i9 + 3] + dI[i3 + 1] * sample[i9 + 4] + dI[i3 + 2] * sample[i9 + 5];
    const gv = dI[i3] * sample[i9 + 6] + dI[i3 + 1] * sample[i9 + 7] + dI[i3 + 2] * sample[i9 + 8];
    if (gu !== 0 || gv !== 0) {
      const px = cam[i3], py = cam[i3 + 1], d = -cam[i3 + 2];
      const fd = f / d;
      const dpx = gu * fd, dpy = -gv * fd, dpz = (gu * px - gv * py) * fd / d;
      out[i3] += R[0] * dpx + R[3] * dpy + R[6] * dpz;
      out[i3 + 1] += R[1] * dpx + R[4] * dpy + R[7] * dpz;
      out[i3 + 2] += R[2] * dpx + R[5] * dpy + R[8] * dpz;
    }
  }
  // (c) face pass: m_a, m_b, m_c all receive M = (v_b − v_a) × (v_c − v_a).
  for (let f3 = 0; f3 < index.length; f3 += 3) {
    const a = 3 * index[f3], b = 3 * index[f3 + 1], c = 3 * index[f3 + 2];
    const gx = dM[a] + dM[b] + dM[c], gy = dM[a + 1] + dM[b + 1] + dM[c + 1], gz = dM[a + 2] + dM[b + 2] + dM[c + 2];
    if (gx === 0 && gy === 0 && gz === 0) continue;
    const e1x = v[b] - v[a], e1y = v[b + 1] - v[a + 1], e1z = v[b + 2] - v[a + 2];
    const e2x = v[c] - v[a], e2y = v[c + 1] - v[a + 1], e2z = v[c + 2] - v[a + 2];
    // ∂(g·(e1×e2))/∂e1 = e2 × g, ∂/∂e2 = g × e1.
    const bx = e2y * gz - e2z * gy, by = e2z * gx - e2x * gz, bz = e2x * gy - e2y * gx;
    const cx_ = gy * e1z - gz * e1y, cy_ = gz * e1x - gx * e1z, cz_ = gx * e1y - gy * e1x;
    out[b] += bx; out[b + 1] += by; out[b + 2] += bz;
    out[c] += cx_; out[c + 1] += cy_; out[c + 2] += cz_;
    out[a] -= bx + cx_; out[a + 1] -= by + cy_; out[a + 2] -= bz + cz_;
  }
  // (d) regulariser: (2 w_reg / N)(deg_k L_k − Σ_{i∈N_k} L_i).
  const L = displacementLaplacian(state, D);
  const sr = twoOverN * weights.wReg;
  for (let k = 0; k < n; k++) {
    const s = offsets[k], e = offsets[k + 1];
    const deg = e - s;
    let gx = deg * L[3 * k], gy = deg * L[3 * k + 1], gz = deg * L[3 * k + 2];
    for (let q = s; q < e; q++) {
      const j = 3 * neighbors[q];
      gx -= L[j]; gy -= L[j + 1]; gz -= L[j + 2];
    }
    out[3 * k] += sr * gx; out[3 * k + 1] += sr * gy; out[3 * k + 2] += sr * gz;
  }
  return energy;
}

/** Result of a Refine run (every backend). */
export interface RefineRunResult {
  /** (N, 3) refined T2 positions v^C + D, model frame mm. */
  positions: Float32Array;
  /** (N, 3) unit one-ring normals of the refined mesh, model frame. */
  normals: Float32Array;
  /** (N, 3) the displacements D, mm. */
  displacements: Float32Array;
  /**
   * (iterations + 1) total energy E at the start of iteration k (weights refreshed at that D),
   * the last entry after the final update; NaN where a backend did not evaluate it.
   */
  energies: Float64Array;
  /** Wall time of the optimisation, ms. */
  ms: number;
}

/**
 * Gradient descent of the paper (Sec. 9.2 "Optimization"): D ← D − step · ∇E, with the
 * visibility and IRLS weights refreshed from the current D at the start of every iteration.
 * Starts from D = 0.
 */
export function runRefineReference(problem: RefineProblem, options: Partial<RefineOptions> = {}): RefineRunResult {
  const opts: RefineOptions = { ...REFINE_DEFAULTS, ...options };
  checkRefineOptions(opts);
  const t0 = performance.now();
  const state = prepareRefineState(problem, opts);
  const n = state.n;
  const D = new Float64Array(3 * n);
  const g = new Float64Array(3 * n);
  const fwd = allocForward(n);
  const energies = new Float64Array(opts.iterations + 1);
  for (let it = 0; it <= opts.iterations; it++) {
    refineForward(state, D, fwd);
    refreshWeights(state, D, fwd);
    if (it === opts.iterations) {
      energies[it] = refineEnergy(state, D, fwd).total;
      break;
    }
    const e = refineGradient(state, D, g, fwd);
    energies[it] = e.total;
    opts.onIteration?.(it, e);
    for (let k = 0; k < 3 * n; k++) D[k] -= opts.step * g[k];
  }
  const positions = new Float32Array(3 * n);
  const normals = new Float32Array(3 * n);
  for (let k = 0; k < 3 * n; k++) { positions[k] = fwd.position[k]; normals[k] = fwd.normal[k]; }
  return { positions, normals, displacements: Float32Array.from(D), energies, ms: performance.now() - t0 };
}

/** @throws MofaError('BAD_INPUT') unless iterations is a non-negative integer and step, wGrad, wReg are finite ≥ 0. */
export function checkRefineOptions(o: RefineOptions): void {
  if (!(Number.isInteger(o.iterations) && o.iterations >= 0)) throw new MofaError('BAD_INPUT', `iterations must be a non-negative integer, got ${o.iterations}`);
  for (const k of ['step', 'wGrad', 'wReg'] as const) {
    if (!(Number.isFinite(o[k]) && o[k] >= 0)) throw new MofaError('BAD_INPUT', `${k} must be a finite number ≥ 0, got ${o[k]}`);
  }
}
