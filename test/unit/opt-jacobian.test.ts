/**
 * Analytic Jacobian (Eq. 6, 12) of the reference residuals vs central finite differences of F,
 * and the reference backend's JᵀJ / JᵀF vs the explicit J.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CODE_DIM, CODE_OFFSET, type CodeSegmentName } from '../../sdk/model/code-layout.js';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import type { OptProblem } from '../../sdk/opt/backend.js';
import { linearizeReference } from '../../sdk/opt/reference-backend.js';
import {
  decodeGeometry, evaluateResiduals, irlsScales, residualCount, selectPhotometricVertices,
  VertexState, vertexForward, type DecodedGeometry, type PhotometricSet,
} from '../../sdk/opt/residuals.js';
import { defaultOptWeights } from '../../sdk/opt/weights.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { perturbedCode, sceneProblem, syntheticScene } from './opt-scene.js';

/**
 * FD step per code block (code units). α, δ use 1e-2: the decoded shape is float32
 * (computeShape), whose rounding (~4e-6 mm at 100 mm) makes the FD error ∝ 1/h for the
 * small-σ columns (measured worst landmark-row error 1.2e-2 at h = 1e-3, 1.2e-3 at h = 1e-2);
 * F is polynomial in α, δ up to the projection, so the larger step costs no truncation error.
 * Rotation uses 1e-4 rad so that |Δu| ≈ 0.01 px and few vertices change bilinear cell.
 */
const STEP: Record<CodeSegmentName, number> = { alpha: 1e-2, delta: 1e-2, beta: 1e-3, rotation: 1e-4, translation: 1e-3, gamma: 1e-3 };
/** Columns tested per block (all of pose, a spread of the others). */
const COLUMNS: Record<CodeSegmentName, number[]> = {
  alpha: [0, 1, 5, 23, 57, 79],
  delta: [0, 2, 9, 40, 63],
  beta: [0, 1, 17, 79],
  rotation: [0, 1, 2],
  translation: [0, 1, 2],
  gamma: [0, 1, 5, 8, 9, 12, 18, 22, 26],
};

/** (|P|) image cell (⌊u − ½⌋, ⌊v − ½⌋) of each photometric vertex, encoded as one number. */
function cells(problem: OptProblem, geo: DecodedGeometry, set: PhotometricSet): Float64Array {
  const s = new VertexState();
  return Float64Array.from(set.vertex, (i) => {
    vertexForward(problem, geo, i, s, false);
    return Math.floor(s.u - 0.5) * 100000 + Math.floor(s.v - 0.5);
  });
}

