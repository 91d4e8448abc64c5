/**
 * The initialiser's landmark fit and SH lighting fit (sdk/pipeline/landmark-fit.ts,
 * sdk/pipeline/lighting-fit.ts) were restructured for speed (blocked JᵀJ over contiguous Jᵀ rows,
 * column-wise Jacobian from the transposed landmark basis, one sweep for the three lighting
 * channels). This file keeps the straightforward implementations they replaced as slow references
 * (`referenceFitLandmarks`, `referenceFitLighting`, verbatim in arithmetic) and checks that the
 * fast paths give the same results up to floating-point noise, on a synthetic face with noisy
 * landmarks and a rendered crop.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MofaError } from '../../sdk/errors.js';
import { type CameraIntrinsics, DEFAULT_INTRINSICS, project, rotateVectors, rotationMatrix, toCamera } from '../../sdk/model/camera.js';
import { choleskySolveRef, CholeskyStatus } from '../../sdk/model/cholesky-ref.js';
import { computeShape } from '../../sdk/model/decode.js';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import { computeNormals } from '../../sdk/model/normals.js';
import { gammaFromLights, GAMMA_DIM, irradianceBasis, SH_AMBIENT_OFFSET, SH_COEFFS } from '../../sdk/model/shading.js';
import {
  fitLandmarksPerspective,
  gramTransposed,
  initialPoseFromSimilarity,
  landmarkBasis,
  LANDMARK_FIT_ITERATIONS,
  LANDMARK_SIGMA_PX,
  DEPTH_SIGMA_PX,
  rotationDerivatives,
  type LandmarkBasis,
  type LandmarkFitOptions,
  type PerspectiveLandmarkFit,
} from '../../sdk/pipeline/landmark-fit.js';
import { fitLightingLinear, LIGHTING_HUBER_K, LIGHTING_RIDGE, visibleVertices, type LightingFit } from '../../sdk/pipeline/lighting-fit.js';
import type { LinearImage } from '../../sdk/pipeline/stages.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import type { FaceModel } from '../../sdk/types/face-model.js';

/** Bilinear sample (copy of lighting-fit.ts's private helper). */
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

