/**
 * Dense Cholesky factorisation and solve for the Gauss–Newton / Levenberg–Marquardt normal
 * equations (JᵀJ + λ·diag(JᵀJ)) δ = Jᵀr of the MoFA model-fitting stage (paper Sec. 6, the
 * 257-parameter code). All arrays live in this module's linear memory; pointers are byte
 * offsets from `alloc` (assembly/index.ts).
 *
 * Storage: A is an n×n row-major f64 matrix (element (i, j) at aPtr + 8·(i·n + j)); only its
 * lower triangle (including the diagonal) is read. b is an f64 vector of length n.
 */

/**
 * A pivot d_j is rejected when d_j ≤ PIVOT_RTOL · a_jj, where a_jj is the (damped) diagonal
 * entry it was computed from. For an SPD matrix d_j / a_jj ≥ 1 / cond(A) roughly, so this
 * flags matrices whose condition number exceeds ~1e12, where an f64 solve would have lost
 * nearly all significant digits anyway.
 */
export const PIVOT_RTOL: f64 = 1e-12;

/** Return codes of `choleskySolve`; positive values k > 0 mean "pivot k−1 failed". */
export const CHOL_OK: i32 = 0;
/** n ≤ 0. */
export const CHOL_BAD_SIZE: i32 = -1;
/** λ is negative, NaN or infinite. */
export const CHOL_BAD_LAMBDA: i32 = -2;
/** b contains a NaN or infinity. */
export const CHOL_NONFINITE_RHS: i32 = -3;
/** The solve produced a non-finite x (overflow); x is not usable. */
export const CHOL_NONFINITE_SOLUTION: i32 = -4;

/** Σ_{k<len} p[k]·q[k] for two contiguous f64 runs; SIMD f64x2 with a scalar tail. */
// @ts-ignore: decorator
@inline
function dot(p: usize, q: usize, len: i32): f64 {
  let acc = f64x2.splat(0.0);
  let k: i32 = 0;
  for (; k + 1 < len; k += 2) {
    const off = <usize>k << 3;
    acc = f64x2.add(acc, f64x2.mul(v128.load(p + off), v128.load(q + off)));
  }
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (k < len) {
    const off = <usize>k << 3;
    s += load<f64>(p + off) * load<f64>(q + off);
  }
  return s;
}

/** y[k] −= α·p[k] for k < len over contiguous f64 runs; SIMD f64x2 with a scalar tail. */
// @ts-ignore: decorator
@inline
function axpyNeg(alpha: f64, p: usize, y: usize, len: i32): void {
  const a = f64x2.splat(alpha);
  let k: i32 = 0;
  for (; k + 1 < len; k += 2) {
    const off = <usize>k << 3;
    v128.store(y + off, f64x2.sub(v128.load(y + off), f64x2.mul(a, v128.load(p + off))));
  }
  if (k < len) {
    const off = <usize>k << 3;
    store<f64>(y + off, load<f64>(y + off) - alpha * load<f64>(p + off));
  }
}

/**
 * Adds Marquardt damping a_ii ← (1 + λ)·a_ii in place (LM with the diagonal scaling of
 * Marquardt 1963: λ·diag(A) rather than λ·I, so the step is invariant to parameter scale).
 */
export function dampDiagonal(aPtr: usize, n: i32, lambda: f64): void {
  const scale = 1.0 + lambda;
  for (let i: i32 = 0; i < n; i++) {
    const p = aPtr + ((<usize>i * n + i) << 3);
    store<f64>(p, load<f64>(p) * scale);
  }
}

/**
 * In-place Cholesky–Banachiewicz factorisation A = L·Lᵀ, row by row:
 *   l_ij = (a_ij − Σ_{k<j} l_ik l_jk) / l_jj   (j < i)
 *   l_ii = √(a_ii − Σ_{k<i} l_ik²)
 * Each sum is a dot product of two contiguous row prefixes of L, hence SIMD-friendly.
 * On success the lower triangle (with diagonal) of A holds L; the strict upper triangle is
 * untouched. Returns 0, or i + 1 for the first row i whose pivot is not positive, is NaN, or
 * is ≤ PIVOT_RTOL · a_ii (A not numerically positive definite); A is then partly overwritten.
 */