describe('Opt Jacobian (reference) vs finite differences', () => {
  let model: FaceModel;
  let problem: OptProblem;
  let x: Float64Array;
  let geo: DecodedGeometry;
  let set: PhotometricSet;
  let J: Float64Array;
  let M: number;

  beforeAll(async () => {
    model = await loadFaceModel('models/mofa-face-v1.mofa');
    const scene = syntheticScene(model);
    // a small sample keeps the 2 × 30 extra evaluations of F cheap; landmarks all 468.
    problem = sceneProblem(model, scene, defaultOptWeights, 150);
    x = perturbedCode(scene.xTrue);
    geo = decodeGeometry(problem, x);
    set = irlsScales(problem, geo, selectPhotometricVertices(problem, geo, 0));
    const r = evaluateResiduals(problem, geo, set, true);
    J = r.J!;
    M = residualCount(problem, set);
  });

  for (const name of Object.keys(COLUMNS) as CodeSegmentName[]) {
    const frozen = name === 'alpha' || name === 'delta';
    it(`${name} columns match central differences${frozen ? ' (normals frozen, the documented approximation)' : ''}`, () => {
      const P = set.vertex.length;
      const L = problem.landmarks!.vertex.length;
      let worst = 0;
      let worstLand = 0;
      let masked = 0;
      for (const k of COLUMNS[name]) {
        const col = CODE_OFFSET[name] + k;
        const h = STEP[name];
        const xp = Float64Array.from(x); xp[col] += h;
        const xm = Float64Array.from(x); xm[col] -= h;
        const gp = decodeGeometry(problem, xp, frozen ? geo.normal : undefined);
        const gm = decodeGeometry(problem, xm, frozen ? geo.normal : undefined);
        const Fp = evaluateResiduals(problem, gp, set, false).F;
        const Fm = evaluateResiduals(problem, gm, set, false).F;
        // The bilinear interpolant is not differentiable across cell borders: skip vertices whose
        // cell differs between x − h and x + h.
        const cp = cells(problem, gp, set), cm = cells(problem, gm, set);
        let num = 0, den = 0, numL = 0, denL = 0;
        for (let r = 0; r < M; r++) {
          if (r < 3 * P && cp[Math.floor(r / 3)] !== cm[Math.floor(r / 3)]) { masked++; continue; }
          const fd = (Fp[r] - Fm[r]) / (2 * h);
          const an = J[r * CODE_DIM + col];
          if (r >= 3 * P && r < 3 * P + 2 * L) { numL += (fd - an) ** 2; denL += an * an; }
          num += (fd - an) ** 2;
          den += an * an;
        }
        const rel = Math.sqrt(num / Math.max(den, 1e-300));
        worst = Math.max(worst, rel);
        if (denL > 0) worstLand = Math.max(worstLand, Math.sqrt(numL / denL));
        expect(den, `column ${name}[${k}] is all zero`).toBeGreaterThan(0);
      }
      console.log(`FD ${name}: worst column ‖J_fd − J‖/‖J‖ = ${worst.toExponential(2)} (landmark rows ${worstLand.toExponential(2)}), ${masked} rows masked for cell crossings`);
      // β, γ, t agree to ≤ 2e-10, rotation to ~5e-7 (FD truncation); α, δ to ~1.3e-3, limited by the float32 shape.
      expect(worst).toBeLessThan(frozen ? 3e-3 : 5e-6);
      expect(worstLand).toBeLessThan(frozen ? 3e-3 : 5e-6);
    });
  }

  it('regulariser rows are the constant diagonal of Eq. (10)', () => {
    const P = set.vertex.length;
    const L = problem.landmarks!.vertex.length;
    const { reg, beta, delta } = problem.weights;
    const base = 3 * P + 2 * L;
    expect(J[base * CODE_DIM + CODE_OFFSET.alpha]).toBeCloseTo(Math.sqrt(reg), 12);
    expect(J[(base + 80) * CODE_DIM + CODE_OFFSET.beta]).toBeCloseTo(Math.sqrt(reg * beta), 12);
    expect(J[(base + 160 + 63) * CODE_DIM + CODE_OFFSET.delta + 63]).toBeCloseTo(Math.sqrt(reg * delta), 12);
    let nnz = 0;
    for (let r = base; r < M; r++) for (let c = 0; c < CODE_DIM; c++) if (J[r * CODE_DIM + c] !== 0) nnz++;
    expect(nnz).toBe(224);
  });

  it('linearize: JᵀJ and JᵀF equal the products of the explicit J and F', () => {
    const lin = linearizeReference(problem, x, 0);
    expect(Array.from(lin.set.vertex)).toEqual(Array.from(set.vertex));
    const { F } = evaluateResiduals(problem, geo, set, false);
    // naive products over the columns of J (transposed once for contiguous dot products)
    const Jt = new Float64Array(M * CODE_DIM);
    for (let r = 0; r < M; r++) for (let p = 0; p < CODE_DIM; p++) Jt[p * M + r] = J[r * CODE_DIM + p];
    let maxJtj = 0, errJtj = 0, maxJtf = 0, errJtf = 0, asym = 0;
    for (let p = 0; p < CODE_DIM; p++) {
      let sf = 0;
      for (let r = 0; r < M; r++) sf += Jt[p * M + r] * F[r];
      maxJtf = Math.max(maxJtf, Math.abs(sf));
      errJtf = Math.max(errJtf, Math.abs(sf - lin.jtf[p]));
      for (let q = 0; q < CODE_DIM; q++) {
        let s = 0;
        for (let r = 0; r < M; r++) s += Jt[p * M + r] * Jt[q * M + r];
        maxJtj = Math.max(maxJtj, Math.abs(s));
        errJtj = Math.max(errJtj, Math.abs(s - lin.jtj[p * CODE_DIM + q]));
        asym = Math.max(asym, Math.abs(lin.jtj[p * CODE_DIM + q] - lin.jtj[q * CODE_DIM + p]));
      }
    }
    let e = 0;
    for (const f of F) e += f * f;
    expect(errJtj / maxJtj).toBeLessThan(1e-12);
    expect(errJtf / maxJtf).toBeLessThan(1e-12);
    expect(asym).toBe(0);
    expect(Math.abs(lin.energy.total - e) / e).toBeLessThan(1e-12);
  });
});
