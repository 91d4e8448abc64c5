/**
 * Shading-based surface refinement "Refine" (paper Sec. 9.2, Eq. 18–22) in WASM SIMD: the
 * whole gradient descent (all iterations) in one call, `refineRun`. Math identical to the
 * TypeScript reference sdk/refine/reference.ts (see docs/design/refine.md; that file's module
 * comment derives the gradient); this file is f32.
 *
 * Layout: per-vertex arrays are f32 over `nPad` = N rounded up to a multiple of 4 (padding
 * vertices are zero). What a pass reads per vertex through a gather (one-ring neighbours,
 * triangle corners: positions, m, s = c − I with the V flag, d, L, ∂E/∂m, ∂E/∂v) is AoS4
 * (x, y, z, w: one v128 per vertex); what the 4-vertices-per-lane passes A and C read is SoA
 * (4×4 transposes convert between the two). The image is RGBA f32, one v128 per pixel.
 *
 * Per iteration:
 *   v = v^C + d;  m = Σ face cross products (face scatter, v128 per vertex);
 *   A  (4 vertices per v128): n = m/‖m‖, ñ = R n, p = R v + t, u = Π(p), c = r ⊙ Σ_b sh_b Y_b(ñ), facing;
 *   A2 (per vertex, RGB in a v128): I(u), ∇I(u) bilinear, V and 1/C_i frozen, E_photo;
 *   B  (one-ring gathers): ∂E/∂c (= −∂E/∂I), ∂E/∂u, L_i = Σ_j (d_i − d_j), E_grad, E_reg;
 *   C  (4 vertices per v128): ∂E/∂m through the SH derivative, direct ∂E/∂v through Π and ∇I;
 *   face pass (scatter): ∂m/∂v;  D (one-ring gathers): Laplacian gradient, d ← d − step ∇E.
 */

// ---------------------------------------------------------------------------------------------
// Context block written by the host (REFINE_CTX_WORDS 4-byte words; i32 or f32 as noted).

/** i32 N: vertex count; i32 nPad: N rounded up to a multiple of 4; i32 F: triangle count. */
export const REFINE_N: i32 = 0;
export const REFINE_NPAD: i32 = 1;
export const REFINE_F: i32 = 2;
/** i32 image width and height, px. */
export const REFINE_W: i32 = 3;
export const REFINE_H: i32 = 4;
/** Pointers: (F, 3) u32 triangles; (N + 1) u32 CSR offsets; u32 neighbours; (H, W, 4) f32 RGBA image (A = 0). */
export const REFINE_INDEX: i32 = 5;
export const REFINE_OFFSETS: i32 = 6;
export const REFINE_NEIGHBORS: i32 = 7;
export const REFINE_IMAGE: i32 = 8;
/** Pointers to SoA (3 × nPad) f32: coarse positions v^C (mm), albedo, displacements d (in/out). */
export const REFINE_COARSE: i32 = 9;
export const REFINE_ALBEDO: i32 = 10;
export const REFINE_DISP: i32 = 11;
/** Pointer to the scratch block of `refineScratchBytes(nPad)` bytes (zeroed by the host). */
export const REFINE_SCRATCH: i32 = 12;
/** f32 focal length and principal point, px. */
export const REFINE_FOCAL: i32 = 13;
export const REFINE_CX: i32 = 14;
export const REFINE_CY: i32 = 15;
/** f32 step, w_grad, w_reg, IRLS floor. */
export const REFINE_STEP: i32 = 16;
export const REFINE_WGRAD: i32 = 17;
export const REFINE_WREG: i32 = 18;
export const REFINE_CMIN: i32 = 19;
/** f32 R (9, row-major), t (3, mm), folded SH coefficients Â_b γ'_cb (27, layout 9c + b). */
export const REFINE_ROT: i32 = 20;
export const REFINE_TRANS: i32 = 29;
export const REFINE_SH: i32 = 32;
/** Number of 4-byte words in the context block. */
export const REFINE_CTX_WORDS: i32 = 64;

