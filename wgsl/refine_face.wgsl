// Refine pass (c), one invocation per T2 triangle f = (a, b, c) (docs/design/refine.md step 4c):
// the position gradients of its contribution M_f = (v_b − v_a) × (v_c − v_a) to the one-ring
// normals m_a, m_b, m_c. With G = ∂E/∂m_a + ∂E/∂m_b + ∂E/∂m_c, e1 = v_b − v_a, e2 = v_c − v_a:
//   ∂E/∂v_b = e2 × G,   ∂E/∂v_c = G × e1,   ∂E/∂v_a = −(∂E/∂v_b + ∂E/∂v_c)
// written to faceGrad[3f + corner]; pass (d) gathers them through the incident-triangle CSR.
// TS twin: sdk/gpu/refine-face.ts.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: RefineParams;
// (N) .xyz v_i = v^C_i + d_i, mm, model frame.
@group(0) @binding(1) var<storage, read> position: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> triangles: array<u32>;
@group(0) @binding(3) var<storage, read> grads: array<VertexGrad>;
@group(0) @binding(4) var<storage, read_write> faceGrad: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let f = gid.x;
  if (f >= params.sizes.y) {
    return;
  }
  let ia = triangles[3u * f];
  let ib = triangles[3u * f + 1u];
  let ic = triangles[3u * f + 2u];
  let a = position[ia].xyz;
  let e1 = position[ib].xyz - a;
  let e2 = position[ic].xyz - a;
  let g = grads[ia].dm.xyz + grads[ib].dm.xyz + grads[ic].dm.xyz;
  let gb = cross(e2, g);
  let gc = cross(g, e1);
  faceGrad[3u * f] = vec4<f32>(-(gb + gc), 0.0);
  faceGrad[3u * f + 1u] = vec4<f32>(gb, 0.0);
  faceGrad[3u * f + 2u] = vec4<f32>(gc, 0.0);
}