/** Slow reference: the landmark fit as first written (per-landmark Jacobian, plain JᵀJ double loop). */
function referenceFitLandmarks(
  basis: LandmarkBasis,
  points: ArrayLike<number>,
  intrinsics: CameraIntrinsics,
  options: LandmarkFitOptions = {},
): PerspectiveLandmarkFit {
  const L = basis.count, Ks = basis.shapeDim, Ke = basis.expressionDim, K = Ks + Ke;
  if (points.length !== 3 * L) throw new MofaError('BAD_INPUT', `landmark fit needs ${L}×3 points, got ${points.length} values`);
  const iterations = options.iterations ?? LANDMARK_FIT_ITERATIONS;
  const wl = 1 / (options.landmarkSigmaPx ?? LANDMARK_SIGMA_PX);
  const depthSigma = options.depthSigmaPx ?? DEPTH_SIGMA_PX;
  const wz = Number.isFinite(depthSigma) ? 1 / depthSigma : 0;
  const fitCoeffs = options.fitShapeAndExpression ?? true;
  const P = 6 + (fitCoeffs ? K : 0); // unknowns
  const { focalPx: f, cx, cy } = intrinsics;

  const start = initialPoseFromSimilarity(basis, points, intrinsics);
  const theta = new Float64Array(6 + K);
  theta.set(start.euler, 0);
  theta.set(start.translation, 3);
  let zMean = 0;
  for (let i = 0; i < L; i++) zMean += points[3 * i + 2] / L;

  const V = new Float64Array(3 * L); // model-frame landmarks at θ
  const pc = new Float64Array(3 * L); // camera-frame landmarks
  const rows = 3 * L;
  const Jt = new Float64Array(P * rows); // Jᵀ, row m = ∂r/∂θ_m over all residual rows (dot products below are contiguous)
  const r = new Float64Array(rows);

  /** Geometry at θ: fills V, pc; returns the data energy (landmark + depth) and residuals r. */
  const evaluate = (th: Float64Array, withJacobian: boolean): number => {
    for (let q = 0; q < 3 * L; q++) {
      let acc = basis.mean[q];
      const row = q * K;
      for (let k = 0; k < K; k++) acc += basis.basis[row + k] * th[6 + k];
      V[q] = acc;
    }
    const R = rotationMatrix(th.subarray(0, 3));
    let zc = 0;
    for (let i = 0; i < L; i++) {
      const x = V[3 * i], y = V[3 * i + 1], z = V[3 * i + 2];
      for (let a = 0; a < 3; a++) pc[3 * i + a] = R[3 * a] * x + R[3 * a + 1] * y + R[3 * a + 2] * z + th[3 + a];
      zc += pc[3 * i + 2] / L;
    }
    const D = -zc; // mean depth, mm
    if (!(D > 1)) return Infinity; // behind / at the camera: reject the trial
    let e = 0;
    for (let i = 0; i < L; i++) {
      const d = -pc[3 * i + 2];
      if (!(d > 0)) return Infinity;
      const u = cx + (f * pc[3 * i]) / d;
      const v = cy - (f * pc[3 * i + 1]) / d;
      r[3 * i] = wl * (u - points[3 * i]);
      r[3 * i + 1] = wl * (v - points[3 * i + 1]);
      r[3 * i + 2] = wz * ((f / D) * (pc[3 * i + 2] - zc) + (points[3 * i + 2] - zMean));
      e += r[3 * i] ** 2 + r[3 * i + 1] ** 2 + r[3 * i + 2] ** 2;
    }
    if (!withJacobian) return e;
    // ∂p_i/∂θ columns: euler (dR·V_i), t (identity), coefficients (R·E_i,k).
    const dR = rotationDerivatives(th.subarray(0, 3));
    const dpz = new Float64Array(P); // running mean of ∂z_i/∂θ for the centred depth rows
    const jz = new Float64Array(L * P);
    const col = new Float64Array(3 * P);
    for (let i = 0; i < L; i++) {
      const x = V[3 * i], y = V[3 * i + 1], z = V[3 * i + 2];
      for (let m = 0; m < 3; m++) for (let a = 0; a < 3; a++) col[a * P + m] = dR[m][3 * a] * x + dR[m][3 * a + 1] * y + dR[m][3 * a + 2] * z;
      for (let m = 0; m < 3; m++) for (let a = 0; a < 3; a++) col[a * P + 3 + m] = a === m ? 1 : 0;
      if (fitCoeffs) {
        const b0 = (3 * i) * K, b1 = (3 * i + 1) * K, b2 = (3 * i + 2) * K;
        for (let k = 0; k < K; k++) {
          const ex = basis.basis[b0 + k], ey = basis.basis[b1 + k], ez = basis.basis[b2 + k];
          for (let a = 0; a < 3; a++) col[a * P + 6 + k] = R[3 * a] * ex + R[3 * a + 1] * ey + R[3 * a + 2] * ez;
        }
      }
      const d = -pc[3 * i + 2], px = pc[3 * i], py = pc[3 * i + 1];
      // u = cx + f·x/d, v = cy − f·y/d, d = −z:  du = f/d·dx + f·x/d²·dz,  dv = −f/d·dy − f·y/d²·dz.
      const fu = (wl * f) / d, fuz = (wl * f * px) / (d * d), fvz = (wl * f * py) / (d * d);
      for (let m = 0; m < P; m++) {
        const dx = col[m], dy = col[P + m], dz = col[2 * P + m];
        Jt[m * rows + 3 * i] = fu * dx + fuz * dz;
        Jt[m * rows + 3 * i + 1] = -fu * dy - fvz * dz;
        jz[i * P + m] = dz;
        dpz[m] += dz / L;
      }
    }
    const kz = (wz * f) / D; // D treated as constant within the linearisation
    for (let i = 0; i < L; i++) {
      for (let m = 0; m < P; m++) Jt[m * rows + 3 * i + 2] = kz * (jz[i * P + m] - dpz[m]);
    }
    return e;
  };
  const priorEnergy = (th: Float64Array): number => {
    let e = 0;
    for (let k = 0; k < K; k++) e += th[6 + k] ** 2;
    return e;
  };

  const energies: number[] = [];
  let energy = evaluate(theta, true) + priorEnergy(theta);
  energies.push(energy);
  let mu = 1e-3;
  const A = new Float64Array(P * P);
  const g = new Float64Array(P);
  for (let it = 0; it < iterations; it++) {
    // Normal equations JᵀJ + prior (identity on the coefficients), gradient Jᵀr + θ_coeffs.
    for (let a = 0; a < P; a++) {
      const oa = a * rows;
      let ga = 0;
      for (let q = 0; q < rows; q++) ga += Jt[oa + q] * r[q];
      g[a] = ga;
      for (let b = 0; b <= a; b++) {
        const ob = b * rows;
        let s = 0;
        for (let q = 0; q < rows; q++) s += Jt[oa + q] * Jt[ob + q];
        A[a * P + b] = s;
        A[b * P + a] = s;
      }
    }
    for (let k = 6; k < P; k++) {
      A[k * P + k] += 1;
      g[k] += theta[k];
    }
    let accepted = false;
    for (let tries = 0; tries < 6 && !accepted; tries++) {
      const a = Float64Array.from(A);
      const step = new Float64Array(P);
      for (let m = 0; m < P; m++) step[m] = -g[m];
      const status = choleskySolveRef(a, step, P, mu);
      if (status !== CholeskyStatus.OK) {
        mu *= 4;
        continue;
      }
      const trial = Float64Array.from(theta);
      for (let m = 0; m < P; m++) trial[m] += step[m];
      const eTrial = evaluate(trial, false) + priorEnergy(trial);
      if (eTrial < energy) {
        theta.set(trial);
        energy = eTrial;
        accepted = true;
        mu = Math.max(mu / 3, 1e-9);
      } else mu *= 4;
    }
    energies.push(energy);
    if (!accepted) break; // converged (no decrease at any damping tried)
    evaluate(theta, true);
  }
  if (!Number.isFinite(energy)) throw new MofaError('INTERNAL', 'landmark fit diverged; please report this image');
  evaluate(theta, false);
  const residualPx = new Float64Array(L);
  for (let i = 0; i < L; i++) residualPx[i] = Math.hypot(r[3 * i], r[3 * i + 1]) / wl;
  const euler: [number, number, number] = [theta[0], theta[1], theta[2]];
  return {
    euler,
    rotation: rotationMatrix(euler),
    translation: theta.slice(3, 6),
    alpha: theta.slice(6, 6 + Ks),
    delta: theta.slice(6 + Ks, 6 + K),
    residualPx,
    energies,
  };
}

