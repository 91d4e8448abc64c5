/**
 * Similarity (scale + rotation + translation) least-squares fit between two 3D point sets
 * (Umeyama 1991 / Horn 1987), and the helpers to fit the canonical face mesh to the
 * landmarker's 468 points.
 *
 * Frames:
 *  - landmark frame: image px; +x right, +y down, +z away from the camera (the landmarker's
 *    z: smaller = closer; see sdk/vision/types.ts FaceLandmarks.points).
 *  - fit frame = landmarkToFitFrame(landmark frame) = (x, −y, −z): +x right, +y up, +z toward
 *    the camera, still px. It has the same handedness as the model frame (mm; +x subject's
 *    left, which is image right in an unmirrored photo; +y up; +z toward the camera), so a
 *    proper rotation (det R = +1) maps the canonical mesh onto the landmarks. Flipping y
 *    alone would be a reflection, which no rotation can fit.
 */

/** Result of `fitSimilarity`: dst ≈ scale · R · src + t. */
export interface SimilarityFit {
  /** Uniform scale (dst units per src unit, e.g. px per mm). */
  scale: number;
  /** (3, 3) row-major rotation, det = +1. */
  rotation: Float64Array;
  /** (3) translation, dst units. */
  translation: Float64Array;
  /** (N) per-point residual ‖dst_i − (s R src_i + t)‖, dst units. */
  residuals: Float64Array;
  /** Weighted RMS of the residuals, dst units. */
  rms: number;
  /** Median of the (unweighted) residuals, dst units. */
  median: number;
}

/** Eigenvector of the largest eigenvalue of a symmetric 4×4 matrix (cyclic Jacobi). */
function largestEigenvector4(m: Float64Array): Float64Array {
  const a = Float64Array.from(m);
  const v = new Float64Array(16);
  for (let i = 0; i < 4; i++) v[5 * i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) off += a[4 * p + q] ** 2;
    if (off < 1e-24) break;
    for (let p = 0; p < 4; p++) {
      for (let q = p + 1; q < 4; q++) {
        const apq = a[4 * p + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[4 * q + q] - a[4 * p + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < 4; k++) {
          // A ← Jᵀ A J, applied as column then row rotations.
          const akp = a[4 * k + p];
          const akq = a[4 * k + q];
          a[4 * k + p] = c * akp - s * akq;
          a[4 * k + q] = s * akp + c * akq;
        }
        for (let k = 0; k < 4; k++) {
          const apk = a[4 * p + k];
          const aqk = a[4 * q + k];
          a[4 * p + k] = c * apk - s * aqk;
          a[4 * q + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 4; k++) {
          const vkp = v[4 * k + p];
          const vkq = v[4 * k + q];
          v[4 * k + p] = c * vkp - s * vkq;
          v[4 * k + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < 4; i++) if (a[5 * i] > a[5 * best]) best = i;
  return Float64Array.from([v[best], v[4 + best], v[8 + best], v[12 + best]]);
}

/**
 * Least-squares similarity dst ≈ s·R·src + t (optionally weighted).
 * src, dst: (N, 3) flat arrays, N ≥ 3 non-collinear; weights: (N) ≥ 0 (default all 1).
 * Rotation from Horn's unit-quaternion method (the top eigenvector of the 4×4 matrix built
 * from the weighted cross-covariance Σ w (src−μs)(dst−μd)ᵀ), which always gives det R = +1;
 * scale s = Σ w (dst−μd)·R(src−μs) / Σ w ‖src−μs‖² (Umeyama's least-squares scale);
 * t = μd − s R μs.
 */
export function fitSimilarity(src: ArrayLike<number>, dst: ArrayLike<number>, weights?: ArrayLike<number>): SimilarityFit {
  const n = src.length / 3;
  if (dst.length !== src.length || n < 3 || (weights && weights.length !== n)) {
    throw new RangeError(`fitSimilarity: need matching (N,3) arrays with N ≥ 3 (got ${src.length}, ${dst.length})`);
  }
  let wsum = 0;
  const ms = [0, 0, 0];
  const md = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    wsum += w;
    for (let k = 0; k < 3; k++) {
      ms[k] += w * src[3 * i + k];
      md[k] += w * dst[3 * i + k];
    }
  }
  for (let k = 0; k < 3; k++) {
    ms[k] /= wsum;
    md[k] /= wsum;
  }
  // S[a][b] = Σ w (src_a − μs_a)(dst_b − μd_b); varS = Σ w ‖src − μs‖².
  const S = new Float64Array(9);
  let varS = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    for (let a = 0; a < 3; a++) {
      const sa = src[3 * i + a] - ms[a];
      varS += w * sa * sa;
      for (let b = 0; b < 3; b++) S[3 * a + b] += w * sa * (dst[3 * i + b] - md[b]);
    }
  }
  const [Sxx, Sxy, Sxz, Syx, Syy, Syz, Szx, Szy, Szz] = S;
  const N = Float64Array.from([
    Sxx + Syy + Szz, Syz - Szy, Szx - Sxz, Sxy - Syx,
    Syz - Szy, Sxx - Syy - Szz, Sxy + Syx, Szx + Sxz,
    Szx - Sxz, Sxy + Syx, -Sxx + Syy - Szz, Syz + Szy,
    Sxy - Syx, Szx + Sxz, Syz + Szy, -Sxx - Syy + Szz,
  ]);
  const [q0, qx, qy, qz] = largestEigenvector4(N);
  const R = Float64Array.from([
    q0 * q0 + qx * qx - qy * qy - qz * qz, 2 * (qx * qy - q0 * qz), 2 * (qx * qz + q0 * qy),
    2 * (qy * qx + q0 * qz), q0 * q0 - qx * qx + qy * qy - qz * qz, 2 * (qy * qz - q0 * qx),
    2 * (qz * qx - q0 * qy), 2 * (qz * qy + q0 * qx), q0 * q0 - qx * qx - qy * qy + qz * qz,
  ]);
  // Σ w (dst−μd)·R(src−μs) = Σ_ab R[b][a] S[a][b] = trace(R S).
  let rs = 0;
  for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) rs += R[3 * b + a] * S[3 * a + b];
  const scale = rs / varS;
  const t = Float64Array.from([0, 1, 2].map((k) => md[k] - scale * (R[3 * k] * ms[0] + R[3 * k + 1] * ms[1] + R[3 * k + 2] * ms[2])));
  const fit: Omit<SimilarityFit, 'residuals' | 'rms' | 'median'> = { scale, rotation: R, translation: t };
  const mapped = applySimilarity(fit, src);
  const residuals = new Float64Array(n);
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const r = Math.hypot(dst[3 * i] - mapped[3 * i], dst[3 * i + 1] - mapped[3 * i + 1], dst[3 * i + 2] - mapped[3 * i + 2]);
    residuals[i] = r;
    sq += (weights ? weights[i] : 1) * r * r;
  }
  const sorted = Float64Array.from(residuals).sort();
  const median = n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  return { ...fit, residuals, rms: Math.sqrt(sq / wsum), median };
}

/** s·R·p + t for every point of a flat (N, 3) array; returns a new Float64Array. */
export function applySimilarity(
  fit: Pick<SimilarityFit, 'scale' | 'rotation' | 'translation'>,
  points: ArrayLike<number>,
): Float64Array {
  const { scale: s, rotation: R, translation: t } = fit;
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; i += 3) {
    const x = points[i];
    const y = points[i + 1];
    const z = points[i + 2];
    for (let k = 0; k < 3; k++) out[i + k] = s * (R[3 * k] * x + R[3 * k + 1] * y + R[3 * k + 2] * z) + t[k];
  }
  return out;
}

