/**
 * mofa-web's WebAssembly module (AssemblyScript, WASM SIMD, runtime "stub").
 * CPU linear algebra for the model-fitting stage. The host (sdk/wasm/linalg.ts) places its
 * arrays in the exported `memory` with `alloc` and frees them with `free` / `resetHeap`.
 */
export {
  choleskySolve,
  choleskyFactor,
  choleskySubstitute,
  CHOL_OK,
  CHOL_BAD_SIZE,
  CHOL_BAD_LAMBDA,
  CHOL_NONFINITE_RHS,
  CHOL_NONFINITE_SOLUTION,
  PIVOT_RTOL,
} from './cholesky';

/**
 * Reserves `bytes` bytes of linear memory, 16-byte aligned (so f64 and v128 accesses are
 * aligned). The stub runtime is a bump allocator: memory may grow, which detaches every
 * JS view of the old `memory.buffer` — hosts must re-create views after calling this.
 */
export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

/** Releases a block from `alloc`. The stub runtime only reclaims the most recent block. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

/** Releases every block from `alloc` at once (the stub runtime's bump pointer is reset). */
export function resetHeap(): void {
  heap.reset();
}

export {
  decodeAffine,
  decodeAffineVertices,
  normalsAll,
  normalsVertices,
  markOneRing,
  visibleFront,
  gramAccumulate,
  optScratchBytes,
  optRestCols,
  optSetScratch,
  optClearGram,
  optGramGeoPtr,
  optGramRestPtr,
  optLastStat,
  optAssemble,
  photoTerm,
  landmarkTerm,
  OPT_CHUNK,
  P_COUNT,
} from './opt';

export { remap } from './remap';
export * from './refine';
