/**
 * The contract every Refine backend implements (paper Sec. 9.2; math: docs/design/refine.md):
 * the TypeScript reference (`ReferenceRefineBackend`, sdk/refine/reference.ts), WASM SIMD
 * (`WasmRefineBackend`, sdk/wasm/refine-backend.ts) and WebGPU. All run the same gradient
 * descent from D = 0 on T2 and return the same result type, so they are interchangeable and
 * are tested against the reference.
 */
import type { RefineOptions } from './defaults.js';
import type { RefineProblem, RefineRunResult } from './reference.js';
import { runRefineReference } from './reference.js';
import { MofaError } from '../errors.js';

export type { RefineOptions, RefineProblem, RefineRunResult };

export interface RefineBackend {
  /** Which implementation this is (reported in diagnostics; never switched silently). */
  readonly kind: 'reference' | 'wasm' | 'webgpu';
  /**
   * Uploads / prepares the problem: remaps positions and albedo T1 → T2 (L), uploads the T2
   * topology and the image. May be called again with a new problem (same or other model).
   */
  setProblem(problem: RefineProblem): Promise<void>;
  /**
   * Runs `iterations` gradient-descent steps from D = 0 (defaults: REFINE_DEFAULTS).
   * `onIteration` is honoured by the reference backend only.
   * @throws MofaError('BAD_INPUT') before `setProblem`, or on invalid options.
   */
  run(options?: Partial<RefineOptions>): Promise<RefineRunResult>;
  /** Frees every resource; calling twice is harmless; later calls reject with MofaError('CLOSED'). */
  destroy(): void;
}

/** The float64 TypeScript reference behind the RefineBackend interface. */
export class ReferenceRefineBackend implements RefineBackend {
  readonly kind = 'reference' as const;
  private problem: RefineProblem | null = null;
  private closed = false;

  async setProblem(problem: RefineProblem): Promise<void> {
    if (this.closed) throw new MofaError('CLOSED', 'this Refine backend was destroyed: create a new one');
    this.problem = problem;
  }

  async run(options: Partial<RefineOptions> = {}): Promise<RefineRunResult> {
    if (this.closed) throw new MofaError('CLOSED', 'this Refine backend was destroyed: create a new one');
    if (!this.problem) throw new MofaError('BAD_INPUT', 'call setProblem() before run()');
    return runRefineReference(this.problem, options);
  }

  destroy(): void {
    this.closed = true;
    this.problem = null;
  }
}
