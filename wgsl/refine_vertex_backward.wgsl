// Refine pass (b), one invocation per T2 vertex k (docs/design/refine.md step 4b): the data-term
// gradient at vertex k and k's share of the energy. With g_i = c_i − I(u_i), χ_i = [i ∈ V],
// w_g = w_grad / N:
//   E_photo = (1/N) Σ_i χ_i ‖g_i‖² / C_i                      (Eq. 20, IRLS: C_i fixed)
//   E_grad  = (1/N) Σ_i χ_i Σ_{j∈N_i} ‖g_i − g_j‖²             (Eq. 21)
//   ∂E/∂c_k = (2/N) χ_k g_k / C_k + 2 w_g Σ_{j∈N_k} (χ_k + χ_j)(g_k − g_j)   (symmetric one-ring)
//   ∂E/∂I_k = −∂E/∂c_k
//   ∂E/∂n_k = Rᵀ ∇_ñ Σ_c (∂E/∂c_k)_c r_{k,c} irradiance_c(ñ), ñ = R n_k      (Eq. 4)
//   ∂E/∂m_k = (I − n nᵀ) ∂E/∂n_k / ‖m_k‖
//   ∂E/∂v_k|_u = Rᵀ (∂u/∂p)ᵀ ∇I(u_k)ᵀ ∂E/∂I_k                                (Eq. 5)
// TS twin: sdk/gpu/refine-vertex-backward.ts.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: RefineParams;
@group(0) @binding(1) var<storage, read> surface: array<SurfaceVertex>;
@group(0) @binding(2) var<storage, read> state: array<VertexState>;
@group(0) @binding(3) var<storage, read> ring: array<RingValues>;
// Incident-triangle and one-ring CSR (layout: refine_topology.wgsl).
@group(0) @binding(4) var<storage, read> topology: array<u32>;
@group(0) @binding(5) var<storage, read_write> grads: array<VertexGrad>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= params.sizes.x) {
    return;
  }
  let s = state[k];
  let rk = ring[k];
  let chiK = rk.residual.w;
  let gK = rk.residual.xyz;
  let cK = s.camera.w;
  let invN = params.weights.w;
  let wg = params.weights.y;

  // Eq. (20) photo term, and Eq. (21) gathered over the one-ring.
  var dc = (2.0 * invN * chiK / cK) * gK;
  var eGrad = 0.0;
  for (var e = ringBegin(k); e < ringEnd(k); e++) {
    let j = topology[e];
    let rj = ring[j].residual;
    let diff = gK - rj.xyz;
    dc += (2.0 * wg * (chiK + rj.w)) * diff;
    eGrad += dot(diff, diff);
  }
  let dI = -dc;

  // Through the normal: c = r ⊙ irradiance(R n), n = m / ‖m‖.
  var dm = vec3<f32>(0.0);
  let len = s.normal.w;
  if (len > 0.0) {
    let n = s.normal.xyz;
    let dn = rotateBack(irradianceVjp(rotate(n), dc * surface[k].albedo.xyz));
    dm = (dn - n * dot(n, dn)) / len;
  }

  // Through the projection: u = (cx + f x / d, cy − f y / d), d = −z.
  let p = s.camera.xyz;
  let depth = -p.z;
  var dv = vec3<f32>(0.0);
  if (depth > 0.0) {
    let gu = dot(dI, s.dIdu.xyz);
    let gv = dot(dI, s.dIdv.xyz);
    let fd = params.intr.x / depth;
    dv = rotateBack(vec3<f32>(gu * fd, -gv * fd, (gu * p.x - gv * p.y) * fd / depth));
  }

  let lap = rk.lap.xyz;
  var out: VertexGrad;
  out.dm = vec4<f32>(dm, 0.0);
  out.dv = vec4<f32>(dv, 0.0);
  out.energy = vec4<f32>(
    invN * chiK * dot(gK, gK) / cK,
    invN * chiK * eGrad,
    invN * dot(lap, lap),
    chiK,
  );
  grads[k] = out;
}
