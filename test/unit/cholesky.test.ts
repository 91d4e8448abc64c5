import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { choleskySolveRef, CholeskyStatus } from '../../sdk/model/cholesky-ref.js';
import { loadLinalg, type WasmLinalg } from '../../sdk/wasm/linalg.js';
import { mulberry32 } from '../../sdk/util/random.js';

const WASM_PATH = new URL('../../build/wasm/mofa.wasm', import.meta.url);

const rng = mulberry32;

/** A = JᵀJ (n×n, row-major) for a random J of shape (m, n): SPD when m ≥ n, rank ≤ m. */
function gram(n: number, m: number, rand: () => number): Float64Array {
  const j = new Float64Array(m * n).map(() => rand() * 2 - 1);
  const a = new Float64Array(n * n);
  for (let r = 0; r < m; r++) {
    const row = r * n;
    for (let p = 0; p < n; p++) {
      const v = j[row + p];
      for (let q = 0; q <= p; q++) a[p * n + q] += v * j[row + q];
    }
  }
  for (let p = 0; p < n; p++) for (let q = 0; q < p; q++) a[q * n + p] = a[p * n + q];
  return a;
}

/** ‖(A + λ·diag A) x − b‖ / ‖b‖. */
function relResidual(a: Float64Array, x: Float64Array, b: Float64Array, lambda: number): number {
  const n = b.length;
  let rr = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    let s = lambda * a[i * n + i] * x[i];
    for (let k = 0; k < n; k++) s += a[i * n + k] * x[k];
    rr += (s - b[i]) ** 2;
    bb += b[i] ** 2;
  }
  return Math.sqrt(rr / bb);
}

function randomVector(n: number, rand: () => number): Float64Array {
  return new Float64Array(n).map(() => rand() * 2 - 1);
}

describe('choleskySolve (AssemblyScript WASM vs TS reference)', () => {
  let linalg: WasmLinalg;
  beforeAll(async () => {
    linalg = await loadLinalg(await readFile(WASM_PATH));
  });

  for (const lambda of [0, 0.1]) {
    it(`solves random SPD systems, n = 257, λ = ${lambda}`, () => {
      const rand = rng(1234 + lambda * 1000);
      const n = 257;
      for (let trial = 0; trial < 2; trial++) {
        const a = gram(n, 2 * n, rand);
        const b = randomVector(n, rand);
        const aCopy = a.slice();
        const bCopy = b.slice();
        const { status, x } = linalg.choleskySolve(a, b, lambda);
        expect(status).toBe(CholeskyStatus.OK);
        expect(a).toEqual(aCopy); // the wrapper does not touch the caller's arrays
        expect(b).toEqual(bCopy);
        expect(relResidual(a, x!, b, lambda)).toBeLessThan(1e-9);

        const aRef = a.slice();
        const xRef = b.slice();
        expect(choleskySolveRef(aRef, xRef, n, lambda)).toBe(CholeskyStatus.OK);
        expect(relResidual(a, xRef, b, lambda)).toBeLessThan(1e-9);
        let diff = 0;
        let norm = 0;
        for (let i = 0; i < n; i++) {
          diff = Math.max(diff, Math.abs(x![i] - xRef[i]));
          norm = Math.max(norm, Math.abs(xRef[i]));
        }
        expect(diff / norm).toBeLessThan(1e-9);
      }
    });
  }

  it('solves a small system exactly', () => {
    // [[4, 2], [2, 3]] x = [2, 1] → x = [0.5, 0]
    const { status, x } = linalg.choleskySolve(new Float64Array([4, 2, 2, 3]), new Float64Array([2, 1]));
    expect(status).toBe(0);
    expect(x![0]).toBeCloseTo(0.5, 14);
    expect(x![1]).toBeCloseTo(0, 14);
  });

  it('reports rank-deficient (singular) matrices as a failed pivot, without NaN', () => {
    const n = 257;
    const rand = rng(99);
    const a = gram(n, n - 1, rand); // rank n − 1
    const b = randomVector(n, rand);
    const { status, x } = linalg.choleskySolve(a, b);
    expect(status).toBeGreaterThan(0);
    expect(status).toBeLessThanOrEqual(n);
    expect(x).toBeNull();
    expect(choleskySolveRef(a.slice(), b.slice(), n)).toBe(status);
  });

  it('reports a near-singular matrix (tiny pivot relative to its diagonal)', () => {
    // [[1, 1], [1, 1 + 1e-14]]: second pivot 1e-14 < 1e-12 · a_11.
    const a = new Float64Array([1, 1, 1, 1 + 1e-14]);
    const b = new Float64Array([1, 2]);
    expect(linalg.choleskySolve(a, b).status).toBe(2);
    expect(choleskySolveRef(a.slice(), b.slice(), 2)).toBe(2);
    // …which Marquardt damping λ = 1e-3 makes well-posed again.
    const damped = linalg.choleskySolve(a, b, 1e-3);
    expect(damped.status).toBe(0);
    expect(relResidual(a, damped.x!, b, 1e-3)).toBeLessThan(1e-9);
  });

  it('reports indefinite matrices with the failing pivot index + 1', () => {
    const n = 12;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = 1;
    // Block [[1, 2], [2, 1]] on rows 5, 6: eigenvalues 3 and −1, positive diagonal.
    a[5 * n + 6] = 2;
    a[6 * n + 5] = 2;
    const b = new Float64Array(n).fill(1);
    expect(linalg.choleskySolve(a, b).status).toBe(7);
    expect(choleskySolveRef(a.slice(), b.slice(), n)).toBe(7);

    const negDiag = gram(8, 16, rng(5));
    negDiag[3 * 8 + 3] = -1;
    expect(linalg.choleskySolve(negDiag, new Float64Array(8).fill(1)).status).toBe(4);
  });

  it('rejects NaN / infinite input and bad λ with codes, never NaN output', () => {
    const a = gram(6, 12, rng(7));
    const b = new Float64Array(6).fill(1);
    const withNaN = a.slice();
    withNaN[4 * 6 + 2] = NaN; // lower triangle, row 4
    expect(linalg.choleskySolve(withNaN, b).status).toBe(5);
    const bInf = b.slice();
    bInf[3] = Infinity;
    expect(linalg.choleskySolve(a, bInf).status).toBe(CholeskyStatus.NONFINITE_RHS);
    expect(linalg.choleskySolve(a, b, -1).status).toBe(CholeskyStatus.BAD_LAMBDA);
    expect(linalg.choleskySolve(a, b, NaN).status).toBe(CholeskyStatus.BAD_LAMBDA);
    expect(() => linalg.choleskySolve(a, new Float64Array(5))).toThrow(/n×n/);
  });

  it('does not leak linear memory across many solves', () => {
    const a = gram(64, 128, rng(11));
    const b = new Float64Array(64).fill(1);
    linalg.choleskySolve(a, b);
    const pagesBefore = linalg.exports.memory.buffer.byteLength;
    for (let i = 0; i < 200; i++) linalg.choleskySolve(a, b);
    expect(linalg.exports.memory.buffer.byteLength).toBe(pagesBefore);
  });
});