// Scratch arrays in units of "rows" of nPad f32 (index × nPad × 4 bytes from the scratch base).
// AoS4 arrays (4 rows: vertex i's (x, y, z, w) at 16·i) hold what the gathers and the face
// passes read per vertex (one v128 load each); SoA arrays (one row per component) feed the
// 4-vertices-per-lane passes A and C.
const S_C4: i32 = 0; // coarse v^C, AoS4 (w = 0)
const S_D4: i32 = 4; // displacements d, AoS4 (w = 0)
const S_V4: i32 = 8; // v = v^C + d, AoS4 (w = 0)
const S_M4: i32 = 12; // m, AoS4
const S_N: i32 = 16; // n, SoA (3)
const S_MINV: i32 = 19; // 1/‖m‖ (0 if ‖m‖ = 0)
const S_P: i32 = 20; // camera position, SoA (3)
const S_U: i32 = 23; // u, v px (2)
const S_COL: i32 = 25; // colour c, SoA (3)
const S_FRONT: i32 = 28; // 1 if front-facing with ‖m‖ > 0 and depth > 0
const S_IU4: i32 = 29; // ∂I/∂u, AoS4 (w = 0)
const S_IV4: i32 = 33; // ∂I/∂v, AoS4 (w = 0)
const S_S4: i32 = 37; // (s = c − I (3), 1 if in the frozen V else 0), AoS4
const S_DC: i32 = 41; // ∂E/∂c, SoA (3)   (∂E/∂I = −∂E/∂c: E depends on c and I only through s)
const S_GU: i32 = 44; // ∂E/∂u (2): Σ_c ∂E/∂I_c ∇I_c
const S_DM4: i32 = 46; // ∂E/∂m, AoS4
const S_G4: i32 = 50; // ∂E/∂v, AoS4
const S_L4: i32 = 54; // Laplacian L, AoS4
const S_INVC: i32 = 58; // frozen 1/C_i (0 outside V)
const S_COUNT: i32 = 59;

/** Bytes of the scratch block for nPad (multiple of 4) vertices. */
export function refineScratchBytes(nPad: i32): usize {
  return <usize>S_COUNT * <usize>nPad * 4;
}

const Y0: f32 = 0.28209479177387814;
const Y1: f32 = 0.4886025119029199;
const Y2A: f32 = 1.0925484305920792;
const Y2B: f32 = 0.31539156525252005;
const Y2C: f32 = 0.5462742152960396;

// Module-level copies of the context (set by `loadContext`).
let N: i32 = 0;
let NPAD: i32 = 0;
let NF: i32 = 0;
let IW: i32 = 0;
let IH: i32 = 0;
let INDEX: usize = 0;
let OFFS: usize = 0;
let NBRS: usize = 0;
let IMG: usize = 0;
let COARSE: usize = 0;
let ALB: usize = 0;
let DISP: usize = 0;
let SCR: usize = 0;
let ROW: usize = 0; // bytes per SoA row = nPad · 4
let CTX: usize = 0;

@inline function ctxI(k: i32): i32 { return load<i32>(CTX + (<usize>k << 2)); }
@inline function ctxF(k: i32): f32 { return load<f32>(CTX + (<usize>k << 2)); }
@inline function ctxP(k: i32): usize { return <usize>load<u32>(CTX + (<usize>k << 2)); }
/** Address of scratch array `a` (component offset already folded into `a`). */
@inline function arr(a: i32): usize { return SCR + <usize>a * ROW; }
@inline function splat(x: f32): v128 { return f32x4.splat(x); }

function loadContext(ctx: usize): void {
  CTX = ctx;
  N = ctxI(REFINE_N); NPAD = ctxI(REFINE_NPAD); NF = ctxI(REFINE_F);
  IW = ctxI(REFINE_W); IH = ctxI(REFINE_H);
  INDEX = ctxP(REFINE_INDEX); OFFS = ctxP(REFINE_OFFSETS); NBRS = ctxP(REFINE_NEIGHBORS); IMG = ctxP(REFINE_IMAGE);
  COARSE = ctxP(REFINE_COARSE); ALB = ctxP(REFINE_ALBEDO); DISP = ctxP(REFINE_DISP); SCR = ctxP(REFINE_SCRATCH);
  ROW = <usize>NPAD << 2;
}

const LANE3_MASK: v128 = i32x4(-1, -1, -1, 0);

/** Lane k of the 4×4 transpose of rows r0..r3 (column k as a vector). */
@inline function col0(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), 0, 1, 4, 5);
}
@inline function col1(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), 2, 3, 6, 7);
}
@inline function col2(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), v128.shuffle<f32>(r2, r3, 2, 6, 3, 7), 0, 1, 4, 5);
}
@inline function col3(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), v128.shuffle<f32>(r2, r3, 2, 6, 3, 7), 2, 3, 6, 7);
}
/** a × b on (x, y, z, 0) lanes (lane 3 stays 0). */
@inline function cross4(a: v128, b: v128): v128 {
  const ayzx = v128.shuffle<f32>(a, a, 1, 2, 0, 3), azxy = v128.shuffle<f32>(a, a, 2, 0, 1, 3);
  const byzx = v128.shuffle<f32>(b, b, 1, 2, 0, 3), bzxy = v128.shuffle<f32>(b, b, 2, 0, 1, 3);
  return f32x4.sub(f32x4.mul(ayzx, bzxy), f32x4.mul(azxy, byzx));
}
/** x + y + z of a v128 (lane 3 ignored). */
@inline function sum3(a: v128): f32 {
  return f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2);
}
@inline function aos(a: i32, i: usize): usize { return arr(a) + (i << 4); }

