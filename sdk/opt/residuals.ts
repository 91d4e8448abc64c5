/**
 * Residuals F and Jacobian J of the Opt energy (paper Sec. 6, 7, 9.1; spec docs/design/opt.md),
 * the plain-TypeScript reference every backend is tested against.
 *
 *   E(x) = FᵀF = w_photo E_photo + w_land E_land + w_reg E_reg                   (Eq. 7, 16)
 *
 * Row order of F (M rows):
 *   1. photometric: 3 rows (R, G, B) per used vertex i ∈ P, P ascending      (Eq. 11, 13)
 *   2. landmarks:   2 rows (x, y) per landmark j, in the order of the targets (Eq. 9)
 *   3. regulariser: α (80), β (80), δ (64)                                   (Eq. 10)
 * Columns of J: the 257 entries of the code (sdk/model/code-layout.ts); J is stored row-major
 * with stride CODE_DIM.
 *
 * Stages, one function each, in the order a Gauss-Newton iteration calls them:
 *   decodeGeometry → sampleVertices → visibleVertices → selectPhotometricVertices →
 *   irlsScales → photometricRows / landmarkRows / regularizerRows → accumulateNormalEquations.
 *
 * Frames and units: model frame mm (+x subject's left, +y up, +z out of the face); camera frame
 * mm (p = R v + t, camera looks down −z); image frame px (top-left origin, +y down, pixel
 * centres at +0.5); colours linear RGB 0..1.
 */
import { MofaError } from '../errors.js';
import { CODE_DIM, CODE_OFFSET, CODE_SIZE, checkCodeLength } from '../model/code-layout.js';
import { project, rotationMatrix, toCamera, type Mat3 } from '../model/camera.js';
import { computeShape } from '../model/decode.js';
import { computeNormals } from '../model/normals.js';
import { effectiveGamma, SH_COEFFS, SH_LAMBERT_FACTORS, shBasis } from '../model/shading.js';
import { rasterize } from '../render/rasterize.js';
import type { EnergyTerms, OptProblem } from './backend.js';
import { checkLinearImage, insideImage, sampleBilinear } from './image.js';
import { mulberry32 } from '../util/random.js';

const OA = CODE_OFFSET.alpha, OD = CODE_OFFSET.delta, OB = CODE_OFFSET.beta;
const OR = CODE_OFFSET.rotation, OT = CODE_OFFSET.translation, OG = CODE_OFFSET.gamma;
const KA = CODE_SIZE.alpha, KD = CODE_SIZE.delta, KB = CODE_SIZE.beta;

/**
 * Lower bound of the IRLS normaliser C_i (Eq. 11), linear RGB units: residuals smaller than
 * this are weighted as if they were this large (the ℓ2,1 loss becomes quadratic near 0 —
 * a Huber-like loss — instead of giving near-perfect vertices unbounded weight).
 */
export const IRLS_MIN_RESIDUAL = 0.02;
/** Tolerance of the 'zbuffer' visibility test, mm: a vertex is occluded when it lies more than this behind the rasterised surface. */
export const ZBUFFER_TOLERANCE_MM = 1.5;

// ---------------------------------------------------------------------------------------------
// Problem validation

/**
 * Checks an OptProblem against the code layout and itself.
 * @throws MofaError('BAD_INPUT') naming the offending field.
 */
export function checkOptProblem(problem: OptProblem): void {
  const { model, image, intrinsics, landmarks, weights } = problem;
  if (model.shapeDim !== KA || model.expressionDim !== KD || model.albedoDim !== KB) {
    throw new MofaError('BAD_INPUT', `the face model has (shape, expression, albedo) dims (${model.shapeDim}, ${model.expressionDim}, ${model.albedoDim}) but the code layout needs (${KA}, ${KD}, ${KB})`);
  }
  checkLinearImage(image);
  if (!(intrinsics.focalPx > 0 && Number.isFinite(intrinsics.focalPx) && Number.isFinite(intrinsics.cx) && Number.isFinite(intrinsics.cy))) {
    throw new MofaError('BAD_INPUT', `intrinsics must have a finite focalPx > 0 and finite cx, cy; got ${JSON.stringify(intrinsics)}`);
  }
  for (const [k, v] of Object.entries(weights)) {
    if (!(v >= 0 && Number.isFinite(v))) throw new MofaError('BAD_INPUT', `weight '${k}' must be a finite number ≥ 0, got ${v}`);
  }
  if (problem.visibility !== 'front-facing' && problem.visibility !== 'zbuffer') {
    throw new MofaError('BAD_INPUT', `visibility must be 'front-facing' or 'zbuffer', got '${String(problem.visibility)}'`);
  }
  if (!(Number.isInteger(problem.sampleCount) && problem.sampleCount >= 0)) {
    throw new MofaError('BAD_INPUT', `sampleCount must be an integer ≥ 0 (0 = all front-face vertices), got ${problem.sampleCount}`);
  }
  if (!Number.isInteger(problem.seed)) throw new MofaError('BAD_INPUT', `seed must be an integer, got ${problem.seed}`);
  if (landmarks) {
    const L = landmarks.vertex.length;
    if (landmarks.position.length !== 2 * L || landmarks.confidence.length !== L) {
      throw new MofaError('BAD_INPUT', `landmarks: ${L} vertices but ${landmarks.position.length} position values (expected ${2 * L}) and ${landmarks.confidence.length} confidences (expected ${L})`);
    }
    const n = model.t1.vertexCount;
    for (let j = 0; j < L; j++) {
      if (landmarks.vertex[j] >= n) throw new MofaError('BAD_INPUT', `landmark ${j} refers to vertex ${landmarks.vertex[j]} but T1 has ${n} vertices`);
      const c = landmarks.confidence[j];
      if (!(c >= 0 && c <= 1)) throw new MofaError('BAD_INPUT', `landmark ${j} has confidence ${c}; expected 0..1`);
      if (!Number.isFinite(landmarks.position[2 * j]) || !Number.isFinite(landmarks.position[2 * j + 1])) {
        throw new MofaError('BAD_INPUT', `landmark ${j} has a non-finite position; drop it or give it confidence 0 with a finite position`);
      }
    }
  }
}

