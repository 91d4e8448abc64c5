/**
 * MediaPipe face landmarker (face_landmark, 468 points, converted to ONNX) on onnxruntime-web.
 *
 * Pipeline: rotated square ROI (1.5 × the detection box, eyes level) → bilinear crop to
 * 192×192 RGB in [0, 1] → run → map the 468 (x, y, z) points from ROI pixels back to image
 * pixels through the ROI's affine map. Optionally a second pass on an ROI rebuilt from the
 * first pass's landmarks (MediaPipe's tracking ROI).
 */
import { MofaError } from '../errors.js';
import {
  type Affine2x3,
  type RgbaImage,
  type RotatedRoi,
  assertRgbaImage,
  NORM_0_TO_1,
  roiAffine,
  warpAffineToTensor,
} from './image.js';
import { createSession, loadModelBytes, resolveOrt, type Ort, type OrtSession } from './onnx-session.js';
import { DETECTION_KEYPOINT, type FaceDetection, type FaceLandmarkerOptions, type FaceLandmarks } from './types.js';

/** Side of the landmarker's square input, px. */
export const LANDMARK_INPUT_SIZE = 192;
export const NUM_LANDMARKS = 468;
/** ROI side = ROI_SCALE × the longer side of the face box (MediaPipe RectTransformation). */
export const ROI_SCALE = 1.5;
/** Eye outer corners in the 468 numbering (subject's right 33, left 263). */
export const RIGHT_EYE_OUTER = 33;
export const LEFT_EYE_OUTER = 263;

/**
 * ROI for the first landmark pass: centred on the detection box, side = ROI_SCALE·max(w, h),
 * rotation = angle of the vector right eye → left eye (so the eyes become level in the crop).
 */
export function roiFromDetection(det: FaceDetection): RotatedRoi {
  const [rx, ry] = det.keypoints[DETECTION_KEYPOINT.rightEye];
  const [lx, ly] = det.keypoints[DETECTION_KEYPOINT.leftEye];
  return {
    center: [det.box.x + det.box.width / 2, det.box.y + det.box.height / 2],
    size: ROI_SCALE * Math.max(det.box.width, det.box.height),
    rotation: Math.atan2(ly - ry, lx - rx),
  };
}

/**
 * ROI from a previous set of landmarks ((468, 3) image px): rotation from eye corners
 * 33 → 263; centre and extent from the landmarks' bounding box measured in that rotated
 * frame; side = ROI_SCALE × the longer extent.
 */
export function roiFromLandmarks(points: Float32Array): RotatedRoi {
  const rot = Math.atan2(
    points[3 * LEFT_EYE_OUTER + 1] - points[3 * RIGHT_EYE_OUTER + 1],
    points[3 * LEFT_EYE_OUTER] - points[3 * RIGHT_EYE_OUTER],
  );
  const c = Math.cos(rot);
  const s = Math.sin(rot);
  let u0 = Infinity;
  let u1 = -Infinity;
  let v0 = Infinity;
  let v1 = -Infinity;
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    const x = points[3 * i];
    const y = points[3 * i + 1];
    const u = c * x + s * y; // coordinate along the ROI +x axis (c, s)
    const v = -s * x + c * y; // along the ROI +y axis (−s, c)
    if (u < u0) u0 = u;
    if (u > u1) u1 = u;
    if (v < v0) v0 = v;
    if (v > v1) v1 = v;
  }
  const um = (u0 + u1) / 2;
  const vm = (v0 + v1) / 2;
  return {
    center: [c * um - s * vm, s * um + c * vm],
    size: ROI_SCALE * Math.max(u1 - u0, v1 - v0),
    rotation: rot,
  };
}

/**
 * Maps raw model output ((468·3) values in ROI tensor px: x, y in 0..192, z same scale) to
 * image px through `dstToSrc` (the ROI affine). z is scaled by the ROI's px-per-tensor-px
 * factor, so x, y, z share the image pixel scale. Returns a new (468, 3) Float32Array.
 */
export function projectLandmarks(raw: Float32Array, dstToSrc: Affine2x3): Float32Array {
  const [a, b, c, d, e, f] = dstToSrc;
  const k = Math.sqrt(Math.abs(a * e - b * d)); // uniform scale of a rotation + scale map
  const out = new Float32Array(NUM_LANDMARKS * 3);
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    const x = raw[3 * i];
    const y = raw[3 * i + 1];
    out[3 * i] = a * x + b * y + c;
    out[3 * i + 1] = d * x + e * y + f;
    out[3 * i + 2] = raw[3 * i + 2] * k;
  }
  return out;
}

