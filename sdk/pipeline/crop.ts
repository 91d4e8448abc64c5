/**
 * The face crop every model-based stage works in (paper Sec. 8: a 240×240 crop around the
 * face): an AXIS-ALIGNED square of the original image, so the crop↔image map is a uniform scale
 * plus a shift and the crop camera (DEFAULT_INTRINSICS, f = 1000 px) is an exact pinhole camera
 * of the original image too (`imageIntrinsics`). In-plane head roll is left to the pose.
 *
 * Frames: image px / crop px, top-left origin, +x right, +y down, pixel centres at +0.5.
 */
import { type CameraIntrinsics, DEFAULT_CROP_SIZE, DEFAULT_INTRINSICS } from '../model/camera.js';
import { MofaError } from '../errors.js';
import { type Affine2x3, type RgbaImage, applyAffine, NORM_0_TO_1, warpAffineToTensor } from '../vision/image.js';
import type { LinearImage } from './stages.js';

/** Crop side = CROP_SCALE × the longer side of the 468 landmarks' bounding box (forehead to chin ≈ 0.8 of the crop). */
export const CROP_SCALE = 1.25;

/** An axis-aligned square face crop of the original image. */
export interface FaceCrop {
  /** Crop side, px (DEFAULT_CROP_SIZE = 240). */
  size: number;
  /** Crop px → image px: x_img = k·x_crop + ox, y_img = k·y_crop + oy (k = px of image per crop px). */
  cropToImage: Affine2x3;
  /** Image px → crop px (inverse of cropToImage). */
  imageToCrop: Affine2x3;
  /** Camera of the crop (f = 1000 px, principal point at the centre). */
  intrinsics: CameraIntrinsics;
}

/**
 * Crop centred on the bounding box of the landmarks, side CROP_SCALE × its longer side.
 * @param points (468, 3) landmarker points, image px.
 */
export function faceCropFromLandmarks(points: ArrayLike<number>, size = DEFAULT_CROP_SIZE): FaceCrop {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < points.length; i += 3) {
    x0 = Math.min(x0, points[i]); x1 = Math.max(x1, points[i]);
    y0 = Math.min(y0, points[i + 1]); y1 = Math.max(y1, points[i + 1]);
  }
  const side = CROP_SCALE * Math.max(x1 - x0, y1 - y0);
  if (!(side > 0) || !Number.isFinite(side)) throw new MofaError('INTERNAL', 'landmarks have no extent; cannot build a face crop');
  const k = side / size;
  const ox = (x0 + x1) / 2 - side / 2, oy = (y0 + y1) / 2 - side / 2;
  const intrinsics: CameraIntrinsics = size === DEFAULT_CROP_SIZE ? { ...DEFAULT_INTRINSICS } : { ...DEFAULT_INTRINSICS, cx: size / 2, cy: size / 2, width: size, height: size };
  return { size, cropToImage: [k, 0, ox, 0, k, oy], imageToCrop: [1 / k, 0, -ox / k, 0, 1 / k, -oy / k], intrinsics };
}

/**
 * The crop camera expressed in original-image px: f·k, principal point mapped through
 * cropToImage, width/height of the original image. Projecting camera-frame points with it
 * equals projecting into the crop and applying cropToImage.
 */
export function imageIntrinsics(crop: FaceCrop, imageWidth: number, imageHeight: number): CameraIntrinsics {
  const k = crop.cropToImage[0];
  const [cx, cy] = applyAffine(crop.cropToImage, crop.intrinsics.cx, crop.intrinsics.cy);
  return { focalPx: crop.intrinsics.focalPx * k, cx, cy, width: imageWidth, height: imageHeight };
}

/** Maps (L, 3) landmarker points from image px into crop px (x, y through the affine, z scaled by 1/k). */
export function landmarksToCrop(points: ArrayLike<number>, crop: FaceCrop): Float64Array {
  const out = new Float64Array(points.length);
  const m = crop.imageToCrop;
  for (let i = 0; i < points.length; i += 3) {
    const [x, y] = applyAffine(m, points[i], points[i + 1]);
    out[i] = x;
    out[i + 1] = y;
    out[i + 2] = points[i + 2] * m[0];
  }
  return out;
}

let srgbDecode: Float32Array | null = null;
/** sRGB-encoded value 0..1 → linear 0..1 (IEC 61966-2-1). */
function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

/**
 * Samples the crop from the original image (bilinear, area-averaged when shrinking; outside
 * the image reads black) and decodes sRGB to linear RGB: the image I of the photometric terms.
 * @returns (size, size, 3) linear RGB 0..1.
 */
export function cropLinearImage(image: RgbaImage, crop: FaceCrop): LinearImage {
  const t = warpAffineToTensor(image, crop.cropToImage, crop.size, crop.size, NORM_0_TO_1, 8);
  if (!srgbDecode) {
    srgbDecode = new Float32Array(4096);
    for (let i = 0; i < 4096; i++) srgbDecode[i] = srgbToLinear(i / 4095);
  }
  for (let i = 0; i < t.length; i++) t[i] = srgbDecode[Math.max(0, Math.min(4095, Math.round(t[i] * 4095)))];
  return { width: crop.size, height: crop.size, rgb: t };
}
