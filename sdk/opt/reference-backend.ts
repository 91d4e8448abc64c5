/**
 * The plain-TypeScript Opt backend (paper Sec. 9.1): the reference the WASM and WebGPU backends
 * are tested against. It never stores the whole Jacobian: rows are produced in blocks of
 * `VERTEX_BLOCK` vertices (3 rows each) by residuals.ts and folded into JᵀJ / JᵀF at once.
 */
import { MofaError } from '../errors.js';
import { CODE_DIM, CODE_OFFSET, CODE_SIZE } from '../model/code-layout.js';
import type { EnergyTerms, Linearization, OptBackend, OptProblem } from './backend.js';
import {
  accumulateNormalEquations, checkCode, checkOptProblem, decodeGeometry, energyTerms, irlsScales,
  landmarkRows, photometricRows, regularizerRows, selectPhotometricVertices, symmetrize,
  type PhotometricSet,
} from './residuals.js';

/** Vertices per block of Jacobian rows (3 rows each) in `linearizeReference`. */
const VERTEX_BLOCK = 32;

/** What `linearize` fixes for the following `energy` calls. */
export interface ReferenceLinearization extends Linearization {
  /** The photometric set P and its IRLS row scales. */
  set: PhotometricSet;
}

/**
 * Linearises F at x (Eq. 12, 17): fixes P (sample ∩ visible ∩ inside) and the IRLS scales at x,
 * then returns JᵀJ (257×257, full symmetric, row-major), JᵀF (257) and E(x).
 * @param iteration selects the vertex sample (residuals.ts `sampleVertices`).
 * @throws MofaError('BAD_INPUT') if x is not 257 finite values or puts a landmark vertex
 *   behind the camera.
 */
export function linearizeReference(problem: OptProblem, x: Float64Array, iteration: number): ReferenceLinearization {
  checkCode(x);
  const geo = decodeGeometry(problem, x);
  const set = irlsScales(problem, geo, selectPhotometricVertices(problem, geo, iteration));
  const n = CODE_DIM;
  const jtj = new Float64Array(n * n);
  const jtf = new Float64Array(n);
  // Photometric rows, streamed in blocks.
  const P = set.vertex.length;
  const Jb = new Float64Array(3 * VERTEX_BLOCK * n);
  const Fb = new Float64Array(3 * VERTEX_BLOCK);
  let photo = 0;
  for (let from = 0; from < P; from += VERTEX_BLOCK) {
    const to = Math.min(P, from + VERTEX_BLOCK);
    photo += photometricRows(problem, geo, set, from, to, Fb, 0, Jb, 0);
    accumulateNormalEquations(Jb, Fb, 3 * (to - from), jtj, jtf);
  }
  // Landmark rows.
  let land = 0;
  const L = problem.landmarks?.vertex.length ?? 0;
  if (L > 0) {
    const Jl = new Float64Array(2 * L * n);
    const Fl = new Float64Array(2 * L);
    land = landmarkRows(problem, geo, Fl, 0, Jl, 0);
    if (!Number.isFinite(land)) {
      throw new MofaError('BAD_INPUT', 'the start code puts a landmark vertex behind the camera: initialise the pose so the face is in front of it (translation z < 0)');
    }
    accumulateNormalEquations(Jl, Fl, 2 * L, jtj, jtf);
  }
  // Regulariser rows are one-hot: add them to the diagonal directly (Eq. 10).
  const Fr = new Float64Array(CODE_SIZE.alpha + CODE_SIZE.beta + CODE_SIZE.delta);
  const reg = regularizerRows(problem, x, Fr, 0, null);
  addRegularizerNormalEquations(problem, x, jtj, jtf);
  symmetrize(jtj);
  return { jtj, jtf, energy: energyTerms(photo, land, reg, P), set };
}

/** jtj_kk += a², jtf_k += a² x_k for the regulariser rows a·x_k of Eq. (10) (shared by every backend: added on the CPU in f64). */
export function addRegularizerNormalEquations(problem: OptProblem, x: Float64Array, jtj: Float64Array, jtf: Float64Array): void {
  const { reg, beta, delta } = problem.weights;
  const blocks: [number, number, number][] = [
    [CODE_OFFSET.alpha, CODE_SIZE.alpha, reg],
    [CODE_OFFSET.beta, CODE_SIZE.beta, reg * beta],
    [CODE_OFFSET.delta, CODE_SIZE.delta, reg * delta],
  ];
  for (const [off, size, a2] of blocks) {
    for (let k = off; k < off + size; k++) {
      jtj[k * CODE_DIM + k] += a2;
      jtf[k] += a2 * x[k];
    }
  }
}

/**
 * E(x) with the photometric set and IRLS scales of the last linearisation (step acceptance
 * compares one objective). Vertices of the set that leave the image are still sampled
 * (clamp-to-edge), so E stays continuous in x; any vertex behind the camera gives total = +∞.
 */
export function energyReference(problem: OptProblem, set: PhotometricSet, x: Float64Array): EnergyTerms {
  checkCode(x);
  const geo = decodeGeometry(problem, x);
  const P = set.vertex.length;
  const L = problem.landmarks?.vertex.length ?? 0;
  const F = new Float64Array(Math.max(3 * P, 2 * L, CODE_SIZE.alpha + CODE_SIZE.beta + CODE_SIZE.delta));
  const photo = photometricRows(problem, geo, set, 0, P, F, 0, null);
  const land = landmarkRows(problem, geo, F, 0, null);
  const reg = regularizerRows(problem, x, F, 0, null);
  return energyTerms(photo, land, reg, P);
}

/** `OptBackend` on plain TypeScript (float64 throughout except the float32 decoded shape). */
export class ReferenceOptBackend implements OptBackend {
  readonly kind = 'reference' as const;
  private problem: OptProblem | null = null;
  private set: PhotometricSet | null = null;
  private closed = false;

  async setProblem(problem: OptProblem): Promise<void> {
    this.checkOpen();
    checkOptProblem(problem);
    this.problem = problem;
    this.set = null;
  }

  async linearize(x: Float64Array, iteration: number): Promise<ReferenceLinearization> {
    const problem = this.requireProblem();
    const lin = linearizeReference(problem, x, iteration);
    this.set = lin.set;
    return lin;
  }

  async energy(x: Float64Array): Promise<EnergyTerms> {
    const problem = this.requireProblem();
    if (!this.set) throw new MofaError('INTERNAL', 'energy() was called before linearize(): the IRLS weights and vertex set are fixed by linearize');
    return energyReference(problem, this.set, x);
  }

  destroy(): void {
    this.closed = true;
    this.problem = null;
    this.set = null;
  }

  private checkOpen(): void {
    if (this.closed) throw new MofaError('CLOSED', 'this ReferenceOptBackend was destroyed; create a new one');
  }

  private requireProblem(): OptProblem {
    this.checkOpen();
    if (!this.problem) throw new MofaError('BAD_INPUT', 'call setProblem() before linearize() / energy()');
    return this.problem;
  }
}
