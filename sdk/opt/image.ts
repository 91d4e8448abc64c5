/**
 * The input image I of the photometric term (paper Eq. 8, 11) as a linear-RGB float image,
 * and its bilinear interpolant with analytic gradient (needed by the Jacobian, Eq. 12).
 *
 * Image frame (as sdk/model/camera.ts): px, origin at the top-left corner of the top-left
 * pixel, +x right, +y down; pixel (col j, row i) has its centre at (j + 0.5, i + 0.5), so
 * I(j + 0.5, i + 0.5) is exactly that pixel's value. Outside the pixel centres the image is
 * extended by clamping to the edge.
 */
import { MofaError } from '../errors.js';
import type { LinearImage } from './backend.js';

export type { LinearImage };

let srgbDecodeLut: Float32Array | null = null;

/** sRGB byte 0..255 → linear 0..1 (IEC 61966-2-1 transfer curve), as a 256-entry table. */
export function srgbToLinearTable(): Float32Array {
  if (!srgbDecodeLut) {
    srgbDecodeLut = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      const c = v / 255;
      srgbDecodeLut[v] = c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    }
  }
  return srgbDecodeLut;
}

/**
 * Decodes an sRGB-encoded RGBA8 image (canvas ImageData, sdk/render output) to linear RGB.
 * Alpha is ignored.
 * @param data (H, W, 4) RGBA bytes, row-major, top-left origin.
 * @returns a LinearImage with `rgb` (H, W, 3) linear 0..1.
 * @throws MofaError('BAD_INPUT') if the size is not positive integers or data.length ≠ 4·W·H.
 */
export function linearImageFromRgba(data: ArrayLike<number>, width: number, height: number): LinearImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new MofaError('BAD_INPUT', `image size must be positive integers, got ${width}×${height}`);
  }
  if (data.length !== 4 * width * height) {
    throw new MofaError('BAD_INPUT', `RGBA data has ${data.length} bytes, expected 4·${width}·${height} = ${4 * width * height}`);
  }
  const lut = srgbToLinearTable();
  const n = width * height;
  const rgb = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) {
    rgb[3 * p] = lut[data[4 * p] & 255];
    rgb[3 * p + 1] = lut[data[4 * p + 1] & 255];
    rgb[3 * p + 2] = lut[data[4 * p + 2] & 255];
  }
  return { width, height, rgb };
}

/**
 * @throws MofaError('BAD_INPUT') unless `image` is a well-formed LinearImage (positive integer
 *   size, rgb.length = 3·W·H).
 */
export function checkLinearImage(image: LinearImage): void {
  const { width, height, rgb } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new MofaError('BAD_INPUT', `image size must be positive integers, got ${width}×${height}`);
  }
  if (!(rgb instanceof Float32Array) || rgb.length !== 3 * width * height) {
    throw new MofaError('BAD_INPUT', `image.rgb has ${rgb?.length} values but the image is ${width}×${height}: expected a Float32Array of 3·W·H = ${3 * width * height} (linear RGB, row-major)`);
  }
}

/**
 * Bilinear sample of I at (u, v) px and its gradient, clamp-to-edge.
 *
 * With x = u − 0.5, y = v − 0.5, j = ⌊x⌋, i = ⌊y⌋, a = x − j, b = y − i and P(j, i) the pixel
 * value with indices clamped to the image:
 *   I = (1−a)(1−b) P(j,i) + a(1−b) P(j+1,i) + (1−a) b P(j,i+1) + a b P(j+1,i+1)
 *   ∂I/∂u = (1−b)(P(j+1,i) − P(j,i)) + b (P(j+1,i+1) − P(j,i+1))
 *   ∂I/∂v = (1−a)(P(j,i+1) − P(j,i)) + a (P(j+1,i+1) − P(j+1,i))
 * These are the exact derivatives of the interpolant inside a cell (it is not differentiable
 * on the cell borders, u − 0.5 ∈ ℤ, where this returns the right-hand derivative). Beyond the
 * outermost pixel centres both clamped indices coincide, so the gradient across the border is 0.
 * @param out receives 9 values at out[o..o+9): [I_R, I_G, I_B, ∂I_R/∂u, ∂I_G/∂u, ∂I_B/∂u,
 *   ∂I_R/∂v, ∂I_G/∂v, ∂I_B/∂v] (linear RGB, per px).
 */
export function sampleBilinear(image: LinearImage, u: number, v: number, out: Float64Array, o = 0): void {
  const { width: W, height: H, rgb } = image;
  const x = u - 0.5;
  const y = v - 0.5;
  const jf = Math.floor(x);
  const if_ = Math.floor(y);
  const a = x - jf;
  const b = y - if_;
  const j0 = jf < 0 ? 0 : jf > W - 1 ? W - 1 : jf;
  const j1 = jf + 1 < 0 ? 0 : jf + 1 > W - 1 ? W - 1 : jf + 1;
  const i0 = if_ < 0 ? 0 : if_ > H - 1 ? H - 1 : if_;
  const i1 = if_ + 1 < 0 ? 0 : if_ + 1 > H - 1 ? H - 1 : if_ + 1;
  const p00 = 3 * (i0 * W + j0), p10 = 3 * (i0 * W + j1);
  const p01 = 3 * (i1 * W + j0), p11 = 3 * (i1 * W + j1);
  for (let c = 0; c < 3; c++) {
    const v00 = rgb[p00 + c], v10 = rgb[p10 + c], v01 = rgb[p01 + c], v11 = rgb[p11 + c];
    out[o + c] = (1 - a) * (1 - b) * v00 + a * (1 - b) * v10 + (1 - a) * b * v01 + a * b * v11;
    out[o + 3 + c] = (1 - b) * (v10 - v00) + b * (v11 - v01);
    out[o + 6 + c] = (1 - a) * (v01 - v00) + a * (v11 - v10);
  }
}

/** Whether (u, v) px lies inside the image rectangle [0, W) × [0, H) (NaN → false). */
export function insideImage(image: LinearImage, u: number, v: number): boolean {
  return u >= 0 && u < image.width && v >= 0 && v < image.height;
}
