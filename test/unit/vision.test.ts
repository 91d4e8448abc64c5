/**
 * Vision front end: pure functions (affine maps, warp, anchors, decoding, weighted NMS,
 * ROI construction, similarity fit) and, when the ONNX models are built, end-to-end checks
 * on the two public-domain demo portraits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { MofaError } from '../../sdk/errors.js';
import { readImage } from '../../sdk/node/image-io.js';
import {
  type Affine2x3,
  type RgbaImage,
  applyAffine,
  composeAffine,
  invertAffine,
  letterboxAffine,
  roiAffine,
  warpAffineToTensor,
} from '../../sdk/vision/image.js';
import {
  FULL_RANGE,
  SHORT_RANGE,
  FaceDetector,
  decodeDetections,
  generateAnchors,
  iou,
  sigmoidClipped,
  weightedNms,
  type RawDetection,
} from '../../sdk/vision/face-detector.js';
import { FaceLandmarker, projectLandmarks, roiFromDetection, roiFromLandmarks } from '../../sdk/vision/face-landmarker.js';
import { applySimilarity, fitCanonicalToLandmarks, fitSimilarity, landmarkToFitFrame } from '../../sdk/vision/similarity.js';
import type { FaceDetection, FaceLandmarks } from '../../sdk/vision/types.js';
import { mulberry32 } from '../../sdk/util/random.js';

const canonical = JSON.parse(readFileSync('test/fixtures/canonical468.json', 'utf8')) as { vertices: number[]; faces: number[] };

const rng = mulberry32;

function expectAffineClose(a: Affine2x3, b: Affine2x3, eps = 1e-9): void {
  for (let i = 0; i < 6; i++) expect(a[i]).toBeCloseTo(b[i], -Math.log10(eps));
}

/** Rotation of a 3-vector set by the unit quaternion (w, x, y, z) as a row-major 3×3. */
function quatToMatrix(w: number, x: number, y: number, z: number): number[] {
  const n = Math.hypot(w, x, y, z);
  [w, x, y, z] = [w / n, x / n, y / n, z / n];
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  ];
}

describe('affine maps', () => {
  it('invertAffine round-trips rotated ROI maps and points', () => {
    const m = roiAffine({ center: [123.4, 56.7], size: 150, rotation: 0.6 }, 192);
    const inv = invertAffine(m);
    expectAffineClose(composeAffine(m, inv), [1, 0, 0, 0, 1, 0]);
    expectAffineClose(composeAffine(inv, m), [1, 0, 0, 0, 1, 0]);
    const [x, y] = applyAffine(inv, ...applyAffine(m, 17.25, 180.5));
    expect(x).toBeCloseTo(17.25, 9);
    expect(y).toBeCloseTo(180.5, 9);
  });

  it('roiAffine puts the tensor centre on the ROI centre and its +x axis along the rotation', () => {
    const roi = { center: [100, 200] as [number, number], size: 96, rotation: Math.PI / 6 };
    const m = roiAffine(roi, 192);
    expect(applyAffine(m, 96, 96)).toEqual([expect.closeTo(100, 9), expect.closeTo(200, 9)]);
    const [x1, y1] = applyAffine(m, 192, 96); // right edge midpoint: centre + (size/2)·(cos θ, sin θ)
    expect(x1).toBeCloseTo(100 + 48 * Math.cos(Math.PI / 6), 9);
    expect(y1).toBeCloseTo(200 + 48 * Math.sin(Math.PI / 6), 9);
    const [x2, y2] = applyAffine(m, 96, 192); // bottom midpoint: centre + (size/2)·(−sin θ, cos θ)
    expect(x2).toBeCloseTo(100 - 48 * Math.sin(Math.PI / 6), 9);
    expect(y2).toBeCloseTo(200 + 48 * Math.cos(Math.PI / 6), 9);
  });

  it('letterboxAffine pads the short side symmetrically', () => {
    const m = letterboxAffine(400, 300, 128); // S = 400, vertical padding 50 px each side
    expect(applyAffine(m, 0, 0)).toEqual([0, -50]);
    expect(applyAffine(m, 128, 128)).toEqual([400, 350]);
  });

  it('warpAffineToTensor samples pixel centres exactly and reads black outside the image', () => {
    const W = 5;
    const H = 4;
    const data = new Uint8ClampedArray(W * H * 4);
    for (let i = 0; i < W * H; i++) data.set([i * 10, 255 - i * 10, i, 255], 4 * i);
    const img: RgbaImage = { data, width: W, height: H };
    const t = warpAffineToTensor(img, [1, 0, 0, 0, 1, 0], W, H, { scale: 1, offset: 0 });
    for (let i = 0; i < W * H; i++) expect([t[3 * i], t[3 * i + 1], t[3 * i + 2]]).toEqual([i * 10, 255 - i * 10, i]);
    // Shift by one pixel to the left: column 0 now reads x ∈ [−1, 0): outside → black → −1 after [−1, 1] normalisation.
    const s = warpAffineToTensor(img, [1, 0, -1, 0, 1, 0], W, H, { scale: 2 / 255, offset: -1 });
    expect(s[0]).toBe(-1);
    expect(s[3]).toBeCloseTo(-1, 9); // column 1 reads pixel 0 whose red is 0
    expect(s[3 * 2]).toBeCloseTo((2 / 255) * 10 - 1, 6);
  });

  it('warpAffineToTensor area-averages when shrinking (2× and 4× box filters)', () => {
    const W = 8;
    const data = new Uint8ClampedArray(W * W * 4);
    for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) data.set([(x + y) % 2 ? 200 : 0, 0, 0, 255], 4 * (y * W + x));
    const t = warpAffineToTensor({ data, width: W, height: W }, [2, 0, 0, 0, 2, 0], 4, 4, { scale: 1, offset: 0 });
    for (let i = 0; i < 16; i++) expect(t[3 * i]).toBeCloseTo(100, 6);
    // 4× shrink of a grid with one bright pixel per 4×4 cell: the box mean is 200/16; a single
    // bilinear tap at each cell centre would read 0.
    const V = 16;
    const g = new Uint8ClampedArray(V * V * 4);
    for (let y = 0; y < V; y++) for (let x = 0; x < V; x++) g.set([x % 4 === 0 && y % 4 === 0 ? 200 : 0, 0, 0, 255], 4 * (y * V + x));
    const u = warpAffineToTensor({ data: g, width: V, height: V }, [4, 0, 0, 0, 4, 0], 4, 4, { scale: 1, offset: 0 });
    for (let i = 0; i < 16; i++) expect(u[3 * i]).toBeCloseTo(200 / 16, 6);
  });
});

