// Eq. (4), (5) per vertex: p = R v + t, u = Π(p), n_cam = R n, c = r ⊙ irradiance(n_cam, γ),
// front-facing flag ((R n)·p < 0 and depth > 0). Writes the per-vertex record that
// photo_select / residual_rows / rasterize read (layout: REC_* in common.wgsl).
// TS twin: sdk/gpu/project-shade.ts. References: camera.ts (toCamera, project, rotateVectors),
// shading.ts (shade).

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> frame: OptFrame;
@group(0) @binding(1) var<storage, read> position: array<f32>;   // (3N) mm, model frame
@group(0) @binding(2) var<storage, read> normal: array<f32>;     // (3N) unit, model frame
@group(0) @binding(3) var<storage, read> albedo: array<f32>;     // (3N) linear RGB
@group(0) @binding(4) var<storage, read_write> records: array<vec4<f32>>; // (N·VERTEX_RECORD_STRIDE)

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= frame.sizes.x) { return; }
  let v = vec3<f32>(position[3u * i], position[3u * i + 1u], position[3u * i + 2u]);
  let n = vec3<f32>(normal[3u * i], normal[3u * i + 1u], normal[3u * i + 2u]);
  let r = vec3<f32>(albedo[3u * i], albedo[3u * i + 1u], albedo[3u * i + 2u]);
  // Eq. (5): Φ then Π.
  let p = rotateRows(frame.rot[0], frame.rot[1], frame.rot[2], v) + frame.trans.xyz;
  let depth = -p.z;
  let f = frame.intr.x;
  let screen = vec2<f32>(frame.intr.y + f * p.x / depth, frame.intr.z - f * p.y / depth);
  let nCam = rotateRows(frame.rot[0], frame.rot[1], frame.rot[2], n);
  // Eq. (4).
  let color = r * irradianceRgb(frame.light, nCam);
  let front = select(0.0, 1.0, dot(nCam, p) < 0.0 && depth > 0.0);
  let o = i * VERTEX_RECORD_STRIDE;
  records[o + REC_CAMERA] = vec4<f32>(p, front);
  records[o + REC_NORMAL_CAM] = vec4<f32>(nCam, 0.0);
  records[o + REC_ALBEDO] = vec4<f32>(r, 0.0);
  records[o + REC_COLOR] = vec4<f32>(color, 0.0);
  records[o + REC_SCREEN] = vec4<f32>(screen, depth, 0.0);
  records[o + REC_MODEL] = vec4<f32>(v, 0.0);
  records[o + REC_NORMAL] = vec4<f32>(n, 0.0);
}
