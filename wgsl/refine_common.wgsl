// Shared structs and pure helpers of the Refine kernels (docs/design/refine.md, paper Sec. 9.2).
// sdk/gpu/refine-common.ts prepends this file to each refine_*.wgsl kernel. No bindings here.
//
// Frames: model frame v (mm; +x subject's left, +y up, +z out of the face); camera frame
// p = R v + t (mm, OpenGL-like, visible points have z < 0); image frame u (px, top-left origin,
// +y down, pixel centres at +0.5) — as sdk/model/camera.ts.

// Per-run constants, written once by sdk/gpu/refine-common.ts `packRefineParams` (f64 → f32).
struct RefineParams {
  // rot[k].xyz = row k of R (model → camera rotation).
  rot: array<vec4<f32>, 3>,
  // .xyz = t, mm, camera frame.
  trans: vec4<f32>,
  // .x focal px, .y cx px, .z cy px, .w unused.
  intr: vec4<f32>,
  // light[b].xyz = Â_b · γ'_{c,b} for c = R, G, B (γ' = γ + 0.7 on the DC term, shading.ts), so
  // irradiance_c(n) = Σ_b light[b][c] · Y_b(n) (Eq. 4).
  light: array<vec4<f32>, 9>,
  // .x step (mm per unit gradient), .y w_grad / N, .z w_reg / N, .w 1 / N (Eq. 19–22).
  weights: vec4<f32>,
  // .x image width px, .y image height px, .z IRLS floor of C_i (0.02), .w unused.
  image: vec4<f32>,
  // .x vertex count N, .y face count F, .z start of the one-ring CSR in `topology`, .w unused.
  sizes: vec4<u32>,
}

// Per-vertex state written by refine_vertex_forward.wgsl (pass a) that only vertex i itself
// reads later, one per T2 vertex.
struct VertexState {
  // .xyz n_i = m_i / ‖m_i‖ (unit, model frame), .w ‖m_i‖ (mm², 0 for an isolated vertex).
  normal: vec4<f32>,
  // .xyz p_i = R v_i + t (mm, camera frame), .w C_i = max(‖g_i‖, C_min) (IRLS norm, Eq. 11 / 20).
  camera: vec4<f32>,
  // .xyz ∂I/∂u at u_i (per px), .w u_i.x px.
  dIdu: vec4<f32>,
  // .xyz ∂I/∂v at u_i (per px), .w u_i.y px.
  dIdv: vec4<f32>,
}

// Per-vertex values of pass (a) that the one-ring gathers of passes (b) and (d) read; kept
// apart from VertexState so the gathers touch 32 bytes per neighbour.
struct RingValues {
  // .xyz g_i = c_i − I(u_i) (linear RGB), .w 1 if i ∈ V (front-facing and inside the image) else 0.
  residual: vec4<f32>,
  // .xyz Σ_{j∈N_i} (d_i − d_j) (mm, model frame; the Laplacian of Eq. 22), .w unused.
  lap: vec4<f32>,
}

// Per-vertex gradient pieces written by refine_vertex_backward.wgsl (pass b).
struct VertexGrad {
  // .xyz ∂E/∂m_i (through the unnormalised one-ring normal m_i), .w unused.
  dm: vec4<f32>,
  // .xyz ∂E/∂v_i through u_i = Π(R v_i + t) only (model frame), .w unused.
  dv: vec4<f32>,
  // Vertex i's share of the unweighted energy terms (Eq. 20–22, each with its 1/N): .x E_photo,
  // .y E_grad, .z E_reg, .w 1 if i ∈ V.
  energy: vec4<f32>,
}

// Model-frame base position v^C_i and albedo r_i of a T2 vertex (fixed during Refine).
struct SurfaceVertex {
  // .xyz v^C_i mm, model frame, .w unused.
  base: vec4<f32>,
  // .xyz r_i linear RGB 0..1, .w unused.
  albedo: vec4<f32>,
}

// ---- SH lighting (wgsl/sh.wgsl: basis, gradient, Eq. 4) ----

/// Eq. (4) irradiance per channel at a unit camera-frame normal n: Σ_b light[b].xyz · Y_b(n).
fn irradiance(n: vec3<f32>) -> vec3<f32> {
  return irradianceRgb(params.light, n);
}

/// ∂/∂n of Σ_c w_c · irradiance_c(n), with the SH basis differentiated as a polynomial in
/// (n.x, n.y, n.z) (the normalisation is handled through ∂n/∂m by the caller).
fn irradianceVjp(n: vec3<f32>, w: vec3<f32>) -> vec3<f32> {
  let g = shBasisGradient(n);
  var out = vec3<f32>(0.0);
  // ∇Y_0 = 0: start at b = 1.
  for (var b = 1u; b < 9u; b++) { out += dot(params.light[b].xyz, w) * g[b]; }
  return out;
}

/// R · x (model → camera rotation).
fn rotate(x: vec3<f32>) -> vec3<f32> {
  return vec3<f32>(dot(params.rot[0].xyz, x), dot(params.rot[1].xyz, x), dot(params.rot[2].xyz, x));
}

/// Rᵀ · x (camera → model rotation; pulls camera-frame gradients back to the model frame).
fn rotateBack(x: vec3<f32>) -> vec3<f32> {
  return params.rot[0].xyz * x.x + params.rot[1].xyz * x.y + params.rot[2].xyz * x.z;
}