describe('detector decoding', () => {
  it('short-range anchors: 896 = 16·16·2 + 8·8·6, centres at (i + 0.5)/grid', () => {
    const a = generateAnchors(SHORT_RANGE);
    expect(a.length / 2).toBe(896);
    expect([a[0], a[1], a[2], a[3]]).toEqual([0.5 / 16, 0.5 / 16, 0.5 / 16, 0.5 / 16]);
    expect([a[2 * 2], a[2 * 2 + 1]]).toEqual([1.5 / 16, 0.5 / 16]); // next cell to the right
    expect([a[2 * 511], a[2 * 511 + 1]]).toEqual([15.5 / 16, 15.5 / 16]);
    for (let k = 512; k < 518; k++) expect([a[2 * k], a[2 * k + 1]]).toEqual([0.5 / 8, 0.5 / 8]);
    expect([a[2 * 895], a[2 * 895 + 1]]).toEqual([7.5 / 8, 7.5 / 8]);
  });

  it('full-range anchors: 2304 = 48·48', () => {
    const a = generateAnchors(FULL_RANGE);
    expect(a.length / 2).toBe(2304);
    expect([a[2 * 49], a[2 * 49 + 1]]).toEqual([1.5 / 48, 1.5 / 48]);
  });

  it('decodes an anchor-relative box and keypoints and applies the score threshold', () => {
    const anchors = generateAnchors(SHORT_RANGE);
    const n = anchors.length / 2;
    const reg = new Float32Array(n * 16);
    const logits = new Float32Array(n).fill(-10);
    const k = 600; // a stride-16 anchor
    logits[k] = 2;
    reg.set([3, -4, 20, 30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 16 * k);
    const dets = decodeDetections(reg, logits, anchors, 128, 0.5);
    expect(dets).toHaveLength(1);
    const ax = anchors[2 * k] * 128;
    const ay = anchors[2 * k + 1] * 128;
    expect(dets[0].box.x).toBeCloseTo(ax + 3 - 10, 5);
    expect(dets[0].box.y).toBeCloseTo(ay - 4 - 15, 5);
    expect(dets[0].box.width).toBe(20);
    expect(dets[0].keypoints[5]).toEqual([ax + 11, ay + 12]);
    expect(dets[0].score).toBeCloseTo(1 / (1 + Math.exp(-2)), 9);
    expect(sigmoidClipped(1e6)).toBe(1 / (1 + Math.exp(-100)));
  });

  it('weighted NMS merges overlapping detections by score and keeps separate faces', () => {
    const kp = (x: number): [number, number][] => Array.from({ length: 6 }, () => [x, x] as [number, number]);
    const a: RawDetection = { box: { x: 10, y: 10, width: 40, height: 40 }, score: 0.9, keypoints: kp(20) };
    const b: RawDetection = { box: { x: 14, y: 10, width: 40, height: 40 }, score: 0.6, keypoints: kp(30) };
    const c: RawDetection = { box: { x: 100, y: 100, width: 30, height: 30 }, score: 0.7, keypoints: kp(110) };
    expect(iou(a.box, b.box)).toBeGreaterThan(0.3);
    const out = weightedNms([b, c, a], 0.3);
    expect(out).toHaveLength(2);
    expect(out[0].score).toBe(0.9);
    expect(out[0].box.x).toBeCloseTo((0.9 * 10 + 0.6 * 14) / 1.5, 9);
    expect(out[0].box.width).toBeCloseTo(40, 9);
    expect(out[0].keypoints[0][0]).toBeCloseTo((0.9 * 20 + 0.6 * 30) / 1.5, 9);
    expect(out[1]).toEqual(c);
    expect(a.box.x).toBe(10); // inputs untouched
  });
});

describe('landmark ROI', () => {
  it('roiFromDetection: 1.5 × the box, rotated so the eyes are level', () => {
    const det: FaceDetection = {
      box: { x: 100, y: 50, width: 80, height: 100 },
      score: 0.9,
      keypoints: [[120, 80], [160, 100], [0, 0], [0, 0], [0, 0], [0, 0]],
    };
    const roi = roiFromDetection(det);
    expect(roi.center).toEqual([140, 100]);
    expect(roi.size).toBe(150);
    expect(roi.rotation).toBeCloseTo(Math.atan2(20, 40), 12);
  });

  it('roiFromLandmarks recovers the frame of rotated points, and projectLandmarks maps ROI px to image px', () => {
    const roi = { center: [300, 200] as [number, number], size: 240, rotation: -0.4 };
    const m = roiAffine(roi, 192);
    // Points filling [32, 160]² of the ROI tensor (2/3 of it: 1/1.5), eye corners level.
    const raw = new Float32Array(468 * 3);
    const r = rng(1);
    for (let i = 0; i < 468; i++) raw.set([32 + 128 * r(), 32 + 128 * r(), 10 * (r() - 0.5)], 3 * i);
    raw.set([32, 96, 0], 0);
    raw.set([160, 160, 0], 3);
    raw.set([50, 70, 0], 3 * 33);
    raw.set([150, 70, 0], 3 * 263);
    const pts = projectLandmarks(raw, m);
    expect(pts[3 * 33]).toBeCloseTo(applyAffine(m, 50, 70)[0], 4);
    expect(pts[3 * 5 + 2]).toBeCloseTo(raw[3 * 5 + 2] * (240 / 192), 4);
    const back = roiFromLandmarks(pts);
    expect(back.rotation).toBeCloseTo(roi.rotation, 5);
    expect(back.size).toBeLessThanOrEqual(roi.size + 1e-3);
    expect(back.size).toBeGreaterThan(roi.size * 0.95);
  });
});

describe('similarity fit', () => {
  it('recovers a known scale, rotation and translation exactly', () => {
    const r = rng(7);
    const src = canonical.vertices.slice(0, 468 * 3);
    const R = quatToMatrix(0.9, 0.2, -0.3, 0.1);
    const known = { scale: 1.7, rotation: Float64Array.from(R), translation: Float64Array.from([250, -120, 40]) };
    const dst = applySimilarity(known, src);
    const fit = fitSimilarity(src, dst);
    expect(fit.scale).toBeCloseTo(1.7, 9);
    for (let i = 0; i < 9; i++) expect(fit.rotation[i]).toBeCloseTo(R[i], 9);
    for (let i = 0; i < 3; i++) expect(fit.translation[i]).toBeCloseTo(known.translation[i], 6);
    expect(fit.rms).toBeLessThan(1e-6);
    // With noise the residual RMS matches the noise level (σ√3 per point for isotropic σ).
    const noisy = dst.map((v) => v + (r() - 0.5) * 2 * Math.sqrt(3)); // uniform ±√3: σ = 1 per axis
    const f2 = fitSimilarity(src, noisy);
    expect(f2.scale).toBeCloseTo(1.7, 2);
    expect(f2.rms).toBeGreaterThan(1.5);
    expect(f2.rms).toBeLessThan(1.9);
  });

  it('weights select the points that matter', () => {
    const src = canonical.vertices.slice(0, 468 * 3);
    const dst = applySimilarity({ scale: 2, rotation: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), translation: Float64Array.from([5, 6, 7]) }, src);
    const w = new Float64Array(468).fill(1);
    for (let k = 0; k < 3; k++) dst[3 * 10 + k] += 50; // one outlier
    w[10] = 0;
    const fit = fitSimilarity(src, dst, w);
    expect(fit.scale).toBeCloseTo(2, 9);
    expect(fit.rms).toBeLessThan(1e-6);
    expect(fit.residuals[10]).toBeCloseTo(50 * Math.sqrt(3), 6);
  });

  it('fitCanonicalToLandmarks handles the image-frame reflection (y down, z away)', () => {
    // Synthetic landmarks: canonical mesh at 0.8 px/mm, posed frontally in the image frame.
    const v = canonical.vertices;
    const pts = new Float32Array(468 * 3);
    for (let i = 0; i < 468; i++) pts.set([200 + 0.8 * v[3 * i], 150 - 0.8 * v[3 * i + 1], -0.8 * v[3 * i + 2]], 3 * i);
    const res = fitCanonicalToLandmarks(v, pts);
    expect(res.fit.scale).toBeCloseTo(0.8, 6);
    expect(res.rmsPctIod).toBeLessThan(1e-4);
    expect(res.fittedPoints[3 * 33 + 1]).toBeCloseTo(pts[3 * 33 + 1], 3);
    expect(Array.from(landmarkToFitFrame(landmarkToFitFrame(pts)))).toEqual(Array.from(pts));
  });
});

