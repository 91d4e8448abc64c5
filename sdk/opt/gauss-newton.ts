/**
 * Gauss-Newton "Opt" driver (paper Sec. 9.1, Eq. 15–17) with Levenberg–Marquardt damping
 * (docs/design/opt.md). It only talks to an `OptBackend`, so the reference, WASM and WebGPU
 * backends share it.
 *
 * Per iteration k (default 5, as the paper):
 *   1. (JᵀJ, JᵀF, E_k(x_k)) = backend.linearize(x_k, k) — fixes IRLS weights, visibility and
 *      the vertex sample of iteration k; E_k denotes the energy with those fixed.
 *   2. Solve (JᵀJ + λ D) Δ = −JᵀF, D = diag(JᵀJ) (Marquardt), by Cholesky (the AssemblyScript
 *      kernel when `linalg` is given, else the TypeScript reference; reported in `solver`).
 *   3. If E_k(x_k + Δ) < E_k(x_k): accept, λ ← λ/3. Else (or if Cholesky fails) λ ← 4λ and go
 *      back to 2, at most `maxTries` times; if no try is accepted x_{k+1} = x_k.
 * Hence E_k(x_{k+1}) ≤ E_k(x_k) for every k, and x never becomes non-finite.
 */
import { MofaError } from '../errors.js';
import { choleskySolveRef, CholeskyStatus } from '../model/cholesky-ref.js';
import { CODE_DIM } from '../model/code-layout.js';
import type { WasmLinalg } from '../wasm/linalg.js';
import type { EnergyTerms, Linearization, OptBackend } from './backend.js';
import { checkCode } from './residuals.js';

export { defaultOptWeights } from './weights.js';

/** Progress report of `runOpt`, once per finished iteration. */
export interface OptProgress {
  stage: 'opt';
  /** Finished iterations / total, 0..1. */
  fraction: number;
  /** Index of the iteration just finished, 0-based. */
  iteration: number;
  /** Energy after this iteration (see OptResult.energies). */
  energy: number;
}

export interface OptOptions {
  /** Gauss-Newton iterations. Default 5 (paper Sec. 9.1). */
  iterations?: number;
  /** Initial Levenberg–Marquardt damping λ (relative to diag(JᵀJ)). Default `DEFAULT_LAMBDA0`. */
  lambda0?: number;
  /** Solves per iteration before giving up on the iteration. Default 4 (docs/design/opt.md). */
  maxTries?: number;
  /** AssemblyScript Cholesky (sdk/wasm/linalg.ts); without it the TypeScript reference solves. */
  linalg?: WasmLinalg;
  /** Aborts between backend calls with MofaError('ABORTED'). */
  signal?: AbortSignal;
  onProgress?: (progress: OptProgress) => void;
}

/** One attempted damped solve. */
export interface OptStep {
  iteration: number;
  /** Damping used for this solve. */
  lambda: number;
  /** Cholesky status (0 = solved; see CholeskyStatus). */
  status: number;
  /** E_k(x_k + Δ) (+∞ when the solve failed or the trial is invalid, e.g. behind the camera). */
  energy: number;
  accepted: boolean;
}

export interface OptResult {
  /** (257) the optimised code; never contains NaN. */
  x: Float64Array;
  /**
   * Energies, length iterations + 1: [0] = E_0(x_0) (at the start), [k + 1] = E_k(x_{k+1}), the
   * energy after iteration k with iteration k's IRLS weights / sample. Within an iteration the
   * energy never increases; across iterations the weights and the sample change, so the sequence
   * is comparable only approximately (exactly when sampleCount = 0 and no IRLS clamp/visibility
   * change, by the majorise–minimise property of IRLS).
   */
  energies: EnergyTerms[];
  /** E_k(x_k) at each linearisation, length iterations. */
  linearizationEnergies: EnergyTerms[];
  /** Whether iteration k accepted a step. */
  accepted: boolean[];
  /** λ after each iteration (after the /3 or ×4 updates), length iterations. */
  lambdas: number[];
  /** Every attempted solve, in order. */
  steps: OptStep[];
  /** Which Cholesky ran: the AssemblyScript kernel or the TypeScript reference. */
  solver: 'wasm' | 'typescript';
  /** Wall time, ms. */
  ms: number;
}

/** Default initial damping λ₀ (measured on the synthetic recovery test: the first GN step is usually accepted with it). */
export const DEFAULT_LAMBDA0 = 1e-3;
/** Bounds of λ, so repeated ×4 / ÷3 cannot overflow or vanish. */
const LAMBDA_MIN = 1e-9;
const LAMBDA_MAX = 1e12;
/**
 * Diagonal floor relative to max diag(JᵀJ): a code entry no residual depends on (e.g. γ with
 * an empty photometric set) has a zero column; flooring its diagonal keeps the damped system
 * positive definite, and its step is 0 because its JᵀF entry is 0.
 */
const DIAG_FLOOR = 1e-9;

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new MofaError('ABORTED', 'the Gauss-Newton optimisation was aborted by the caller\'s AbortSignal');
}