/** Slow reference: the SH lighting fit as first written (one channel at a time, per-vertex basis arrays). */
function referenceFitLighting(
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
  for (let j = 0; j < n; j++) {
    const i = visible[j];
    Hs.set(irradianceBasis(camNormal[3 * i], camNormal[3 * i + 1], camNormal[3 * i + 2]), j * SH_COEFFS);
    sample(image, screen[2 * i], screen[2 * i + 1], px);
    obs.set(px, 3 * j);
  }
  const g = new Float64Array(GAMMA_DIM); // γ' (with the offset) while fitting
  const weights = new Float64Array(n).fill(1);
  let rms = 0;
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < 3; c++) {
      const A = new Float64Array(SH_COEFFS * SH_COEFFS);
      const b = new Float64Array(SH_COEFFS);
      for (let j = 0; j < n; j++) {
        const w = weights[j], a = albedo[3 * visible[j] + c], o = j * SH_COEFFS;
        for (let p = 0; p < SH_COEFFS; p++) {
          const xp = a * Hs[o + p];
          b[p] += w * xp * obs[3 * j + c];
          for (let q = 0; q <= p; q++) A[p * SH_COEFFS + q] += w * xp * a * Hs[o + q];
        }
      }
      let tr = 0;
      for (let p = 0; p < SH_COEFFS; p++) {
        for (let q = 0; q < p; q++) A[q * SH_COEFFS + p] = A[p * SH_COEFFS + q];
        tr += A[p * SH_COEFFS + p] / SH_COEFFS;
      }
      for (let p = 1; p < SH_COEFFS; p++) A[p * SH_COEFFS + p] += LIGHTING_RIDGE * tr;
      const status = choleskySolveRef(A, b, SH_COEFFS, 0);
      if (status !== CholeskyStatus.OK) throw new MofaError('INTERNAL', `SH lighting solve failed (Cholesky status ${status}); please report this image`);
      g.set(b, SH_COEFFS * c);
    }
    // Residuals → RMS and Huber weights for the second pass.
    const res = new Float64Array(n);
    let sq = 0;
    for (let j = 0; j < n; j++) {
      let r2 = 0;
      for (let c = 0; c < 3; c++) {
        let e = 0;
        for (let p = 0; p < SH_COEFFS; p++) e += g[SH_COEFFS * c + p] * Hs[j * SH_COEFFS + p];
        r2 += (albedo[3 * visible[j] + c] * e - obs[3 * j + c]) ** 2;
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

/** Deterministic N(0, 1) samples. */
function gaussians(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

/** max |a − b| / (max |b| + 1e-12). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / (m + 1e-12);
}

const DEG = Math.PI / 180;
let model: FaceModel;
let basis: LandmarkBasis;
let points: Float64Array;
let crop: LinearImage;
beforeAll(async () => {
  model = await loadFaceModel('models/mofa-face-v1.mofa');
  basis = landmarkBasis(model);
  // A known face, projected, with landmarker-like noise (x, y 0.8 px; depth 2 px).
  const alpha = gaussians(80, 3).map((v) => 0.7 * v);
  const delta = gaussians(64, 9).map((v, k) => (k < 10 ? 0.6 * v : 0.1 * v));
  const R = rotationMatrix([6 * DEG, -12 * DEG, 4 * DEG]), t = [8, -5, -880];
  const V = computeShape(model, alpha, delta);
  const { screen, depth } = project(toCamera(V.subarray(0, 468 * 3), R, t), DEFAULT_INTRINSICS);
  const noise = gaussians(468 * 3, 5);
  const s = DEFAULT_INTRINSICS.focalPx / 880;
  points = new Float64Array(468 * 3);
  for (let i = 0; i < 468; i++) {
    points[3 * i] = screen[2 * i] + 0.8 * noise[3 * i];
    points[3 * i + 1] = screen[2 * i + 1] + 0.8 * noise[3 * i + 1];
    points[3 * i + 2] = s * (depth[i] - 880) + 2 * noise[3 * i + 2];
  }
  const gamma = gammaFromLights([0.5, 0.45, 0.4], [{ direction: [-0.5, 0.4, 0.75], color: [0.5, 0.5, 0.5] }]);
  const r = renderMesh({ position: V, index: model.t1.index, albedo: model.albedoMean, gamma, rotation: R, translation: t, intrinsics: DEFAULT_INTRINSICS, normal: computeNormals(V, model.t1.index) }, { cullBackFaces: true });
  const rgb = new Float32Array(240 * 240 * 3);
  for (let p = 0; p < 240 * 240; p++) for (let c = 0; c < 3; c++) rgb[3 * p + c] = r.image.data[4 * p + c] / 255;
  crop = { width: 240, height: 240, rgb };
});

describe('initialiser fast paths equal the reference implementations', () => {
  it('gramTransposed equals the plain Σ_q double loop (P not a multiple of 4)', () => {
    const P = 11, n = 37;
    const jt = Float64Array.from(gaussians(P * n, 21));
    const G = new Float64Array(P * P);
    gramTransposed(jt, P, n, G);
    for (let a = 0; a < P; a++) {
      for (let b = 0; b < P; b++) {
        let s = 0;
        for (let q = 0; q < n; q++) s += jt[a * n + q] * jt[b * n + q];
        expect(Math.abs(G[a * P + b] - s)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(s)));
      }
    }
  });

  for (const [label, options] of [
    ['default options', {}],
    ['pose only, 5 iterations', { fitShapeAndExpression: false, iterations: 5 }],
    ['no depth term', { depthSigmaPx: Infinity }],
  ] as [string, LandmarkFitOptions][]) {
    it(`landmark fit (${label}) matches the reference fit`, () => {
      const fast = fitLandmarksPerspective(basis, points, DEFAULT_INTRINSICS, options);
      const ref = referenceFitLandmarks(basis, points, DEFAULT_INTRINSICS, options);
      expect(relDiff(fast.euler, ref.euler)).toBeLessThan(1e-9);
      expect(relDiff(fast.translation, ref.translation)).toBeLessThan(1e-9);
      expect(relDiff(fast.alpha, ref.alpha)).toBeLessThan(1e-9);
      expect(relDiff(fast.delta, ref.delta)).toBeLessThan(1e-9);
      expect(relDiff(fast.residualPx, ref.residualPx)).toBeLessThan(1e-9);
      expect(relDiff(fast.energies, ref.energies)).toBeLessThan(1e-9);
      // The fit did move the code (a test of equality between two no-ops would prove nothing).
      expect(ref.energies[ref.energies.length - 1]).toBeLessThan(0.95 * ref.energies[0]);
    });
  }

  it('SH lighting fit matches the reference fit', () => {
    const fit = fitLandmarksPerspective(basis, points, DEFAULT_INTRINSICS);
    const position = computeShape(model, fit.alpha, fit.delta);
    const normal = computeNormals(position, model.t1.index);
    const args = [position, normal, model.t1.index, model.albedoMean, fit.rotation, fit.translation, DEFAULT_INTRINSICS, crop, model.frontFace] as const;
    const fast = fitLightingLinear(...args);
    const ref = referenceFitLighting(...args);
    expect(fast.vertices).toBe(ref.vertices);
    expect(fast.vertices).toBeGreaterThan(3000);
    expect(relDiff(fast.gamma, ref.gamma)).toBeLessThan(1e-9);
    expect(Math.abs(fast.rms - ref.rms)).toBeLessThanOrEqual(1e-9 * ref.rms);
  });
});
