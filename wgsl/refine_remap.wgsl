// T1 → T2 transfer of a per-vertex attribute (paper Sec. 9.2 "Mesh Topology", the map L of
// FaceModel.t2.fromT1), one invocation per destination element (vertex j, component c):
//   a_T2[j·W + c] = w[3j]·a_T1[idx[3j]·W + c] + w[3j+1]·a_T1[idx[3j+1]·W + c] + w[3j+2]·a_T1[idx[3j+2]·W + c]
// accumulated in the order of sdk/refine/remap.ts `remapAttribute` (which is f32 too; results
// agree to rounding — WGSL may contract a·b + c into one fma). Standalone: the Refine backend
// remaps on the CPU in setProblem. TS twin: sdk/gpu/refine-remap.ts.

override WORKGROUP_SIZE: u32 = 64u;

struct RemapParams {
  // Destination vertex count N2.
  count: u32,
  // Floats per vertex W (positions 3, albedo 3, uv 2, …).
  width: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: RemapParams;
// (N1, W) source attribute.
@group(0) @binding(1) var<storage, read> src: array<f32>;
// (N2, 3) source vertex ids and weights.
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
// (N2, W) destination attribute.
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x;
  let w = params.width;
  if (e >= params.count * w) {
    return;
  }
  let j = e / w;
  let c = e - j * w;
  var acc = weight[3u * j] * src[index[3u * j] * w + c];
  acc += weight[3u * j + 1u] * src[index[3u * j + 1u] * w + c];
  acc += weight[3u * j + 2u] * src[index[3u * j + 2u] * w + c];
  dst[e] = acc;
}
