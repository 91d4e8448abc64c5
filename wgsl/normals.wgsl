// Area-weighted one-ring vertex normals (sdk/model/normals.ts computeNormals), one invocation per
// vertex, gathering over the vertex's incident triangles (a CSR list built once on the CPU by
// sdk/gpu/normals.ts), so no atomics are needed. TS twin: sdk/gpu/normals.ts.
// n_i = normalize(Σ_{f ∋ i} (b_f − a_f) × (c_f − a_f)); (0, 0, 0) if the sum vanishes.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> frame: OptFrame;
// (3N) v, mm, model frame.
@group(0) @binding(1) var<storage, read> position: array<f32>;
// (3F) triangle vertex indices (counter-clockwise seen from outside).
@group(0) @binding(2) var<storage, read> triangles: array<u32>;
// CSR of incident triangles: entries [0, N] are offsets into this same array (absolute), the
// triangle ids of vertex i are incident[incident[i] .. incident[i + 1]).
@group(0) @binding(3) var<storage, read> incident: array<u32>;
// (3N) unit normals, model frame.
@group(0) @binding(4) var<storage, read_write> normal: array<f32>;

fn vertexPosition(i: u32) -> vec3<f32> {
  return vec3<f32>(position[3u * i], position[3u * i + 1u], position[3u * i + 2u]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= frame.sizes.x) { return; }
  var acc = vec3<f32>(0.0);
  for (var k = incident[i]; k < incident[i + 1u]; k++) {
    let f = incident[k];
    let a = vertexPosition(triangles[3u * f]);
    let b = vertexPosition(triangles[3u * f + 1u]);
    let c = vertexPosition(triangles[3u * f + 2u]);
    acc += cross(b - a, c - a);
  }
  let len = length(acc);
  var n = vec3<f32>(0.0);
  if (len > 0.0) { n = acc / len; }
  normal[3u * i] = n.x;
  normal[3u * i + 1u] = n.y;
  normal[3u * i + 2u] = n.z;
}