/** SoA (3 × nPad) at `src` → AoS4 at scratch array `dst` (w = 0). */
function soaToAos(src: usize, dst: i32): void {
  const base = arr(dst);
  for (let i = 0; i < NPAD; i++) {
    const o = <usize>i << 2;
    v128.store(base + (<usize>i << 4), f32x4(load<f32>(src + o), load<f32>(src + ROW + o), load<f32>(src + 2 * ROW + o), 0));
  }
}

/** AoS4 scratch array `src` → SoA (3 × nPad) at `dst`. */
function aosToSoa(src: i32, dst: usize): void {
  const base = arr(src);
  for (let i = 0; i < NPAD; i++) {
    const o = <usize>i << 2;
    const v = v128.load(base + (<usize>i << 4));
    store<f32>(dst + o, f32x4.extract_lane(v, 0));
    store<f32>(dst + ROW + o, f32x4.extract_lane(v, 1));
    store<f32>(dst + 2 * ROW + o, f32x4.extract_lane(v, 2));
  }
}

/** v = v^C + d (SIMD, one vertex per v128). */
function passPositions(): void {
  const c = arr(S_C4), d = arr(S_D4), v = arr(S_V4);
  const end = ROW << 2;
  for (let o: usize = 0; o < end; o += 16) v128.store(v + o, f32x4.add(v128.load(c + o), v128.load(d + o)));
}

/** m_i = Σ_{f∋i} (v_b − v_a) × (v_c − v_a) (face scatter, one v128 per vertex). */
function passFaceNormals(): void {
  const v = arr(S_V4), m = arr(S_M4);
  memory.fill(m, 0, ROW << 2);
  for (let f = 0; f < NF; f++) {
    const fo = INDEX + <usize>f * 12;
    const a = <usize>load<u32>(fo) << 4, b = <usize>load<u32>(fo + 4) << 4, c = <usize>load<u32>(fo + 8) << 4;
    const va = v128.load(v + a);
    const nrm = cross4(f32x4.sub(v128.load(v + b), va), f32x4.sub(v128.load(v + c), va));
    v128.store(m + a, f32x4.add(v128.load(m + a), nrm));
    v128.store(m + b, f32x4.add(v128.load(m + b), nrm));
    v128.store(m + c, f32x4.add(v128.load(m + c), nrm));
  }
}

