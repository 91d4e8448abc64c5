/**
 * WASM wrapper of assembly/remap.ts `remap`: the T1 → T2 attribute transfer L (paper Sec. 9.2),
 * bit-identical to the TypeScript reference sdk/refine/remap.ts `remapAttribute`.
 */
import { MofaError } from '../errors.js';
import { checkRemapInput, type VertexMap } from '../refine/remap.js';

/** The mofa.wasm exports this wrapper uses. */
export interface RemapWasmExports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  free(ptr: number): void;
  remap(srcPtr: number, dstPtr: number, idxPtr: number, wPtr: number, nDst: number, width: number): void;
}

/** Checks that an instance exports what `remapWasm` needs. */
export function asRemapExports(exports: WebAssembly.Exports): RemapWasmExports {
  for (const name of ['memory', 'alloc', 'free', 'remap']) {
    if (!(name in exports)) throw new MofaError('MODEL_INTEGRITY', `mofa.wasm lacks export '${name}': rebuild it with \`npm run build:wasm\`.`);
  }
  return exports as unknown as RemapWasmExports;
}

/**
 * Applies L in WASM: (N1, width) → (N2, width) f32. Allocates its four blocks on the module's
 * bump heap and frees them (in reverse order) before returning.
 * @param ex exports of a mofa.wasm instance.
 * @param src (N1, width) source attribute.
 * @param fromT1 the map L (`model.t2.fromT1`).
 * @throws MofaError('BAD_INPUT') as `remapAttribute`.
 */
export function remapWasm(ex: RemapWasmExports, src: Float32Array, width: number, fromT1: VertexMap): Float32Array {
  checkRemapInput(src, width, fromT1);
  const nDst = fromT1.index.length / 3;
  const srcPtr = ex.alloc(src.byteLength);
  const idxPtr = ex.alloc(fromT1.index.byteLength);
  const wPtr = ex.alloc(fromT1.weight.byteLength);
  const dstPtr = ex.alloc(4 * nDst * width);
  try {
    const buf = ex.memory.buffer; // after every alloc (memory may have grown)
    new Float32Array(buf, srcPtr, src.length).set(src);
    new Uint32Array(buf, idxPtr, fromT1.index.length).set(fromT1.index);
    new Float32Array(buf, wPtr, fromT1.weight.length).set(fromT1.weight);
    ex.remap(srcPtr, dstPtr, idxPtr, wPtr, nDst, width);
    return new Float32Array(ex.memory.buffer, dstPtr, nDst * width).slice();
  } finally {
    ex.free(dstPtr);
    ex.free(wPtr);
    ex.free(idxPtr);
    ex.free(srcPtr);
  }
}
