// Refine pass (d), one invocation per T2 vertex k (docs/design/refine.md step 4d): the full
// gradient and the gradient-descent step
//   ∇_k E = ∂E/∂v_k|_u + Σ_{(f, corner) ∋ k} faceGrad[3f + corner]
//           + 2 (w_reg / N) (deg_k lap_k − Σ_{j∈N_k} lap_j)              (Eq. 22: Lᵀ L d)
//   d_k ← d_k − step · ∇_k E,   v_k ← v^C_k + d_k
// Each invocation writes only its own d_k and v_k, so the update is in place (all reads of D
// and V in this iteration happened in earlier dispatches). TS twin: sdk/gpu/refine-update.ts.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: RefineParams;
@group(0) @binding(1) var<storage, read> surface: array<SurfaceVertex>;
@group(0) @binding(2) var<storage, read> ring: array<RingValues>;
@group(0) @binding(3) var<storage, read> grads: array<VertexGrad>;
@group(0) @binding(4) var<storage, read> faceGrad: array<vec4<f32>>;
// Incident-triangle and one-ring CSR (layout: refine_topology.wgsl).
@group(0) @binding(5) var<storage, read> topology: array<u32>;
@group(0) @binding(6) var<storage, read_write> disp: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> position: array<vec4<f32>>;
// ∇E of the iteration just taken (per mm, energy units), kept for tests and diagnostics.
@group(0) @binding(8) var<storage, read_write> gradient: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= params.sizes.x) {
    return;
  }
  var grad = grads[k].dv.xyz;
  for (var e = incidentBegin(k); e < incidentEnd(k); e++) {
    grad += faceGrad[topology[e]].xyz;
  }
  let begin = ringBegin(k);
  let end = ringEnd(k);
  var lapSum = vec3<f32>(0.0);
  for (var e = begin; e < end; e++) {
    lapSum += ring[topology[e]].lap.xyz;
  }
  grad += (2.0 * params.weights.z) * (f32(end - begin) * ring[k].lap.xyz - lapSum);
  gradient[k] = vec4<f32>(grad, 0.0);
  let d = disp[k].xyz - params.weights.x * grad;
  disp[k] = vec4<f32>(d, 0.0);
  position[k] = vec4<f32>(surface[k].base.xyz + d, 0.0);
}