/** Pass A (SIMD, 4 vertices per step): normals, camera positions, projection, SH colour, facing. */
function passVertexA(): void {
  const r0 = splat(ctxF(REFINE_ROT)), r1 = splat(ctxF(REFINE_ROT + 1)), r2 = splat(ctxF(REFINE_ROT + 2));
  const r3 = splat(ctxF(REFINE_ROT + 3)), r4 = splat(ctxF(REFINE_ROT + 4)), r5 = splat(ctxF(REFINE_ROT + 5));
  const r6 = splat(ctxF(REFINE_ROT + 6)), r7 = splat(ctxF(REFINE_ROT + 7)), r8 = splat(ctxF(REFINE_ROT + 8));
  const tx = splat(ctxF(REFINE_TRANS)), ty = splat(ctxF(REFINE_TRANS + 1)), tz = splat(ctxF(REFINE_TRANS + 2));
  const fl = splat(ctxF(REFINE_FOCAL)), pcx = splat(ctxF(REFINE_CX)), pcy = splat(ctxF(REFINE_CY));
  const zero = splat(0), one = splat(1), three = splat(3);
  const y0 = splat(Y0), y1 = splat(Y1), y2a = splat(Y2A), y2b = splat(Y2B), y2c = splat(Y2C);
  const vb = arr(S_V4), mb = arr(S_M4);
  for (let o: usize = 0; o < ROW; o += 16) {
    const q4 = o << 2; // 4 vertices × 16 bytes
    const m0 = v128.load(mb + q4), m1 = v128.load(mb + q4 + 16), m2 = v128.load(mb + q4 + 32), m3 = v128.load(mb + q4 + 48);
    const mx = col0(m0, m1, m2, m3), my = col1(m0, m1, m2, m3), mz = col2(m0, m1, m2, m3);
    const len = f32x4.sqrt(f32x4.add(f32x4.add(f32x4.mul(mx, mx), f32x4.mul(my, my)), f32x4.mul(mz, mz)));
    const pos = f32x4.gt(len, zero);
    const inv = v128.bitselect(f32x4.div(one, len), zero, pos);
    const nx = f32x4.mul(mx, inv), ny = f32x4.mul(my, inv), nz = f32x4.mul(mz, inv);
    v128.store(arr(S_N) + o, nx); v128.store(arr(S_N + 1) + o, ny); v128.store(arr(S_N + 2) + o, nz);
    v128.store(arr(S_MINV) + o, inv);
    const w0 = v128.load(vb + q4), w1 = v128.load(vb + q4 + 16), w2 = v128.load(vb + q4 + 32), w3 = v128.load(vb + q4 + 48);
    const vx = col0(w0, w1, w2, w3), vy = col1(w0, w1, w2, w3), vz = col2(w0, w1, w2, w3);
    const px = f32x4.add(f32x4.add(f32x4.add(f32x4.mul(r0, vx), f32x4.mul(r1, vy)), f32x4.mul(r2, vz)), tx);
    const py = f32x4.add(f32x4.add(f32x4.add(f32x4.mul(r3, vx), f32x4.mul(r4, vy)), f32x4.mul(r5, vz)), ty);
    const pz = f32x4.add(f32x4.add(f32x4.add(f32x4.mul(r6, vx), f32x4.mul(r7, vy)), f32x4.mul(r8, vz)), tz);
    v128.store(arr(S_P) + o, px); v128.store(arr(S_P + 1) + o, py); v128.store(arr(S_P + 2) + o, pz);
    const d = f32x4.neg(pz);
    const fd = f32x4.div(fl, d);
    v128.store(arr(S_U) + o, f32x4.add(pcx, f32x4.mul(fd, px)));
    v128.store(arr(S_U + 1) + o, f32x4.sub(pcy, f32x4.mul(fd, py)));
    const qx = f32x4.add(f32x4.add(f32x4.mul(r0, nx), f32x4.mul(r1, ny)), f32x4.mul(r2, nz));
    const qy = f32x4.add(f32x4.add(f32x4.mul(r3, nx), f32x4.mul(r4, ny)), f32x4.mul(r5, nz));
    const qz = f32x4.add(f32x4.add(f32x4.mul(r6, nx), f32x4.mul(r7, ny)), f32x4.mul(r8, nz));
    const b1 = f32x4.mul(y1, qy), b2 = f32x4.mul(y1, qz), b3 = f32x4.mul(y1, qx);
    const b4 = f32x4.mul(y2a, f32x4.mul(qx, qy)), b5 = f32x4.mul(y2a, f32x4.mul(qy, qz));
    const b6 = f32x4.mul(y2b, f32x4.sub(f32x4.mul(three, f32x4.mul(qz, qz)), one));
    const b7 = f32x4.mul(y2a, f32x4.mul(qx, qz)), b8 = f32x4.mul(y2c, f32x4.sub(f32x4.mul(qx, qx), f32x4.mul(qy, qy)));
    for (let c = 0; c < 3; c++) {
      const s = REFINE_SH + 9 * c;
      let e = f32x4.mul(splat(ctxF(s)), y0);
      e = f32x4.add(e, f32x4.mul(splat(ctxF(s + 1)), b1));
      e = f32x4.add(e, f32x4.mul(splat(ctxF(s + 2)), b2));
      e = f32x4.add(e, f32x4.mul(splat(ctxF(s + 3)), b3));
      e = f32x4.add(e, f32x4.mul(splat(ctxF(s + 4)), b4));
      e = f32x4.add(e, f32x4.mul(splat(ctxF(s + 5)), b5));
      e = f32x4.add(e, f32x4.mul(splat(ctxF(s + 6)), b6));
      e = f32x4.add(e, f32x4.mul(splat(ctxF(s + 7)), b7));
      e = f32x4.add(e, f32x4.mul(splat(ctxF(s + 8)), b8));
      v128.store(arr(S_COL + c) + o, f32x4.mul(v128.load(ALB + <usize>c * ROW + o), e));
    }
    const facing = f32x4.lt(f32x4.add(f32x4.add(f32x4.mul(qx, px), f32x4.mul(qy, py)), f32x4.mul(qz, pz)), zero);
    const front = v128.and(v128.and(pos, f32x4.gt(d, zero)), facing);
    v128.store(arr(S_FRONT) + o, v128.and(front, one));
  }
}

