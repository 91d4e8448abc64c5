// Triangle setup shared by rasterize.wgsl and rasterize_resolve.wgsl (prepended to both by
// sdk/gpu/rasterize.ts). Same conventions as the CPU reference sdk/render/rasterize.ts:
// positions snapped to a 1/256-px grid, exact integer edge functions, top-left fill rule, pixel
// centres at +0.5, perspective-correct depth / attributes, ties → lower triangle index.
// Integer range: coordinates are taken relative to the triangle's first vertex and triangles
// whose bounding box spans RASTER_MAX_EXTENT_PX px or more are skipped (counted in stats[0]), so
// every edge-function product stays below 2^30 and fits i32.
// Expects the including kernel to declare `params: RasterParams`, `vertices: array<vec4<f32>>`
// and `triangles: array<u32>`.

const RASTER_SUB: i32 = 256;
const RASTER_HALF: i32 = 128;
const RASTER_MAX_EXTENT_PX: i32 = 128;
const RASTER_MAX_COORD_PX: f32 = 32768.0;
// Depth / triangle keys are bitwise complements (rasterize.wgsl): 0 = nothing drawn.
const RASTER_EMPTY_KEY: u32 = 0u;

struct RasterParams {
  width: u32,
  height: u32,
  triangleCount: u32,
  // vec4 per vertex in `vertices`; the screen position (x px, y px, depth) is vec4 number
  // positionSlot of a vertex, its linear RGB colour vec4 number colorSlot.
  vertexStride: u32,
  positionSlot: u32,
  colorSlot: u32,
  cullBackFaces: u32,
  _pad: u32,
}

struct RasterTriangle {
  valid: bool,
  // Vertex ids after the winding swap (edge functions positive inside).
  ids: vec3<u32>,
  // Snapped positions relative to `origin` (1/256 px), and the origin itself.
  x: vec3<i32>,
  y: vec3<i32>,
  origin: vec2<i32>,
  depth: vec3<f32>,
  area2: i32,
  bias: vec3<i32>,
  // Pixel range (inclusive), clamped to the image.
  pmin: vec2<i32>,
  pmax: vec2<i32>,
}

fn rasterIsTopLeft(dx: i32, dy: i32) -> bool {
  return dy < 0 || (dy == 0 && dx > 0);
}

fn rasterSnap(v: f32) -> i32 {
  return i32(floor(v * f32(RASTER_SUB) + 0.5));  // JS Math.round (half up)
}