function checkLinearization(lin: Linearization, iteration: number): void {
  if (!Number.isFinite(lin.energy.total)) {
    throw new MofaError('INTERNAL', `Opt iteration ${iteration}: the backend returned a non-finite energy (${lin.energy.total}) at a valid code`);
  }
  if (lin.jtj.length !== CODE_DIM * CODE_DIM || lin.jtf.length !== CODE_DIM) {
    throw new MofaError('INTERNAL', `Opt iteration ${iteration}: the backend returned JᵀJ/JᵀF of lengths ${lin.jtj.length}/${lin.jtf.length}, expected ${CODE_DIM * CODE_DIM}/${CODE_DIM}`);
  }
  for (let k = 0; k < lin.jtf.length; k++) {
    if (!Number.isFinite(lin.jtf[k])) throw new MofaError('INTERNAL', `Opt iteration ${iteration}: JᵀF[${k}] is ${lin.jtf[k]}`);
  }
  for (let k = 0; k < lin.jtj.length; k++) {
    if (!Number.isFinite(lin.jtj[k])) throw new MofaError('INTERNAL', `Opt iteration ${iteration}: JᵀJ[${Math.floor(k / CODE_DIM)}, ${k % CODE_DIM}] is ${lin.jtj[k]}`);
  }
}

/**
 * Solves (A + λ diag A) Δ = −b with A's zero diagonal entries floored (DIAG_FLOOR).
 * @returns Δ and the Cholesky status (Δ null unless status is 0).
 */
function dampedStep(jtj: Float64Array, jtf: Float64Array, lambda: number, linalg?: WasmLinalg): { delta: Float64Array | null; status: number } {
  const n = CODE_DIM;
  const a = Float64Array.from(jtj);
  let maxDiag = 0;
  for (let k = 0; k < n; k++) maxDiag = Math.max(maxDiag, a[k * n + k]);
  const floor = DIAG_FLOOR * maxDiag;
  for (let k = 0; k < n; k++) if (!(a[k * n + k] > floor)) a[k * n + k] = floor > 0 ? floor : 1;
  const b = new Float64Array(n);
  for (let k = 0; k < n; k++) b[k] = -jtf[k];
  if (linalg) {
    const { status, x } = linalg.choleskySolve(a, b, lambda);
    return { delta: status === CholeskyStatus.OK ? x : null, status };
  }
  const status = choleskySolveRef(a, b, n, lambda);
  return { delta: status === CholeskyStatus.OK ? b : null, status };
}

/**
 * Runs Levenberg–Marquardt-damped Gauss-Newton on the problem the backend holds
 * (call `backend.setProblem` first).
 * @param x0 (257) start code (e.g. the network's prediction); not modified.
 * @throws MofaError('BAD_INPUT') if x0 is not 257 finite values or options are invalid;
 *   'ABORTED' when `signal` fires; 'INTERNAL' when the backend returns non-finite data or no
 *   damped system of an iteration can be factorised (x0 is never returned as NaN).
 */
export async function runOpt(backend: OptBackend, x0: Float64Array, options: OptOptions = {}): Promise<OptResult> {
  const t0 = performance.now();
  const iterations = options.iterations ?? 5;
  const maxTries = options.maxTries ?? 4;
  let lambda = options.lambda0 ?? DEFAULT_LAMBDA0;
  if (!(Number.isInteger(iterations) && iterations >= 0)) throw new MofaError('BAD_INPUT', `iterations must be an integer ≥ 0, got ${iterations}`);
  if (!(Number.isInteger(maxTries) && maxTries >= 1)) throw new MofaError('BAD_INPUT', `maxTries must be an integer ≥ 1, got ${maxTries}`);
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw new MofaError('BAD_INPUT', `lambda0 must be a finite number ≥ 0, got ${lambda}`);
  checkCode(x0);
  let x = Float64Array.from(x0);
  const energies: EnergyTerms[] = [];
  const linearizationEnergies: EnergyTerms[] = [];
  const accepted: boolean[] = [];
  const lambdas: number[] = [];
  const steps: OptStep[] = [];

  for (let it = 0; it < iterations; it++) {
    checkAbort(options.signal);
    const lin = await backend.linearize(x, it);
    checkLinearization(lin, it);
    linearizationEnergies.push(lin.energy);
    if (it === 0) energies.push(lin.energy);
    let after = lin.energy;
    let ok = false;
    let solved = false;
    for (let attempt = 0; attempt < maxTries && !ok; attempt++) {
      checkAbort(options.signal);
      const { delta, status } = dampedStep(lin.jtj, lin.jtf, lambda, options.linalg);
      let trialEnergy = Infinity;
      if (delta) {
        solved = true;
        const trial = new Float64Array(CODE_DIM);
        for (let k = 0; k < CODE_DIM; k++) trial[k] = x[k] + delta[k];
        const e = await backend.energy(trial);
        trialEnergy = Number.isFinite(e.total) ? e.total : Infinity;
        if (trialEnergy < lin.energy.total) {
          x = trial;
          after = e;
          ok = true;
        }
      }
      steps.push({ iteration: it, lambda, status, energy: trialEnergy, accepted: ok });
      lambda = ok ? Math.max(lambda / 3, LAMBDA_MIN) : Math.min(Math.max(lambda, LAMBDA_MIN) * 4, LAMBDA_MAX);
    }
    if (!solved) {
      throw new MofaError('INTERNAL', `Opt iteration ${it}: the damped normal equations could not be factorised for any of ${maxTries} λ values up to ${lambda}; JᵀJ is not positive semi-definite — a backend bug`);
    }
    accepted.push(ok);
    lambdas.push(lambda);
    energies.push(after);
    options.onProgress?.({ stage: 'opt', fraction: (it + 1) / iterations, iteration: it, energy: after.total });
  }
  return {
    x, energies, linearizationEnergies, accepted, lambdas, steps,
    solver: options.linalg ? 'wasm' : 'typescript',
    ms: performance.now() - t0,
  };
}
