/**
 * WASM/SIMD kernels of the analysis-by-synthesis optimiser "Opt" (paper Sec. 9.1; math spec:
 * docs/design/opt.md). The host (sdk/wasm/opt-backend.ts) owns the orchestration; these are
 * small functions over pointers (byte offsets) into linear memory.
 *
 * Conventions
 * - Bases are row-major f32 (3N, K): row 3·i + axis holds vertex i's coefficients. K is padded
 *   to a multiple of 4 (zero columns) so each row is a run of f32x4 lanes. The geometry basis is
 *   the concatenation [E_s | E_e] (K_G = 80 + 64 = 144 columns, paired with the code slice
 *   x[0, 144) = α | δ), so one dot product decodes Eq. (2).
 * - Per-vertex scalar math (pose, projection, SH shading, image sampling) runs in f64; the
 *   Jacobian rows are stored in f32 and multiplied in f32x4 lanes; tile sums over one chunk of
 *   rows (≤ 2·OPT_CHUNK or 3·OPT_CHUNK rows) are promoted to f64 and added into f64
 *   accumulators (so the rounding error of JᵀJ is that of ≤ 192-term f32 sums, ~1e-6 relative,
 *   not of |P|-term sums).
 *
 * Normal equations with structure (Eq. 17). For a photometric vertex i and channel ch the
 * Jacobian row is (the normal's dependence on α, δ is dropped, see the spec)
 *   J_ch = [ λ_ch U + μ_ch W | rest_ch ],  λ_ch = −s ∂I_ch/∂u_x,  μ_ch = −s ∂I_ch/∂u_y,
 * where U = (∂u_x/∂p) R G_i and W = (∂u_y/∂p) R G_i are the two 144-vectors of the projected
 * geometric block G_i = [E_s,i | E_e,i] (3 × 144), shared by the three channels. Appending F as
 * a last column (J̃ = [J | F]) the geometry rows of the augmented Gram matrix are
 *   Σ_ch J̃_ch[geo]ᵀ J̃_ch = Uᵀ (Σ_ch λ_ch J̃_ch) + Wᵀ (Σ_ch μ_ch J̃_ch),
 * i.e. an Aᵀ B product with only TWO rows per vertex (A = [U; W], B = [Σλ J̃; Σμ J̃]) instead of
 * three, and the remaining block (β, pose, γ, F) is a 3-row Yᵀ Y. Column `F` of the result is
 * JᵀF and its diagonal entry is FᵀF. Cost per photometric vertex, upper-triangle tiles only:
 * 2 × 882 + 3 × 240 tiles of 4×8 = ~79k multiply-adds (a dense 3-row 257-column product needs
 * ~99k); the micro-kernel runs at ~14 G multiply-adds/s on one core of the dev machine (AMD
 * EPYC, no FMA in baseline WASM SIMD), so the Gram is ~80 % of a linearisation.
 *
 * Panel layout of the row buffers (A, B, Y): columns are grouped in panels of 8; panel p holds
 * rows × 8 f32 contiguously, element (r, c) at base + (c >> 3)·rowCap·32 + r·32 + (c & 7)·4.
 * The Gram micro-kernel thus reads both operands sequentially.
 */

// ---------------------------------------------------------------------------------------------
// Parameter block (f64) written by the host for every evaluation.

/** R, row-major 3×3 (model → camera rotation). */
export const P_R: i32 = 0;
/** t (3), mm, camera frame. */
export const P_T: i32 = 9;
/** Focal length f, px. */
export const P_F: i32 = 12;
/** Principal point cx, cy, px. */
export const P_CX: i32 = 13;
export const P_CY: i32 = 14;
/** ∂R/∂pitch, ∂R/∂yaw, ∂R/∂roll (3 × row-major 3×3). */
export const P_DR: i32 = 15;
/** Effective SH coefficients γ' = γ + 0.7 on the DC terms (27, layout 9·ch + b). */
export const P_GAMMA: i32 = 42;
/** Image width and height, px. */
export const P_W: i32 = 69;
export const P_H: i32 = 70;
/** w_photo / |P| (the IRLS factor's numerator, Eq. 11). */
export const P_WPHOTO: i32 = 71;
/** Lower bound of the IRLS denominator C_i (0.02). */
export const P_CMIN: i32 = 72;
/** Number of f64 slots in the parameter block. */
export const P_COUNT: i32 = 80;

/** Vertices per chunk of Jacobian rows (2·64 geometry rows, 3·64 remainder rows). */
export const OPT_CHUNK: i32 = 64;

// Real SH constants (sdk/model/shading.ts) with the Lambertian factors Â folded in: H_b = Â_l Y_b.
const PI: f64 = 3.141592653589793;
const H0: f64 = PI * 0.28209479177387814; // Â_0 Y_0
const H1: f64 = (2.0 * PI / 3.0) * 0.4886025119029199; // Â_1 · √(3/4π)
const H2A: f64 = (PI / 4.0) * 1.0925484305920792; // Â_2 · ½√(15/π)
const H2B: f64 = (PI / 4.0) * 0.31539156525252005; // Â_2 · ¼√(5/π)
const H2C: f64 = (PI / 4.0) * 0.5462742152960396; // Â_2 · ¼√(15/π)

// @ts-ignore: decorator
@inline
function ld(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline
function ldf(p: usize, i: i32): f64 {
  return <f64>load<f32>(p + (<usize>i << 2));
}

/** [Σ lanes a, Σ lanes b, Σ lanes c, Σ lanes d] for four f32x4 accumulators. */
// @ts-ignore: decorator
@inline
function reduce4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(f32x4.shuffle(a, b, 0, 4, 2, 6), f32x4.shuffle(a, b, 1, 5, 3, 7));
  const cd = f32x4.add(f32x4.shuffle(c, d, 0, 4, 2, 6), f32x4.shuffle(c, d, 1, 5, 3, 7));
  return f32x4.add(f32x4.shuffle(ab, cd, 0, 1, 4, 5), f32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

// ---------------------------------------------------------------------------------------------
// Decode (Eq. 2, 3)

/**
 * Eq. (2)/(3) for all rows: out[r] = mean[r] + Σ_k basis[r·K + k] · coeff[k], r < rows.
 * Four rows per step share each coefficient load; the four f32x4 partial sums are reduced with
 * one transpose and stored as one f32x4.
 * @param outPtr f32 (rows), 16-byte aligned. @param meanPtr f32 (rows). @param basisPtr f32 (rows, K).
 * @param K columns, multiple of 4. @param coeffPtr f32 (K). @param rows multiple of 4.
 */
export function decodeAffine(outPtr: usize, meanPtr: usize, basisPtr: usize, K: i32, coeffPtr: usize, rows: i32): void {
  const rowBytes = <usize>K << 2;
  for (let r: i32 = 0; r < rows; r += 4) {
    const b0 = basisPtr + <usize>r * rowBytes;
    const b1 = b0 + rowBytes;
    const b2 = b1 + rowBytes;
    const b3 = b2 + rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let k: usize = 0; k < rowBytes; k += 16) {
      const c = v128.load(coeffPtr + k);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(b0 + k), c));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(b1 + k), c));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(b2 + k), c));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(b3 + k), c));
    }
    const off = <usize>r << 2;
    v128.store(outPtr + off, f32x4.add(v128.load(meanPtr + off), reduce4(a0, a1, a2, a3)));
  }
}