/**
 * Pass A2 (per vertex, RGB as one v128): bilinear I(u) and ∇I(u) (clamp to edge, as
 * sdk/opt/image.ts `sampleBilinear`; the image is RGBA f32 with A = 0), the frozen V and
 * 1/C_i of this iteration, s = c − I, and Σ_V ‖I − c‖²/C_i.
 */
function passSample(): f64 {
  const cmin = ctxF(REFINE_CMIN);
  const W = IW, H = IH;
  const wf = <f32>W, hf = <f32>H;
  let photo: f64 = 0;
  for (let i = 0; i < N; i++) {
    const io = <usize>i << 2;
    const u = load<f32>(arr(S_U) + io), w = load<f32>(arr(S_U + 1) + io);
    const x = u - 0.5, y = w - 0.5;
    const jf = Mathf.floor(x), if_ = Mathf.floor(y);
    const a: f32 = x - jf, b: f32 = y - if_;
    const a1: f32 = 1 - a, b1: f32 = 1 - b;
    // Clamp in float first so a huge coordinate cannot overflow the integer conversion.
    const j = <i32>Mathf.min(Mathf.max(jf, -1), wf), ii = <i32>Mathf.min(Mathf.max(if_, -1), hf);
    const j0 = j < 0 ? 0 : (j > W - 1 ? W - 1 : j);
    const j1 = j + 1 < 0 ? 0 : (j + 1 > W - 1 ? W - 1 : j + 1);
    const i0 = ii < 0 ? 0 : (ii > H - 1 ? H - 1 : ii);
    const i1 = ii + 1 < 0 ? 0 : (ii + 1 > H - 1 ? H - 1 : ii + 1);
    const v00 = v128.load(IMG + (<usize>(i0 * W + j0) << 4)), v10 = v128.load(IMG + (<usize>(i0 * W + j1) << 4));
    const v01 = v128.load(IMG + (<usize>(i1 * W + j0) << 4)), v11 = v128.load(IMG + (<usize>(i1 * W + j1) << 4));
    const val = f32x4.add(f32x4.add(f32x4.mul(splat(a1 * b1), v00), f32x4.mul(splat(a * b1), v10)),
      f32x4.add(f32x4.mul(splat(a1 * b), v01), f32x4.mul(splat(a * b), v11)));
    v128.store(aos(S_IU4, i), f32x4.add(f32x4.mul(splat(b1), f32x4.sub(v10, v00)), f32x4.mul(splat(b), f32x4.sub(v11, v01))));
    v128.store(aos(S_IV4, i), f32x4.add(f32x4.mul(splat(a1), f32x4.sub(v01, v00)), f32x4.mul(splat(a), f32x4.sub(v11, v10))));
    const col = f32x4(load<f32>(arr(S_COL) + io), load<f32>(arr(S_COL + 1) + io), load<f32>(arr(S_COL + 2) + io), 0);
    const s = f32x4.sub(col, val); // lane 3: 0 − 0
    const rr = sum3(f32x4.mul(s, s));
    let invC: f32 = 0;
    if (u >= 0 && u < wf && w >= 0 && w < hf && load<f32>(arr(S_FRONT) + io) > 0) {
      invC = 1 / Mathf.max(Mathf.sqrt(rr), cmin);
      photo += <f64>(invC * rr);
    }
    v128.store(aos(S_S4, i), f32x4.replace_lane(s, 3, invC > 0 ? <f32>1 : <f32>0));
    store<f32>(arr(S_INVC) + io, invC);
  }
  return photo;
}

let lastGrad: f64 = 0;
let lastReg: f64 = 0;

/**
 * Pass B (gathers over the one ring, one v128 per neighbour record): ∂E/∂c (photo + gradient
 * terms), ∂E/∂u = Σ_c ∂E/∂I_c ∇I_c with ∂E/∂I = −∂E/∂c, the displacement Laplacian L, and
 * the sums of E_grad and E_reg (into lastGrad / lastReg). Lane 3 of S_S4 is the V flag, so
 * the multiplicity [k∈V] + [j∈V] of each one-ring difference is formed in SIMD lanes.
 */