/// Sets up triangle f; .valid = false if it is dropped (off-limits, behind the camera,
/// degenerate, culled, too large, or outside the image). `tooLarge` reports the size skip.
fn setupTriangle(f: u32, tooLarge: ptr<function, bool>) -> RasterTriangle {
  var t: RasterTriangle;
  t.valid = false;
  *tooLarge = false;
  var ids = vec3<u32>(triangles[3u * f], triangles[3u * f + 1u], triangles[3u * f + 2u]);
  let s0 = vertices[ids.x * params.vertexStride + params.positionSlot];
  let s1 = vertices[ids.y * params.vertexStride + params.positionSlot];
  var s2 = vertices[ids.z * params.vertexStride + params.positionSlot];
  // abs(NaN) < c is false, so non-finite positions are dropped too.
  let lim = RASTER_MAX_COORD_PX;
  if (!(abs(s0.x) < lim && abs(s0.y) < lim && abs(s1.x) < lim && abs(s1.y) < lim && abs(s2.x) < lim && abs(s2.y) < lim)) { return t; }
  if (!(s0.z > 0.0 && s1.z > 0.0 && s2.z > 0.0)) { return t; }
  let ax = rasterSnap(s0.x);
  let ay = rasterSnap(s0.y);
  var x = vec3<i32>(0, rasterSnap(s1.x) - ax, rasterSnap(s2.x) - ax);
  var y = vec3<i32>(0, rasterSnap(s1.y) - ay, rasterSnap(s2.y) - ay);
  let lo = vec2<i32>(min(0, min(x.y, x.z)), min(0, min(y.y, y.z)));
  let hi = vec2<i32>(max(0, max(x.y, x.z)), max(0, max(y.y, y.z)));
  if (hi.x - lo.x >= RASTER_MAX_EXTENT_PX * RASTER_SUB || hi.y - lo.y >= RASTER_MAX_EXTENT_PX * RASTER_SUB) {
    *tooLarge = true;
    return t;
  }
  var area2 = x.y * y.z - y.y * x.z;
  if (area2 == 0) { return t; }
  var depth = vec3<f32>(s0.z, s1.z, s2.z);
  if (area2 > 0) {
    if (params.cullBackFaces != 0u) { return t; }
  } else {
    // Counter-clockwise with +y up (front-facing): swap v1, v2 so edge functions are ≥ 0 inside.
    x = x.xzy;
    y = y.xzy;
    depth = depth.xzy;
    ids = ids.xzy;
    area2 = -area2;
  }
  // Pixel range whose centres (j·SUB + HALF) can lie inside the bounding box.
  let minX = f32(ax + lo.x - RASTER_HALF);
  let maxX = f32(ax + hi.x - RASTER_HALF);
  let minY = f32(ay + lo.y - RASTER_HALF);
  let maxY = f32(ay + hi.y - RASTER_HALF);
  let pmin = vec2<i32>(max(i32(ceil(minX / f32(RASTER_SUB))), 0), max(i32(ceil(minY / f32(RASTER_SUB))), 0));
  let pmax = vec2<i32>(min(i32(floor(maxX / f32(RASTER_SUB))), i32(params.width) - 1),
                       min(i32(floor(maxY / f32(RASTER_SUB))), i32(params.height) - 1));
  if (pmin.x > pmax.x || pmin.y > pmax.y) { return t; }
  t.valid = true;
  t.ids = ids;
  t.x = x;
  t.y = y;
  t.origin = vec2<i32>(ax, ay);
  t.depth = depth;
  t.area2 = area2;
  // Edge k is opposite vertex k: e0 = v1→v2, e1 = v2→v0, e2 = v0→v1.
  t.bias = vec3<i32>(
    select(-1, 0, rasterIsTopLeft(x.z - x.y, y.z - y.y)),
    select(-1, 0, rasterIsTopLeft(x.x - x.z, y.x - y.z)),
    select(-1, 0, rasterIsTopLeft(x.y - x.x, y.y - y.x)));
  t.pmin = pmin;
  t.pmax = pmax;
  return t;
}

/// Edge functions E_k at the centre of pixel (j, i): E(p) = dx·(p_y − a_y) − dy·(p_x − a_x).
fn edgeValues(t: RasterTriangle, j: i32, i: i32) -> vec3<i32> {
  let px = j * RASTER_SUB + RASTER_HALF - t.origin.x;
  let py = i * RASTER_SUB + RASTER_HALF - t.origin.y;
  let e0 = (t.x.z - t.x.y) * (py - t.y.y) - (t.y.z - t.y.y) * (px - t.x.y);
  let e1 = (t.x.x - t.x.z) * (py - t.y.z) - (t.y.x - t.y.z) * (px - t.x.z);
  let e2 = (t.x.y - t.x.x) * (py - t.y.x) - (t.y.y - t.y.x) * (px - t.x.x);
  return vec3<i32>(e0, e1, e2);
}

fn covers(t: RasterTriangle, e: vec3<i32>) -> bool {
  return all(e + t.bias >= vec3<i32>(0));
}

/// Perspective-correct weights m_k (Σ m_k = 1) and depth z at a covered pixel.
fn perspectiveWeights(t: RasterTriangle, e: vec3<i32>) -> vec4<f32> {
  let l = vec3<f32>(e) / f32(t.area2);
  let q = l / t.depth;
  let z = 1.0 / (q.x + q.y + q.z);
  return vec4<f32>(q * z, z);
}