export class FaceLandmarker {
  readonly passes: 1 | 2;
  private readonly ort: Ort;
  private session: OrtSession | null;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(ort: Ort, session: OrtSession, passes: 1 | 2) {
    this.ort = ort;
    this.session = session;
    this.passes = passes;
  }

  /**
   * Loads the model and creates the session.
   * Throws MofaError 'BAD_INPUT' (bad options), 'ASSET_LOAD' (URL fetch failed),
   * 'MODEL_INTEGRITY' (bytes not a loadable landmarker).
   */
  static async create(options: FaceLandmarkerOptions): Promise<FaceLandmarker> {
    const passes = options.passes ?? 2;
    if (passes !== 1 && passes !== 2) throw new MofaError('BAD_INPUT', `passes must be 1 or 2, got ${passes}`);
    const ort = await resolveOrt(options.ort);
    const bytes = await loadModelBytes(options.model, 'face landmarker');
    const session = await createSession(ort, bytes, 'face landmarker', { inputs: 1, minOutputs: 2 });
    return new FaceLandmarker(ort, session, passes);
  }

  /**
   * 468 landmarks of the face found by `detection` (ROI from roiFromDetection, then, with
   * passes = 2, one more pass on roiFromLandmarks of the first result).
   * Throws MofaError 'BAD_INPUT' (invalid image or detection), 'MODEL_INTEGRITY' (model
   * outputs unexpected), 'CLOSED' after close().
   */
  landmarks(image: RgbaImage, detection: FaceDetection, passes: 1 | 2 = this.passes): Promise<FaceLandmarks> {
    const run = this.queue.then(async () => {
      assertRgbaImage(image);
      if (!detection?.box || !Array.isArray(detection.keypoints) || detection.keypoints.length < 2) {
        throw new MofaError('BAD_INPUT', 'detection must be a FaceDetection from FaceDetector.detect()');
      }
      let result = await this.runRoi(image, roiFromDetection(detection));
      if (passes === 2) result = await this.runRoi(image, roiFromLandmarks(result.points));
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** One landmark pass on an explicit ROI (e.g. one tracked from the previous video frame). */
  landmarksInRoi(image: RgbaImage, roi: RotatedRoi): Promise<FaceLandmarks> {
    const run = this.queue.then(() => {
      assertRgbaImage(image);
      if (!(roi?.size > 0) || !Number.isFinite(roi.rotation) || !roi.center?.every(Number.isFinite)) {
        throw new MofaError('BAD_INPUT', 'roi must have a positive size, a finite rotation and a finite centre');
      }
      return this.runRoi(image, roi);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runRoi(image: RgbaImage, roi: RotatedRoi): Promise<FaceLandmarks> {
    const session = this.session;
    if (!session) throw new MofaError('CLOSED', 'FaceLandmarker was closed; create a new one');
    const S = LANDMARK_INPUT_SIZE;
    const dstToSrc = roiAffine(roi, S);
    const input = warpAffineToTensor(image, dstToSrc, S, S, NORM_0_TO_1);
    const results = await session.run({ [session.inputNames[0]]: new this.ort.Tensor('float32', input, [1, S, S, 3]) });
    let raw: Float32Array | null = null;
    let logit: number | null = null;
    for (const name of session.outputNames) {
      const data = results[name].data as Float32Array;
      if (data.length === NUM_LANDMARKS * 3) raw = data;
      else if (data.length === 1) logit = data[0];
    }
    if (!raw || logit === null) {
      const shapes = session.outputNames.map((nm) => `${nm}[${results[nm].dims.join('×')}]`).join(', ');
      throw new MofaError('MODEL_INTEGRITY', `face landmarker outputs ${shapes}: expected 1404 landmark values and 1 presence logit`);
    }
    const points = projectLandmarks(raw, dstToSrc);
    for (const name of session.outputNames) results[name].dispose?.();
    const z = Math.max(-100, Math.min(100, logit));
    return { points, presence: 1 / (1 + Math.exp(-z)), roi };
  }

  /** Releases the session. Calling it twice is harmless; later calls reject with 'CLOSED'. */
  async close(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) {
      await this.queue;
      await s.release();
    }
  }
}