/**
 * Gather-decode: the three rows (x, y, z or R, G, B) of the listed vertices only.
 * out[3·o + a] = mean[3·i + a] + basis[3·i + a] · coeff, i = idx[j], o = compact ? j : i.
 * @param idxPtr u32 (count) vertex indices.
 */
export function decodeAffineVertices(
  outPtr: usize, meanPtr: usize, basisPtr: usize, K: i32, coeffPtr: usize,
  idxPtr: usize, count: i32, compact: i32,
): void {
  const rowBytes = <usize>K << 2;
  const zero = f32x4.splat(0);
  for (let j: i32 = 0; j < count; j++) {
    const i = load<u32>(idxPtr + (<usize>j << 2));
    const b0 = basisPtr + <usize>(3 * i) * rowBytes;
    const b1 = b0 + rowBytes;
    const b2 = b1 + rowBytes;
    let a0 = zero, a1 = zero, a2 = zero;
    for (let k: usize = 0; k < rowBytes; k += 16) {
      const c = v128.load(coeffPtr + k);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(b0 + k), c));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(b1 + k), c));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(b2 + k), c));
    }
    const s = reduce4(a0, a1, a2, zero);
    const m = meanPtr + (<usize>(3 * i) << 2);
    const o = outPtr + (<usize>(3 * (compact ? <u32>j : i)) << 2);
    store<f32>(o, load<f32>(m) + f32x4.extract_lane(s, 0));
    store<f32>(o + 4, load<f32>(m + 4) + f32x4.extract_lane(s, 1));
    store<f32>(o + 8, load<f32>(m + 8) + f32x4.extract_lane(s, 2));
  }
}

// ---------------------------------------------------------------------------------------------
// Normals (one-ring, area weighted; sdk/model/normals.ts)

/**
 * Area-weighted unit normals of all N vertices: n_i = normalize(Σ_{f ∋ i} (b − a) × (c − a)).
 * Vertices in no non-degenerate triangle get (0, 0, 0). f32 accumulation.
 * @param posPtr f32 (N, 3). @param triPtr u32 (F, 3), CCW seen from outside. @param outPtr f32 (N, 3).
 */
export function normalsAll(posPtr: usize, triPtr: usize, triCount: i32, n: i32, outPtr: usize): void {
  memory.fill(outPtr, 0, <usize>(12 * n));
  for (let f: i32 = 0; f < triCount; f++) {
    const t = triPtr + <usize>(12 * f);
    const pa = <usize>(12 * load<u32>(t)), pb = <usize>(12 * load<u32>(t, 4)), pc = <usize>(12 * load<u32>(t, 8));
    const ax = load<f32>(posPtr + pa), ay = load<f32>(posPtr + pa, 4), az = load<f32>(posPtr + pa, 8);
    const ux = load<f32>(posPtr + pb) - ax, uy = load<f32>(posPtr + pb, 4) - ay, uz = load<f32>(posPtr + pb, 8) - az;
    const vx = load<f32>(posPtr + pc) - ax, vy = load<f32>(posPtr + pc, 4) - ay, vz = load<f32>(posPtr + pc, 8) - az;
    const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    store<f32>(outPtr + pa, load<f32>(outPtr + pa) + nx);
    store<f32>(outPtr + pa, load<f32>(outPtr + pa, 4) + ny, 4);
    store<f32>(outPtr + pa, load<f32>(outPtr + pa, 8) + nz, 8);
    store<f32>(outPtr + pb, load<f32>(outPtr + pb) + nx);
    store<f32>(outPtr + pb, load<f32>(outPtr + pb, 4) + ny, 4);
    store<f32>(outPtr + pb, load<f32>(outPtr + pb, 8) + nz, 8);
    store<f32>(outPtr + pc, load<f32>(outPtr + pc) + nx);
    store<f32>(outPtr + pc, load<f32>(outPtr + pc, 4) + ny, 4);
    store<f32>(outPtr + pc, load<f32>(outPtr + pc, 8) + nz, 8);
  }
  for (let i: i32 = 0; i < n; i++) normalizeInPlace(outPtr + <usize>(12 * i));
}

// @ts-ignore: decorator
@inline
function normalizeInPlace(p: usize): void {
  const x = <f64>load<f32>(p), y = <f64>load<f32>(p, 4), z = <f64>load<f32>(p, 8);
  const len = Math.sqrt(x * x + y * y + z * z);
  if (len > 0) {
    store<f32>(p, <f32>(x / len));
    store<f32>(p, <f32>(y / len), 4);
    store<f32>(p, <f32>(z / len), 8);
  } else {
    store<f32>(p, 0);
    store<f32>(p, 0, 4);
    store<f32>(p, 0, 8);
  }
}

/**
 * Normals of the listed vertices only, from their incident triangles (vertex → triangle CSR:
 * triangles of vertex i are vtList[vtOff[i] .. vtOff[i+1])). Same sum as `normalsAll`, but
 * cross products and sums in f64 like sdk/model/normals.ts, so the front-facing test agrees
 * with the reference at grazing angles. Needs the positions of the listed vertices' one-rings.
 * @param outPtr f32 (N, 3), written at the listed vertices only.
 */
export function normalsVertices(
  posPtr: usize, triPtr: usize, vtOffPtr: usize, vtListPtr: usize, idxPtr: usize, count: i32, outPtr: usize,
): void {
  for (let j: i32 = 0; j < count; j++) {
    const i = load<u32>(idxPtr + (<usize>j << 2));
    const e = load<u32>(vtOffPtr + (<usize>(i + 1) << 2));
    let sx: f64 = 0, sy: f64 = 0, sz: f64 = 0;
    for (let s = load<u32>(vtOffPtr + (<usize>i << 2)); s < e; s++) {
      const t = triPtr + <usize>(12 * load<u32>(vtListPtr + (<usize>s << 2)));
      const pa = posPtr + <usize>(12 * load<u32>(t)), pb = posPtr + <usize>(12 * load<u32>(t, 4)), pc = posPtr + <usize>(12 * load<u32>(t, 8));
      const ax = <f64>load<f32>(pa), ay = <f64>load<f32>(pa, 4), az = <f64>load<f32>(pa, 8);
      const ux = <f64>load<f32>(pb) - ax, uy = <f64>load<f32>(pb, 4) - ay, uz = <f64>load<f32>(pb, 8) - az;
      const vx = <f64>load<f32>(pc) - ax, vy = <f64>load<f32>(pc, 4) - ay, vz = <f64>load<f32>(pc, 8) - az;
      sx += uy * vz - uz * vy;
      sy += uz * vx - ux * vz;
      sz += ux * vy - uy * vx;
    }
    const o = outPtr + <usize>(12 * i);
    const len = Math.sqrt(sx * sx + sy * sy + sz * sz);
    const inv = len > 0 ? 1.0 / len : 0.0;
    store<f32>(o, <f32>(sx * inv));
    store<f32>(o, <f32>(sy * inv), 4);
    store<f32>(o, <f32>(sz * inv), 8);
  }
}

