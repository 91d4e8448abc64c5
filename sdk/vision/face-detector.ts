/**
 * BlazeFace face detector (MediaPipe face_detection short / full range, converted to ONNX)
 * on onnxruntime-web.
 *
 * Pipeline: letterbox the whole image into the square network input (RGB in [−1, 1]) →
 * run → decode anchor-relative boxes and 6 keypoints → sigmoid scores → weighted NMS →
 * map back through the letterbox affine to image pixels.
 */
import { MofaError } from '../errors.js';
import {
  type Affine2x3,
  type Box,
  type RgbaImage,
  applyAffine,
  assertRgbaImage,
  letterboxAffine,
  NORM_MINUS1_TO_1,
  warpAffineToTensor,
} from './image.js';
import { createSession, loadModelBytes, resolveOrt, type Ort, type OrtSession } from './onnx-session.js';
import type { FaceDetection, FaceDetectorOptions } from './types.js';

/** Number of values per anchor in the regressor output: box (cx, cy, w, h) + 6 × (x, y). */
export const REGRESSOR_STRIDE = 16;
export const NUM_KEYPOINTS = 6;
/** Logits are clipped to ±this before the sigmoid (MediaPipe's score_clipping_thresh). */
export const SCORE_CLIP = 100;

/**
 * Anchor layout of one BlazeFace variant. Layers that share a stride are merged into one
 * grid with `anchorsPerCell` anchors per cell (MediaPipe SsdAnchorsCalculator with
 * fixed_anchor_size: every anchor has width = height = 1, so only centres matter).
 */
export interface AnchorConfig {
  inputSize: number;
  grids: { stride: number; anchorsPerCell: number }[];
}

/** Short range: strides 8, 16, 16, 16 with 2 anchors per layer → 16²·2 + 8²·6 = 896. */
export const SHORT_RANGE: AnchorConfig = {
  inputSize: 128,
  grids: [
    { stride: 8, anchorsPerCell: 2 },
    { stride: 16, anchorsPerCell: 6 },
  ],
};

/** Full range: one layer, stride 4, 1 anchor per cell → 48² = 2304. */
export const FULL_RANGE: AnchorConfig = {
  inputSize: 192,
  grids: [{ stride: 4, anchorsPerCell: 1 }],
};

/**
 * Anchor centres, (N, 2) float32 in normalised input units 0..1:
 * centre of cell (i, j) = ((j + 0.5)/G, (i + 0.5)/G), G = inputSize/stride; order: grid by
 * grid, row-major cells, `anchorsPerCell` consecutive copies per cell.
 */
export function generateAnchors(cfg: AnchorConfig): Float32Array {
  let n = 0;
  for (const g of cfg.grids) n += (cfg.inputSize / g.stride) ** 2 * g.anchorsPerCell;
  const out = new Float32Array(n * 2);
  let k = 0;
  for (const g of cfg.grids) {
    const G = Math.ceil(cfg.inputSize / g.stride);
    for (let i = 0; i < G; i++) {
      for (let j = 0; j < G; j++) {
        for (let a = 0; a < g.anchorsPerCell; a++) {
          out[k++] = (j + 0.5) / G;
          out[k++] = (i + 0.5) / G;
        }
      }
    }
  }
  return out;
}

/** A decoded detection in the network input's tensor pixel frame (before mapping back). */
export interface RawDetection {
  box: Box;
  score: number;
  keypoints: [number, number][];
}

/** Logistic function of a logit clipped to ±SCORE_CLIP. */
export function sigmoidClipped(logit: number): number {
  const z = Math.max(-SCORE_CLIP, Math.min(SCORE_CLIP, logit));
  return 1 / (1 + Math.exp(-z));
}

/**
 * Decodes anchors whose score ≥ minScore.
 * regressors: (N, 16) float32, per anchor (dx, dy, w, h, kx0, ky0, …) in input pixels,
 * centre and keypoints relative to the anchor centre; logits: (N) float32.
 * Output boxes/keypoints are in input tensor pixels (0..inputSize):
 *   cx = dx + ax·S, cy = dy + ay·S, kx = kx_raw + ax·S, … (S = inputSize, anchor size 1).
 */