/** @throws MofaError('BAD_INPUT') unless x has 257 finite entries. */
export function checkCode(x: ArrayLike<number>): void {
  checkCodeLength(x);
  for (let k = 0; k < CODE_DIM; k++) {
    if (!Number.isFinite(x[k])) throw new MofaError('BAD_INPUT', `code entry x[${k}] is ${x[k]}; every entry must be finite`);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoder (Eq. 2, 5) and rotation derivatives

/**
 * ∂R/∂pitch, ∂R/∂yaw, ∂R/∂roll of R = Rz(roll)·Ry(yaw)·Rx(pitch) (camera.ts), row-major 3×3.
 * @param euler [pitch, yaw, roll], radians.
 */
export function rotationDerivatives(euler: ArrayLike<number>): [Mat3, Mat3, Mat3] {
  const cx = Math.cos(euler[0]), sx = Math.sin(euler[0]);
  const cy = Math.cos(euler[1]), sy = Math.sin(euler[1]);
  const cz = Math.cos(euler[2]), sz = Math.sin(euler[2]);
  const Rx = Float64Array.of(1, 0, 0, 0, cx, -sx, 0, sx, cx);
  const Ry = Float64Array.of(cy, 0, sy, 0, 1, 0, -sy, 0, cy);
  const Rz = Float64Array.of(cz, -sz, 0, sz, cz, 0, 0, 0, 1);
  const dRx = Float64Array.of(0, 0, 0, 0, -sx, -cx, 0, cx, -sx);
  const dRy = Float64Array.of(-sy, 0, cy, 0, 0, 0, -cy, 0, -sy);
  const dRz = Float64Array.of(-sz, -cz, 0, cz, -sz, 0, 0, 0, 0);
  return [mul3(mul3(Rz, Ry), dRx), mul3(mul3(Rz, dRy), Rx), mul3(mul3(dRz, Ry), Rx)];
}

function mul3(a: Float64Array, b: Float64Array): Float64Array {
  const o = new Float64Array(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) o[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c];
  return o;
}

/** The code-dependent quantities shared by every vertex (one decode per code x). */
export interface DecodedGeometry {
  /** (257) the code these were computed from (a copy). */
  x: Float64Array;
  /** (N, 3) vertex positions V(α, δ), mm, model frame (Eq. 2, computeShape). */
  position: Float32Array;
  /** (N, 3) unit one-ring normals of `position` (or the frozen normals passed in), model frame. */
  normal: Float32Array;
  /** Row-major rotation R of Φ and its three Euler derivatives ∂R/∂θ_m. */
  R: Mat3;
  dR: [Mat3, Mat3, Mat3];
  /** (3) translation t, mm, camera frame. */
  t: Float64Array;
  /** (27) γ' · Â: effective SH coefficients (ambient offset added, shading.ts) times the Lambertian factors, so irradiance_c = Σ_b shade[9c+b]·Y_b(n). */
  shadeCoeffs: Float64Array;
}

/**
 * Decodes the geometry part of x: shape (Eq. 2), normals, rotation, translation, SH coefficients.
 * @param x (257) code vector (finite).
 * @param frozenNormal optional (N, 3) model-frame normals to use instead of recomputing them
 *   from the shape (the Jacobian treats normals as constant w.r.t. α, δ; tests use this to
 *   build the matching finite differences).
 */
export function decodeGeometry(problem: Pick<OptProblem, 'model'>, x: Float64Array, frozenNormal?: Float32Array): DecodedGeometry {
  const { model } = problem;
  const position = computeShape(model, x.subarray(OA, OA + KA), x.subarray(OD, OD + KD));
  const normal = frozenNormal ?? computeNormals(position, model.t1.index);
  const euler = x.subarray(OR, OR + 3);
  const g = effectiveGamma(x.subarray(OG, OG + 27));
  for (let c = 0; c < 3; c++) for (let b = 0; b < SH_COEFFS; b++) g[SH_COEFFS * c + b] *= SH_LAMBERT_FACTORS[b];
  return {
    x: Float64Array.from(x),
    position,
    normal,
    R: rotationMatrix(euler),
    dR: rotationDerivatives(euler),
    t: Float64Array.from(x.subarray(OT, OT + 3)),
    shadeCoeffs: g,
  };
}

/**
 * Per-vertex forward model of Eq. (5) plus what the Jacobian needs, for one vertex i.
 * All fields are overwritten by `vertexForward`.
 */
export class VertexState {
  /** p = R v + t, mm, camera frame. */
  readonly p = new Float64Array(3);
  /** Depth −p_z, mm (> 0 in front of the camera). */
  depth = 0;
  /** Projection u = Π(p), px (Eq. 5). */
  u = 0;
  v = 0;
  /** ∂u/∂p and ∂v/∂p (each 3), px / mm. */
  readonly dudp = new Float64Array(3);
  readonly dvdp = new Float64Array(3);
  /** Camera-frame unit normal R n. */
  readonly nc = new Float64Array(3);
  /** SH basis Y_b(R n), b = 0..8. */
  readonly Y = new Float64Array(9);
  /** Albedo r (linear RGB), irradiance per channel, colour c = r ⊙ irradiance (Eq. 4). */
  readonly albedo = new Float64Array(3);
  readonly irradiance = new Float64Array(3);
  readonly color = new Float64Array(3);
  /** Image sample [I(3), ∂I/∂u(3), ∂I/∂v(3)] at (u, v) (image.ts). */
  readonly image = new Float64Array(9);
  /** Photometric residual e = c − I(u) per channel. */
  readonly e = new Float64Array(3);
}

/**
 * Evaluates vertex i: Φ, Π (Eq. 5), albedo (Eq. 3), shading (Eq. 4) and the image sample.
 * @param sample whether to sample the image (skip for visibility-only passes).
 * @returns false if the vertex is not in front of the camera (depth ≤ 0; u, c then undefined).
 */
export function vertexForward(problem: OptProblem, geo: DecodedGeometry, i: number, s: VertexState, sample = true): boolean {
  const { model, intrinsics } = problem;
  const R = geo.R, t = geo.t, pos = geo.position, nrm = geo.normal;
  const vx = pos[3 * i], vy = pos[3 * i + 1], vz = pos[3 * i + 2];
  const px = R[0] * vx + R[1] * vy + R[2] * vz + t[0];
  const py = R[3] * vx + R[4] * vy + R[5] * vz + t[1];
  const pz = R[6] * vx + R[7] * vy + R[8] * vz + t[2];
  s.p[0] = px; s.p[1] = py; s.p[2] = pz;
  const d = -pz;
  s.depth = d;
  if (!(d > 0)) return false;
  // Eq. (5), Π: u = cx + f p_x/(−p_z), v = cy − f p_y/(−p_z).
  const fd = intrinsics.focalPx / d;
  s.u = intrinsics.cx + fd * px;
  s.v = intrinsics.cy - fd * py;
  // ∂u/∂p = f/d · [1, 0, p_x/d],  ∂v/∂p = f/d · [0, −1, −p_y/d].
  s.dudp[0] = fd; s.dudp[1] = 0; s.dudp[2] = (fd * px) / d;
  s.dvdp[0] = 0; s.dvdp[1] = -fd; s.dvdp[2] = (-fd * py) / d;
  const nx = nrm[3 * i], ny = nrm[3 * i + 1], nz = nrm[3 * i + 2];
  s.nc[0] = R[0] * nx + R[1] * ny + R[2] * nz;
  s.nc[1] = R[3] * nx + R[4] * ny + R[5] * nz;
  s.nc[2] = R[6] * nx + R[7] * ny + R[8] * nz;
  if (!sample) return true;
  shBasis(s.nc[0], s.nc[1], s.nc[2], s.Y);
  // Eq. (3): r_i = A_r,i + E_r,i β.
  const beta = geo.x, Er = model.albedoBasis, Ar = model.albedoMean;
  for (let c = 0; c < 3; c++) {
    const row = (3 * i + c) * KB;
    let r = Ar[3 * i + c];
    for (let k = 0; k < KB; k++) r += Er[row + k] * beta[OB + k];
    s.albedo[c] = r;
    // Eq. (4): c = r · Σ_b γ'_b Â_b Y_b(R n).
    let irr = 0;
    for (let b = 0; b < SH_COEFFS; b++) irr += geo.shadeCoeffs[SH_COEFFS * c + b] * s.Y[b];
    s.irradiance[c] = irr;
    s.color[c] = r * irr;
  }
  sampleBilinear(problem.image, s.u, s.v, s.image);
  for (let c = 0; c < 3; c++) s.e[c] = s.color[c] - s.image[c];
  return true;
}

// ---------------------------------------------------------------------------------------------
// Vertex selection: sampling (Sec. 7), visibility (Sec. 6), IRLS (Eq. 11)


/**
 * Stochastic vertex sample S ⊆ candidates of Sec. 7 (Eq. 13), deterministic in (seed, iteration)
 * so that every backend uses the same sample: a partial Fisher–Yates shuffle of a copy of
 * `candidates` driven by mulberry32 with state (seed XOR imul(iteration + 1, 0x9E3779B9)),
 * swap position k with k + ⌊rng()·(n − k)⌋ for k = 0..count−1, then the first `count` entries
 * sorted ascending.
 * @param candidates vertex indices to sample from (the model's front face).
 * @param count sample size; 0 or ≥ candidates.length returns all candidates (sorted copy).
 * @returns ascending vertex indices, length min(count, n) (or n).
 */
export function sampleVertices(candidates: Uint32Array, count: number, seed: number, iteration: number): Uint32Array {
  const n = candidates.length;
  const all = Uint32Array.from(candidates);
  if (count === 0 || count >= n) return all.sort();
  const rng = mulberry32((seed ^ Math.imul(iteration + 1, 0x9e3779b9)) >>> 0);
  for (let k = 0; k < count; k++) {
    const j = k + Math.floor(rng() * (n - k));
    const tmp = all[k]; all[k] = all[j]; all[j] = tmp;
  }
  return all.subarray(0, count).sort();
}

/**
 * Visible-vertex test for the photometric term (Sec. 6: "we iterate over all visible vertices,
 * which we approximate as the set of front facing vertices").
 * - 'front-facing': (R n_i) · p_i < 0, i.e. the camera-frame normal points toward the camera
 *   centre; and depth > 0.
 * - 'zbuffer': additionally, the vertex is not more than ZBUFFER_TOLERANCE_MM behind the
 *   z-buffer of the whole T1 mesh rasterised at the image size (sdk/render/rasterize.ts), read
 *   at the pixel containing u_i; pixels the mesh does not cover do not occlude.
 * @param candidates vertex indices to test.
 * @returns (candidates.length) 1 = visible, 0 = not.
 */
export function visibleVertices(problem: OptProblem, geo: DecodedGeometry, candidates: Uint32Array): Uint8Array {
  const out = new Uint8Array(candidates.length);
  const s = new VertexState();
  let zbuf: Float32Array | null = null;
  if (problem.visibility === 'zbuffer') {
    const { width, height } = problem.image;
    const cam = toCamera(geo.position, geo.R, geo.t);
    const { screen, depth } = project(cam, { ...problem.intrinsics, width, height });
    zbuf = rasterize({ width, height, screen, depth, index: problem.model.t1.index }).depth;
  }
  for (let k = 0; k < candidates.length; k++) {
    const i = candidates[k];
    if (!vertexForward(problem, geo, i, s, false)) continue;
    if (!(s.nc[0] * s.p[0] + s.nc[1] * s.p[1] + s.nc[2] * s.p[2] < 0)) continue;
    if (zbuf) {
      const { width, height } = problem.image;
      const col = Math.floor(s.u), row = Math.floor(s.v);
      if (col >= 0 && col < width && row >= 0 && row < height && s.depth > zbuf[row * width + col] + ZBUFFER_TOLERANCE_MM) continue;
    }
    out[k] = 1;
  }
  return out;
}

/**
 * The photometric vertex set P of one iteration: sample (Sec. 7) of the model's front face,
 * ∩ visible (`visibleVertices`), ∩ projecting inside the image [0, W) × [0, H).
 * @param iteration Gauss-Newton iteration (selects the sample, see `sampleVertices`).
 * @returns ascending T1 vertex indices.
 */
export function selectPhotometricVertices(problem: OptProblem, geo: DecodedGeometry, iteration: number): Uint32Array {
  const sample = sampleVertices(problem.model.frontFace, problem.sampleCount, problem.seed, iteration);
  const vis = visibleVertices(problem, geo, sample);
  const s = new VertexState();
  const used: number[] = [];
  for (let k = 0; k < sample.length; k++) {
    if (!vis[k]) continue;
    vertexForward(problem, geo, sample[k], s, false);
    if (insideImage(problem.image, s.u, s.v)) used.push(sample[k]);
  }
  return Uint32Array.from(used);
}

/** The photometric rows' fixed data for one Gauss-Newton iteration. */
export interface PhotometricSet {
  /** (|P|) used vertices, ascending. */
  vertex: Uint32Array;
  /** (|P|) row scales s_i = sqrt(w_photo / (|P| · C_i)) (Eq. 11). */
  scale: Float64Array;
}

/**
 * IRLS weights of Eq. (11) at x_old = geo.x: C_i = max(‖c_i − I(u_i)‖₂, IRLS_MIN_RESIDUAL),
 * s_i = sqrt(w_photo / (|P| · C_i)) (|P| replaces the paper's N, as in Eq. 13). Then
 * Σ_ch (s_i e_ch)² = w_photo ‖e_i‖² / (|P| C_i), which equals w_photo ‖e_i‖ / |P| at x_old —
 * the ℓ2,1 loss of Eq. (8) — whenever ‖e_i‖ ≥ IRLS_MIN_RESIDUAL.
 */
export function irlsScales(problem: OptProblem, geo: DecodedGeometry, vertex: Uint32Array): PhotometricSet {
  const scale = new Float64Array(vertex.length);
  const s = new VertexState();
  const n = vertex.length;
  for (let k = 0; k < n; k++) {
    if (!vertexForward(problem, geo, vertex[k], s)) {
      throw new MofaError('INTERNAL', `photometric vertex ${vertex[k]} is behind the camera at the linearisation point; selectPhotometricVertices should have dropped it`);
    }
    const C = Math.max(Math.hypot(s.e[0], s.e[1], s.e[2]), IRLS_MIN_RESIDUAL);
    scale[k] = Math.sqrt(problem.weights.photo / (n * C));
  }
  return { vertex, scale };
}

// ---------------------------------------------------------------------------------------------
// Residual rows and Jacobian rows (Eq. 6, 9–12)

/** Number of rows of F: 3|P| + 2L + 224. */
export function residualCount(problem: OptProblem, set: PhotometricSet): number {
  return 3 * set.vertex.length + 2 * (problem.landmarks?.vertex.length ?? 0) + KA + KB + KD;
}

/**
 * Photometric rows (Eq. 11) of the vertices set.vertex[from..to), and optionally their Jacobian
 * rows (Eq. 6, 12). Row 3(k − from) + ch of F (and of J) is channel ch of vertex set.vertex[k]:
 *   F = s_i (c_i,ch − I_ch(u_i)),
 *   ∂F/∂x = s_i (∂c_i,ch/∂x − ∇I_ch(u_i)·∂u_i/∂x), with
 *   ∂u/∂α = ∂u/∂p R E_s,i, ∂u/∂δ = ∂u/∂p R E_e,i, ∂u/∂θ_m = ∂u/∂p (∂R/∂θ_m) v_i, ∂u/∂t = ∂u/∂p;
 *   ∂c_ch/∂β = irradiance_ch E_r,(i,ch); ∂c_ch/∂γ_(ch,b) = r_ch Â_b Y_b(R n_i);
 *   ∂c_ch/∂θ_m = r_ch Σ_b γ'_(ch,b) Â_b ∇Y_b(R n_i) · (∂R/∂θ_m) n_i;
 *   ∂c/∂α, ∂c/∂δ (through the normals) are dropped: the one documented approximation.
 * @param F receives 3(to − from) values from F[fOffset].
 * @param J null, or receives the matching rows (stride CODE_DIM, row-major) from row
 *   `jRowOffset`; they are fully overwritten (zeros included).
 * @returns Σ F² over these rows, or +Infinity if a vertex went behind the camera (F is then
 *   filled with 0 for it: the energy, not F, signals the failure).
 */
export function photometricRows(
  problem: OptProblem, geo: DecodedGeometry, set: PhotometricSet, from: number, to: number,
  F: Float64Array, fOffset: number, J: Float64Array | null, jRowOffset = 0,
): number {
  const { model } = problem;
  const Es = model.shapeBasis, Ee = model.expressionBasis, Er = model.albedoBasis;
  const R = geo.R, dR = geo.dR, G = geo.shadeCoeffs;
  const s = new VertexState();
  const gI = new Float64Array(3), gm = new Float64Array(9), dRv = new Float64Array(9), dRn = new Float64Array(9);
  const w = new Float64Array(3);
  let sum = 0;
  let finite = true;
  for (let k = from; k < to; k++) {
    const i = set.vertex[k];
    const row0 = fOffset + 3 * (k - from);
    if (!vertexForward(problem, geo, i, s)) {
      F[row0] = F[row0 + 1] = F[row0 + 2] = 0;
      if (J) J.fill(0, (jRowOffset + 3 * (k - from)) * CODE_DIM, (jRowOffset + 3 * (k - from) + 3) * CODE_DIM);
      finite = false;
      continue;
    }
    const sc = set.scale[k];
    for (let c = 0; c < 3; c++) {
      const f = sc * s.e[c];
      F[row0 + c] = f;
      sum += f * f;
    }
    if (!J) continue;
    // Shared per vertex: (∂R/∂θ_m) v_i and (∂R/∂θ_m) n_i, camera frame.
    const vx = geo.position[3 * i], vy = geo.position[3 * i + 1], vz = geo.position[3 * i + 2];
    const nx = geo.normal[3 * i], ny = geo.normal[3 * i + 1], nz = geo.normal[3 * i + 2];
    for (let m = 0; m < 3; m++) {
      const D = dR[m];
      for (let a = 0; a < 3; a++) {
        dRv[3 * m + a] = D[3 * a] * vx + D[3 * a + 1] * vy + D[3 * a + 2] * vz;
        dRn[3 * m + a] = D[3 * a] * nx + D[3 * a + 1] * ny + D[3 * a + 2] * nz;
      }
    }
    const [ncx, ncy, ncz] = s.nc;
    for (let c = 0; c < 3; c++) {
      const r = (jRowOffset + 3 * (k - from) + c) * CODE_DIM;
      J.fill(0, r + OG, r + OG + 27);
      // gI = ∂I_c/∂p = I_u ∂u/∂p + I_v ∂v/∂p (camera frame); gm = Rᵀ gI (model frame).
      const Iu = s.image[3 + c], Iv = s.image[6 + c];
      for (let a = 0; a < 3; a++) gI[a] = Iu * s.dudp[a] + Iv * s.dvdp[a];
      for (let a = 0; a < 3; a++) gm[3 * c + a] = R[a] * gI[0] + R[3 + a] * gI[1] + R[6 + a] * gI[2];
      // w = r_c Σ_b γ'Â_b ∇Y_b(n_c): ∂c_c/∂n_c (see shading.ts for the Y_b polynomials).
      const g = SH_COEFFS * c;
      const C1 = 0.5 * Math.sqrt(3 / Math.PI), C2A = 0.5 * Math.sqrt(15 / Math.PI);
      const C2B = 0.25 * Math.sqrt(5 / Math.PI), C2C = 0.25 * Math.sqrt(15 / Math.PI);
      w[0] = G[g + 3] * C1 + G[g + 4] * C2A * ncy + G[g + 7] * C2A * ncz + G[g + 8] * 2 * C2C * ncx;
      w[1] = G[g + 1] * C1 + G[g + 4] * C2A * ncx + G[g + 5] * C2A * ncz - G[g + 8] * 2 * C2C * ncy;
      w[2] = G[g + 2] * C1 + G[g + 5] * C2A * ncy + G[g + 6] * 6 * C2B * ncz + G[g + 7] * C2A * ncx;
      const alb = s.albedo[c];
      for (let m = 0; m < 3; m++) {
        const geom = -(gI[0] * dRv[3 * m] + gI[1] * dRv[3 * m + 1] + gI[2] * dRv[3 * m + 2]);
        const shad = alb * (w[0] * dRn[3 * m] + w[1] * dRn[3 * m + 1] + w[2] * dRn[3 * m + 2]);
        J[r + OR + m] = sc * (geom + shad);
      }
      for (let a = 0; a < 3; a++) J[r + OT + a] = -sc * gI[a];
      // β: only the albedo row of this channel depends on β.
      const irr = sc * s.irradiance[c];
      const er = (3 * i + c) * KB;
      for (let kk = 0; kk < KB; kk++) J[r + OB + kk] = irr * Er[er + kk];
      // γ: only this channel's nine coefficients.
      for (let b = 0; b < SH_COEFFS; b++) J[r + OG + g + b] = sc * alb * SH_LAMBERT_FACTORS[b] * s.Y[b];
    }
    // α, δ: −s (Rᵀ gI) · E_i[:, k], three channels at once.
    const r0 = (jRowOffset + 3 * (k - from)) * CODE_DIM;
    const ra = 3 * i * KA, rd = 3 * i * KD;
    const g00 = -sc * gm[0], g01 = -sc * gm[1], g02 = -sc * gm[2];
    const g10 = -sc * gm[3], g11 = -sc * gm[4], g12 = -sc * gm[5];
    const g20 = -sc * gm[6], g21 = -sc * gm[7], g22 = -sc * gm[8];
    for (let kk = 0; kk < KA; kk++) {
      const ex = Es[ra + kk], ey = Es[ra + KA + kk], ez = Es[ra + 2 * KA + kk];
      J[r0 + OA + kk] = g00 * ex + g01 * ey + g02 * ez;
      J[r0 + CODE_DIM + OA + kk] = g10 * ex + g11 * ey + g12 * ez;
      J[r0 + 2 * CODE_DIM + OA + kk] = g20 * ex + g21 * ey + g22 * ez;
    }
    for (let kk = 0; kk < KD; kk++) {
      const ex = Ee[rd + kk], ey = Ee[rd + KD + kk], ez = Ee[rd + 2 * KD + kk];
      J[r0 + OD + kk] = g00 * ex + g01 * ey + g02 * ez;
      J[r0 + CODE_DIM + OD + kk] = g10 * ex + g11 * ey + g12 * ez;
      J[r0 + 2 * CODE_DIM + OD + kk] = g20 * ex + g21 * ey + g22 * ez;
    }
  }
  return finite ? sum : Infinity;
}

/**
 * Landmark rows (Eq. 9): for landmark j with vertex k_j, target s_j (px) and confidence c_j,
 *   F_2j = a_j (u_kj − s_j,x),  F_2j+1 = a_j (v_kj − s_j,y),  a_j = sqrt(w_land · c_j / L),
 * so their sum of squares is w_land · (1/L) Σ_j c_j ‖u_kj − s_j‖² (px²). Jacobian rows:
 * a_j ∂u_kj/∂x with ∂u/∂x as in `photometricRows` (no β, γ dependence).
 * @param F receives 2L values from F[fOffset].
 * @param J null or receives the 2L rows (stride CODE_DIM) from row jRowOffset, fully overwritten.
 * @returns Σ F² over these rows (0 without landmarks), or +Infinity if a landmark vertex is
 *   behind the camera.
 */
export function landmarkRows(
  problem: OptProblem, geo: DecodedGeometry, F: Float64Array, fOffset: number, J: Float64Array | null, jRowOffset = 0,
): number {
  const lm = problem.landmarks;
  if (!lm) return 0;
  const L = lm.vertex.length;
  const { model } = problem;
  const Es = model.shapeBasis, Ee = model.expressionBasis;
  const R = geo.R, dR = geo.dR;
  const s = new VertexState();
  let sum = 0;
  let finite = true;
  for (let j = 0; j < L; j++) {
    const i = lm.vertex[j];
    const f0 = fOffset + 2 * j;
    const r0 = (jRowOffset + 2 * j) * CODE_DIM;
    if (J) J.fill(0, r0, r0 + 2 * CODE_DIM);
    if (!vertexForward(problem, geo, i, s, false)) {
      F[f0] = F[f0 + 1] = 0;
      finite = false;
      continue;
    }
    const a = Math.sqrt((problem.weights.land * lm.confidence[j]) / L);
    const fx = a * (s.u - lm.position[2 * j]);
    const fy = a * (s.v - lm.position[2 * j + 1]);
    F[f0] = fx; F[f0 + 1] = fy;
    sum += fx * fx + fy * fy;
    if (!J) continue;
    const vx = geo.position[3 * i], vy = geo.position[3 * i + 1], vz = geo.position[3 * i + 2];
    for (let q = 0; q < 2; q++) {
      const dp = q === 0 ? s.dudp : s.dvdp;
      const r = r0 + q * CODE_DIM;
      const gx = a * dp[0], gy = a * dp[1], gz = a * dp[2];
      // model-frame gradient Rᵀ (a ∂u/∂p)
      const mx = R[0] * gx + R[3] * gy + R[6] * gz;
      const my = R[1] * gx + R[4] * gy + R[7] * gz;
      const mz = R[2] * gx + R[5] * gy + R[8] * gz;
      const ra = 3 * i * KA, rd = 3 * i * KD;
      for (let kk = 0; kk < KA; kk++) J[r + OA + kk] = mx * Es[ra + kk] + my * Es[ra + KA + kk] + mz * Es[ra + 2 * KA + kk];
      for (let kk = 0; kk < KD; kk++) J[r + OD + kk] = mx * Ee[rd + kk] + my * Ee[rd + KD + kk] + mz * Ee[rd + 2 * KD + kk];
      for (let m = 0; m < 3; m++) {
        const D = dR[m];
        J[r + OR + m] = gx * (D[0] * vx + D[1] * vy + D[2] * vz) + gy * (D[3] * vx + D[4] * vy + D[5] * vz) + gz * (D[6] * vx + D[7] * vy + D[8] * vz);
      }
      J[r + OT] = gx; J[r + OT + 1] = gy; J[r + OT + 2] = gz;
    }
  }
  return finite ? sum : Infinity;
}

/**
 * Regulariser rows (Eq. 10): sqrt(w_reg) α_k (80), sqrt(w_reg w_β) β_k (80),
 * sqrt(w_reg w_δ) δ_k (64). Pose and illumination are not regularised. J rows are constant
 * one-hot rows with the same factors.
 * @returns Σ F² = w_reg (Σα² + w_β Σβ² + w_δ Σδ²).
 */
export function regularizerRows(problem: OptProblem, x: Float64Array, F: Float64Array, fOffset: number, J: Float64Array | null, jRowOffset = 0): number {
  const { reg, beta, delta } = problem.weights;
  const blocks: [number, number, number][] = [[OA, KA, Math.sqrt(reg)], [OB, KB, Math.sqrt(reg * beta)], [OD, KD, Math.sqrt(reg * delta)]];
  let row = 0;
  let sum = 0;
  for (const [off, size, a] of blocks) {
    for (let k = 0; k < size; k++, row++) {
      const f = a * x[off + k];
      F[fOffset + row] = f;
      sum += f * f;
      if (J) {
        const r = (jRowOffset + row) * CODE_DIM;
        J.fill(0, r, r + CODE_DIM);
        J[r + off + k] = a;
      }
    }
  }
  return sum;
}

/** Sum of the energy terms from the three row groups. */
export function energyTerms(photo: number, land: number, reg: number, photoVertices: number): EnergyTerms {
  return { total: photo + land + reg, photo, land, reg, photoVertices };
}

/**
 * The whole residual vector F (M = residualCount rows, order in the module comment) and, when
 * asked, the explicit Jacobian J (M × 257, row-major). Meant for tests and small problems; the
 * reference backend streams rows into `accumulateNormalEquations` instead of storing J.
 */
export function evaluateResiduals(problem: OptProblem, geo: DecodedGeometry, set: PhotometricSet, withJacobian: boolean): { F: Float64Array; J: Float64Array | null; energy: EnergyTerms } {
  const M = residualCount(problem, set);
  const F = new Float64Array(M);
  const J = withJacobian ? new Float64Array(M * CODE_DIM) : null;
  const P = set.vertex.length;
  const L = problem.landmarks?.vertex.length ?? 0;
  const photo = photometricRows(problem, geo, set, 0, P, F, 0, J, 0);
  const land = landmarkRows(problem, geo, F, 3 * P, J, 3 * P);
  const reg = regularizerRows(problem, geo.x, F, 3 * P + 2 * L, J, 3 * P + 2 * L);
  return { F, J, energy: energyTerms(photo, land, reg, P) };
}

// ---------------------------------------------------------------------------------------------
// Normal equations (Eq. 17)

/** Scratch for `accumulateNormalEquations`: one column-major copy of a row block. */
const BLOCK_ROWS = 96;
let blockScratch: Float64Array | null = null;

/**
 * jtj += JᵀJ (upper triangle only, p ≤ q) and jtf += JᵀF for `rows` rows of a row-major J
 * (stride CODE_DIM). Call `symmetrize` once after the last block. Columns that are all zero in
 * a block are skipped (landmark rows have no β, γ; a photometric row touches 9 of 27 γ).
 * @param J (rows, 257) row-major; F (rows).
 * @param jtj (257 × 257) row-major accumulator; jtf (257) accumulator.
 */
export function accumulateNormalEquations(J: Float64Array, F: Float64Array, rows: number, jtj: Float64Array, jtf: Float64Array): void {
  const n = CODE_DIM;
  if (!blockScratch) blockScratch = new Float64Array(n * BLOCK_ROWS);
  const T = blockScratch;
  const cols = new Int32Array(n);
  for (let r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
    const b = Math.min(BLOCK_ROWS, rows - r0);
    // transpose the block: T[p*b + r] = J[(r0 + r)*n + p]; list the non-zero columns.
    let nc = 0;
    for (let p = 0; p < n; p++) {
      let any = false;
      const tp = p * b;
      for (let r = 0; r < b; r++) {
        const v = J[(r0 + r) * n + p];
        T[tp + r] = v;
        if (v !== 0) any = true;
      }
      if (any) cols[nc++] = p;
    }
    // jtf over the non-zero columns
    for (let ci = 0; ci < nc; ci++) {
      const tp = cols[ci] * b;
      let sf = 0;
      for (let r = 0; r < b; r++) sf += T[tp + r] * F[r0 + r];
      jtf[cols[ci]] += sf;
    }
    // jtj upper triangle, 2×2 register blocks over pairs of non-zero columns (p0, p1) × (q0, q1)
    for (let ci = 0; ci < nc; ci += 2) {
      const p0 = cols[ci], tp0 = p0 * b;
      const two = ci + 1 < nc;
      const p1 = two ? cols[ci + 1] : p0, tp1 = p1 * b;
      if (two) {
        // the diagonal 2×2 block: (p0,p0), (p0,p1), (p1,p1)
        let s00 = 0, s01 = 0, s11 = 0;
        for (let r = 0; r < b; r++) {
          const a0 = T[tp0 + r], a1 = T[tp1 + r];
          s00 += a0 * a0; s01 += a0 * a1; s11 += a1 * a1;
        }
        jtj[p0 * n + p0] += s00; jtj[p0 * n + p1] += s01; jtj[p1 * n + p1] += s11;
      } else {
        let s00 = 0;
        for (let r = 0; r < b; r++) s00 += T[tp0 + r] * T[tp0 + r];
        jtj[p0 * n + p0] += s00;
      }
      let cj = ci + (two ? 2 : 1);
      for (; cj + 1 < nc; cj += 2) {
        const q0 = cols[cj], q1 = cols[cj + 1], tq0 = q0 * b, tq1 = q1 * b;
        let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
        for (let r = 0; r < b; r++) {
          const a0 = T[tp0 + r], a1 = T[tp1 + r], c0 = T[tq0 + r], c1 = T[tq1 + r];
          s00 += a0 * c0; s01 += a0 * c1; s10 += a1 * c0; s11 += a1 * c1;
        }
        jtj[p0 * n + q0] += s00; jtj[p0 * n + q1] += s01;
        if (two) { jtj[p1 * n + q0] += s10; jtj[p1 * n + q1] += s11; }
      }
      if (cj < nc) {
        const q0 = cols[cj], tq0 = q0 * b;
        let s00 = 0, s10 = 0;
        for (let r = 0; r < b; r++) {
          const c0 = T[tq0 + r];
          s00 += T[tp0 + r] * c0; s10 += T[tp1 + r] * c0;
        }
        jtj[p0 * n + q0] += s00;
        if (two) jtj[p1 * n + q0] += s10;
      }
    }
  }
}

/** Copies the upper triangle of a row-major n×n matrix into its lower triangle (in place). */
export function symmetrize(a: Float64Array, n = CODE_DIM): void {
  for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) a[q * n + p] = a[p * n + q];
}
