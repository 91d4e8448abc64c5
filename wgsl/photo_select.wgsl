// The photometric vertex set P of one Gauss-Newton iteration and its IRLS norms (Eq. 11), for
// the sampled front-face vertices (Sec. 7): used = front-facing ∩ (z-buffer test) ∩ inside the
// image [0, W) × [0, H); C_j = max(‖c_j − I(u_j)‖₂, IRLS_MIN_RESIDUAL) at x_old = x; |P| is
// counted in counters[0] (cleared by the caller). Run by `linearize` only: `energy` keeps P, C.
// TS twin: sdk/gpu/photo-select.ts. Reference: sdk/opt/residuals.ts selectPhotometricVertices,
// visibleVertices, irlsScales.

override WORKGROUP_SIZE: u32 = 64u;
/// residuals.ts IRLS_MIN_RESIDUAL (linear RGB).
override IRLS_MIN_RESIDUAL: f32 = 0.02;

@group(0) @binding(0) var<uniform> frame: OptFrame;
// (S + L) row-group records (common.wgsl); entries j < S are read (vertex id) and written.
@group(0) @binding(1) var<storage, read_write> groups: array<vec4<f32>>;
// [0] |P|, [1] photometric vertices behind the camera, [2] landmarks behind the camera, [3] 0.
@group(0) @binding(2) var<storage, read_write> counters: array<atomic<u32>, 4>;
@group(0) @binding(3) var<storage, read> records: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> image: array<vec4<f32>>;
// (W·H) z-buffer keys from rasterize.wgsl: ~(f32 bits of the depth, mm), 0 = not covered. Only
// read with FLAG_ZBUFFER.
@group(0) @binding(5) var<storage, read> zbuffer: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= frame.sizes.y) { return; }
  let g = groups[j];
  let id = bitcast<u32>(g.x);
  let o = id * VERTEX_RECORD_STRIDE;
  let cam = records[o + REC_CAMERA];
  let scr = records[o + REC_SCREEN];
  let w = f32(frame.image.x);
  let h = f32(frame.image.y);
  var used = cam.w > 0.5;  // front-facing and in front of the camera
  if (used && (frame.sizes.w & FLAG_ZBUFFER) != 0u) {
    let col = floor(scr.x);
    let row = floor(scr.y);
    if (col >= 0.0 && col < w && row >= 0.0 && row < h) {
      let key = zbuffer[u32(row) * frame.image.x + u32(col)];
      if (key != 0u && scr.z > bitcast<f32>(~key) + frame.weights.z) { used = false; }
    }
  }
  used = used && scr.x >= 0.0 && scr.x < w && scr.y >= 0.0 && scr.y < h;
  var c = 0.0;
  if (used) {
    let e = records[o + REC_COLOR].xyz - sampleImage(scr.xy, vec2<f32>(frame.image.xy)).value;
    c = max(length(e), IRLS_MIN_RESIDUAL);
    atomicAdd(&counters[0], 1u);
  }
  groups[j] = vec4<f32>(g.x, select(0.0, 1.0, used), c, 0.0);
}
