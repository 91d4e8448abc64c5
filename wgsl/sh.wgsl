// Real spherical harmonics, B = 3 bands (paper Eq. 4; sdk/model/shading.ts is the reference and
// fixes the ordering b = l² + l + m). Shared by the Opt kernels (common.wgsl) and the Refine
// kernels (refine_common.wgsl): the one WGSL place for Eq. (4).

const SH_Y0: f32 = 0.28209479177387814;
const SH_Y1: f32 = 0.4886025119029199;
const SH_Y2A: f32 = 1.0925484305920792;
const SH_Y2B: f32 = 0.31539156525252005;
const SH_Y2C: f32 = 0.5462742152960396;

/// Y_b(n), b = 0..8, for a unit n.
fn shBasis(n: vec3<f32>) -> array<f32, 9> {
  return array<f32, 9>(
    SH_Y0,
    SH_Y1 * n.y,
    SH_Y1 * n.z,
    SH_Y1 * n.x,
    SH_Y2A * n.x * n.y,
    SH_Y2A * n.y * n.z,
    SH_Y2B * (3.0 * n.z * n.z - 1.0),
    SH_Y2A * n.x * n.z,
    SH_Y2C * (n.x * n.x - n.y * n.y),
  );
}

/// ∇_n Y_b(n), b = 0..8 (gradient of the polynomial, n not renormalised).
fn shBasisGradient(n: vec3<f32>) -> array<vec3<f32>, 9> {
  return array<vec3<f32>, 9>(
    vec3<f32>(0.0),
    vec3<f32>(0.0, SH_Y1, 0.0),
    vec3<f32>(0.0, 0.0, SH_Y1),
    vec3<f32>(SH_Y1, 0.0, 0.0),
    SH_Y2A * vec3<f32>(n.y, n.x, 0.0),
    SH_Y2A * vec3<f32>(0.0, n.z, n.y),
    vec3<f32>(0.0, 0.0, 6.0 * SH_Y2B * n.z),
    SH_Y2A * vec3<f32>(n.z, 0.0, n.x),
    2.0 * SH_Y2C * vec3<f32>(n.x, -n.y, 0.0),
  );
}

/// Lambertian factors Â_b (π, 2π/3 ×3, π/4 ×5).
fn shLambertFactor(b: u32) -> f32 {
  if (b == 0u) { return 3.141592653589793; }
  if (b < 4u) { return 2.0943951023931953; }
  return 0.7853981633974483;
}

/// Eq. (4) irradiance per channel: Σ_b light[b].xyz · Y_b(n).
fn irradianceRgb(light: array<vec4<f32>, 9>, n: vec3<f32>) -> vec3<f32> {
  let y = shBasis(n);
  var e = vec3<f32>(0.0);
  for (var b = 0u; b < 9u; b++) { e += light[b].xyz * y[b]; }
  return e;
}
