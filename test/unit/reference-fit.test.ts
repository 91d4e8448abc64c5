import { describe, expect, it } from 'vitest';
import { choleskySolve, fitLandmarks, fitSimilarity, landmarkSystem, landmarksToTargets, median, symmetricEigen } from '../../tools/eval/fit-landmarks.js';
import { rotationMatrix } from '../../sdk/model/camera.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { rng } from './reference-meshes.js';

function randn(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function transform(s: number, R: ArrayLike<number>, t: ArrayLike<number>, p: ArrayLike<number>): Float64Array {
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i += 3) {
    for (let a = 0; a < 3; a++) out[i + a] = s * (R[3 * a] * p[i] + R[3 * a + 1] * p[i + 1] + R[3 * a + 2] * p[i + 2]) + t[a];
  }
  return out;
}

describe('landmark fitting (tools/eval)', () => {
  const r = rng(3);

  it('symmetricEigen and choleskySolve agree with their definitions', () => {
    const A = [4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2];
    const { values, vectors } = symmetricEigen(A, 3);
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 3; i++) {
        const Av = A[3 * i] * vectors[k] + A[3 * i + 1] * vectors[3 + k] + A[3 * i + 2] * vectors[6 + k];
        expect(Av).toBeCloseTo(values[k] * vectors[3 * i + k], 10);
      }
    }
    const x = choleskySolve(A, [1, 2, 3], 3);
    for (let i = 0; i < 3; i++) expect(A[3 * i] * x[0] + A[3 * i + 1] * x[1] + A[3 * i + 2] * x[2]).toBeCloseTo(i + 1, 10);
  });

  it('fitSimilarity recovers a known scale, rotation and translation', () => {
    const src = Float64Array.from({ length: 3 * 30 }, () => 50 * randn(r));
    const R = rotationMatrix([0.3, -0.9, 2.0]);
    const dst = transform(2.5, R, [10, -20, 300], src);
    const fit = fitSimilarity(src, dst);
    expect(fit.s).toBeCloseTo(2.5, 8);
    for (let k = 0; k < 9; k++) expect(fit.R[k]).toBeCloseTo(R[k], 8);
    expect(fit.t[2]).toBeCloseTo(300, 6);
  });

  it('recovers synthetic shape and expression coefficients; residuals shrink from mean → shape → full', () => {
    const L = 60, Ks = 6, Ke = 4;
    const rand = (n: number, sd: number) => Float32Array.from({ length: n }, () => sd * randn(r));
    const model = {
      t1: { meanShape: rand(3 * L, 40) },
      shapeBasis: rand(3 * L * Ks, 3), shapeDim: Ks,
      expressionBasis: rand(3 * L * Ke, 3), expressionDim: Ke,
      landmarks: { mediapipe468: Uint32Array.from({ length: L }, (_, i) => i) },
    } as unknown as FaceModel;
    const alpha = [1, -0.5, 0.8, 0, 0.3, -1.2], delta = [0.7, 0, -0.4, 1];
    const V = new Float64Array(3 * L);
    for (let row = 0; row < 3 * L; row++) {
      let v = model.t1.meanShape[row];
      for (let k = 0; k < Ks; k++) v += model.shapeBasis[row * Ks + k] * alpha[k];
      for (let k = 0; k < Ke; k++) v += model.expressionBasis[row * Ke + k] * delta[k];
      V[row] = v;
    }
    const targets = transform(1.7, rotationMatrix([0.1, 0.4, -0.2]), [200, -150, 20], V);
    const sys = landmarkSystem(model);
    const full = fitLandmarks(sys, targets, 'full', { lambda: 1e-6, iterations: 20 });
    for (let k = 0; k < Ks; k++) expect(full.alpha[k]).toBeCloseTo(alpha[k], 3);
    for (let k = 0; k < Ke; k++) expect(full.delta[k]).toBeCloseTo(delta[k], 3);
    expect(median(full.residual)).toBeLessThan(1e-3);
    const shape = fitLandmarks(sys, targets, 'shape');
    const mean = fitLandmarks(sys, targets, 'mean');
    expect(median(mean.residual)).toBeGreaterThan(median(shape.residual));
    expect(median(shape.residual)).toBeGreaterThan(median(full.residual));
    expect(Array.from(mean.alpha).every((v) => v === 0)).toBe(true);
    expect(Array.from(landmarksToTargets([1, 2, 3]))).toEqual([1, -2, -3]);
  });
});
