/**
 * Pure-TypeScript image operations for the vision front end (face detector + landmarker).
 *
 * Image pixel frame (used everywhere in sdk/vision): origin at the top-left corner of the
 * top-left pixel, +x right, +y down, units = pixels; pixel (col j, row i) covers
 * [j, j+1) × [i, i+1) and its centre is (j + 0.5, i + 0.5). An image of width W spans
 * x ∈ [0, W]. The same convention holds for the network input tensors (a 128×128 tensor
 * spans [0, 128]² in its own "tensor pixel" frame).
 *
 * Affine maps are 2×3 row-major matrices `[a, b, c, d, e, f]` meaning
 *   x' = a·x + b·y + c
 *   y' = d·x + e·y + f
 * A warp is described by the map **from the destination (tensor) frame to the source
 * (image) frame**, `dstToSrc`: the sampler evaluates it at each destination pixel centre.
 * Points predicted in tensor pixels (detector boxes, landmarks) go back to the image with
 * the same `dstToSrc`; image points go into the tensor with `invertAffine(dstToSrc)`.
 */
import { MofaError } from '../errors.js';

/** RGBA8 image, row-major, top-left origin, `data.length === width * height * 4`. */
export interface RgbaImage {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** 2×3 affine map, row-major `[a, b, c, d, e, f]` (see the module comment). */
export type Affine2x3 = [number, number, number, number, number, number];

/** An axis-aligned box in a pixel frame: top-left corner, width, height (px). */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * A rotated square region of interest in the image pixel frame.
 * `center` px; `size` = side length px; `rotation` radians, the angle of the ROI's +x axis
 * measured from the image +x axis towards the image +y axis (image y points down, so a
 * positive angle turns clockwise on screen).
 */
export interface RotatedRoi {
  center: [number, number];
  size: number;
  rotation: number;
}

/**
 * Throws MofaError('BAD_INPUT') unless `image` is a non-empty RGBA8 buffer of the stated
 * size. Every public vision entry point calls this first.
 */
export function assertRgbaImage(image: RgbaImage | null | undefined, what = 'image'): void {
  if (!image || typeof image !== 'object') {
    throw new MofaError('BAD_INPUT', `${what} is missing: pass an RGBA { data, width, height } image`);
  }
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new MofaError('BAD_INPUT', `${what} has invalid size ${width}×${height}: width and height must be positive integers`);
  }
  if (!data || typeof (data as ArrayLike<number>).length !== 'number' || data.length !== width * height * 4) {
    throw new MofaError(
      'BAD_INPUT',
      `${what} data has length ${data?.length}, expected width·height·4 = ${width * height * 4} (RGBA8)`,
    );
  }
}

/** Composition `p ↦ m1(m2(p))` of two affine maps. */
export function composeAffine(m1: Affine2x3, m2: Affine2x3): Affine2x3 {
  const [a1, b1, c1, d1, e1, f1] = m1;
  const [a2, b2, c2, d2, e2, f2] = m2;
  return [
    a1 * a2 + b1 * d2,
    a1 * b2 + b1 * e2,
    a1 * c2 + b1 * f2 + c1,
    d1 * a2 + e1 * d2,
    d1 * b2 + e1 * e2,
    d1 * c2 + e1 * f2 + f1,
  ];
}

