// Sums the per-chunk partial tiles of normal_equations.wgsl: out[e] = Σ_c partials[c·n + e] for
// e < n (vec4 elements). One invocation per output vec4. TS twin: sdk/gpu/reduce-partials.ts.

override WORKGROUP_SIZE: u32 = 64u;

struct ReduceParams {
  count: u32,   // n, vec4 per chunk
  chunks: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read> partials: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> total: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x;
  if (e >= params.count) { return; }
  var acc = vec4<f32>(0.0);
  for (var c = 0u; c < params.chunks; c++) { acc += partials[c * params.count + e]; }
  total[e] = acc;
}