// ---------------------------------------------------------------------------------------
// End to end on the demo portraits (needs models/*.onnx from `npm run build:onnx`).

const MODELS = ['models/face_detector_short.onnx', 'models/face_detector_full.onnx', 'models/face_landmarker.onnx'];
const haveModels = MODELS.every((p) => existsSync(p));
/** Similarity residual limit, RMS in % of the inter-ocular distance. Measured (short-range
 * detector, 2 landmark passes): astronaut 6.40 %, grace_hopper 5.58 %; limit set with margin. */
const MAX_RMS_PCT_IOD = 8;

describe.skipIf(!haveModels)('detector + landmarker on the demo portraits', () => {
  let detector: FaceDetector;
  let landmarker: FaceLandmarker;
  const results = new Map<string, { image: RgbaImage; dets: FaceDetection[]; lm: FaceLandmarks }>();

  beforeAll(async () => {
    detector = await FaceDetector.create({ model: readFileSync(MODELS[0]) });
    landmarker = await FaceLandmarker.create({ model: MODELS[2] });
    for (const name of ['astronaut.png', 'grace_hopper.jpg']) {
      const image = readImage(`demo/assets/${name}`);
      const dets = await detector.detect(image);
      const lm = await landmarker.landmarks(image, dets[0]);
      results.set(name, { image, dets, lm });
    }
  }, 30_000);

  afterAll(async () => {
    await detector?.close();
    await landmarker?.close();
  });

  for (const name of ['astronaut.png', 'grace_hopper.jpg']) {
    it(`${name}: one face, eyes in the box, 468 landmarks on the face, canonical mesh fits`, () => {
      const { dets, lm } = results.get(name)!;
      expect(dets).toHaveLength(1);
      const { box, score, keypoints } = dets[0];
      expect(score).toBeGreaterThan(0.7);
      for (const k of [0, 1]) {
        expect(keypoints[k][0]).toBeGreaterThan(box.x);
        expect(keypoints[k][0]).toBeLessThan(box.x + box.width);
        expect(keypoints[k][1]).toBeGreaterThan(box.y);
        expect(keypoints[k][1]).toBeLessThan(box.y + box.height);
      }
      expect(keypoints[0][0]).toBeLessThan(keypoints[1][0]); // subject's right eye is image left
      expect(lm.presence).toBeGreaterThan(0.5);
      expect(lm.points).toHaveLength(468 * 3);
      // Landmarks cover forehead to chin: allow 25 % of the box beyond each side.
      const mx = 0.25 * box.width;
      const my = 0.25 * box.height;
      for (let i = 0; i < 468; i++) {
        expect(lm.points[3 * i]).toBeGreaterThan(box.x - mx);
        expect(lm.points[3 * i]).toBeLessThan(box.x + box.width + mx);
        expect(lm.points[3 * i + 1]).toBeGreaterThan(box.y - my);
        expect(lm.points[3 * i + 1]).toBeLessThan(box.y + box.height + my);
      }
      // Landmark eye corners agree with the detector's eye keypoints (within 20 % IOD).
      const eyeMid = (a: number, b: number) => [(lm.points[3 * a] + lm.points[3 * b]) / 2, (lm.points[3 * a + 1] + lm.points[3 * b + 1]) / 2];
      const fit = fitCanonicalToLandmarks(canonical.vertices, lm.points);
      const [rx, ry] = eyeMid(33, 133);
      expect(Math.hypot(rx - keypoints[0][0], ry - keypoints[0][1])).toBeLessThan(0.2 * fit.iodPx);
      // Documented z sign: smaller = closer; the nose tip (1) is in front of the cheek/ear points (234, 454).
      expect(lm.points[3 * 1 + 2]).toBeLessThan(lm.points[3 * 234 + 2]);
      expect(lm.points[3 * 1 + 2]).toBeLessThan(lm.points[3 * 454 + 2]);
      expect(fit.rmsPctIod).toBeLessThan(MAX_RMS_PCT_IOD);
    });
  }

  it('landmarks follow an in-plane rotation of the image (rotated ROI)', async () => {
    const { image, lm } = results.get('grace_hopper.jpg')!;
    // Rotate by 30° about the image centre onto a canvas of the same size.
    const theta = (30 * Math.PI) / 180;
    const cx = image.width / 2;
    const cy = image.height / 2;
    const c = Math.cos(theta);
    const s = Math.sin(theta);
    // rotated → original map (inverse rotation about the centre).
    const dstToSrc: Affine2x3 = [c, s, cx - c * cx - s * cy, -s, c, cy + s * cx - c * cy];
    const f = warpAffineToTensor(image, dstToSrc, image.width, image.height, { scale: 1, offset: 0 });
    const data = new Uint8ClampedArray(image.width * image.height * 4);
    for (let i = 0; i < image.width * image.height; i++) data.set([f[3 * i], f[3 * i + 1], f[3 * i + 2], 255], 4 * i);
    const rotated = { data, width: image.width, height: image.height };
    const dets = await detector.detect(rotated);
    expect(dets.length).toBeGreaterThanOrEqual(1);
    const lr = await landmarker.landmarks(rotated, dets[0]);
    expect(lr.roi.rotation).toBeCloseTo(lm.roi.rotation + theta, 1);
    let err = 0;
    for (let i = 0; i < 468; i++) {
      const [x, y] = applyAffine(dstToSrc, lr.points[3 * i], lr.points[3 * i + 1]);
      err += Math.hypot(x - lm.points[3 * i], y - lm.points[3 * i + 1]);
    }
    const iodPx = Math.hypot(lm.points[99] - lm.points[789], lm.points[100] - lm.points[790]);
    // Measured 0.92 % (2 passes); an axis-aligned ROI gives 10 %, one pass 1.4 %.
    expect((100 * err) / 468 / iodPx).toBeLessThan(2); // mean landmark disagreement < 2 % IOD
  });

  it('rejects invalid images with BAD_INPUT and reports closed instances', async () => {
    const empty = { data: new Uint8ClampedArray(0), width: 0, height: 0 };
    await expect(detector.detect(empty)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const det = results.get('astronaut.png')!.dets[0];
    await expect(landmarker.landmarks(empty, det)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(detector.detect({ data: new Uint8ClampedArray(10), width: 4, height: 4 })).rejects.toBeInstanceOf(MofaError);
  });
});

describe.skipIf(!haveModels)('model loading errors', () => {
  it('MODEL_INTEGRITY for bytes that are not an ONNX model, and for the wrong variant', async () => {
    await expect(FaceDetector.create({ model: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) })).rejects.toMatchObject({ code: 'MODEL_INTEGRITY' });
    const truncated = readFileSync(MODELS[2]).subarray(0, 5000);
    await expect(FaceLandmarker.create({ model: truncated })).rejects.toMatchObject({ code: 'MODEL_INTEGRITY' });
    await expect(FaceDetector.create({ model: readFileSync(MODELS[1]), variant: 'short' })).rejects.toMatchObject({ code: 'MODEL_INTEGRITY' });
  });

  it('ASSET_LOAD for a missing file or unreachable URL; CLOSED after close()', async () => {
    await expect(FaceDetector.create({ model: 'models/does-not-exist.onnx' })).rejects.toMatchObject({ code: 'ASSET_LOAD' });
    await expect(FaceDetector.create({ model: 'http://127.0.0.1:9/none.onnx' })).rejects.toMatchObject({ code: 'ASSET_LOAD' });
    const d = await FaceDetector.create({ model: MODELS[1], variant: 'full' });
    await d.close();
    await d.close(); // harmless twice
    const img = { data: new Uint8ClampedArray(16 * 16 * 4), width: 16, height: 16 };
    await expect(d.detect(img)).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