/** Landmark frame (image px, +y down, +z away) → fit frame (px, +y up, +z toward camera): (x, −y, −z). Its own inverse. */
export function landmarkToFitFrame(points: ArrayLike<number>): Float64Array {
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; i += 3) {
    out[i] = points[i];
    out[i + 1] = -points[i + 1];
    out[i + 2] = -points[i + 2];
  }
  return out;
}

/** Subject's right and left eye outer corners in the 468 numbering: the inter-ocular distance (IOD) pair. */
export const IOD_PAIR: [number, number] = [33, 263];

/** Result of fitting the canonical mesh to detected landmarks. */
export interface CanonicalFit {
  fit: SimilarityFit;
  /** Distance between landmarks 33 and 263 of the detected points (3D), px. */
  iodPx: number;
  /** Residual RMS / median in % of iodPx. */
  rmsPctIod: number;
  medianPctIod: number;
  /** The canonical mesh mapped into the image: (N, 3) image px, landmark frame (+y down, +z away). */
  fittedPoints: Float64Array;
}

/**
 * Fits the canonical mesh (N, 3) mm, model frame (first 468 vertices = MediaPipe landmarks)
 * to detected landmarks (468, 3) image px (FaceLandmarks.points) with a similarity, in the
 * fit frame (landmarkToFitFrame), and reports the residual in % of the inter-ocular distance.
 */
export function fitCanonicalToLandmarks(canonicalMm: ArrayLike<number>, landmarks: ArrayLike<number>, weights?: ArrayLike<number>): CanonicalFit {
  const n = landmarks.length / 3;
  const src = Array.prototype.slice.call(canonicalMm, 0, 3 * n) as number[];
  const dst = landmarkToFitFrame(landmarks);
  const fit = fitSimilarity(src, dst, weights);
  const [i, j] = IOD_PAIR;
  const iodPx = Math.hypot(
    landmarks[3 * i] - landmarks[3 * j],
    landmarks[3 * i + 1] - landmarks[3 * j + 1],
    landmarks[3 * i + 2] - landmarks[3 * j + 2],
  );
  const fittedPoints = landmarkToFitFrame(applySimilarity(fit, Array.prototype.slice.call(canonicalMm) as number[]));
  return { fit, iodPx, rmsPctIod: (100 * fit.rms) / iodPx, medianPctIod: (100 * fit.median) / iodPx, fittedPoints };
}