export function decodeDetections(
  regressors: Float32Array,
  logits: Float32Array,
  anchors: Float32Array,
  inputSize: number,
  minScore: number,
): RawDetection[] {
  const n = anchors.length / 2;
  const out: RawDetection[] = [];
  for (let i = 0; i < n; i++) {
    const score = sigmoidClipped(logits[i]);
    if (score < minScore) continue;
    const r = i * REGRESSOR_STRIDE;
    const ax = anchors[2 * i] * inputSize;
    const ay = anchors[2 * i + 1] * inputSize;
    const cx = regressors[r] + ax;
    const cy = regressors[r + 1] + ay;
    const w = regressors[r + 2];
    const h = regressors[r + 3];
    if (!(w > 0 && h > 0)) continue;
    const keypoints: [number, number][] = [];
    for (let k = 0; k < NUM_KEYPOINTS; k++) {
      keypoints.push([regressors[r + 4 + 2 * k] + ax, regressors[r + 5 + 2 * k] + ay]);
    }
    out.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score, keypoints });
  }
  return out;
}

/** Intersection over union of two axis-aligned boxes (0 when either is empty). */
export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Weighted non-maximum suppression (MediaPipe's WEIGHTED overlap type): repeatedly take the
 * highest-scoring remaining detection, gather every remaining detection whose IoU with it
 * exceeds `iouThreshold` (itself included), and replace it by the score-weighted mean of
 * their boxes and keypoints; the merged detection keeps the top score. Returns detections
 * sorted by score, descending. Does not modify its input.
 */
export function weightedNms(dets: RawDetection[], iouThreshold: number): RawDetection[] {
  let remaining = [...dets].sort((a, b) => b.score - a.score);
  const out: RawDetection[] = [];
  while (remaining.length > 0) {
    const top = remaining[0];
    const group: RawDetection[] = [];
    const rest: RawDetection[] = [];
    for (const d of remaining) (d === top || iou(top.box, d.box) > iouThreshold ? group : rest).push(d);
    remaining = rest;
    if (group.length === 1) {
      out.push({ box: { ...top.box }, score: top.score, keypoints: top.keypoints.map(([x, y]) => [x, y] as [number, number]) });
      continue;
    }
    let wsum = 0;
    let x0 = 0;
    let y0 = 0;
    let x1 = 0;
    let y1 = 0;
    const kps = top.keypoints.map(() => [0, 0] as [number, number]);
    for (const d of group) {
      const w = d.score;
      wsum += w;
      x0 += w * d.box.x;
      y0 += w * d.box.y;
      x1 += w * (d.box.x + d.box.width);
      y1 += w * (d.box.y + d.box.height);
      d.keypoints.forEach(([kx, ky], k) => {
        kps[k][0] += w * kx;
        kps[k][1] += w * ky;
      });
    }
    out.push({
      box: { x: x0 / wsum, y: y0 / wsum, width: (x1 - x0) / wsum, height: (y1 - y0) / wsum },
      score: top.score,
      keypoints: kps.map(([kx, ky]) => [kx / wsum, ky / wsum] as [number, number]),
    });
  }
  return out;
}

/** Maps a detection from tensor pixels to image pixels through `dstToSrc` (axis-aligned scale + shift). */
export function mapDetection(d: RawDetection, dstToSrc: Affine2x3): FaceDetection {
  const [bx0, by0] = applyAffine(dstToSrc, d.box.x, d.box.y);
  const [bx1, by1] = applyAffine(dstToSrc, d.box.x + d.box.width, d.box.y + d.box.height);
  return {
    box: { x: bx0, y: by0, width: bx1 - bx0, height: by1 - by0 },
    score: d.score,
    keypoints: d.keypoints.map(([x, y]) => applyAffine(dstToSrc, x, y)),
  };
}

/**
 * Throws MofaError('MODEL_INTEGRITY') when the session declares a static NHWC input shape
 * whose side differs from the variant's (e.g. the full-range model loaded as 'short').
 * Sessions without input metadata (older onnxruntime-web) are checked at the first run.
 */
function checkInputSize(session: OrtSession, size: number, variant: string): void {
  const meta = (session as { inputMetadata?: readonly { isTensor?: boolean; shape?: readonly (number | string)[] }[] }).inputMetadata;
  const shape = meta?.[0]?.isTensor ? meta[0].shape : undefined;
  if (shape && shape.length === 4 && typeof shape[1] === 'number' && (shape[1] !== size || shape[2] !== size)) {
    void session.release().catch(() => undefined);
    throw new MofaError('MODEL_INTEGRITY', `face detector input is ${shape.join('×')} but variant '${variant}' needs ${size}×${size}; pass the matching variant`);
  }
}

export class FaceDetector {
  readonly variant: 'short' | 'full';
  readonly minScore: number;
  readonly iouThreshold: number;
  private readonly ort: Ort;
  private session: OrtSession | null;
  private readonly anchors: Float32Array;
  private readonly cfg: AnchorConfig;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(ort: Ort, session: OrtSession, variant: 'short' | 'full', minScore: number, iouThreshold: number) {
    this.ort = ort;
    this.session = session;
    this.variant = variant;
    this.minScore = minScore;
    this.iouThreshold = iouThreshold;
    this.cfg = variant === 'full' ? FULL_RANGE : SHORT_RANGE;
    this.anchors = generateAnchors(this.cfg);
  }

  /**
   * Loads the model and creates the session.
   * Throws MofaError 'BAD_INPUT' (bad options), 'ASSET_LOAD' (URL fetch failed),
   * 'MODEL_INTEGRITY' (bytes not a loadable detector).
   */
  static async create(options: FaceDetectorOptions): Promise<FaceDetector> {
    const variant = options.variant ?? 'short';
    const minScore = options.minScore ?? 0.5;
    const iouThreshold = options.iouThreshold ?? 0.3;
    if (variant !== 'short' && variant !== 'full') throw new MofaError('BAD_INPUT', `variant must be 'short' or 'full', got ${variant}`);
    if (!(minScore >= 0 && minScore <= 1)) throw new MofaError('BAD_INPUT', `minScore must be in [0, 1], got ${minScore}`);
    if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new MofaError('BAD_INPUT', `iouThreshold must be in [0, 1], got ${iouThreshold}`);
    const ort = await resolveOrt(options.ort);
    const bytes = await loadModelBytes(options.model, 'face detector');
    const session = await createSession(ort, bytes, 'face detector', { inputs: 1, minOutputs: 2 });
    checkInputSize(session, (variant === 'full' ? FULL_RANGE : SHORT_RANGE).inputSize, variant);
    return new FaceDetector(ort, session, variant, minScore, iouThreshold);
  }

  /** Side of the square network input, px (128 short range, 192 full range). */
  get inputSize(): number {
    return this.cfg.inputSize;
  }

  /**
   * Detects faces. Returns detections in image px sorted by score (descending); empty when
   * no face scores ≥ minScore. Throws MofaError 'BAD_INPUT' for an invalid image,
   * 'MODEL_INTEGRITY' if the model's outputs do not match the variant's anchors,
   * 'CLOSED' after close().
   */
  detect(image: RgbaImage): Promise<FaceDetection[]> {
    const run = this.queue.then(() => this.detectNow(image));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async detectNow(image: RgbaImage): Promise<FaceDetection[]> {
    const session = this.session;
    if (!session) throw new MofaError('CLOSED', 'FaceDetector was closed; create a new one');
    assertRgbaImage(image);
    const S = this.cfg.inputSize;
    const dstToSrc = letterboxAffine(image.width, image.height, S);
    const input = warpAffineToTensor(image, dstToSrc, S, S, NORM_MINUS1_TO_1);
    const feeds = { [session.inputNames[0]]: new this.ort.Tensor('float32', input, [1, S, S, 3]) };
    const results = await session.run(feeds);
    const n = this.anchors.length / 2;
    let regressors: Float32Array | null = null;
    let logits: Float32Array | null = null;
    for (const name of session.outputNames) {
      const t = results[name];
      const data = t.data as Float32Array;
      if (data.length === n * REGRESSOR_STRIDE) regressors = data;
      else if (data.length === n) logits = data;
    }
    for (const name of session.outputNames) results[name].dispose?.();
    if (!regressors || !logits) {
      const shapes = session.outputNames.map((nm) => `${nm}[${results[nm].dims.join('×')}]`).join(', ');
      throw new MofaError(
        'MODEL_INTEGRITY',
        `face detector outputs ${shapes} do not match the '${this.variant}' variant (${n} anchors); pass the matching variant`,
      );
    }
    const raw = decodeDetections(regressors, logits, this.anchors, S, this.minScore);
    return weightedNms(raw, this.iouThreshold).map((d) => mapDetection(d, dstToSrc));
  }

  /** Releases the session. Calling it twice is harmless; later detect() calls reject with 'CLOSED'. */
  async close(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) {
      await this.queue;
      await s.release();
    }
  }
}