/** Inverse of an affine map; throws MofaError('INTERNAL') if it is singular. */
export function invertAffine(m: Affine2x3): Affine2x3 {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) {
    throw new MofaError('INTERNAL', `singular affine map (det = ${det})`);
  }
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/** Applies an affine map to one point. */
export function applyAffine(m: Affine2x3, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/**
 * Letterbox map for a detector input: the whole image, padded symmetrically to a square of
 * side S = max(W, H), scaled into a `size`×`size` tensor.
 * Returns `dstToSrc` (tensor px → image px):  x_img = x_t · S/size − (S − W)/2,
 *                                             y_img = y_t · S/size − (S − H)/2.
 */
export function letterboxAffine(width: number, height: number, size: number): Affine2x3 {
  const side = Math.max(width, height);
  const k = side / size;
  return [k, 0, -(side - width) / 2, 0, k, -(side - height) / 2];
}

/**
 * Map for a rotated square ROI sampled into a `size`×`size` tensor. Returns `dstToSrc`
 * (tensor px → image px):
 *   p_img = center + (x_t/size − ½)·s·u + (y_t/size − ½)·s·v,
 * with u = (cos θ, sin θ) the ROI's +x axis and v = (−sin θ, cos θ) its +y axis in the image,
 * s = roi.size, θ = roi.rotation.
 */
export function roiAffine(roi: RotatedRoi, size: number): Affine2x3 {
  const k = roi.size / size;
  const c = Math.cos(roi.rotation);
  const s = Math.sin(roi.rotation);
  const [cx, cy] = roi.center;
  // Columns: ∂p/∂x_t = k·u, ∂p/∂y_t = k·v; offset makes tensor centre (size/2) map to `center`.
  const a = k * c;
  const b = -k * s;
  const d = k * s;
  const e = k * c;
  const half = size / 2;
  return [a, b, cx - a * half - b * half, d, e, cy - d * half - e * half];
}

/** Per-channel normalisation `value = rgb8 · scale + offset` applied to the sampled pixel. */
export interface Normalisation {
  scale: number;
  offset: number;
}

/** RGB in [−1, 1] (BlazeFace detector input). */
export const NORM_MINUS1_TO_1: Normalisation = { scale: 2 / 255, offset: -1 };
/** RGB in [0, 1] (face landmarker input). */
export const NORM_0_TO_1: Normalisation = { scale: 1 / 255, offset: 0 };

/**
 * Samples `image` through the affine map `dstToSrc` into a float32 NHWC tensor of shape
 * (1, outH, outW, 3), RGB (alpha ignored), each channel `rgb8 · norm.scale + norm.offset`.
 *
 * Sampling: bilinear, image pixel centres at +0.5, neighbours clamped to the edge inside the
 * image. Source positions outside [0, W) × [0, H) read black (RGB 0, before normalisation),
 * matching MediaPipe's zero border for letterboxing.
 * When the map shrinks the image by more than 2× (detector letterbox of a large photo),
 * each tensor pixel averages an n×n grid of bilinear samples spread evenly over its
 * footprint, n = ceil(scale / 2) (at most `maxSupersample`): a bilinear tap between pixel
 * centres already averages 2 px per axis, so n taps cover the footprint's 2n px — for an
 * integer scale 2n this is exactly the 2n×2n box filter. Avoids aliasing at ¼ the cost of
 * n = scale.
 *
 * Returns a new Float32Array of length outW·outH·3.
 */
export function warpAffineToTensor(
  image: RgbaImage,
  dstToSrc: Affine2x3,
  outW: number,
  outH: number,
  norm: Normalisation,
  maxSupersample = 4,
): Float32Array {
  assertRgbaImage(image);
  const { data, width: W, height: H } = image;
  const out = new Float32Array(outW * outH * 3);
  const [a, b, c, d, e, f] = dstToSrc;
  // Footprint of one tensor pixel in image pixels (length of the mapped unit axes).
  const sx = Math.hypot(a, d);
  const sy = Math.hypot(b, e);
  const nx = Math.max(1, Math.min(maxSupersample, Math.ceil(sx / 2 - 1e-6)));
  const ny = Math.max(1, Math.min(maxSupersample, Math.ceil(sy / 2 - 1e-6)));
  const inv = 1 / (nx * ny);
  let o = 0;
  for (let i = 0; i < outH; i++) {
    for (let j = 0; j < outW; j++) {
      let r = 0;
      let g = 0;
      let bl = 0;
      for (let si = 0; si < ny; si++) {
        const ty = i + (si + 0.5) / ny;
        for (let sj = 0; sj < nx; sj++) {
          const tx = j + (sj + 0.5) / nx;
          // Continuous image position; outside [0, W) × [0, H) reads black.
          const X = a * tx + b * ty + c;
          const Y = d * tx + e * ty + f;
          if (!(X >= 0 && X < W && Y >= 0 && Y < H)) continue;
          // Shift so integer coordinates are pixel centres; clamp neighbours to the edge.
          const px = X - 0.5;
          const py = Y - 0.5;
          const x0 = Math.floor(px);
          const y0 = Math.floor(py);
          const fx = px - x0;
          const fy = py - y0;
          const xa = x0 < 0 ? 0 : x0;
          const xb = x0 + 1 >= W ? W - 1 : x0 + 1;
          const ya = y0 < 0 ? 0 : y0;
          const yb = y0 + 1 >= H ? H - 1 : y0 + 1;
          const p00 = (ya * W + xa) * 4;
          const p01 = (ya * W + xb) * 4;
          const p10 = (yb * W + xa) * 4;
          const p11 = (yb * W + xb) * 4;
          const w00 = (1 - fx) * (1 - fy);
          const w01 = fx * (1 - fy);
          const w10 = (1 - fx) * fy;
          const w11 = fx * fy;
          r += w00 * data[p00] + w01 * data[p01] + w10 * data[p10] + w11 * data[p11];
          g += w00 * data[p00 + 1] + w01 * data[p01 + 1] + w10 * data[p10 + 1] + w11 * data[p11 + 1];
          bl += w00 * data[p00 + 2] + w01 * data[p01 + 2] + w10 * data[p10 + 2] + w11 * data[p11 + 2];
        }
      }
      out[o++] = r * inv * norm.scale + norm.offset;
      out[o++] = g * inv * norm.scale + norm.offset;
      out[o++] = bl * inv * norm.scale + norm.offset;
    }
  }
  return out;
}
