// Refine pass (a0), one invocation per T2 triangle f = (a, b, c) (docs/design/refine.md step 4a):
// its unnormalised, area-weighted normal M_f = (v_b − v_a) × (v_c − v_a) (CCW seen from outside,
// sdk/model/normals.ts) at the current positions v = v^C + D; pass (a) sums them per vertex
// through the incident-triangle CSR: m_i = Σ_{f ∋ i} M_f. TS twin: sdk/gpu/refine-face-normals.ts.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: RefineParams;
// (N) .xyz v_i = v^C_i + d_i, mm, model frame.
@group(0) @binding(1) var<storage, read> position: array<vec4<f32>>;
// (F, 3) triangle vertex indices, counter-clockwise seen from outside.
@group(0) @binding(2) var<storage, read> triangles: array<u32>;
@group(0) @binding(3) var<storage, read_write> faceNormal: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let f = gid.x;
  if (f >= params.sizes.y) {
    return;
  }
  let a = position[triangles[3u * f]].xyz;
  let b = position[triangles[3u * f + 1u]].xyz;
  let c = position[triangles[3u * f + 2u]].xyz;
  faceNormal[f] = vec4<f32>(cross(b - a, c - a), 0.0);
}
