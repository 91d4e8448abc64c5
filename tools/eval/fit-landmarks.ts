/**
 * Expressiveness check of the face model: fit pose + shape α + expression δ of Eq. (2) to 3D
 * landmarks from the MediaPipe face landmarker (468 points; T1 vertices 0..467 are these
 * landmarks, `model.landmarks.mediapipe468`).
 *
 * Target frame: landmarks in image px with y and z flipped, (x, −y, −z), so the targets are
 * right-handed with +x image right, +y up, +z toward the camera — the model frame up to a
 * similarity (MediaPipe's z is a relative depth in the same pixel scale as x, y; smaller =
 * closer, hence the flip). Fitted model: y_i ≈ s · R · V_i(α, δ) + t  (a scaled-orthographic
 * stand-in for Π ∘ Φ of Eq. 5, adequate for 3D landmarks).
 *
 * Algorithm (alternation, `iterations` rounds):
 *   1. pose: similarity (s, R, t) from the current model landmarks to the targets (Horn's
 *      closed-form quaternion solution, least squares);
 *   2. coefficients: map the targets into the model frame, z_i = Rᵀ(y_i − t)/s, and solve the
 *      regularised linear least squares  min_c ‖E_L c − (z − A_L)‖² + λ‖c‖²  (mm²), where E_L
 *      are the landmark rows of the selected bases (none / E_s / [E_s E_e]) and λ is the ratio
 *      of landmark noise variance (mm²) to the unit prior variance of each coefficient.
 */
import { MofaError } from '../../sdk/errors.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { landmarkToFitFrame } from '../../sdk/vision/similarity.js';

/** Which model terms are fitted: pose only (mean face), + shape α, + shape α + expression δ. */
export type FitMode = 'mean' | 'shape' | 'full';

export interface Similarity {
  /** Scale (target units per mm). */
  s: number;
  /** Row-major 3×3 rotation. */
  R: Float64Array;
  /** (3) translation, target units. */
  t: Float64Array;
}

export interface LandmarkFit extends Similarity {
  mode: FitMode;
  /** (shapeDim) fitted α (zeros unless mode ≠ 'mean'). */
  alpha: Float64Array;
  /** (expressionDim) fitted δ (zeros unless mode = 'full'). */
  delta: Float64Array;
  /** (L) per-landmark Euclidean residual ‖s R V_i + t − y_i‖, target units (px). */
  residual: Float64Array;
  /** (L, 3) fitted landmark positions in the target frame. */
  fitted: Float64Array;
}

/**
 * Cyclic Jacobi eigen-decomposition of a symmetric n×n matrix (row-major, not modified).
 * @returns eigenvalues (n) and eigenvectors as columns of a row-major n×n matrix.
 */
