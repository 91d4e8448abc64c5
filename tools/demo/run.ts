/**
 * The project's main demo (`npm start`): face detection → 468 landmarks → similarity fit of
 * the canonical face mesh, on portraits, with an overlay PNG per image and one JSON line per
 * image on stdout.
 *
 * Usage: tsx tools/demo/run.ts [image ...] [--out dir] [--variant short|full] [--passes 1|2]
 * Defaults: demo/assets/astronaut.png demo/assets/grace_hopper.jpg, --out docs,
 * --variant short, --passes 2. Writes <out>/overlay-<image basename>.png.
 *
 * Overlay: red = detection box, yellow = the 6 detector keypoints, magenta = landmark ROI,
 * green dots = 468 landmarks, cyan = wireframe of the canonical mesh after the similarity
 * fit, projected orthographically into the image.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { MofaError } from '../../sdk/errors.js';
import { readImage, writePng } from '../../sdk/node/image-io.js';
import { FaceDetector } from '../../sdk/vision/face-detector.js';
import { FaceLandmarker } from '../../sdk/vision/face-landmarker.js';
import { fitCanonicalToLandmarks } from '../../sdk/vision/similarity.js';
import { drawLine, drawPoints } from '../../sdk/render/draw.js';
import { cloneImage, drawRect, drawRotatedSquare, triangleEdges } from './draw.js';

const BUNDLE = 'models/mofa-face-v1.mofa';
const CANONICAL_FIXTURE = 'test/fixtures/canonical468.json';

interface Args {
  images: string[];
  out: string;
  variant: 'short' | 'full';
  passes: 1 | 2;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { images: [], out: 'docs', variant: 'short', passes: 2 };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === '--out') a.out = argv[++i];
    else if (s === '--variant') a.variant = argv[++i] as Args['variant'];
    else if (s === '--passes') a.passes = Number(argv[++i]) as Args['passes'];
    else if (s.startsWith('--')) throw new MofaError('BAD_INPUT', `unknown option ${s}; usage: [image ...] [--out dir] [--variant short|full] [--passes 1|2]`);
    else a.images.push(s);
  }
  if (a.images.length === 0) a.images = ['demo/assets/astronaut.png', 'demo/assets/grace_hopper.jpg'];
  if (!a.out) throw new MofaError('BAD_INPUT', '--out needs a directory');
  return a;
}

/** Canonical mesh (mm, model frame) + triangles: from the face-model bundle when built, else the test fixture. */
async function loadCanonical(): Promise<{ vertices: Float32Array; index: Uint32Array; source: string }> {
  if (existsSync(BUNDLE)) {
    const { loadFaceModel } = await import('../../sdk/model/load-face-model.js');
    const model = await loadFaceModel(BUNDLE);
    console.error(`face model ${BUNDLE}: version ${model.version}, format ${model.formatVersion}, sha256 ${model.sha256}`);
    // Only triangles among the 468 landmark vertices: the fit uses those, and they are what the landmarker sees.
    const tri: number[] = [];
    const idx = model.t1.index;
    for (let f = 0; f < idx.length; f += 3) if (idx[f] < 468 && idx[f + 1] < 468 && idx[f + 2] < 468) tri.push(idx[f], idx[f + 1], idx[f + 2]);
    return { vertices: model.t1.meanShape.slice(0, 468 * 3), index: Uint32Array.from(tri), source: `${BUNDLE} t1.meanShape (v${model.version})` };
  }
  console.error(`face model ${BUNDLE} not built yet (npm run build:model); using the MediaPipe canonical mesh from ${CANONICAL_FIXTURE}`);
  const j = JSON.parse(readFileSync(CANONICAL_FIXTURE, 'utf8')) as { vertices: number[]; faces: number[] };
  return { vertices: Float32Array.from(j.vertices), index: Uint32Array.from(j.faces), source: CANONICAL_FIXTURE };
}

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const canonical = await loadCanonical();
  const edges = triangleEdges(canonical.index);

  let t = performance.now();
  const detector = await FaceDetector.create({ model: `models/face_detector_${args.variant}.onnx`, variant: args.variant });
  const landmarker = await FaceLandmarker.create({ model: 'models/face_landmarker.onnx', passes: args.passes });
  console.error(`sessions created in ${round(performance.now() - t)} ms (detector ${args.variant}, landmarker ${args.passes} pass(es))`);
  // Warm-up on a grey frame so the per-image timings below are steady state (the first
  // session.run compiles/allocates inside the wasm runtime).
  t = performance.now();
  const grey = { data: new Uint8ClampedArray(256 * 256 * 4).fill(128), width: 256, height: 256 };
  await detector.detect(grey);
  await landmarker.landmarks(grey, { box: { x: 64, y: 64, width: 128, height: 128 }, score: 1, keypoints: [[100, 110], [156, 110]] });
  console.error(`warm-up ${round(performance.now() - t)} ms`);

  try {
    for (const path of args.images) {
      const timings: Record<string, number> = {};
      t = performance.now();
      const image = readImage(path);
      timings.decode = round(performance.now() - t);

      t = performance.now();
      const detections = await detector.detect(image);
      timings.detect = round(performance.now() - t);

      const overlay = cloneImage(image);
      const line: Record<string, unknown> = {
        image: path,
        width: image.width,
        height: image.height,
        detector: args.variant,
        detections: detections.map((d) => ({
          score: round(d.score, 4),
          box: { x: round(d.box.x), y: round(d.box.y), width: round(d.box.width), height: round(d.box.height) },
        })),
      };
      for (const d of detections) {
        drawRect(overlay, d.box, [255, 40, 40, 255]);
        drawPoints(overlay, d.keypoints.flat(), { radius: 3, color: [255, 220, 0, 255] });
      }
      if (detections.length > 0) {
        t = performance.now();
        const lm = await landmarker.landmarks(image, detections[0]);
        timings.landmarks = round(performance.now() - t);

        t = performance.now();
        const fit = fitCanonicalToLandmarks(canonical.vertices, lm.points);
        timings.fit = round(performance.now() - t);

        drawRotatedSquare(overlay, lm.roi, [255, 0, 255, 204]);
        const fp = fit.fittedPoints;
        for (let e = 0; e < edges.length; e += 2) {
          const a = edges[e];
          const b = edges[e + 1];
          drawLine(overlay, fp[3 * a], fp[3 * a + 1], fp[3 * b], fp[3 * b + 1], [0, 200, 255, 89]);
        }
        const r = Math.max(1, Math.min(2.5, fit.iodPx / 60));
        drawPoints(overlay, Float32Array.from({ length: 2 * 468 }, (_, k) => lm.points[3 * (k >> 1) + (k & 1)]), { radius: r * 0.6, color: [40, 255, 40, 255] });

        line.landmarker = {
          passes: landmarker.passes,
          presence: round(lm.presence, 4),
          roi: { center: lm.roi.center.map((v) => round(v)), size: round(lm.roi.size), rotationDeg: round((lm.roi.rotation * 180) / Math.PI, 2) },
        };
        line.similarity = {
          canonical: canonical.source,
          iodPx: round(fit.iodPx),
          scalePxPerMm: round(fit.fit.scale, 4),
          rmsPctIod: round(fit.rmsPctIod, 2),
          medianPctIod: round(fit.medianPctIod, 2),
        };
      }
      const outPath = join(args.out, `overlay-${basename(path, extname(path))}.png`);
      writePng(outPath, overlay);
      line.overlay = outPath;
      line.timingsMs = timings;
      console.log(JSON.stringify(line));
    }
  } finally {
    await detector.close();
    await landmarker.close();
  }
}

main().catch((e) => {
  console.error(e instanceof MofaError ? `MofaError ${e.code}: ${e.message}` : e);
  process.exitCode = 1;
});