export function choleskyFactor(aPtr: usize, n: i32): i32 {
  const rowBytes = <usize>n << 3;
  for (let i: i32 = 0; i < n; i++) {
    const rowI = aPtr + <usize>i * rowBytes;
    for (let j: i32 = 0; j < i; j++) {
      const rowJ = aPtr + <usize>j * rowBytes;
      const s = load<f64>(rowI + (<usize>j << 3)) - dot(rowI, rowJ, j);
      store<f64>(rowI + (<usize>j << 3), s / load<f64>(rowJ + (<usize>j << 3)));
    }
    const diagPtr = rowI + (<usize>i << 3);
    const aii = load<f64>(diagPtr);
    const d = aii - dot(rowI, rowI, i);
    // Negated comparison so that NaN (from NaN/Inf anywhere in the row) also fails.
    if (!(d > PIVOT_RTOL * aii) || !(aii < Infinity)) return i + 1;
    store<f64>(diagPtr, Math.sqrt(d));
  }
  return CHOL_OK;
}

/**
 * Solves L·Lᵀ x = b in place (b ← x) given the factor from `choleskyFactor`.
 * Forward: y_i = (b_i − Σ_{k<i} l_ik y_k) / l_ii (row dot products).
 * Backward, column-oriented so it reads rows of L: x_i = y_i / l_ii, then y_k −= l_ik x_i (k < i).
 */
export function choleskySubstitute(lPtr: usize, bPtr: usize, n: i32): void {
  const rowBytes = <usize>n << 3;
  for (let i: i32 = 0; i < n; i++) {
    const rowI = lPtr + <usize>i * rowBytes;
    const bi = bPtr + (<usize>i << 3);
    store<f64>(bi, (load<f64>(bi) - dot(rowI, bPtr, i)) / load<f64>(rowI + (<usize>i << 3)));
  }
  for (let i: i32 = n - 1; i >= 0; i--) {
    const rowI = lPtr + <usize>i * rowBytes;
    const bi = bPtr + (<usize>i << 3);
    const xi = load<f64>(bi) / load<f64>(rowI + (<usize>i << 3));
    store<f64>(bi, xi);
    axpyNeg(xi, rowI, bPtr, i);
  }
}

/**
 * Solves (A + λ·diag(A)) x = b for a dense symmetric positive-definite A (n×n, row-major f64,
 * lower triangle read) — one Levenberg–Marquardt step of the model fit.
 * A is overwritten by its Cholesky factor (lower triangle), b by x.
 * Returns 0 on success; a negative CHOL_* code for invalid input / non-finite output; or
 * k > 0 when pivot k − 1 failed (A + λ·diag(A) not numerically positive definite).
 * On any non-zero return b holds no usable solution. Never yields NaN in x on success.
 */
export function choleskySolve(aPtr: usize, bPtr: usize, n: i32, lambda: f64): i32 {
  if (n <= 0) return CHOL_BAD_SIZE;
  if (!(lambda >= 0.0) || !(lambda < Infinity)) return CHOL_BAD_LAMBDA;
  for (let i: i32 = 0; i < n; i++) {
    const v = load<f64>(bPtr + (<usize>i << 3));
    if (!(v - v == 0.0)) return CHOL_NONFINITE_RHS; // false for NaN and ±Inf
  }
  if (lambda != 0.0) dampDiagonal(aPtr, n, lambda);
  const status = choleskyFactor(aPtr, n);
  if (status != CHOL_OK) return status;
  choleskySubstitute(aPtr, bPtr, n);
  for (let i: i32 = 0; i < n; i++) {
    const v = load<f64>(bPtr + (<usize>i << 3));
    if (!(v - v == 0.0)) return CHOL_NONFINITE_SOLUTION;
  }
  return CHOL_OK;
}
