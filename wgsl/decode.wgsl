// Eq. (2), (3): v = A_s + E_s α + E_e δ and r = A_r + E_r β, one invocation per output element.
// TS twin: sdk/gpu/decode.ts. Reference: sdk/model/decode.ts (computeShape / computeAlbedo).
//
// Element e < 3N is geometry row e (vertex e / 3, axis e % 3); 3N ≤ e < 6N is albedo row e − 3N.
// The geometry basis is [E_s | E_e] interleaved per row, (3N, 144) row-major = 36 vec4 per row,
// matching the contiguous α | δ block of the code (CODE_ALPHA_OFFSET = 0, CODE_DELTA_OFFSET = 80),
// so one loop of vec4 dot products covers both terms of Eq. (2).

override WORKGROUP_SIZE: u32 = 64u;

const GEOM_COLS4: u32 = (CODE_ALPHA_SIZE + CODE_DELTA_SIZE) / 4u;  // 36
const ALBEDO_COLS4: u32 = CODE_BETA_SIZE / 4u;                     // 20
const_assert CODE_DELTA_OFFSET == CODE_ALPHA_OFFSET + CODE_ALPHA_SIZE;
const_assert CODE_ALPHA_OFFSET % 4u == 0u && CODE_BETA_OFFSET % 4u == 0u && CODE_BETA_SIZE % 4u == 0u;

@group(0) @binding(0) var<uniform> frame: OptFrame;
// (260) the code vector x as f32, zero padded to a multiple of 4.
@group(0) @binding(1) var<storage, read> code: array<vec4<f32>>;
// (3N) A_s, mm.   (3N, 144) [E_s | E_e], mm per unit coefficient.
@group(0) @binding(2) var<storage, read> geometryMean: array<f32>;
@group(0) @binding(3) var<storage, read> geometryBasis: array<vec4<f32>>;
// (3N) A_r, linear RGB.   (3N, 80) E_r.
@group(0) @binding(4) var<storage, read> albedoMean: array<f32>;
@group(0) @binding(5) var<storage, read> albedoBasis: array<vec4<f32>>;
// (3N) outputs: v (mm, model frame) and r (linear RGB), flattened (N, 3).
@group(0) @binding(6) var<storage, read_write> position: array<f32>;
@group(0) @binding(7) var<storage, read_write> albedo: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = gid.y * groups.x * WORKGROUP_SIZE + gid.x;
  let rows = 3u * frame.sizes.x;
  if (e < rows) {
    let base = e * GEOM_COLS4;
    let c0 = CODE_ALPHA_OFFSET / 4u;
    var acc = vec4<f32>(0.0);
    for (var q = 0u; q < GEOM_COLS4; q++) {
      acc += geometryBasis[base + q] * code[c0 + q];
    }
    position[e] = geometryMean[e] + (acc.x + acc.y) + (acc.z + acc.w);
  } else if (e < 2u * rows) {
    let r = e - rows;
    let base = r * ALBEDO_COLS4;
    let c0 = CODE_BETA_OFFSET / 4u;
    var acc = vec4<f32>(0.0);
    for (var q = 0u; q < ALBEDO_COLS4; q++) {
      acc += albedoBasis[base + q] * code[c0 + q];
    }
    albedo[r] = albedoMean[r] + (acc.x + acc.y) + (acc.z + acc.w);
  }
}
