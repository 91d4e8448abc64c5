// Compute rasteriser, z-buffer passes (one invocation per triangle, looping over the pixels of
// its bounding box). Built twice with the override PASS:
//   PASS 0: depthKeys[p] ← atomicMax(~bits(z)), z the perspective-correct depth (> 0): positive
//           f32 values order like their bit patterns, so the largest key is the nearest surface;
//   PASS 1: triangleKeys[p] ← atomicMax(~f) over the triangles whose key equals the final
//           depthKeys[p] (ties → lower index f, as the CPU reference).
// Keys are bitwise complements so that a buffer cleared to 0 (encoder.clearBuffer) means
// "nothing drawn" (RASTER_EMPTY_KEY) without a fill pass.
// rasterize_resolve.wgsl then interpolates colours per pixel. TS twin: sdk/gpu/rasterize.ts.
// Reference: sdk/render/rasterize.ts (conventions in raster-setup.wgsl).

override WORKGROUP_SIZE: u32 = 64u;
override PASS: u32 = 0u;

@group(0) @binding(0) var<uniform> params: RasterParams;
@group(0) @binding(1) var<storage, read> vertices: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> triangles: array<u32>;
// (W·H) each, row-major; cleared to 0 by the caller.
@group(0) @binding(3) var<storage, read_write> depthKeys: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> triangleKeys: array<atomic<u32>>;
// [0] triangles skipped because their bounding box is too large (PASS 0 only).
@group(0) @binding(5) var<storage, read_write> stats: array<atomic<u32>, 4>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let f = gid.y * groups.x * WORKGROUP_SIZE + gid.x;
  if (f >= params.triangleCount) { return; }
  var tooLarge = false;
  let t = setupTriangle(f, &tooLarge);
  if (tooLarge && PASS == 0u) { atomicAdd(&stats[0], 1u); }
  if (!t.valid) { return; }
  for (var i = t.pmin.y; i <= t.pmax.y; i++) {
    for (var j = t.pmin.x; j <= t.pmax.x; j++) {
      let e = edgeValues(t, j, i);
      if (!covers(t, e)) { continue; }
      let key = ~bitcast<u32>(perspectiveWeights(t, e).w);
      let p = u32(i) * params.width + u32(j);
      if (PASS == 0u) {
        atomicMax(&depthKeys[p], key);
      } else if (atomicLoad(&depthKeys[p]) == key) {
        atomicMax(&triangleKeys[p], ~f);
      }
    }
  }
}
