// Energy of the photometric and landmark rows (Eq. 7–9, 11): each of the INVOCATIONS
// invocations sums F² over rows t, t + INVOCATIONS, … separately for the photometric rows
// [0, 3S) and the landmark rows [3S, 3S + 2L) and writes one vec2 partial; the CPU adds the
// partials in f64 (and the regulariser, Eq. 10). No workgroup memory (slow on CPU adapters).
// TS twin: sdk/gpu/energy.ts. Reference: residuals.ts photometricRows / landmarkRows sums.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> frame: OptFrame;
@group(0) @binding(1) var<storage, read> residual: array<f32>;
// (invocations) .x photometric Σ F², .y landmark Σ F².
@group(0) @binding(2) var<storage, read_write> partials: array<vec2<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = gid.x;
  let stride = groups.x * WORKGROUP_SIZE;
  let photoRows = 3u * frame.sizes.y;
  let rows = photoRows + 2u * frame.sizes.z;
  var acc = vec2<f32>(0.0);
  for (var r = t; r < rows; r += stride) {
    let f = residual[r];
    if (r < photoRows) { acc.x += f * f; } else { acc.y += f * f; }
  }
  partials[t] = acc;
}
