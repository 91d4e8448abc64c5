import { describe, expect, it } from 'vitest';
import { applyAffineBasis, computeAlbedo, computeShape } from '../../sdk/model/decode.js';
import { computeNormals } from '../../sdk/model/normals.js';
import {
  SH_AMBIENT_OFFSET, SH_LAMBERT_FACTORS, effectiveGamma, gammaFromLights, irradiance, irradianceBasis, shBasis, shade,
} from '../../sdk/model/shading.js';
import { DEFAULT_INTRINSICS, eulerFromRotation, project, rotateVectors, rotationMatrix, toCamera } from '../../sdk/model/camera.js';
import { MofaError } from '../../sdk/errors.js';
import { icosphere, rng } from './reference-meshes.js';

function randn(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function matmul3(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const o: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) o.push(a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j]);
  return o;
}

describe('decode (Eq. 2, 3)', () => {
  const r = rng(1);
  const N = 50, Ks = 7, Ke = 5, Ka = 4;
  const rand = (n: number) => Float32Array.from({ length: n }, () => randn(r));
  const model = {
    t1: { meanShape: rand(3 * N) } as never,
    shapeBasis: rand(3 * N * Ks), shapeDim: Ks,
    expressionBasis: rand(3 * N * Ke), expressionDim: Ke,
    albedoMean: rand(3 * N), albedoBasis: rand(3 * N * Ka), albedoDim: Ka,
  };
  const mean = (model.t1 as unknown as { meanShape: Float32Array }).meanShape;

  it('computeShape equals A_s + E_s α + E_e δ computed naively', () => {
    const alpha = Array.from({ length: Ks }, () => randn(r));
    const delta = Array.from({ length: Ke }, () => randn(r));
    const v = computeShape(model, alpha, delta);
    for (let row = 0; row < 3 * N; row++) {
      let e = mean[row];
      for (let k = 0; k < Ks; k++) e += model.shapeBasis[row * Ks + k] * alpha[k];
      for (let k = 0; k < Ke; k++) e += model.expressionBasis[row * Ke + k] * delta[k];
      expect(v[row]).toBeCloseTo(e, 4);
    }
    // zero coefficients give the mean, and the inputs are untouched
    const m = computeShape(model, new Array(Ks).fill(0), new Array(Ke).fill(0));
    expect(Array.from(m)).toEqual(Array.from(mean));
  });

  it('computeAlbedo equals A_r + E_r β', () => {
    const beta = [0.5, -1, 2, 0];
    const a = computeAlbedo(model, beta);
    for (let row = 0; row < 3 * N; row++) {
      let e = model.albedoMean[row];
      for (let k = 0; k < Ka; k++) e += model.albedoBasis[row * Ka + k] * beta[k];
      expect(a[row]).toBeCloseTo(e, 4);
    }
  });

  it('rejects coefficient vectors of the wrong length', () => {
    expect(() => computeShape(model, [1, 2], new Array(Ke).fill(0))).toThrow(MofaError);
    expect(() => computeAlbedo(model, [1])).toThrow(/beta has 1 coefficients/);
    expect(() => applyAffineBasis(new Float32Array(3), new Float32Array(5), [1, 2], new Float32Array(3))).toThrow(MofaError);
  });
});

describe('computeNormals', () => {
  it('gives outward unit normals on a subdivided sphere (CCW seen from outside)', () => {
    const { position, index } = icosphere(3);
    const n = computeNormals(position, index);
    let minDot = 1;
    for (let i = 0; i < position.length; i += 3) {
      const len = Math.hypot(n[i], n[i + 1], n[i + 2]);
      expect(len).toBeCloseTo(1, 5);
      minDot = Math.min(minDot, n[i] * position[i] + n[i + 1] * position[i + 1] + n[i + 2] * position[i + 2]);
    }
    expect(minDot).toBeGreaterThan(0.999);
  });

  it('flips with the winding and weights faces by area', () => {
    const { position, index } = icosphere(1);
    const flipped = index.slice();
    for (let f = 0; f < flipped.length; f += 3) [flipped[f + 1], flipped[f + 2]] = [flipped[f + 2], flipped[f + 1]];
    const a = computeNormals(position, index), b = computeNormals(position, flipped);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(-a[i], 6);
    // Vertex 0 shared by a big triangle in the z = 0 plane (normal +z) and a small one in the
    // x = 0 plane (normal +x): area weighting tilts the result toward +z.
    const pos = Float32Array.of(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, -1, 0, 1, 0);
    const nn = computeNormals(pos, Uint32Array.of(0, 1, 2, 0, 3, 4));
    expect(nn[2]).toBeCloseTo(16 / Math.hypot(16, 1), 5);
    expect(nn[0]).toBeCloseTo(1 / Math.hypot(16, 1), 5);
  });

  it('rejects out-of-range indices', () => {
    expect(() => computeNormals(new Float32Array(9), Uint32Array.of(0, 1, 3))).toThrow(MofaError);
  });
});

