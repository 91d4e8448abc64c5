/**
 * T1 → T2 attribute transfer with the sparse map L (paper Sec. 9.2 "Mesh Topology"):
 *   dst[j·width + c] = Σ_{k=0..2} w[3j+k] · src[idx[3j+k]·width + c]
 * f32, accumulated in the order k = 0, 1, 2 exactly as the TypeScript reference
 * (sdk/refine/remap.ts `remapAttribute`), so results are bit-identical. Scalar: the loop is
 * bound by the three gathers per value, not by arithmetic.
 */

/**
 * @param srcPtr (N1, width) f32 source attribute.
 * @param dstPtr (nDst, width) f32 output.
 * @param idxPtr (nDst, 3) u32 source vertex indices (< N1; not checked here, the host does).
 * @param wPtr (nDst, 3) f32 weights.
 * @param nDst number of destination vertices.
 * @param width floats per vertex (≥ 1).
 */
export function remap(srcPtr: usize, dstPtr: usize, idxPtr: usize, wPtr: usize, nDst: i32, width: i32): void {
  const stride = <usize>width << 2;
  for (let j = 0; j < nDst; j++) {
    const jo = <usize>j * 12;
    const s0 = srcPtr + <usize>load<u32>(idxPtr + jo) * stride;
    const s1 = srcPtr + <usize>load<u32>(idxPtr + jo + 4) * stride;
    const s2 = srcPtr + <usize>load<u32>(idxPtr + jo + 8) * stride;
    const w0 = load<f32>(wPtr + jo), w1 = load<f32>(wPtr + jo + 4), w2 = load<f32>(wPtr + jo + 8);
    const d = dstPtr + <usize>j * stride;
    for (let c = 0; c < width; c++) {
      const o = <usize>c << 2;
      let acc: f32 = w0 * load<f32>(s0 + o);
      acc += w1 * load<f32>(s1 + o);
      acc += w2 * load<f32>(s2 + o);
      store<f32>(d + o, acc);
    }
  }
}
