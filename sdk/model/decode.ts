/**
 * Decoding of the affine face model (paper Sec. 4): semantic coefficients → per-vertex
 * geometry (Eq. 2) and reflectance (Eq. 3).
 *
 * These loops are the plain-TypeScript reference for the GPU/WASM kernels: one pass over the
 * 3N rows of a row-major (3N, K) basis, inner loop over the K coefficients, accumulated in
 * float64 and stored as float32.
 */
import { MofaError } from '../errors.js';
import type { FaceModel } from '../types/face-model.js';

/**
 * out[r] = mean[r] + Σ_k basis[r·K + k] · coeffs[k] for r in 0..rows, i.e. the affine map
 * `mean + E · coeffs` of Eq. (2)/(3) for one basis.
 * @param mean (rows) — flattened (N, 3) mean.
 * @param basis (rows, K) row-major.
 * @param coeffs (K) coefficients.
 * @param out (rows) written in place; it is the return value (`mean` is not modified).
 */
export function applyAffineBasis(
  mean: Float32Array,
  basis: Float32Array,
  coeffs: ArrayLike<number>,
  out: Float32Array,
): Float32Array {
  const rows = mean.length;
  const K = coeffs.length;
  if (basis.length !== rows * K) {
    throw new MofaError('BAD_INPUT', `basis has ${basis.length} entries, expected rows·K = ${rows}·${K}: pass exactly one coefficient per basis column`);
  }
  if (out.length !== rows) throw new MofaError('BAD_INPUT', `output has length ${out.length}, expected ${rows}`);
  const c = Float64Array.from(coeffs);
  for (let r = 0, base = 0; r < rows; r++, base += K) {
    let acc = mean[r];
    for (let k = 0; k < K; k++) acc += basis[base + k] * c[k];
    out[r] = acc;
  }
  return out;
}

/** Adds E · coeffs to `out` in place (the second term of Eq. 2). Shapes as in `applyAffineBasis`. */
function addBasis(basis: Float32Array, coeffs: ArrayLike<number>, out: Float32Array): void {
  const rows = out.length;
  const K = coeffs.length;
  if (basis.length !== rows * K) {
    throw new MofaError('BAD_INPUT', `basis has ${basis.length} entries, expected rows·K = ${rows}·${K}: pass exactly one coefficient per basis column`);
  }
  const c = Float64Array.from(coeffs);
  for (let r = 0, base = 0; r < rows; r++, base += K) {
    let acc = 0;
    for (let k = 0; k < K; k++) acc += basis[base + k] * c[k];
    out[r] += acc;
  }
}

function checkLength(name: string, v: ArrayLike<number>, expected: number): void {
  if (v.length !== expected) {
    throw new MofaError('BAD_INPUT', `${name} has ${v.length} coefficients but the face model has ${expected}: pass a vector of length ${expected}`);
  }
}

/**
 * Eq. (2): V = A_s + E_s α + E_e δ.
 * @param model face model (T1 mean shape and the shape / expression bases).
 * @param alpha (shapeDim = 80) shape coefficients, unit = one standard deviation.
 * @param delta (expressionDim = 64) expression coefficients (blendshape weights where the
 *   column is a named blendshape, 1 = full activation).
 * @returns (N, 3) vertex positions, mm, model frame (+x subject's left, +y up, +z toward the camera).
 */
export function computeShape(
  model: Pick<FaceModel, 't1' | 'shapeBasis' | 'shapeDim' | 'expressionBasis' | 'expressionDim'>,
  alpha: ArrayLike<number>,
  delta: ArrayLike<number>,
): Float32Array {
  checkLength('alpha', alpha, model.shapeDim);
  checkLength('delta', delta, model.expressionDim);
  const out = new Float32Array(model.t1.meanShape.length);
  applyAffineBasis(model.t1.meanShape, model.shapeBasis, alpha, out);
  addBasis(model.expressionBasis, delta, out);
  return out;
}

/**
 * Eq. (3): R = A_r + E_r β.
 * @param model face model (mean albedo and albedo basis).
 * @param beta (albedoDim = 80) reflectance coefficients, unit = one standard deviation.
 * @returns (N, 3) per-vertex albedo, linear RGB, nominally 0..1 (not clamped: the affine model
 *   can leave the range for large |β|; clamp when displaying).
 */
export function computeAlbedo(model: Pick<FaceModel, 'albedoMean' | 'albedoBasis' | 'albedoDim'>, beta: ArrayLike<number>): Float32Array {
  checkLength('beta', beta, model.albedoDim);
  return applyAffineBasis(model.albedoMean, model.albedoBasis, beta, new Float32Array(model.albedoMean.length));
}
