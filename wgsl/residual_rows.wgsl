// Residual rows F and, with FLAG_JACOBIAN, Jacobian rows J (Eq. 6, 9, 11, 12) of the photometric
// and landmark terms, one invocation per row group:
//   j < S:      photometric sample j → rows 3j, 3j+1, 3j+2 (R, G, B); all zero if not in P,
//   S ≤ j < S+L: landmark j − S     → rows 3S + 2(j − S) + {0, 1} (x, y).
// J is augmented: row stride J_COLS4 vec4 = 260 floats, column J_F_COLUMN (257) holds F, so the
// normal-equation pass gets JᵀJ, JᵀF and FᵀF from one product. The regulariser rows (Eq. 10)
// are diagonal and added on the CPU. Vertices behind the camera give F = 0, J = 0 and are
// counted (counters[1] photometric, counters[2] landmarks): the caller reports E = +∞.
// TS twin: sdk/gpu/residual-rows.ts. Reference: residuals.ts photometricRows, landmarkRows.

override WORKGROUP_SIZE: u32 = 64u;

const GEOM_COLS4: u32 = (CODE_ALPHA_SIZE + CODE_DELTA_SIZE) / 4u;  // α | δ: 36 vec4
const ALBEDO_COLS4: u32 = CODE_BETA_SIZE / 4u;                     // β: 20 vec4
const TAIL_COLS4: u32 = J_COLS4 - (CODE_ROTATION_OFFSET / 4u);      // rotation .. F: 9 vec4
const TAIL0: u32 = CODE_ROTATION_OFFSET;
// The vec4 blocks of a J row line up with the code blocks.
const_assert CODE_ALPHA_OFFSET == 0u;
const_assert CODE_DELTA_OFFSET == CODE_ALPHA_SIZE;
const_assert CODE_BETA_OFFSET == 4u * GEOM_COLS4;
const_assert CODE_ROTATION_OFFSET == CODE_BETA_OFFSET + 4u * ALBEDO_COLS4;
const_assert CODE_TRANSLATION_OFFSET == CODE_ROTATION_OFFSET + 3u;
const_assert CODE_GAMMA_OFFSET == CODE_TRANSLATION_OFFSET + 3u;
const_assert J_F_COLUMN == CODE_DIM;

@group(0) @binding(0) var<uniform> frame: OptFrame;
@group(0) @binding(1) var<storage, read> groups: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> counters: array<atomic<u32>, 4>;
@group(0) @binding(3) var<storage, read> records: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> image: array<vec4<f32>>;
// (3N, 144) [E_s | E_e] and (3N, 80) E_r, row-major, as vec4.
@group(0) @binding(5) var<storage, read> geometryBasis: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> albedoBasis: array<vec4<f32>>;
// (M, 260) augmented Jacobian [J | F | 0 0], row-major (written with FLAG_JACOBIAN only).
@group(0) @binding(7) var<storage, read_write> jacobian: array<vec4<f32>>;
// (M) residuals F.
@group(0) @binding(8) var<storage, read_write> residual: array<f32>;

fn writeTail(row: u32, tail: array<f32, 36>) {
  let base = row * J_COLS4 + TAIL0 / 4u;
  for (var q = 0u; q < TAIL_COLS4; q++) {
    jacobian[base + q] = vec4<f32>(tail[4u * q], tail[4u * q + 1u], tail[4u * q + 2u], tail[4u * q + 3u]);
  }
}

fn zeroRow(row: u32) {
  for (var q = 0u; q < J_COLS4; q++) { jacobian[row * J_COLS4 + q] = vec4<f32>(0.0); }
}

/// Rows a·(∂u/∂x)ᵀ-style geometry columns (α, δ) for three row gradients given in the model
/// frame: J[row_c, k] = m_c · E_i[:, k].
fn writeGeometryColumns(rows: vec3<u32>, count: u32, id: u32, m0: vec3<f32>, m1: vec3<f32>, m2: vec3<f32>) {
  let b = 3u * id * GEOM_COLS4;
  for (var q = 0u; q < GEOM_COLS4; q++) {
    let ex = geometryBasis[b + q];
    let ey = geometryBasis[b + GEOM_COLS4 + q];
    let ez = geometryBasis[b + 2u * GEOM_COLS4 + q];
    jacobian[rows.x * J_COLS4 + q] = m0.x * ex + m0.y * ey + m0.z * ez;
    jacobian[rows.y * J_COLS4 + q] = m1.x * ex + m1.y * ey + m1.z * ez;
    if (count == 3u) { jacobian[rows.z * J_COLS4 + q] = m2.x * ex + m2.y * ey + m2.z * ez; }
  }
}

