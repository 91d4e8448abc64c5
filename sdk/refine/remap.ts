/**
 * T1 → T2 transfer of per-vertex attributes (paper Sec. 9.2 "Mesh Topology"): the sparse linear
 * map L of the face model, three weighted T1 vertices per T2 vertex,
 *
 *   a_T2[j] = Σ_{k=0..2} w[3j+k] · a_T1[idx[3j+k]]                      (L: V^T1 → V^T2)
 *
 * applied component-wise to any attribute of `width` floats per vertex (positions: 3, mm;
 * albedo: 3, linear RGB; uv: 2; …). TypeScript reference of assembly/remap.ts `remap`.
 */
import { MofaError } from '../errors.js';

/** The map L as stored in `FaceModel.t2.fromT1`. */
export interface VertexMap {
  /** (N2, 3) source (T1) vertex indices per destination (T2) vertex. */
  index: Uint32Array;
  /** (N2, 3) barycentric-style weights (sum to 1 per destination vertex). */
  weight: Float32Array;
}

/**
 * Applies L to an attribute (see module comment). Accumulates in f32 in the order k = 0, 1, 2,
 * `acc = w0·a0; acc += w1·a1; acc += w2·a2` (Math.fround after every operation), so the WASM
 * version (assembly/remap.ts, f32) gives bit-identical results.
 * @param src (N1, width) source attribute, row-major.
 * @param width floats per vertex (≥ 1).
 * @param fromT1 the map L (`model.t2.fromT1`).
 * @returns (N2, width) Float32Array, N2 = fromT1.index.length / 3.
 * @throws MofaError('BAD_INPUT') on inconsistent lengths or an out-of-range source index.
 */
export function remapAttribute(src: Float32Array, width: number, fromT1: VertexMap): Float32Array {
  checkRemapInput(src, width, fromT1);
  const nDst = fromT1.index.length / 3;
  const { index, weight } = fromT1;
  const out = new Float32Array(nDst * width);
  const f = Math.fround;
  for (let j = 0; j < nDst; j++) {
    const i0 = index[3 * j] * width, i1 = index[3 * j + 1] * width, i2 = index[3 * j + 2] * width;
    const w0 = weight[3 * j], w1 = weight[3 * j + 1], w2 = weight[3 * j + 2];
    const o = j * width;
    for (let c = 0; c < width; c++) {
      let acc = f(w0 * src[i0 + c]);
      acc = f(acc + f(w1 * src[i1 + c]));
      acc = f(acc + f(w2 * src[i2 + c]));
      out[o + c] = acc;
    }
  }
  return out;
}

/** Validates `remapAttribute` / `remapWasm` inputs; see there. */
export function checkRemapInput(src: Float32Array, width: number, fromT1: VertexMap): void {
  if (!(Number.isInteger(width) && width >= 1)) throw new MofaError('BAD_INPUT', `remap width must be a positive integer, got ${width}`);
  if (src.length % width !== 0) throw new MofaError('BAD_INPUT', `remap source length ${src.length} is not a multiple of width ${width}`);
  if (fromT1.index.length % 3 !== 0 || fromT1.weight.length !== fromT1.index.length) {
    throw new MofaError('BAD_INPUT', `fromT1 must hold 3 indices and 3 weights per T2 vertex (got ${fromT1.index.length} indices, ${fromT1.weight.length} weights)`);
  }
  const nSrc = src.length / width;
  for (let k = 0; k < fromT1.index.length; k++) {
    if (fromT1.index[k] >= nSrc) {
      throw new MofaError('BAD_INPUT', `fromT1.index[${k}] = ${fromT1.index[k]} but the source has only ${nSrc} vertices: pass a T1 attribute`);
    }
  }
}
