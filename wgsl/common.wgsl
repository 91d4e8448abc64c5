// Shared structs, constants and pure helpers of the Opt kernels (docs/design/opt.md).
// sdk/gpu/kernel.ts (optKernelSource) prepends the generated code-layout constants (CODE_*, from
// sdk/model/code-layout.ts), wgsl/sh.wgsl and this file to every Opt kernel. No bindings live here.

// ---- Per-call camera / lighting / weights, written by sdk/gpu/opt-frame.ts (f64 → f32). ----
struct OptFrame {
  // Rows of R = Rz(roll)·Ry(yaw)·Rx(pitch) (camera.ts): rot[k].xyz = row k; p_cam = R v + t.
  rot: array<vec4<f32>, 3>,
  // Rows of ∂R/∂pitch (0..2), ∂R/∂yaw (3..5), ∂R/∂roll (6..8).
  dRot: array<vec4<f32>, 9>,
  // .xyz = t, mm, camera frame.
  trans: vec4<f32>,
  // Intrinsics: .x focal px, .y cx px, .z cy px (image frame, top-left origin, +y down).
  intr: vec4<f32>,
  // light[b].xyz = Â_b · γ'_{c,b} for c = R, G, B (γ' = γ + 0.7 on the DC term, shading.ts), so
  // irradiance_c(n) = Σ_b light[b][c] · Y_b(n) (Eq. 4).
  light: array<vec4<f32>, 9>,
  // .x w_photo, .y w_land / L, .z z-buffer depth tolerance (mm), .w unused.
  weights: vec4<f32>,
  // .x vertex count N, .y photometric sample count S, .z landmark count L, .w flags (FLAG_*).
  sizes: vec4<u32>,
  // .x image width px, .y image height px, .z residual rows M = 3S + 2L, .w unused.
  image: vec4<u32>,
}

// OptFrame.sizes.w bits.
const FLAG_JACOBIAN: u32 = 1u;   // residual_rows writes J (else only F)
const FLAG_ZBUFFER: u32 = 2u;    // photo_select also requires the z-buffer depth test

// Per-vertex record written by project_shade.wgsl: VERTEX_RECORD_STRIDE vec4 per vertex.
const VERTEX_RECORD_STRIDE: u32 = 7u;
const REC_CAMERA: u32 = 0u;   // p_cam.xyz mm, .w = 1 if front-facing ((R n)·p < 0, depth > 0) else 0
const REC_NORMAL_CAM: u32 = 1u; // n_cam = R n (unit), .w unused
const REC_ALBEDO: u32 = 2u;   // r (linear RGB), .w unused
const REC_COLOR: u32 = 3u;    // c = r ⊙ irradiance(R n) (Eq. 4), .w unused
const REC_SCREEN: u32 = 4u;   // .xy u = Π(p) px, .z depth = −p_z mm, .w unused
const REC_MODEL: u32 = 5u;    // v (mm, model frame), .w unused
const REC_NORMAL: u32 = 6u;   // n (model frame, unit), .w unused

// Residual rows (J augmented with F): J_COLS4 vec4 per row = 260 floats:
// columns [0, 257) = ∂F/∂x, column J_F_COLUMN = F, columns 258, 259 = 0.
const J_COLS4: u32 = 65u;
const J_F_COLUMN: u32 = 257u;

// Photometric / landmark row group record (array<vec4<f32>>, S + L entries):
// photometric j < S: (bitcast<f32>(vertex id), used 0/1, C_j (IRLS norm, Eq. 11), 0)
// landmark  j ≥ S: (bitcast<f32>(vertex id), target u px, target v px, confidence c_j)

// SH basis and Eq. (4) irradiance: wgsl/sh.wgsl (shared with the Refine kernels).

/// R·v for R given by rows.
fn rotateRows(r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, v: vec3<f32>) -> vec3<f32> {
  return vec3<f32>(dot(r0.xyz, v), dot(r1.xyz, v), dot(r2.xyz, v));
}

/// Rᵀ·w for R given by rows.
fn rotateRowsTransposed(r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, w: vec3<f32>) -> vec3<f32> {
  return r0.xyz * w.x + r1.xyz * w.y + r2.xyz * w.z;
}