fn photometricRows(j: u32, withJacobian: bool) {
  let g = groups[j];
  let row0 = 3u * j;
  let count = atomicLoad(&counters[0]);
  let id = bitcast<u32>(g.x);
  let o = id * VERTEX_RECORD_STRIDE;
  let cam = records[o + REC_CAMERA];
  let p = cam.xyz;
  let depth = -p.z;
  var ok = g.y > 0.5 && count > 0u;
  if (ok && !(depth > 0.0)) {
    atomicAdd(&counters[1], 1u);
    ok = false;
  }
  if (!ok) {
    for (var c = 0u; c < 3u; c++) {
      residual[row0 + c] = 0.0;
      if (withJacobian) { zeroRow(row0 + c); }
    }
    return;
  }
  let s = sqrt(frame.weights.x / (f32(count) * g.z));  // Eq. (11) row scale s_i
  let f = frame.intr.x;
  // Eq. (5): u = Π(p) and ∂u/∂p, ∂v/∂p.
  let fd = f / depth;
  let u = vec2<f32>(frame.intr.y + fd * p.x, frame.intr.z - fd * p.y);
  let dudp = vec3<f32>(fd, 0.0, fd * p.x / depth);
  let dvdp = vec3<f32>(0.0, -fd, -fd * p.y / depth);
  let nCam = records[o + REC_NORMAL_CAM].xyz;
  let albedo = records[o + REC_ALBEDO].xyz;
  let y = shBasis(nCam);
  var irr = vec3<f32>(0.0);
  for (var b = 0u; b < 9u; b++) { irr += frame.light[b].xyz * y[b]; }
  let color = albedo * irr;  // Eq. (4)
  let smp = sampleImage(u, vec2<f32>(frame.image.xy));
  let fv = s * (color - smp.value);
  residual[row0] = fv.x;
  residual[row0 + 1u] = fv.y;
  residual[row0 + 2u] = fv.z;
  if (!withJacobian) { return; }

  // gI_c = ∂I_c/∂p (camera frame) and its model-frame pull-back Rᵀ gI_c.
  let gI0 = smp.du.x * dudp + smp.dv.x * dvdp;
  let gI1 = smp.du.y * dudp + smp.dv.y * dvdp;
  let gI2 = smp.du.z * dudp + smp.dv.z * dvdp;
  let r0 = frame.rot[0];
  let r1 = frame.rot[1];
  let r2 = frame.rot[2];
  writeGeometryColumns(vec3<u32>(row0, row0 + 1u, row0 + 2u), 3u, id,
    -s * rotateRowsTransposed(r0, r1, r2, gI0),
    -s * rotateRowsTransposed(r0, r1, r2, gI1),
    -s * rotateRowsTransposed(r0, r1, r2, gI2));

  // β: ∂c_c/∂β = irradiance_c · E_r,(i,c).
  for (var c = 0u; c < 3u; c++) {
    let sc = s * irr[c];
    let b = (3u * id + c) * ALBEDO_COLS4;
    let dst = (row0 + c) * J_COLS4 + CODE_BETA_OFFSET / 4u;
    for (var q = 0u; q < ALBEDO_COLS4; q++) { jacobian[dst + q] = sc * albedoBasis[b + q]; }
  }

  // Pose, γ, F. ∂c_c/∂n_cam = r_c Σ_b light[b][c] ∇Y_b(n_cam).
  let dy = shBasisGradient(nCam);
  var dIrr = array<vec3<f32>, 3>(vec3<f32>(0.0), vec3<f32>(0.0), vec3<f32>(0.0));
  for (var b = 0u; b < 9u; b++) {
    dIrr[0] += frame.light[b].x * dy[b];
    dIrr[1] += frame.light[b].y * dy[b];
    dIrr[2] += frame.light[b].z * dy[b];
  }
  let v = records[o + REC_MODEL].xyz;
  let n = records[o + REC_NORMAL].xyz;
  var dRv: array<vec3<f32>, 3>;
  var dRn: array<vec3<f32>, 3>;
  for (var m = 0u; m < 3u; m++) {
    dRv[m] = rotateRows(frame.dRot[3u * m], frame.dRot[3u * m + 1u], frame.dRot[3u * m + 2u], v);
    dRn[m] = rotateRows(frame.dRot[3u * m], frame.dRot[3u * m + 1u], frame.dRot[3u * m + 2u], n);
  }
  let gI = array<vec3<f32>, 3>(gI0, gI1, gI2);
  for (var c = 0u; c < 3u; c++) {
    // Explicitly zeroed: a declaration inside a loop body was observed (SwiftShader) to keep
    // the previous iteration's values.
    var tail = array<f32, 36>();
    for (var m = 0u; m < 3u; m++) {
      tail[CODE_ROTATION_OFFSET - TAIL0 + m] = s * (albedo[c] * dot(dIrr[c], dRn[m]) - dot(gI[c], dRv[m]));
      tail[CODE_TRANSLATION_OFFSET - TAIL0 + m] = -s * gI[c][m];
    }
    for (var b = 0u; b < 9u; b++) {
      tail[CODE_GAMMA_OFFSET - TAIL0 + 9u * c + b] = s * albedo[c] * shLambertFactor(b) * y[b];
    }
    tail[J_F_COLUMN - TAIL0] = fv[c];
    writeTail(row0 + c, tail);
  }
}