describe('spherical harmonics (Eq. 4)', () => {
  it('real SH basis is orthonormal (Fibonacci-sphere quadrature)', () => {
    const M = 40000;
    const gram = new Float64Array(81);
    const y = new Float64Array(9);
    for (let i = 0; i < M; i++) {
      const z = 1 - (2 * i + 1) / M;
      const rho = Math.sqrt(1 - z * z);
      const phi = i * Math.PI * (3 - Math.sqrt(5));
      shBasis(rho * Math.cos(phi), rho * Math.sin(phi), z, y);
      for (let a = 0; a < 9; a++) for (let b = 0; b < 9; b++) gram[9 * a + b] += y[a] * y[b];
    }
    for (let a = 0; a < 9; a++) for (let b = 0; b < 9; b++) {
      expect(Math.abs((4 * Math.PI / M) * gram[9 * a + b] - (a === b ? 1 : 0))).toBeLessThan(2e-3);
    }
  });

  it('has the documented values and ordering', () => {
    const y = new Float64Array(9);
    shBasis(0, 0, 1, y);
    expect(Array.from(y).map((v) => +v.toFixed(6))).toEqual([0.282095, 0, 0.488603, 0, 0, 0, 0.630783, 0, 0]);
    shBasis(1, 0, 0, y);
    expect(y[3]).toBeCloseTo(0.488603, 6);
    expect(y[8]).toBeCloseTo(0.546274, 6);
    const s = Math.SQRT1_2;
    shBasis(s, s, 0, y);
    expect(y[1]).toBeCloseTo(0.488603 * s, 6);
    expect(y[4]).toBeCloseTo(1.092548 * 0.5, 6);
    const h = irradianceBasis(0, 0, 1);
    expect(h[0]).toBeCloseTo(Math.sqrt(Math.PI) / 2, 12);
    expect(h[2]).toBeCloseTo((2 * Math.PI / 3) * 0.4886025, 6);
    expect(SH_LAMBERT_FACTORS[4]).toBeCloseTo(Math.PI / 4, 12);
  });

  it('a constant-albedo sphere under pure DC light shades to albedo · (γ0 + 0.7) · H0', () => {
    const { position, index } = icosphere(2);
    const normal = computeNormals(position, index);
    const N = position.length / 3;
    const albedo = new Float32Array(3 * N);
    for (let i = 0; i < N; i++) albedo.set([0.8, 0.6, 0.5], 3 * i);
    const gamma = new Float64Array(27);
    gamma[0] = 0.3; gamma[9] = 0.1; gamma[18] = -0.2; // DC of R, G, B (layout gamma[9c + b])
    const c = shade(albedo, normal, gamma);
    const H0 = Math.sqrt(Math.PI) / 2;
    for (let i = 0; i < N; i++) {
      expect(c[3 * i]).toBeCloseTo(0.8 * (0.3 + SH_AMBIENT_OFFSET) * H0, 5);
      expect(c[3 * i + 1]).toBeCloseTo(0.6 * (0.1 + SH_AMBIENT_OFFSET) * H0, 5);
      expect(c[3 * i + 2]).toBeCloseTo(0.5 * (-0.2 + SH_AMBIENT_OFFSET) * H0, 5);
    }
    // the zero code is lit by the offset alone; inputs are not mutated
    const zero = new Float64Array(27);
    const e = irradiance(normal, zero);
    expect(e[0]).toBeCloseTo(0.7 * H0, 6);
    expect(Array.from(zero).every((v) => v === 0)).toBe(true);
    expect(effectiveGamma(zero)[9]).toBe(SH_AMBIENT_OFFSET);
  });

  it('channels use their own coefficients (layout gamma[9c + b])', () => {
    const n = Float32Array.of(0, 1, 0);
    const g = new Float64Array(27);
    g[9 + 1] = 1; // green, b = 1 (∝ y)
    const e = irradiance(n, g);
    const base = 0.7 * Math.sqrt(Math.PI) / 2;
    expect(e[0]).toBeCloseTo(base, 6);
    expect(e[1]).toBeCloseTo(base + (2 * Math.PI / 3) * 0.488603, 5);
    expect(e[2]).toBeCloseTo(base, 6);
  });

  it('gammaFromLights approximates ambient + k·max(0, n·d)', () => {
    const d: [number, number, number] = [-0.5, 0.6, 0.62];
    const dl = Math.hypot(...d);
    const g = gammaFromLights([0.3, 0.3, 0.3], [{ direction: d, color: [1, 0.9, 0.8] }]);
    const { position } = icosphere(2);
    const e = irradiance(position, g);
    for (let i = 0; i < position.length; i += 3) {
      const cos = (position[i] * d[0] + position[i + 1] * d[1] + position[i + 2] * d[2]) / dl;
      // order-2 SH approximation error of the clamped cosine is ≤ 0.0625 (at n = ±d) plus interior error
      expect(Math.abs(e[i] - (0.3 + Math.max(0, cos)))).toBeLessThan(0.1);
      expect(Math.abs(e[i + 2] - (0.3 + 0.8 * Math.max(0, cos)))).toBeLessThan(0.1);
    }
  });
});