export function symmetricEigen(A: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(A);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const tt = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(tt * tt + 1), s = tt * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/**
 * Least-squares similarity dst_i ≈ s · R · src_i + t (Horn 1987, unit quaternions).
 * @param src (L, 3), @param dst (L, 3).
 */
export function fitSimilarity(src: ArrayLike<number>, dst: ArrayLike<number>): Similarity {
  const L = src.length / 3;
  if (dst.length !== src.length || L < 3) throw new MofaError('BAD_INPUT', 'fitSimilarity needs two (L, 3) point sets with L ≥ 3');
  const ma = [0, 0, 0], mb = [0, 0, 0];
  for (let i = 0; i < L; i++) for (let k = 0; k < 3; k++) { ma[k] += src[3 * i + k] / L; mb[k] += dst[3 * i + k] / L; }
  const S = new Float64Array(9); // S[3a + b] = Σ (src_a)(dst_b), centred
  let ssa = 0;
  for (let i = 0; i < L; i++) {
    for (let a = 0; a < 3; a++) {
      const pa = src[3 * i + a] - ma[a];
      ssa += pa * pa;
      for (let b = 0; b < 3; b++) S[3 * a + b] += pa * (dst[3 * i + b] - mb[b]);
    }
  }
  const [xx, xy, xz, yx, yy, yz, zx, zy, zz] = S;
  const N = [
    xx + yy + zz, yz - zy, zx - xz, xy - yx,
    yz - zy, xx - yy - zz, xy + yx, zx + xz,
    zx - xz, xy + yx, -xx + yy - zz, yz + zy,
    xy - yx, zx + xz, yz + zy, -xx - yy + zz,
  ];
  const { values, vectors } = symmetricEigen(N, 4);
  let best = 0;
  for (let i = 1; i < 4; i++) if (values[i] > values[best]) best = i;
  const [w, x, y, z] = [vectors[best], vectors[4 + best], vectors[8 + best], vectors[12 + best]];
  const R = Float64Array.of(
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  );
  let num = 0;
  for (let i = 0; i < L; i++) {
    const p = [src[3 * i] - ma[0], src[3 * i + 1] - ma[1], src[3 * i + 2] - ma[2]];
    for (let r = 0; r < 3; r++) num += (dst[3 * i + r] - mb[r]) * (R[3 * r] * p[0] + R[3 * r + 1] * p[1] + R[3 * r + 2] * p[2]);
  }
  const s = num / ssa;
  const t = new Float64Array(3);
  for (let r = 0; r < 3; r++) t[r] = mb[r] - s * (R[3 * r] * ma[0] + R[3 * r + 1] * ma[1] + R[3 * r + 2] * ma[2]);
  return { s, R, t };
}

/** Solves the SPD system A x = b (n×n row-major) by Cholesky; A and b are not modified. */
export function choleskySolve(A: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const Lm = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = A[i * n + j];
      for (let k = 0; k < j; k++) sum -= Lm[i * n + k] * Lm[j * n + k];
      if (i === j) {
        if (!(sum > 0)) throw new MofaError('INTERNAL', `choleskySolve: matrix not positive definite at row ${i}`);
        Lm[i * n + i] = Math.sqrt(sum);
      } else Lm[i * n + j] = sum / Lm[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= Lm[i * n + k] * y[k];
    y[i] = sum / Lm[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i];
    for (let k = i + 1; k < n; k++) sum -= Lm[k * n + i] * x[k];
    x[i] = sum / Lm[i * n + i];
  }
  return x;
}

/** Landmark rows of the model, gathered once per model and reused for every fit. */
export interface LandmarkSystem {
  /** Landmark T1 vertex indices (L). */
  vertices: Uint32Array;
  /** (3L) mean shape at the landmarks, mm. */
  mean: Float64Array;
  /** (3L, Ks + Ke) [E_s E_e] landmark rows, row-major, mm per unit coefficient. */
  basis: Float64Array;
  shapeDim: number;
  expressionDim: number;
}

export function landmarkSystem(model: FaceModel, vertices: Uint32Array = model.landmarks.mediapipe468): LandmarkSystem {
  const L = vertices.length, Ks = model.shapeDim, Ke = model.expressionDim, K = Ks + Ke;
  const mean = new Float64Array(3 * L);
  const basis = new Float64Array(3 * L * K);
  for (let i = 0; i < L; i++) {
    for (let a = 0; a < 3; a++) {
      const src = 3 * vertices[i] + a, dst = 3 * i + a;
      mean[dst] = model.t1.meanShape[src];
      for (let k = 0; k < Ks; k++) basis[dst * K + k] = model.shapeBasis[src * Ks + k];
      for (let k = 0; k < Ke; k++) basis[dst * K + Ks + k] = model.expressionBasis[src * Ke + k];
    }
  }
  return { vertices, mean, basis, shapeDim: Ks, expressionDim: Ke };
}

export interface FitOptions {
  /** Alternation rounds (default 10). */
  iterations?: number;
  /** Ridge weight λ, mm² per unit coefficient variance (default 1). */
  lambda?: number;
}

/**
 * Fits the model to 3D landmark targets (see the module comment).
 * @param targets (L, 3) target frame (image px with y and z flipped), same order as sys.vertices.
 */
export function fitLandmarks(sys: LandmarkSystem, targets: ArrayLike<number>, mode: FitMode, opts: FitOptions = {}): LandmarkFit {
  const iterations = opts.iterations ?? 10;
  const lambda = opts.lambda ?? 1;
  const L = sys.vertices.length;
  if (targets.length !== 3 * L) throw new MofaError('BAD_INPUT', `targets has ${targets.length} values, expected ${3 * L}`);
  const Kall = sys.shapeDim + sys.expressionDim;
  const K = mode === 'mean' ? 0 : mode === 'shape' ? sys.shapeDim : Kall;
  // Normal matrix EᵀE + λI of the selected columns (constant across iterations).
  const AtA = new Float64Array(K * K);
  for (let r = 0; r < 3 * L; r++) {
    const row = r * Kall;
    for (let i = 0; i < K; i++) {
      const ei = sys.basis[row + i];
      if (ei === 0) continue;
      for (let j = 0; j <= i; j++) AtA[i * K + j] += ei * sys.basis[row + j];
    }
  }
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < i; j++) AtA[j * K + i] = AtA[i * K + j];
    AtA[i * K + i] += lambda;
  }
  const c = new Float64Array(K);
  const V = Float64Array.from(sys.mean);
  let pose = fitSimilarity(V, targets);
  const rounds = K === 0 ? 1 : iterations;
  for (let it = 0; it < rounds; it++) {
    pose = fitSimilarity(V, targets);
    if (K === 0) break;
    const { s, R, t } = pose;
    const rhs = new Float64Array(K);
    for (let i = 0; i < L; i++) {
      const d = [targets[3 * i] - t[0], targets[3 * i + 1] - t[1], targets[3 * i + 2] - t[2]];
      for (let a = 0; a < 3; a++) {
        const z = (R[a] * d[0] + R[3 + a] * d[1] + R[6 + a] * d[2]) / s; // (Rᵀ d)_a / s
        const r = z - sys.mean[3 * i + a];
        const row = (3 * i + a) * Kall;
        for (let k = 0; k < K; k++) rhs[k] += sys.basis[row + k] * r;
      }
    }
    c.set(choleskySolve(AtA, rhs, K));
    for (let r = 0; r < 3 * L; r++) {
      let acc = sys.mean[r];
      const row = r * Kall;
      for (let k = 0; k < K; k++) acc += sys.basis[row + k] * c[k];
      V[r] = acc;
    }
    pose = fitSimilarity(V, targets);
  }
  const { s, R, t } = pose;
  const fitted = new Float64Array(3 * L);
  const residual = new Float64Array(L);
  for (let i = 0; i < L; i++) {
    let sq = 0;
    for (let a = 0; a < 3; a++) {
      const y = s * (R[3 * a] * V[3 * i] + R[3 * a + 1] * V[3 * i + 1] + R[3 * a + 2] * V[3 * i + 2]) + t[a];
      fitted[3 * i + a] = y;
      sq += (y - targets[3 * i + a]) ** 2;
    }
    residual[i] = Math.sqrt(sq);
  }
  const alpha = new Float64Array(sys.shapeDim);
  const delta = new Float64Array(sys.expressionDim);
  alpha.set(c.subarray(0, Math.min(K, sys.shapeDim)));
  if (K > sys.shapeDim) delta.set(c.subarray(sys.shapeDim));
  return { mode, s, R, t, alpha, delta, residual, fitted };
}

/** Converts landmarker output (L, 3) (image px, y down, z smaller = closer) to fit targets (x, −y, −z). */
export const landmarksToTargets = landmarkToFitFrame;

export function median(values: ArrayLike<number>): number {
  const a = Float64Array.from(values).sort();
  if (a.length === 0) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : 0.5 * (a[m - 1] + a[m]);
}