function passGather(): void {
  const twoOverN: f32 = 2 / <f32>N;
  const sg = splat(twoOverN * ctxF(REFINE_WGRAD));
  const sb = arr(S_S4), db = arr(S_D4);
  let grad: f64 = 0, reg: f64 = 0;
  for (let k = 0; k < N; k++) {
    const ko = <usize>k << 2, k16 = <usize>k << 4;
    const sk = v128.load(sb + k16);
    const invC = load<f32>(arr(S_INVC) + ko);
    const vk4 = v128.shuffle<f32>(sk, sk, 3, 3, 3, 3);
    const qs = load<u32>(OFFS + ko), qe = load<u32>(OFFS + ko + 4);
    let g = splat(0), e2 = splat(0), lsum = splat(0);
    for (let q = qs; q < qe; q++) {
      const j16 = <usize>load<u32>(NBRS + (<usize>q << 2)) << 4;
      const sj = v128.load(sb + j16);
      const e = v128.and(f32x4.sub(sk, sj), LANE3_MASK);
      g = f32x4.add(g, f32x4.mul(f32x4.add(vk4, v128.shuffle<f32>(sj, sj, 3, 3, 3, 3)), e));
      e2 = f32x4.add(e2, f32x4.mul(e, e));
      lsum = f32x4.add(lsum, v128.load(db + j16));
    }
    if (invC > 0) grad += <f64>sum3(e2);
    const L = f32x4.sub(f32x4.mul(splat(<f32>(qe - qs)), v128.load(db + k16)), lsum);
    v128.store(aos(S_L4, k), L);
    reg += <f64>sum3(f32x4.mul(L, L));
    // ∂E/∂c = (2 w_grad/N) g + (2/N)(1/C) s (lane 3 cleared); ∂E/∂I = −∂E/∂c.
    const dc = v128.and(f32x4.add(f32x4.mul(sg, g), f32x4.mul(splat(twoOverN * invC), sk)), LANE3_MASK);
    store<f32>(arr(S_DC) + ko, f32x4.extract_lane(dc, 0));
    store<f32>(arr(S_DC + 1) + ko, f32x4.extract_lane(dc, 1));
    store<f32>(arr(S_DC + 2) + ko, f32x4.extract_lane(dc, 2));
    store<f32>(arr(S_GU) + ko, -sum3(f32x4.mul(dc, v128.load(aos(S_IU4, k)))));
    store<f32>(arr(S_GU + 1) + ko, -sum3(f32x4.mul(dc, v128.load(aos(S_IV4, k)))));
  }
  lastGrad = grad;
  lastReg = reg;
}

/**
 * Pass C (SIMD, 4 vertices per step): ∂E/∂m = (I − n nᵀ)/‖m‖ · Rᵀ Σ_b h_b ∇Y_b(ñ),
 * h_b = Σ_c ∂E/∂c_c r_c sh_cb; and the direct term ∂E/∂v = Rᵀ Π'ᵀ ∂E/∂u (initialises S_G4).
 */
