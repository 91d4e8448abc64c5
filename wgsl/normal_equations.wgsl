// Partial normal equations of the augmented Jacobian A = [J | F | 0 0] (M × 4·colBlocks,
// residual_rows.wgsl): for every 4×4 tile (a, b), a ≤ b, of the upper block triangle of AᵀA and
// every chunk of `rowsPerChunk` rows, one invocation accumulates
//   P[chunk, tile][k] = Σ_{r ∈ chunk} A[r, 4a + k] · A[r, 4b .. 4b + 3]   (k = 0..3)
// in registers (two vec4 loads + 16 FMAs per row; no workgroup memory, which is very slow on
// CPU adapters such as SwiftShader). reduce_partials.wgsl then sums the chunks. Column 257 of
// AᵀA is JᵀF and entry (257, 257) is FᵀF (Eq. 16, 17). TS twin: sdk/gpu/normal-equations.ts.
// Reference: sdk/opt/residuals.ts accumulateNormalEquations.

override WORKGROUP_SIZE: u32 = 64u;

struct NormalEquationParams {
  rows: u32,          // M
  colBlocks: u32,     // vec4 per row of A (65)
  tiles: u32,         // colBlocks·(colBlocks + 1)/2
  rowsPerChunk: u32,  // rows summed by one invocation
}

@group(0) @binding(0) var<uniform> params: NormalEquationParams;
@group(0) @binding(1) var<storage, read> jacobian: array<vec4<f32>>;
// (tiles) block pairs (a, b), a ≤ b.
@group(0) @binding(2) var<storage, read> tilePairs: array<vec2<u32>>;
// (chunks · tiles · 4) partial tiles: row k of tile t of chunk c at (c·tiles + t)·4 + k.
@group(0) @binding(3) var<storage, read_write> partials: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  let chunk = gid.y;
  if (t >= params.tiles) { return; }
  let ab = tilePairs[t];
  let r0 = chunk * params.rowsPerChunk;
  let r1 = min(r0 + params.rowsPerChunk, params.rows);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var ia = r0 * params.colBlocks + ab.x;
  var ib = r0 * params.colBlocks + ab.y;
  for (var r = r0; r < r1; r++) {
    let x = jacobian[ia];
    let y = jacobian[ib];
    acc0 += x.x * y;
    acc1 += x.y * y;
    acc2 += x.z * y;
    acc3 += x.w * y;
    ia += params.colBlocks;
    ib += params.colBlocks;
  }
  let o = (chunk * params.tiles + t) * 4u;
  partials[o] = acc0;
  partials[o + 1u] = acc1;
  partials[o + 2u] = acc2;
  partials[o + 3u] = acc3;
}
