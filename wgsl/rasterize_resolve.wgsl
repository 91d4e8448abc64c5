// Compute rasteriser, colour pass: one invocation per pixel; re-evaluates the visible
// triangle's (rasterize.wgsl PASS 1) perspective-correct barycentric weights at the pixel centre
// and interpolates the vertex colours: color[p] = (Σ m_k c_k, 1), or (0, 0, 0, 0) where nothing
// was drawn. TS twin: sdk/gpu/rasterize.ts. Reference: sdk/render/rasterize.ts.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: RasterParams;
@group(0) @binding(1) var<storage, read> vertices: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> triangles: array<u32>;
// (W·H) ~triangle index of the visible surface, RASTER_EMPTY_KEY = nothing drawn.
@group(0) @binding(3) var<storage, read> triangleKeys: array<u32>;
// (W·H) linear RGB + coverage alpha.
@group(0) @binding(4) var<storage, read_write> color: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = gid.y * groups.x * WORKGROUP_SIZE + gid.x;
  if (p >= params.width * params.height) { return; }
  let key = triangleKeys[p];
  var out = vec4<f32>(0.0);
  if (key != RASTER_EMPTY_KEY) {
    let f = ~key;
    var tooLarge = false;
    let t = setupTriangle(f, &tooLarge);
    let j = i32(p % params.width);
    let i = i32(p / params.width);
    let m = perspectiveWeights(t, edgeValues(t, j, i));
    let c0 = vertices[t.ids.x * params.vertexStride + params.colorSlot].xyz;
    let c1 = vertices[t.ids.y * params.vertexStride + params.colorSlot].xyz;
    let c2 = vertices[t.ids.z * params.vertexStride + params.colorSlot].xyz;
    out = vec4<f32>(m.x * c0 + m.y * c1 + m.z * c2, 1.0);
  }
  color[p] = out;
}