function passBackward(): void {
  const r0 = splat(ctxF(REFINE_ROT)), r1 = splat(ctxF(REFINE_ROT + 1)), r2 = splat(ctxF(REFINE_ROT + 2));
  const r3 = splat(ctxF(REFINE_ROT + 3)), r4 = splat(ctxF(REFINE_ROT + 4)), r5 = splat(ctxF(REFINE_ROT + 5));
  const r6 = splat(ctxF(REFINE_ROT + 6)), r7 = splat(ctxF(REFINE_ROT + 7)), r8 = splat(ctxF(REFINE_ROT + 8));
  const fl = splat(ctxF(REFINE_FOCAL));
  const y1 = splat(Y1), y2a = splat(Y2A), y2b6 = splat(6 * Y2B), y2c2 = splat(2 * Y2C);
  const zero = splat(0);
  const dmb = arr(S_DM4), gb = arr(S_G4);
  for (let o: usize = 0; o < ROW; o += 16) {
    const q4 = o << 2;
    const nx = v128.load(arr(S_N) + o), ny = v128.load(arr(S_N + 1) + o), nz = v128.load(arr(S_N + 2) + o);
    const ac0 = f32x4.mul(v128.load(arr(S_DC) + o), v128.load(ALB + o));
    const ac1 = f32x4.mul(v128.load(arr(S_DC + 1) + o), v128.load(ALB + ROW + o));
    const ac2 = f32x4.mul(v128.load(arr(S_DC + 2) + o), v128.load(ALB + 2 * ROW + o));
    const h1 = hb(ac0, ac1, ac2, 1), h2 = hb(ac0, ac1, ac2, 2), h3 = hb(ac0, ac1, ac2, 3), h4 = hb(ac0, ac1, ac2, 4);
    const h5 = hb(ac0, ac1, ac2, 5), h6 = hb(ac0, ac1, ac2, 6), h7 = hb(ac0, ac1, ac2, 7), h8 = hb(ac0, ac1, ac2, 8);
    const qx = f32x4.add(f32x4.add(f32x4.mul(r0, nx), f32x4.mul(r1, ny)), f32x4.mul(r2, nz));
    const qy = f32x4.add(f32x4.add(f32x4.mul(r3, nx), f32x4.mul(r4, ny)), f32x4.mul(r5, nz));
    const qz = f32x4.add(f32x4.add(f32x4.mul(r6, nx), f32x4.mul(r7, ny)), f32x4.mul(r8, nz));
    const gx = f32x4.add(f32x4.add(f32x4.mul(y1, h3), f32x4.mul(y2a, f32x4.add(f32x4.mul(h4, qy), f32x4.mul(h7, qz)))), f32x4.mul(y2c2, f32x4.mul(h8, qx)));
    const gy = f32x4.sub(f32x4.add(f32x4.mul(y1, h1), f32x4.mul(y2a, f32x4.add(f32x4.mul(h4, qx), f32x4.mul(h5, qz)))), f32x4.mul(y2c2, f32x4.mul(h8, qy)));
    const gz = f32x4.add(f32x4.add(f32x4.mul(y1, h2), f32x4.mul(y2a, f32x4.add(f32x4.mul(h5, qy), f32x4.mul(h7, qx)))), f32x4.mul(y2b6, f32x4.mul(h6, qz)));
    const ex = f32x4.add(f32x4.add(f32x4.mul(r0, gx), f32x4.mul(r3, gy)), f32x4.mul(r6, gz));
    const ey = f32x4.add(f32x4.add(f32x4.mul(r1, gx), f32x4.mul(r4, gy)), f32x4.mul(r7, gz));
    const ez = f32x4.add(f32x4.add(f32x4.mul(r2, gx), f32x4.mul(r5, gy)), f32x4.mul(r8, gz));
    const dot = f32x4.add(f32x4.add(f32x4.mul(nx, ex), f32x4.mul(ny, ey)), f32x4.mul(nz, ez));
    const inv = v128.load(arr(S_MINV) + o);
    const dmx = f32x4.mul(f32x4.sub(ex, f32x4.mul(nx, dot)), inv);
    const dmy = f32x4.mul(f32x4.sub(ey, f32x4.mul(ny, dot)), inv);
    const dmz = f32x4.mul(f32x4.sub(ez, f32x4.mul(nz, dot)), inv);
    v128.store(dmb + q4, col0(dmx, dmy, dmz, zero)); v128.store(dmb + q4 + 16, col1(dmx, dmy, dmz, zero));
    v128.store(dmb + q4 + 32, col2(dmx, dmy, dmz, zero)); v128.store(dmb + q4 + 48, col3(dmx, dmy, dmz, zero));
    // Direct term through u = Π(R v + t).
    const gu = v128.load(arr(S_GU) + o), gv = v128.load(arr(S_GU + 1) + o);
    const px = v128.load(arr(S_P) + o), py = v128.load(arr(S_P + 1) + o), pz = v128.load(arr(S_P + 2) + o);
    const dep = f32x4.neg(pz);
    const fd = f32x4.div(fl, dep);
    const dpx = f32x4.mul(gu, fd), dpy = f32x4.neg(f32x4.mul(gv, fd));
    const dpz = f32x4.div(f32x4.mul(f32x4.sub(f32x4.mul(gu, px), f32x4.mul(gv, py)), fd), dep);
    const vx = f32x4.add(f32x4.add(f32x4.mul(r0, dpx), f32x4.mul(r3, dpy)), f32x4.mul(r6, dpz));
    const vy = f32x4.add(f32x4.add(f32x4.mul(r1, dpx), f32x4.mul(r4, dpy)), f32x4.mul(r7, dpz));
    const vz = f32x4.add(f32x4.add(f32x4.mul(r2, dpx), f32x4.mul(r5, dpy)), f32x4.mul(r8, dpz));
    v128.store(gb + q4, col0(vx, vy, vz, zero)); v128.store(gb + q4 + 16, col1(vx, vy, vz, zero));
    v128.store(gb + q4 + 32, col2(vx, vy, vz, zero)); v128.store(gb + q4 + 48, col3(vx, vy, vz, zero));
  }
}

