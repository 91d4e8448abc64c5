// Bilinear image sample with analytic gradient (sdk/opt/image.ts `sampleBilinear`), included by
// photo_select.wgsl, residual_rows.wgsl (Opt) and refine_vertex_forward.wgsl (Refine). Expects the
// including kernel to declare `image: array<vec4<f32>>` (one pixel per element, .rgb linear RGB,
// row-major, top-left origin); `size` = (width, height) px.

struct ImageSample {
  value: vec3<f32>,
  // ∂I/∂u (px⁻¹) and ∂I/∂v per channel.
  du: vec3<f32>,
  dv: vec3<f32>,
}

fn imagePixel(j: i32, i: i32, size: vec2<f32>) -> vec3<f32> {
  let w = i32(size.x);
  let h = i32(size.y);
  let jc = clamp(j, 0, w - 1);
  let ic = clamp(i, 0, h - 1);
  return image[u32(ic * w + jc)].xyz;
}

/// I(u) with pixel centres at +0.5 and clamp-to-edge; gradient = exact derivative of the
/// interpolant inside the cell (right-hand derivative on cell borders).
fn sampleImage(u: vec2<f32>, size: vec2<f32>) -> ImageSample {
  let x = u.x - 0.5;
  let y = u.y - 0.5;
  let fj = floor(x);
  let fi = floor(y);
  let a = x - fj;
  let b = y - fi;
  let j = i32(fj);
  let i = i32(fi);
  let p00 = imagePixel(j, i, size);
  let p10 = imagePixel(j + 1, i, size);
  let p01 = imagePixel(j, i + 1, size);
  let p11 = imagePixel(j + 1, i + 1, size);
  var s: ImageSample;
  s.value = (1.0 - a) * (1.0 - b) * p00 + a * (1.0 - b) * p10 + (1.0 - a) * b * p01 + a * b * p11;
  s.du = (1.0 - b) * (p10 - p00) + b * (p11 - p01);
  s.dv = (1.0 - a) * (p01 - p00) + a * (p11 - p10);
  return s;
}
