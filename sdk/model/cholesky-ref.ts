/**
 * Plain TypeScript reference of assembly/cholesky.ts (same maths, same return codes, no SIMD):
 * solves the Levenberg–Marquardt normal equations (A + λ·diag(A)) x = b for a dense SPD A.
 * Used by tests to check the WASM kernel and as the fallback where WASM is unavailable.
 */

/** Relative pivot tolerance: pivot d_j is rejected when d_j ≤ PIVOT_RTOL · a_jj (see assembly/cholesky.ts). */
export const PIVOT_RTOL = 1e-12;

/** Return codes shared with the WASM kernel; a positive k means "pivot k−1 failed". */
export const CholeskyStatus = {
  OK: 0,
  /** n ≤ 0 or array lengths do not match n. */
  BAD_SIZE: -1,
  /** λ is negative, NaN or infinite. */
  BAD_LAMBDA: -2,
  /** b contains a NaN or infinity. */
  NONFINITE_RHS: -3,
  /** The solve overflowed; x is not usable. */
  NONFINITE_SOLUTION: -4,
} as const;

/**
 * In-place Cholesky–Banachiewicz factorisation of a row-major n×n SPD matrix (lower triangle
 * read; on success it holds L with A = L·Lᵀ, strict upper triangle untouched).
 * Returns 0, or i + 1 for the first failing pivot row i.
 */
export function choleskyFactorRef(a: Float64Array, n: number): number {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j < i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
      a[ri + j] = s / a[rj + j];
    }
    const aii = a[ri + i];
    let d = aii;
    for (let k = 0; k < i; k++) d -= a[ri + k] * a[ri + k];
    if (!(d > PIVOT_RTOL * aii) || !(aii < Infinity)) return i + 1;
    a[ri + i] = Math.sqrt(d);
  }
  return CholeskyStatus.OK;
}

/** Solves L·Lᵀ x = b in place (b ← x) with the factor from `choleskyFactorRef`. */
export function choleskySubstituteRef(l: Float64Array, b: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

/**
 * Solves (A + λ·diag(A)) x = b in place: `a` (n×n row-major, f64) is overwritten with its
 * Cholesky factor, `b` (length n) with x. λ ≥ 0 is Marquardt's damping (0 = plain Gauss–Newton).
 * Returns a `CholeskyStatus` code (0 = success) or k > 0 when pivot k − 1 failed.
 */
export function choleskySolveRef(a: Float64Array, b: Float64Array, n: number, lambda = 0): number {
  if (!(n > 0) || a.length < n * n || b.length < n) return CholeskyStatus.BAD_SIZE;
  if (!(lambda >= 0) || !(lambda < Infinity)) return CholeskyStatus.BAD_LAMBDA;
  for (let i = 0; i < n; i++) if (!Number.isFinite(b[i])) return CholeskyStatus.NONFINITE_RHS;
  if (lambda !== 0) for (let i = 0; i < n; i++) a[i * n + i] *= 1 + lambda;
  const status = choleskyFactorRef(a, n);
  if (status !== CholeskyStatus.OK) return status;
  choleskySubstituteRef(a, b, n);
  for (let i = 0; i < n; i++) if (!Number.isFinite(b[i])) return CholeskyStatus.NONFINITE_SOLUTION;
  return CholeskyStatus.OK;
}