/**
 * Marks the one-ring closure of the listed vertices (every vertex of a triangle incident to a
 * listed vertex) and appends the newly marked ones to `outListPtr`.
 * @param markPtr u8 (N), 0 = unmarked; left marked (the host clears it).
 * @returns number of vertices appended.
 */
export function markOneRing(
  triPtr: usize, vtOffPtr: usize, vtListPtr: usize, idxPtr: usize, count: i32, markPtr: usize, outListPtr: usize,
): i32 {
  let m: i32 = 0;
  for (let j: i32 = 0; j < count; j++) {
    const i = load<u32>(idxPtr + (<usize>j << 2));
    const e = load<u32>(vtOffPtr + (<usize>(i + 1) << 2));
    for (let s = load<u32>(vtOffPtr + (<usize>i << 2)); s < e; s++) {
      const t = triPtr + <usize>(12 * load<u32>(vtListPtr + (<usize>s << 2)));
      for (let c: usize = 0; c < 12; c += 4) {
        const v = load<u32>(t + c);
        if (load<u8>(markPtr + v) == 0) {
          store<u8>(markPtr + v, 1);
          store<u32>(outListPtr + (<usize>m << 2), v);
          m++;
        }
      }
    }
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Visibility

/**
 * Photometric candidates test (front-facing visibility of the spec): flag[j] = 1 when vertex
 * idx[j] is in front of the camera (depth > 0), projects inside the image
 * (0 ≤ u_x < W, 0 ≤ u_y < H) and its camera-frame normal faces the camera, (R n)·p < 0.
 * Also writes the projection u (f32 (count, 2)) and depth (f32 (count)) when the pointers are
 * non-zero (the z-buffer test and the tests use them).
 */
export function visibleFront(
  idxPtr: usize, count: i32, posPtr: usize, nrmPtr: usize, paramsPtr: usize,
  flagPtr: usize, screenPtr: usize, depthPtr: usize,
): i32 {
  const r0 = ld(paramsPtr, P_R), r1 = ld(paramsPtr, P_R + 1), r2 = ld(paramsPtr, P_R + 2);
  const r3 = ld(paramsPtr, P_R + 3), r4 = ld(paramsPtr, P_R + 4), r5 = ld(paramsPtr, P_R + 5);
  const r6 = ld(paramsPtr, P_R + 6), r7 = ld(paramsPtr, P_R + 7), r8 = ld(paramsPtr, P_R + 8);
  const tx = ld(paramsPtr, P_T), ty = ld(paramsPtr, P_T + 1), tz = ld(paramsPtr, P_T + 2);
  const f = ld(paramsPtr, P_F), cx = ld(paramsPtr, P_CX), cy = ld(paramsPtr, P_CY);
  const W = ld(paramsPtr, P_W), H = ld(paramsPtr, P_H);
  let visible: i32 = 0;
  for (let j: i32 = 0; j < count; j++) {
    const i = <usize>load<u32>(idxPtr + (<usize>j << 2));
    const v = posPtr + 12 * i, nn = nrmPtr + 12 * i;
    const vx = <f64>load<f32>(v), vy = <f64>load<f32>(v, 4), vz = <f64>load<f32>(v, 8);
    const nx = <f64>load<f32>(nn), ny = <f64>load<f32>(nn, 4), nz = <f64>load<f32>(nn, 8);
    const px = r0 * vx + r1 * vy + r2 * vz + tx;
    const py = r3 * vx + r4 * vy + r5 * vz + ty;
    const pz = r6 * vx + r7 * vy + r8 * vz + tz;
    const d = -pz;
    const ux = cx + f * px / d, uy = cy - f * py / d;
    const facing = (r0 * nx + r1 * ny + r2 * nz) * px + (r3 * nx + r4 * ny + r5 * nz) * py + (r6 * nx + r7 * ny + r8 * nz) * pz;
    const ok = d > 0 && facing < 0 && ux >= 0 && ux < W && uy >= 0 && uy < H;
    store<u8>(flagPtr + <usize>j, ok ? 1 : 0);
    if (ok) visible++;
    if (screenPtr) {
      store<f32>(screenPtr + (<usize>j << 3), <f32>(d > 0 ? ux : NaN));
      store<f32>(screenPtr + (<usize>j << 3), <f32>(d > 0 ? uy : NaN), 4);
    }
    if (depthPtr) store<f32>(depthPtr + (<usize>j << 2), <f32>d);
  }
  return visible;
}

// ---------------------------------------------------------------------------------------------
// Gram accumulation  C += Aᵀ B  (upper tiles)

/**
 * C[p][q] += Σ_{r < rows} A[r][p] · B[r][q] for p ∈ [pFrom, pTo), q ∈ [qFrom, qTo), restricted
 * to the 4×8 tiles that meet the upper triangle (q ≥ p for some entry; C's row and column
 * indices share one space). Ranges let callers skip column blocks known to be zero.
 * A, B in the panel-8 layout (module comment) with row capacities aCap, bCap; C row-major f64
 * with ldc columns. Register blocking: a 4 (p) × 8 (q) tile in 8 f32x4 accumulators; per row
 * one f32x4 of A (broadcast lane-wise) and two of B. The tile sum (over ≤ rows f32 products) is
 * promoted to f64 and added to C.
 * @param pFrom, pTo multiples of 4. @param qFrom, qTo multiples of 8.
 */
export function gramAccumulate(
  cPtr: usize, ldc: i32, aPtr: usize, aCap: i32, bPtr: usize, bCap: i32, rows: i32,
  pFrom: i32, pTo: i32, qFrom: i32, qTo: i32,
): void {
  if (rows <= 0) return;
  const aPanel = <usize>aCap << 5, bPanel = <usize>bCap << 5;
  const rowEnd = <usize>rows << 5;
  for (let p0: i32 = pFrom; p0 < pTo; p0 += 4) {
    const ap = aPtr + <usize>(p0 >> 3) * aPanel + (<usize>(p0 & 4) << 2);
    const diag = (p0 >> 3) << 3;
    for (let q0: i32 = qFrom > diag ? qFrom : diag; q0 < qTo; q0 += 8) {
      const bp = bPtr + <usize>(q0 >> 3) * bPanel;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let o: usize = 0;
      for (; o + 32 < rowEnd; o += 64) {
        const a = v128.load(ap + o);
        const b0 = v128.load(bp + o);
        const b1 = v128.load(bp + o, 16);
        const a_ = v128.load(ap + o, 32);
        const b0_ = v128.load(bp + o, 32);
        const b1_ = v128.load(bp + o, 48);
        let s = f32x4.shuffle(a, a, 0, 0, 0, 0);
        let t = f32x4.shuffle(a_, a_, 0, 0, 0, 0);
        c00 = f32x4.add(c00, f32x4.add(f32x4.mul(s, b0), f32x4.mul(t, b0_)));
        c01 = f32x4.add(c01, f32x4.add(f32x4.mul(s, b1), f32x4.mul(t, b1_)));
        s = f32x4.shuffle(a, a, 1, 1, 1, 1);
        t = f32x4.shuffle(a_, a_, 1, 1, 1, 1);
        c10 = f32x4.add(c10, f32x4.add(f32x4.mul(s, b0), f32x4.mul(t, b0_)));
        c11 = f32x4.add(c11, f32x4.add(f32x4.mul(s, b1), f32x4.mul(t, b1_)));
        s = f32x4.shuffle(a, a, 2, 2, 2, 2);
        t = f32x4.shuffle(a_, a_, 2, 2, 2, 2);
        c20 = f32x4.add(c20, f32x4.add(f32x4.mul(s, b0), f32x4.mul(t, b0_)));
        c21 = f32x4.add(c21, f32x4.add(f32x4.mul(s, b1), f32x4.mul(t, b1_)));
        s = f32x4.shuffle(a, a, 3, 3, 3, 3);
        t = f32x4.shuffle(a_, a_, 3, 3, 3, 3);
        c30 = f32x4.add(c30, f32x4.add(f32x4.mul(s, b0), f32x4.mul(t, b0_)));
        c31 = f32x4.add(c31, f32x4.add(f32x4.mul(s, b1), f32x4.mul(t, b1_)));
      }
      for (; o < rowEnd; o += 32) {
        const a = v128.load(ap + o);
        const b0 = v128.load(bp + o);
        const b1 = v128.load(bp + o, 16);
        let s = f32x4.shuffle(a, a, 0, 0, 0, 0);
        c00 = f32x4.add(c00, f32x4.mul(s, b0));
        c01 = f32x4.add(c01, f32x4.mul(s, b1));
        s = f32x4.shuffle(a, a, 1, 1, 1, 1);
        c10 = f32x4.add(c10, f32x4.mul(s, b0));
        c11 = f32x4.add(c11, f32x4.mul(s, b1));
        s = f32x4.shuffle(a, a, 2, 2, 2, 2);
        c20 = f32x4.add(c20, f32x4.mul(s, b0));
        c21 = f32x4.add(c21, f32x4.mul(s, b1));
        s = f32x4.shuffle(a, a, 3, 3, 3, 3);
        c30 = f32x4.add(c30, f32x4.mul(s, b0));
        c31 = f32x4.add(c31, f32x4.mul(s, b1));
      }
      const c0 = cPtr + ((<usize>p0 * ldc + q0) << 3);
      const ldb = <usize>ldc << 3;
      addTileRow(c0, c00, c01);
      addTileRow(c0 + ldb, c10, c11);
      addTileRow(c0 + 2 * ldb, c20, c21);
      addTileRow(c0 + 3 * ldb, c30, c31);
    }
  }
}

/** C[0..8) += promote(x)‖promote(y) for one f64 tile row (8 entries). */
// @ts-ignore: decorator
@inline
function addTileRow(c: usize, x: v128, y: v128): void {
  v128.store(c, f64x2.add(v128.load(c), f64x2.promote_low_f32x4(x)));
  v128.store(c, f64x2.add(v128.load(c, 16), f64x2.promote_low_f32x4(f32x4.shuffle(x, x, 2, 3, 0, 1))), 16);
  v128.store(c, f64x2.add(v128.load(c, 32), f64x2.promote_low_f32x4(y)), 32);
  v128.store(c, f64x2.add(v128.load(c, 48), f64x2.promote_low_f32x4(f32x4.shuffle(y, y, 2, 3, 0, 1))), 48);
}

// ---------------------------------------------------------------------------------------------
// Photometric and landmark terms

// Module state for the Jacobian row buffers (set once by `optSetScratch`).
let gA: usize = 0; // panel-8 f32, GEO_COLS columns, 2·OPT_CHUNK rows
let gB: usize = 0; // panel-8 f32, bCols columns, 2·OPT_CHUNK rows
let gY: usize = 0; // panel-8 f32, yCols columns, 3·OPT_CHUNK rows
let gCg: usize = 0; // f64 (geoCols, bCols)
let gCr: usize = 0; // f64 (yCols, yCols)
let gGeoCols: i32 = 0; // K_G (144), multiple of 8
let gAlbCols: i32 = 0; // K_B (80), multiple of 4
let gBCols: i32 = 0; // geoCols + yCols
let gYCols: i32 = 0; // roundUp8(K_B + 3 + 3 + 27 + 1)
const ROW_CAP_AB: i32 = 2 * OPT_CHUNK;
const ROW_CAP_Y: i32 = 3 * OPT_CHUNK;

// Columns of a remainder row Y (relative to the first β column; code column = K_G + c for c < K_B + 33):
// β: [0, K_B), pitch/yaw/roll: K_B + 0..3, t: K_B + 3..6, γ: K_B + 6 + 9·ch + b, F: K_B + 33, then zeros.

/** Bytes of scratch `optSetScratch` needs for the given basis widths. */
export function optScratchBytes(geoCols: i32, albCols: i32): i32 {
  const yCols = (albCols + 34 + 7) & ~7;
  const bCols = geoCols + yCols;
  return 4 * (geoCols * ROW_CAP_AB + bCols * ROW_CAP_AB + yCols * ROW_CAP_Y) + 8 * (geoCols * bCols + yCols * yCols);
}

/** Width of the remainder block (β, pose, γ, F, zero padding) for `albCols` albedo modes. */
export function optRestCols(albCols: i32): i32 {
  return (albCols + 34 + 7) & ~7;
}

/**
 * Places the row buffers and the two f64 Gram accumulators in `ptr` (16-byte aligned,
 * `optScratchBytes` bytes). Cg = (geoCols × (geoCols + restCols)) at the start of the f64 part,
 * Cr = (restCols × restCols) after it; `optGramPtr` returns Cg's address.
 */
export function optSetScratch(ptr: usize, geoCols: i32, albCols: i32): void {
  gGeoCols = geoCols;
  gAlbCols = albCols;
  gYCols = optRestCols(albCols);
  gBCols = geoCols + gYCols;
  gCg = ptr;
  gCr = gCg + <usize>(8 * geoCols * gBCols);
  gA = gCr + <usize>(8 * gYCols * gYCols);
  gB = gA + <usize>(4 * geoCols * ROW_CAP_AB);
  gY = gB + <usize>(4 * gBCols * ROW_CAP_AB);
}

/** Zeroes the Gram accumulators (start of a linearisation). */
export function optClearGram(): void {
  memory.fill(gCg, 0, <usize>(8 * (gGeoCols * gBCols + gYCols * gYCols)));
}

/** Address of the geometry Gram rows Cg (f64 (geoCols, geoCols + restCols)). */
export function optGramGeoPtr(): usize {
  return gCg;
}

/** Address of the remainder Gram block Cr (f64 (restCols, restCols)). */
export function optGramRestPtr(): usize {
  return gCr;
}

/** Panel-8 address of element (r, c) for a buffer with row capacity cap. */
// @ts-ignore: decorator
@inline
function pAddr(base: usize, cap: i32, r: i32, c: i32): usize {
  return base + (<usize>(c >> 3) * (<usize>cap << 5)) + (<usize>r << 5) + (<usize>(c & 7) << 2);
}

function flushChunk(abRows: i32, yRows: i32): void {
  gramAccumulate(gCg, gBCols, gA, ROW_CAP_AB, gB, ROW_CAP_AB, abRows, 0, gGeoCols, 0, gBCols);
  gramAccumulate(gCr, gYCols, gY, ROW_CAP_Y, gY, ROW_CAP_Y, yRows, 0, gYCols, 0, gYCols);
}

/**
 * Landmark rows have zero β and γ columns: only the tiles of the geometry, pose and F columns
 * are accumulated (about half of `flushChunk`'s work).
 */
function flushLandmarkChunk(rows: i32): void {
  const pose = (gAlbCols >> 3) << 3; // tile holding the 6 pose columns (K_B + 0..6)
  const fcol = ((gAlbCols + 33) >> 3) << 3; // tile holding F (K_B + 33)
  gramAccumulate(gCg, gBCols, gA, ROW_CAP_AB, gB, ROW_CAP_AB, rows, 0, gGeoCols, 0, gGeoCols);
  gramAccumulate(gCg, gBCols, gA, ROW_CAP_AB, gB, ROW_CAP_AB, rows, 0, gGeoCols, gGeoCols + pose, gGeoCols + pose + 8);
  gramAccumulate(gCg, gBCols, gA, ROW_CAP_AB, gB, ROW_CAP_AB, rows, 0, gGeoCols, gGeoCols + fcol, gGeoCols + fcol + 8);
  gramAccumulate(gCr, gYCols, gY, ROW_CAP_Y, gY, ROW_CAP_Y, rows, pose, pose + 8, pose, pose + 8);
  gramAccumulate(gCr, gYCols, gY, ROW_CAP_Y, gY, ROW_CAP_Y, rows, pose, pose + 8, fcol, fcol + 8);
  gramAccumulate(gCr, gYCols, gY, ROW_CAP_Y, gY, ROW_CAP_Y, rows, fcol, fcol + 8, fcol, fcol + 8);
}

/**
 * Writes a = (∂u_x/∂p) R and b = (∂u_y/∂p) R times `scale` as splats and stores U = a·G_i,
 * W = b·G_i (geometry block of vertex i, SIMD over the 144 columns) into A rows rA, rA + 1 and
 * their mixtures luu·U + luw·W, luw·U + lww·W into B rows rA, rA + 1.
 */
// @ts-ignore: decorator
@inline
function writeGeoRows(
  geoBasis: usize, i: u32, rA: i32,
  a0: f64, a1: f64, a2: f64, b0: f64, b1: f64, b2: f64,
  luu: f64, luw: f64, lww: f64,
): void {
  const rowBytes = <usize>gGeoCols << 2;
  const g0 = geoBasis + <usize>(3 * i) * rowBytes;
  const g1 = g0 + rowBytes;
  const g2 = g1 + rowBytes;
  const sa0 = f32x4.splat(<f32>a0), sa1 = f32x4.splat(<f32>a1), sa2 = f32x4.splat(<f32>a2);
  const sb0 = f32x4.splat(<f32>b0), sb1 = f32x4.splat(<f32>b1), sb2 = f32x4.splat(<f32>b2);
  const muu = f32x4.splat(<f32>luu), muw = f32x4.splat(<f32>luw), mww = f32x4.splat(<f32>lww);
  const aRow = gA + (<usize>rA << 5);
  const bRow = gB + (<usize>rA << 5);
  const panel = <usize>ROW_CAP_AB << 5;
  for (let k: i32 = 0; k < gGeoCols; k += 4) {
    const kb = <usize>k << 2;
    const x = v128.load(g0 + kb), y = v128.load(g1 + kb), z = v128.load(g2 + kb);
    const u = f32x4.add(f32x4.add(f32x4.mul(sa0, x), f32x4.mul(sa1, y)), f32x4.mul(sa2, z));
    const w = f32x4.add(f32x4.add(f32x4.mul(sb0, x), f32x4.mul(sb1, y)), f32x4.mul(sb2, z));
    const off = <usize>(k >> 3) * panel + (<usize>(k & 4) << 2);
    v128.store(aRow + off, u);
    v128.store(aRow + off + 32, w);
    v128.store(bRow + off, f32x4.add(f32x4.mul(muu, u), f32x4.mul(muw, w)));
    v128.store(bRow + off + 32, f32x4.add(f32x4.mul(muw, u), f32x4.mul(mww, w)));
  }
}

// Per-vertex scratch (f64) for the small remainder columns (pose, γ, F) of the three channels.
const SMALL: i32 = 40; // ≥ restCols − K_B: pose 6 + γ 27 + F 1 = 34, plus zero padding to the 8-column tile
const smallRows = memory.data(8 * 3 * SMALL, 16);

/** Result slots of the last photometric call (read by the host through `optLastStat`). */
const stats = memory.data(8 * 4, 16);

/** Stat k of the last photometric / landmark call: 0 = Σ F², 1 = number of rows skipped (depth ≤ 0). */
export function optLastStat(k: i32): f64 {
  return load<f64>(stats + (<usize>k << 3));
}

/**
 * Photometric term (Eq. 8, 11) over the vertex list P, either as energy only or as a
 * linearisation that adds its rows to the Gram accumulators.
 *
 * Per vertex i = idx[j] (positions `pos`, model-frame unit normals `nrm` by vertex index;
 * albedo `alb` compact, row j): p = R v + t, u = Π(p), n_c = R n, c_ch = r_ch Σ_b γ'_{ch,b} H_b(n_c),
 * I(u) bilinear with clamp-to-edge (pixel centres at +0.5) and its analytic gradient;
 * F_ch = s (c_ch − I_ch(u)), s² = weight[j].
 * @param mode 0: energy with the stored weights; 1: linearise — computes
 *   weight[j] = w_photo/|P| / max(‖c − I‖, C_min) (IRLS, Eq. 11) first, then accumulates
 *   the augmented Gram rows of [J | F] (call `optClearGram` before the first chunk).
 * @returns Σ_j Σ_ch F² (photometric energy).
 */
export function photoTerm(
  mode: i32, idxPtr: usize, count: i32, posPtr: usize, nrmPtr: usize, albPtr: usize,
  albBasisPtr: usize, geoBasisPtr: usize, paramsPtr: usize, imgPtr: usize, weightPtr: usize,
): f64 {
  const r0 = ld(paramsPtr, P_R), r1 = ld(paramsPtr, P_R + 1), r2 = ld(paramsPtr, P_R + 2);
  const r3 = ld(paramsPtr, P_R + 3), r4 = ld(paramsPtr, P_R + 4), r5 = ld(paramsPtr, P_R + 5);
  const r6 = ld(paramsPtr, P_R + 6), r7 = ld(paramsPtr, P_R + 7), r8 = ld(paramsPtr, P_R + 8);
  const tx = ld(paramsPtr, P_T), ty = ld(paramsPtr, P_T + 1), tz = ld(paramsPtr, P_T + 2);
  const f = ld(paramsPtr, P_F), cx = ld(paramsPtr, P_CX), cy = ld(paramsPtr, P_CY);
  const Wd = ld(paramsPtr, P_W), Hd = ld(paramsPtr, P_H);
  const W = <i32>Wd, H = <i32>Hd;
  const wPhotoN = ld(paramsPtr, P_WPHOTO), cMin = ld(paramsPtr, P_CMIN);
  const KB = gAlbCols;
  const albRowBytes = <usize>KB << 2;
  let energy: f64 = 0;
  let skipped: i32 = 0;
  let chunkV: i32 = 0;
  for (let j: i32 = 0; j < count; j++) {
    const i = load<u32>(idxPtr + (<usize>j << 2));
    const v = posPtr + <usize>(12 * i), nn = nrmPtr + <usize>(12 * i), rp = albPtr + <usize>(12 * j);
    const vx = <f64>load<f32>(v), vy = <f64>load<f32>(v, 4), vz = <f64>load<f32>(v, 8);
    const nx = <f64>load<f32>(nn), ny = <f64>load<f32>(nn, 4), nz = <f64>load<f32>(nn, 8);
    const px = r0 * vx + r1 * vy + r2 * vz + tx;
    const py = r3 * vx + r4 * vy + r5 * vz + ty;
    const pz = r6 * vx + r7 * vy + r8 * vz + tz;
    const d = -pz;
    if (!(d > 0)) { skipped++; continue; } // behind the camera: Π undefined (cannot happen for visible vertices at x_old)
    const id = 1.0 / d;
    const ux = cx + f * px * id, uy = cy - f * py * id;
    // Camera-frame normal and irradiance basis H_b(n_c) (Eq. 4, 5).
    const mx = r0 * nx + r1 * ny + r2 * nz, my = r3 * nx + r4 * ny + r5 * nz, mz = r6 * nx + r7 * ny + r8 * nz;
    const h1 = H1 * my, h2 = H1 * mz, h3 = H1 * mx;
    const h4 = H2A * mx * my, h5 = H2A * my * mz, h6 = H2B * (3.0 * mz * mz - 1.0), h7 = H2A * mx * mz, h8 = H2C * (mx * mx - my * my);
    // Bilinear sample of the image at u (pixel centres at +0.5, clamp to edge) and its gradient.
    const xs = ux - 0.5, ys = uy - 0.5;
    const xf = Math.floor(xs), yf = Math.floor(ys);
    const fx = xs - xf, fy = ys - yf;
    const xi = <i32>xf, yi = <i32>yf;
    const x0 = clampI(xi, W), x1 = clampI(xi + 1, W), y0 = clampI(yi, H), y1 = clampI(yi + 1, H);
    const p00 = imgPtr + <usize>(12 * (y0 * W + x0)), p10 = imgPtr + <usize>(12 * (y0 * W + x1));
    const p01 = imgPtr + <usize>(12 * (y1 * W + x0)), p11 = imgPtr + <usize>(12 * (y1 * W + x1));
    const alb0 = <f64>load<f32>(rp), alb1 = <f64>load<f32>(rp, 4), alb2 = <f64>load<f32>(rp, 8);
    // Per channel: irradiance e, colour c, sample I, gradient (gx, gy).
    let e0: f64 = 0, e1: f64 = 0, e2: f64 = 0;
    let res0: f64 = 0, res1: f64 = 0, res2: f64 = 0;
    let gx0: f64 = 0, gx1: f64 = 0, gx2: f64 = 0, gy0: f64 = 0, gy1: f64 = 0, gy2: f64 = 0;
    for (let ch: i32 = 0; ch < 3; ch++) {
      const g = paramsPtr + (<usize>(P_GAMMA + 9 * ch) << 3);
      const e = load<f64>(g) * H0 + load<f64>(g, 8) * h1 + load<f64>(g, 16) * h2 + load<f64>(g, 24) * h3
        + load<f64>(g, 32) * h4 + load<f64>(g, 40) * h5 + load<f64>(g, 48) * h6 + load<f64>(g, 56) * h7 + load<f64>(g, 64) * h8;
      const co = <usize>(ch << 2);
      const i00 = <f64>load<f32>(p00 + co), i10 = <f64>load<f32>(p10 + co);
      const i01 = <f64>load<f32>(p01 + co), i11 = <f64>load<f32>(p11 + co);
      const top = i00 + fx * (i10 - i00), bot = i01 + fx * (i11 - i01);
      const I = top + fy * (bot - top);
      const gx = (1.0 - fy) * (i10 - i00) + fy * (i11 - i01);
      const gy = bot - top;
      const alb = ch == 0 ? alb0 : ch == 1 ? alb1 : alb2;
      const res = alb * e - I;
      if (ch == 0) { e0 = e; res0 = res; gx0 = gx; gy0 = gy; }
      else if (ch == 1) { e1 = e; res1 = res; gx1 = gx; gy1 = gy; }
      else { e2 = e; res2 = res; gx2 = gx; gy2 = gy; }
    }
    const rr = res0 * res0 + res1 * res1 + res2 * res2;
    const wp = weightPtr + (<usize>j << 3);
    let w: f64;
    if (mode == 0) {
      w = load<f64>(wp);
    } else {
      const C = Math.max(Math.sqrt(rr), cMin);
      w = wPhotoN / C;
      store<f64>(wp, w);
    }
    energy += w * rr;
    if (mode == 0) continue;

    // ---- Jacobian rows (Eq. 12) ----
    const s = Math.sqrt(w);
    // ∂u/∂p rows (spec): a = f/d (1, 0, p_x/d), b = f/d (0, −1, −p_y/d).
    const fd = f * id;
    const ax = fd, az = fd * px * id;
    const by = -fd, bz = -fd * py * id;
    // a·R and b·R (row vectors): ∂u_x/∂v and ∂u_y/∂v in the model frame.
    const aR0 = ax * r0 + az * r6, aR1 = ax * r1 + az * r7, aR2 = ax * r2 + az * r8;
    const bR0 = by * r3 + bz * r6, bR1 = by * r4 + bz * r7, bR2 = by * r5 + bz * r8;
    const l0 = -s * gx0, l1 = -s * gx1, l2 = -s * gx2;
    const m0 = -s * gy0, m1 = -s * gy1, m2 = -s * gy2;
    const rA = 2 * chunkV;
    writeGeoRows(geoBasisPtr, i, rA, aR0, aR1, aR2, bR0, bR1, bR2,
      l0 * l0 + l1 * l1 + l2 * l2, l0 * m0 + l1 * m1 + l2 * m2, m0 * m0 + m1 * m1 + m2 * m2);
    // β columns: Y_ch[k] = s e_ch E_r[3i + ch, k]; B rows get Σ λ_ch Y_ch and Σ μ_ch Y_ch.
    const rY = 3 * chunkV;
    const e0s = f32x4.splat(<f32>(s * e0)), e1s = f32x4.splat(<f32>(s * e1)), e2s = f32x4.splat(<f32>(s * e2));
    const sl0 = f32x4.splat(<f32>l0), sl1 = f32x4.splat(<f32>l1), sl2 = f32x4.splat(<f32>l2);
    const sm0 = f32x4.splat(<f32>m0), sm1 = f32x4.splat(<f32>m1), sm2 = f32x4.splat(<f32>m2);
    const eb0 = albBasisPtr + <usize>(3 * i) * albRowBytes;
    for (let k: i32 = 0; k < KB; k += 4) {
      const kb = <usize>k << 2;
      const y0v = f32x4.mul(e0s, v128.load(eb0 + kb));
      const y1v = f32x4.mul(e1s, v128.load(eb0 + albRowBytes + kb));
      const y2v = f32x4.mul(e2s, v128.load(eb0 + 2 * albRowBytes + kb));
      const ya = pAddr(gY, ROW_CAP_Y, rY, k);
      v128.store(ya, y0v);
      v128.store(ya + 32, y1v);
      v128.store(ya + 64, y2v);
      const ba = pAddr(gB, ROW_CAP_AB, rA, gGeoCols + k);
      v128.store(ba, f32x4.add(f32x4.add(f32x4.mul(sl0, y0v), f32x4.mul(sl1, y1v)), f32x4.mul(sl2, y2v)));
      v128.store(ba + 32, f32x4.add(f32x4.add(f32x4.mul(sm0, y0v), f32x4.mul(sm1, y1v)), f32x4.mul(sm2, y2v)));
    }
    // Pose, γ and F columns (f64 scratch, then f32 rows).
    // ∂p/∂θ_j = (∂R/∂θ_j) v and ∂n_c/∂θ_j = (∂R/∂θ_j) n.
    memory.fill(smallRows, 0, <usize>(8 * 3 * SMALL));
    for (let jj: i32 = 0; jj < 3; jj++) {
      const dr = paramsPtr + (<usize>(P_DR + 9 * jj) << 3);
      const dpx = load<f64>(dr) * vx + load<f64>(dr, 8) * vy + load<f64>(dr, 16) * vz;
      const dpy = load<f64>(dr, 24) * vx + load<f64>(dr, 32) * vy + load<f64>(dr, 40) * vz;
      const dpz = load<f64>(dr, 48) * vx + load<f64>(dr, 56) * vy + load<f64>(dr, 64) * vz;
      const dnx = load<f64>(dr) * nx + load<f64>(dr, 8) * ny + load<f64>(dr, 16) * nz;
      const dny = load<f64>(dr, 24) * nx + load<f64>(dr, 32) * ny + load<f64>(dr, 40) * nz;
      const dnz = load<f64>(dr, 48) * nx + load<f64>(dr, 56) * ny + load<f64>(dr, 64) * nz;
      const dux = ax * dpx + az * dpz, duy = by * dpy + bz * dpz;
      // ∇_n H_b · dn (b = 1..8), then per channel Σ_b γ'_{ch,b} (∇H_b · dn).
      const q1 = H1 * dny, q2 = H1 * dnz, q3 = H1 * dnx;
      const q4 = H2A * (my * dnx + mx * dny), q5 = H2A * (mz * dny + my * dnz), q6 = H2B * 6.0 * mz * dnz;
      const q7 = H2A * (mz * dnx + mx * dnz), q8 = H2C * 2.0 * (mx * dnx - my * dny);
      for (let ch: i32 = 0; ch < 3; ch++) {
        const g = paramsPtr + (<usize>(P_GAMMA + 9 * ch) << 3);
        const de = load<f64>(g, 8) * q1 + load<f64>(g, 16) * q2 + load<f64>(g, 24) * q3 + load<f64>(g, 32) * q4
          + load<f64>(g, 40) * q5 + load<f64>(g, 48) * q6 + load<f64>(g, 56) * q7 + load<f64>(g, 64) * q8;
        const alb = ch == 0 ? alb0 : ch == 1 ? alb1 : alb2;
        const gx = ch == 0 ? gx0 : ch == 1 ? gx1 : gx2;
        const gy = ch == 0 ? gy0 : ch == 1 ? gy1 : gy2;
        store<f64>(smallRows + (<usize>(ch * SMALL + jj) << 3), s * (alb * de - gx * dux - gy * duy));
      }
    }
    for (let ch: i32 = 0; ch < 3; ch++) {
      const gx = ch == 0 ? gx0 : ch == 1 ? gx1 : gx2;
      const gy = ch == 0 ? gy0 : ch == 1 ? gy1 : gy2;
      const alb = ch == 0 ? alb0 : ch == 1 ? alb1 : alb2;
      const res = ch == 0 ? res0 : ch == 1 ? res1 : res2;
      const row = smallRows + (<usize>(ch * SMALL) << 3);
      // ∂u/∂t = ∂u/∂p: t_x → (ax, 0), t_y → (0, by), t_z → (az, bz).
      store<f64>(row, -s * gx * ax, 24);
      store<f64>(row, -s * gy * by, 32);
      store<f64>(row, -s * (gx * az + gy * bz), 40);
      const sr = s * alb;
      const gg = row + (<usize>(6 + 9 * ch) << 3);
      store<f64>(gg, sr * H0);
      store<f64>(gg, sr * h1, 8);
      store<f64>(gg, sr * h2, 16);
      store<f64>(gg, sr * h3, 24);
      store<f64>(gg, sr * h4, 32);
      store<f64>(gg, sr * h5, 40);
      store<f64>(gg, sr * h6, 48);
      store<f64>(gg, sr * h7, 56);
      store<f64>(gg, sr * h8, 64);
      store<f64>(row, s * res, 33 << 3);
    }
    const smallCols = gYCols - KB;
    for (let c: i32 = 0; c < smallCols; c++) {
      const y0 = load<f64>(smallRows + (<usize>c << 3));
      const y1 = load<f64>(smallRows + (<usize>(SMALL + c) << 3));
      const y2 = load<f64>(smallRows + (<usize>(2 * SMALL + c) << 3));
      const ya = pAddr(gY, ROW_CAP_Y, rY, KB + c);
      store<f32>(ya, <f32>y0);
      store<f32>(ya + 32, <f32>y1);
      store<f32>(ya + 64, <f32>y2);
      const ba = pAddr(gB, ROW_CAP_AB, rA, gGeoCols + KB + c);
      store<f32>(ba, <f32>(l0 * y0 + l1 * y1 + l2 * y2));
      store<f32>(ba + 32, <f32>(m0 * y0 + m1 * y1 + m2 * y2));
    }
    chunkV++;
    if (chunkV == OPT_CHUNK) {
      flushChunk(2 * chunkV, 3 * chunkV);
      chunkV = 0;
    }
  }
  if (chunkV > 0) flushChunk(2 * chunkV, 3 * chunkV);
  store<f64>(stats, energy);
  store<f64>(stats + 8, <f64>skipped);
  return energy;
}

// @ts-ignore: decorator
@inline
function clampI(v: i32, n: i32): i32 {
  return v < 0 ? 0 : v >= n ? n - 1 : v;
}

/**
 * Landmark term (Eq. 9): two rows per landmark j, F = sqrt(w_land c_j / L) (u_kj − s_j) px.
 * @param vertPtr u32 (L) T1 vertex of each landmark. @param targetPtr f32 (L, 2) px.
 * @param weightPtr f64 (L): w_land c_j / L.
 * @param mode 0: energy; 1: also accumulate the rows into the Gram accumulators.
 * @returns Σ F² over the 2L rows.
 */
export function landmarkTerm(
  mode: i32, vertPtr: usize, targetPtr: usize, weightPtr: usize, count: i32,
  posPtr: usize, geoBasisPtr: usize, paramsPtr: usize,
): f64 {
  const r0 = ld(paramsPtr, P_R), r1 = ld(paramsPtr, P_R + 1), r2 = ld(paramsPtr, P_R + 2);
  const r3 = ld(paramsPtr, P_R + 3), r4 = ld(paramsPtr, P_R + 4), r5 = ld(paramsPtr, P_R + 5);
  const r6 = ld(paramsPtr, P_R + 6), r7 = ld(paramsPtr, P_R + 7), r8 = ld(paramsPtr, P_R + 8);
  const tx = ld(paramsPtr, P_T), ty = ld(paramsPtr, P_T + 1), tz = ld(paramsPtr, P_T + 2);
  const f = ld(paramsPtr, P_F), cx = ld(paramsPtr, P_CX), cy = ld(paramsPtr, P_CY);
  const KB = gAlbCols;
  let energy: f64 = 0;
  let chunkV: i32 = 0;
  let skipped: i32 = 0;
  for (let j: i32 = 0; j < count; j++) {
    const i = load<u32>(vertPtr + (<usize>j << 2));
    const wl = load<f64>(weightPtr + (<usize>j << 3));
    const v = posPtr + <usize>(12 * i);
    const vx = <f64>load<f32>(v), vy = <f64>load<f32>(v, 4), vz = <f64>load<f32>(v, 8);
    const px = r0 * vx + r1 * vy + r2 * vz + tx;
    const py = r3 * vx + r4 * vy + r5 * vz + ty;
    const pz = r6 * vx + r7 * vy + r8 * vz + tz;
    const d = -pz;
    if (!(d > 0) || !(wl > 0)) { if (!(d > 0)) skipped++; continue; }
    const id = 1.0 / d;
    const resx = cx + f * px * id - <f64>load<f32>(targetPtr + (<usize>j << 3));
    const resy = cy - f * py * id - <f64>load<f32>(targetPtr + (<usize>j << 3), 4);
    energy += wl * (resx * resx + resy * resy);
    if (mode == 0) continue;
    const s = Math.sqrt(wl);
    const fd = f * id;
    const ax = s * fd, az = s * fd * px * id;
    const by = -s * fd, bz = -s * fd * py * id;
    const rA = 2 * chunkV;
    // Rows x and y: geometry part is itself (B = A on the geometry columns: luu = lww = 1, luw = 0).
    writeGeoRows(geoBasisPtr, i, rA, ax * r0 + az * r6, ax * r1 + az * r7, ax * r2 + az * r8,
      by * r3 + bz * r6, by * r4 + bz * r7, by * r5 + bz * r8, 1.0, 0.0, 1.0);
    // Remainder: β and γ zero; pose, t, F.
    for (let c: i32 = 0; c < gYCols; c += 4) {
      const z = f32x4.splat(0);
      v128.store(pAddr(gY, ROW_CAP_Y, rA, c), z);
      v128.store(pAddr(gY, ROW_CAP_Y, rA + 1, c), z);
      v128.store(pAddr(gB, ROW_CAP_AB, rA, gGeoCols + c), z);
      v128.store(pAddr(gB, ROW_CAP_AB, rA + 1, gGeoCols + c), z);
    }
    for (let jj: i32 = 0; jj < 3; jj++) {
      const dr = paramsPtr + (<usize>(P_DR + 9 * jj) << 3);
      const dpx = load<f64>(dr) * vx + load<f64>(dr, 8) * vy + load<f64>(dr, 16) * vz;
      const dpy = load<f64>(dr, 24) * vx + load<f64>(dr, 32) * vy + load<f64>(dr, 40) * vz;
      const dpz = load<f64>(dr, 48) * vx + load<f64>(dr, 56) * vy + load<f64>(dr, 64) * vz;
      putRest(rA, KB + jj, ax * dpx + az * dpz);
      putRest(rA + 1, KB + jj, by * dpy + bz * dpz);
    }
    putRest(rA, KB + 3, ax);
    putRest(rA, KB + 5, az);
    putRest(rA + 1, KB + 4, by);
    putRest(rA + 1, KB + 5, bz);
    putRest(rA, KB + 33, s * resx);
    putRest(rA + 1, KB + 33, s * resy);
    chunkV++;
    if (chunkV == OPT_CHUNK) {
      flushLandmarkChunk(2 * chunkV);
      chunkV = 0;
    }
  }
  if (mode != 0 && chunkV > 0) flushLandmarkChunk(2 * chunkV);
  store<f64>(stats, energy);
  store<f64>(stats + 8, <f64>skipped);
  return energy;
}

/** Landmark remainder entry: the same value in Y row r and B row r (B = Y on the remainder). */
// @ts-ignore: decorator
@inline
function putRest(r: i32, c: i32, value: f64): void {
  store<f32>(pAddr(gY, ROW_CAP_Y, r, c), <f32>value);
  store<f32>(pAddr(gB, ROW_CAP_AB, r, gGeoCols + c), <f32>value);
}

/**
 * Writes the full symmetric JᵀJ (n × n, n = geoCols + K_B + 33 = 257, row-major f64) and JᵀF (n)
 * from the Gram accumulators: rows p < geoCols come from Cg (column n of Cg is JᵀF), rows
 * p ≥ geoCols from Cr (offset by geoCols); the lower triangle is mirrored from the upper.
 * The regulariser (Eq. 10) is not included (the host adds its diagonal).
 * @returns FᵀF of the accumulated rows (the augmented Gram's corner).
 */
export function optAssemble(jtjPtr: usize, jtfPtr: usize): f64 {
  const n = gGeoCols + gAlbCols + 33;
  const rowBytes = <usize>n << 3;
  for (let p: i32 = 0; p < n; p++) {
    const dst = jtjPtr + <usize>p * rowBytes;
    let src: usize;
    if (p < gGeoCols) src = gCg + ((<usize>p * gBCols) << 3);
    else src = gCr + ((<usize>(p - gGeoCols) * <usize>gYCols) << 3) - (<usize>gGeoCols << 3);
    memory.copy(dst + (<usize>p << 3), src + (<usize>p << 3), <usize>(n - p) << 3);
    store<f64>(jtfPtr + (<usize>p << 3), load<f64>(src + (<usize>n << 3)));
    for (let q: i32 = 0; q < p; q++) {
      store<f64>(dst + (<usize>q << 3), load<f64>(jtjPtr + ((<usize>q * n + p) << 3)));
    }
  }
  return load<f64>(gCr + ((<usize>(gYCols + 1) * (gAlbCols + 33)) << 3));
}