/** h_b = Σ_c a_c · sh[9c + b] (4 lanes). */
@inline function hb(a0: v128, a1: v128, a2: v128, b: i32): v128 {
  return f32x4.add(f32x4.add(f32x4.mul(a0, splat(ctxF(REFINE_SH + b))), f32x4.mul(a1, splat(ctxF(REFINE_SH + 9 + b)))), f32x4.mul(a2, splat(ctxF(REFINE_SH + 18 + b))));
}

/** Face pass (scatter): g_f = Σ_corners ∂E/∂m; ∂/∂v_b += e2 × g_f, ∂/∂v_c += g_f × e1, ∂/∂v_a −= both. */
function passFaceBackward(): void {
  const v = arr(S_V4), dm = arr(S_DM4), g = arr(S_G4);
  for (let f = 0; f < NF; f++) {
    const fo = INDEX + <usize>f * 12;
    const a = <usize>load<u32>(fo) << 4, b = <usize>load<u32>(fo + 4) << 4, c = <usize>load<u32>(fo + 8) << 4;
    const gf = f32x4.add(f32x4.add(v128.load(dm + a), v128.load(dm + b)), v128.load(dm + c));
    const va = v128.load(v + a);
    const e1 = f32x4.sub(v128.load(v + b), va), e2 = f32x4.sub(v128.load(v + c), va);
    const gb_ = cross4(e2, gf), gc = cross4(gf, e1);
    v128.store(g + b, f32x4.add(v128.load(g + b), gb_));
    v128.store(g + c, f32x4.add(v128.load(g + c), gc));
    v128.store(g + a, f32x4.sub(v128.load(g + a), f32x4.add(gb_, gc)));
  }
}

/** Pass D (gathers): ∇E += (2 w_reg/N)(deg_k L_k − Σ_{i∈N_k} L_i), then d ← d − step ∇E. */
function passUpdate(): void {
  const sr = splat(2 / <f32>N * ctxF(REFINE_WREG));
  const step = splat(ctxF(REFINE_STEP));
  const lb = arr(S_L4), gb = arr(S_G4), db = arr(S_D4);
  for (let k = 0; k < N; k++) {
    const ko = <usize>k << 2, k16 = <usize>k << 4;
    const qs = load<u32>(OFFS + ko), qe = load<u32>(OFFS + ko + 4);
    let lsum = splat(0);
    for (let q = qs; q < qe; q++) lsum = f32x4.add(lsum, v128.load(lb + (<usize>load<u32>(NBRS + (<usize>q << 2)) << 4)));
    const reg = f32x4.sub(f32x4.mul(splat(<f32>(qe - qs)), v128.load(lb + k16)), lsum);
    const g = f32x4.add(v128.load(gb + k16), f32x4.mul(sr, reg));
    v128.store(gb + k16, g);
    v128.store(db + k16, f32x4.sub(v128.load(db + k16), f32x4.mul(step, g)));
  }
}

/** Evaluates everything up to the energy at the current d; returns E (f64). */
function forwardEnergy(): f64 {
  passPositions();
  passFaceNormals();
  passVertexA();
  const photo = passSample();
  passGather();
  const invN = 1.0 / <f64>N;
  return invN * (photo + <f64>ctxF(REFINE_WGRAD) * lastGrad + <f64>ctxF(REFINE_WREG) * lastReg);
}

/**
 * Runs `iterations` gradient-descent steps starting from the displacements at ctx[REFINE_DISP]
 * (SoA, written back on return). Writes the total energy at the start of every iteration and
 * after the last one to energiesPtr (iterations + 1 f64). The image at ctx[REFINE_IMAGE] is
 * RGBA f32 (A = 0). On return the scratch holds the final positions and normals, see
 * `refineOutputPtr`.
 */
export function refineRun(ctx: usize, iterations: i32, energiesPtr: usize): void {
  loadContext(ctx);
  soaToAos(COARSE, S_C4);
  soaToAos(DISP, S_D4);
  for (let it = 0; it < iterations; it++) {
    store<f64>(energiesPtr + (<usize>it << 3), forwardEnergy());
    passBackward();
    passFaceBackward();
    passUpdate();
  }
  store<f64>(energiesPtr + (<usize>iterations << 3), forwardEnergy());
  aosToSoa(S_D4, DISP);
}

/**
 * Address of an output after `refineRun`: 0 = positions v, AoS4 (vertex i at floats 4i..4i+2);
 * 1 = unit normals n, SoA (3 rows of nPad); 2 = the last gradient ∂E/∂v, AoS4.
 */
export function refineOutputPtr(ctx: usize, which: i32): usize {
  loadContext(ctx);
  return which == 0 ? arr(S_V4) : which == 1 ? arr(S_N) : arr(S_G4);
}