describe('camera (Eq. 5)', () => {
  it('rotationMatrix = Rz·Ry·Rx, orthonormal, with the documented senses', () => {
    const [p, y, r] = [0.3, -0.7, 1.1];
    const Rx = [1, 0, 0, 0, Math.cos(p), -Math.sin(p), 0, Math.sin(p), Math.cos(p)];
    const Ry = [Math.cos(y), 0, Math.sin(y), 0, 1, 0, -Math.sin(y), 0, Math.cos(y)];
    const Rz = [Math.cos(r), -Math.sin(r), 0, Math.sin(r), Math.cos(r), 0, 0, 0, 1];
    const R = rotationMatrix([p, y, r]);
    const expected = matmul3(Rz, matmul3(Ry, Rx));
    for (let k = 0; k < 9; k++) expect(R[k]).toBeCloseTo(expected[k], 12);
    const RRt = matmul3(R, [R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8]]);
    for (let k = 0; k < 9; k++) expect(RRt[k]).toBeCloseTo(k % 4 === 0 ? 1 : 0, 12);
    const back = eulerFromRotation(R);
    expect(back[0]).toBeCloseTo(p, 10); expect(back[1]).toBeCloseTo(y, 10); expect(back[2]).toBeCloseTo(r, 10);
    // yaw > 0 turns the face's +z toward +x (image right); pitch > 0 turns it toward −y (looks down)
    const fwd = Float32Array.of(0, 0, 1);
    expect(rotateVectors(fwd, rotationMatrix([0, 0.2, 0]))[0]).toBeGreaterThan(0);
    expect(rotateVectors(fwd, rotationMatrix([0.2, 0, 0]))[1]).toBeLessThan(0);
  });

  it('toCamera applies p = R·v + t', () => {
    const R = rotationMatrix([0.1, 0.2, 0.3]);
    const v = Float32Array.of(10, -20, 30);
    const p = toCamera(v, R, [1, 2, -500]);
    expect(p[0]).toBeCloseTo(R[0] * 10 - R[1] * 20 + R[2] * 30 + 1, 4);
    expect(p[2]).toBeCloseTo(R[6] * 10 - R[7] * 20 + R[8] * 30 - 500, 4);
  });

  it('project puts the optical axis on the principal point; +x right, +y up on screen', () => {
    const intr = { focalPx: 800, cx: 100.5, cy: 80.25, width: 200, height: 160 };
    const { screen, depth } = project(Float32Array.of(0, 0, -600, 30, 0, -600, 0, 30, -600, 0, 0, 5), intr);
    expect(screen[0]).toBe(100.5);
    expect(screen[1]).toBe(80.25);
    expect(depth[0]).toBe(600);
    expect(screen[2]).toBeCloseTo(100.5 + 800 * 30 / 600, 4);
    expect(screen[5]).toBeCloseTo(80.25 - 800 * 30 / 600, 4);
    expect(Number.isNaN(screen[6])).toBe(true); // behind the camera
    const d = project(Float32Array.of(0, 0, -900));
    expect([d.screen[0], d.screen[1]]).toEqual([DEFAULT_INTRINSICS.cx, DEFAULT_INTRINSICS.cy]);
    expect(DEFAULT_INTRINSICS.cx).toBe(120);
  });
});