fn landmarkRows(j: u32, withJacobian: bool) {
  let g = groups[frame.sizes.y + j];
  let row0 = 3u * frame.sizes.y + 2u * j;
  let id = bitcast<u32>(g.x);
  let o = id * VERTEX_RECORD_STRIDE;
  let p = records[o + REC_CAMERA].xyz;
  let depth = -p.z;
  if (!(depth > 0.0)) {
    atomicAdd(&counters[2], 1u);
    residual[row0] = 0.0;
    residual[row0 + 1u] = 0.0;
    if (withJacobian) { zeroRow(row0); zeroRow(row0 + 1u); }
    return;
  }
  // Eq. (9): a_j = sqrt(w_land c_j / L).
  let a = sqrt(frame.weights.y * g.w);
  let fd = frame.intr.x / depth;
  let u = vec2<f32>(frame.intr.y + fd * p.x, frame.intr.z - fd * p.y);
  let fv = a * (u - g.yz);
  residual[row0] = fv.x;
  residual[row0 + 1u] = fv.y;
  if (!withJacobian) { return; }
  let gu = a * vec3<f32>(fd, 0.0, fd * p.x / depth);
  let gv = a * vec3<f32>(0.0, -fd, -fd * p.y / depth);
  let r0 = frame.rot[0];
  let r1 = frame.rot[1];
  let r2 = frame.rot[2];
  writeGeometryColumns(vec3<u32>(row0, row0 + 1u, 0u), 2u, id,
    rotateRowsTransposed(r0, r1, r2, gu), rotateRowsTransposed(r0, r1, r2, gv), vec3<f32>(0.0));
  for (var q = 0u; q < ALBEDO_COLS4; q++) {
    jacobian[row0 * J_COLS4 + CODE_BETA_OFFSET / 4u + q] = vec4<f32>(0.0);
    jacobian[(row0 + 1u) * J_COLS4 + CODE_BETA_OFFSET / 4u + q] = vec4<f32>(0.0);
  }
  let v = records[o + REC_MODEL].xyz;
  let grad = array<vec3<f32>, 2>(gu, gv);
  for (var k = 0u; k < 2u; k++) {
    // Explicitly zeroed: a declaration inside a loop body was observed (SwiftShader) to keep
    // the previous iteration's values.
    var tail = array<f32, 36>();
    for (var m = 0u; m < 3u; m++) {
      let dRv = rotateRows(frame.dRot[3u * m], frame.dRot[3u * m + 1u], frame.dRot[3u * m + 2u], v);
      tail[CODE_ROTATION_OFFSET - TAIL0 + m] = dot(grad[k], dRv);
      tail[CODE_TRANSLATION_OFFSET - TAIL0 + m] = grad[k][m];
    }
    tail[J_F_COLUMN - TAIL0] = fv[k];
    writeTail(row0 + k, tail);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let withJacobian = (frame.sizes.w & FLAG_JACOBIAN) != 0u;
  if (j < frame.sizes.y) {
    photometricRows(j, withJacobian);
  } else if (j < frame.sizes.y + frame.sizes.z) {
    landmarkRows(j - frame.sizes.y, withJacobian);
  }
}
