// Refine pass (a), one invocation per T2 vertex i (docs/design/refine.md step 4a, paper Sec. 9.2):
//   m_i = Σ_{f ∋ i} M_f (face normals of pass a0);  n_i = m_i / ‖m_i‖
//   p_i = R v_i + t;  u_i = Π(p_i) (Eq. 5);  c_i = r_i ⊙ irradiance(R n_i, γ) (Eq. 4)
//   I(u_i), ∇I(u_i) (bilinear, clamp-to-edge, sdk/opt/image.ts);  g_i = c_i − I(u_i)
//   C_i = max(‖g_i‖, C_min) (IRLS, Eq. 11/20);  i ∈ V ⇔ (R n_i)·p_i < 0 and u_i inside the image
//   lap_i = Σ_{j∈N_i} (d_i − d_j) (Eq. 22)
// The one-ring normal gathers the face normals through the incident-triangle CSR, so normals
// follow the surface every iteration without atomics. TS twin: sdk/gpu/refine-vertex-forward.ts.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: RefineParams;
@group(0) @binding(1) var<storage, read> surface: array<SurfaceVertex>;
// (N) .xyz v_i = v^C_i + d_i, mm, model frame.
@group(0) @binding(2) var<storage, read> position: array<vec4<f32>>;
// (N) .xyz d_i, mm, model frame.
@group(0) @binding(3) var<storage, read> disp: array<vec4<f32>>;
// (F) M_f of pass (a0).
@group(0) @binding(4) var<storage, read> faceNormal: array<vec4<f32>>;
// Incident-triangle and one-ring CSR (layout: refine_topology.wgsl).
@group(0) @binding(5) var<storage, read> topology: array<u32>;
// (H, W) pixels, .rgb linear RGB 0..1, row-major, top-left origin.
@group(0) @binding(6) var<storage, read> image: array<vec4<f32>>;
// Outputs (refine_common.wgsl): per-vertex state, and the values the one-ring gathers read.
@group(0) @binding(7) var<storage, read_write> state: array<VertexState>;
@group(0) @binding(8) var<storage, read_write> ring: array<RingValues>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.sizes.x) {
    return;
  }
  // One-ring area-weighted normal m_i (sdk/model/normals.ts).
  var m = vec3<f32>(0.0);
  for (var e = incidentBegin(i); e < incidentEnd(i); e++) {
    m += faceNormal[topology[e] / 3u].xyz;
  }
  let len = length(m);
  var n = vec3<f32>(0.0);
  if (len > 0.0) {
    n = m / len;
  }

  // Eq. (5): p = R v + t, u = Π(p).
  let v = position[i].xyz;
  let p = rotate(v) + params.trans.xyz;
  let depth = -p.z;
  let f = params.intr.x;
  var u = params.intr.yz;
  if (depth > 0.0) {
    u = vec2<f32>(params.intr.y + f * p.x / depth, params.intr.z - f * p.y / depth);
  }
  let nc = rotate(n);
  let inside = depth > 0.0 && u.x >= 0.0 && u.x < params.image.x && u.y >= 0.0 && u.y < params.image.y;
  let visible = inside && dot(nc, p) < 0.0;

  // Bilinear I(u) and its gradient (image-sample.wgsl = sdk/opt/image.ts sampleBilinear).
  let smp = sampleImage(u, params.image.xy);
  let value = smp.value;
  var du = smp.du;
  var dv = smp.dv;
  if (depth <= 0.0) {
    du = vec3<f32>(0.0);
    dv = vec3<f32>(0.0);
  }

  // Eq. (4): c = r ⊙ irradiance(R n).
  let color = surface[i].albedo.xyz * irradiance(nc);
  let g = color - value;

  // Eq. (22): Laplacian of the displacements over the one-ring.
  let di = disp[i].xyz;
  var lap = vec3<f32>(0.0);
  for (var e = ringBegin(i); e < ringEnd(i); e++) {
    lap += di - disp[topology[e]].xyz;
  }

  var s: VertexState;
  s.normal = vec4<f32>(n, len);
  s.camera = vec4<f32>(p, max(length(g), params.image.z));
  s.dIdu = vec4<f32>(du, u.x);
  s.dIdv = vec4<f32>(dv, u.y);
  state[i] = s;
  ring[i] = RingValues(vec4<f32>(g, select(0.0, 1.0, visible)), vec4<f32>(lap, 0.0));
}
