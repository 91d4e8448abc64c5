/**
 * Evidence image of `reconstruct()` (issue 5): for each portrait, a contact sheet of [photo |
 * shaded reconstruction rendered over the photo | 50 % blend | fitted model landmarks (green)
 * vs the landmarker's points (red) | geometry only (grey albedo, frontal light: shows the
 * shape, and for 'high' the refined detail)], rendered with the CPU renderer (sdk/render)
 * through the result's own camera (`pose.intrinsics`, original image px).
 *
 * Usage: tsx tools/demo/reconstruct-overlay.ts [image ...] [--out dir] [--quality fast|balanced|high] [--backend wasm|webgpu|auto]
 * Defaults: demo/assets/astronaut.png, --out docs, --quality fast, --backend auto →
 * docs/reconstruct-<quality>-<basename>.png.
 */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { readImage, writePng } from '../../sdk/node/image-io.js';
import { composeContactSheet, drawPoints, resizeBilinear, type RgbaImage } from '../../sdk/render/draw.js';
import { gammaFromLights } from '../../sdk/model/shading.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import { createReconstructor } from '../../sdk/reconstructor.js';
import type { ReconstructBackend, ReconstructQuality } from '../../sdk/types/reconstruct-options.js';

function blend(a: RgbaImage, b: RgbaImage, wb: number): RgbaImage {
  const data = new Uint8ClampedArray(a.data.length);
  for (let i = 0; i < data.length; i++) data[i] = (i & 3) === 3 ? 255 : (1 - wb) * a.data[i] + wb * b.data[i];
  return { data, width: a.width, height: a.height };
}

/** The square region around `box` (side `scale`× its longer side, clamped to the image), resized to `size` px. */
function zoom(img: RgbaImage, box: { x: number; y: number; width: number; height: number }, scale: number, size: number): RgbaImage {
  const side = Math.min(img.width, img.height, Math.round(scale * Math.max(box.width, box.height)));
  const x0 = Math.max(0, Math.min(img.width - side, Math.round(box.x + box.width / 2 - side / 2)));
  const y0 = Math.max(0, Math.min(img.height - side, Math.round(box.y + box.height / 2 - side / 2)));
  const data = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++) data.set(img.data.subarray(4 * ((y0 + y) * img.width + x0), 4 * ((y0 + y) * img.width + x0 + side)), 4 * y * side);
  return resizeBilinear({ data, width: side, height: side }, size, size);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let out = 'docs';
  let quality: ReconstructQuality = 'fast';
  let backend: ReconstructBackend = 'auto';
  const images: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out = argv[++i];
    else if (argv[i] === '--quality') quality = argv[++i] as ReconstructQuality;
    else if (argv[i] === '--backend') backend = argv[++i] as ReconstructBackend;
    else images.push(argv[i]);
  }
  if (images.length === 0) images.push('demo/assets/astronaut.png');
  mkdirSync(out, { recursive: true });
  const rec = await createReconstructor({ runIn: 'thread', backend, quality });
  try {
    for (const file of images) {
      const photo = readImage(file);
      const res = await rec.reconstruct(photo, { quality });
      const f = res.faces[0];
      // The mesh is already in the camera frame: render it with R = I, t = 0 through the image camera.
      const identity = { rotation: [1, 0, 0, 0, 1, 0, 0, 0, 1], translation: [0, 0, 0], intrinsics: f.pose.intrinsics };
      const r = renderMesh(
        { position: f.mesh.position, index: f.mesh.index, albedo: f.albedo, gamma: f.lighting.sh, normal: f.mesh.normal, ...identity },
        { cullBackFaces: true, background: photo, encoding: 'srgb' },
      );
      // Geometry only: grey albedo under one light from the upper left of the camera.
      const grey = new Float32Array(f.albedo.length).fill(0.6);
      const geometryLight = gammaFromLights([0.25, 0.25, 0.25], [{ direction: [-0.4, 0.5, 0.77], color: [0.75, 0.75, 0.75] }]);
      const geo = renderMesh(
        { position: f.mesh.position, index: f.mesh.index, albedo: grey, gamma: geometryLight, normal: f.mesh.normal, ...identity },
        { cullBackFaces: true, background: { data: new Uint8ClampedArray(photo.data.length), width: photo.width, height: photo.height }, encoding: 'srgb' },
      );
      const marks: RgbaImage = { data: Uint8ClampedArray.from(photo.data), width: photo.width, height: photo.height };
      const det = new Float32Array(468 * 2);
      for (let i = 0; i < 468; i++) det.set([f.detectedLandmarks[3 * i], f.detectedLandmarks[3 * i + 1]], 2 * i);
      drawPoints(marks, det, { color: [255, 40, 40], radius: 0 });
      drawPoints(marks, f.landmarks, { color: [40, 255, 40], radius: 0 });
      const d = res.diagnostics;
      const tiles = [photo, r.image, blend(photo, r.image, 0.5), marks, geo.image].map((t) => zoom(t, f.faceBox, 1.8, 400));
      const e = d.energies[0];
      const ms = (k: keyof typeof d.stageMs) => Math.round(d.stageMs[k] ?? 0);
      const detail =
        quality === 'fast'
          ? `landmark median ${e.landmarkMedianPx.toFixed(2)} crop px, lighting RMS ${e.photometricRms.toFixed(3)}`
          : `Opt E ${e.opt[0].toFixed(2)} -> ${e.opt.at(-1)!.toFixed(2)} (${ms('opt')} ms)` +
            (quality === 'high' ? `, Refine E ${e.refine[0].energy.toFixed(4)} -> ${e.refine.at(-1)!.energy.toFixed(4)} (${ms('refine')} ms), ${f.mesh.position.length / 3} vertices` : '');
      const sheet = composeContactSheet(tiles, {
        columns: 5,
        title: `reconstruct() quality '${quality}' (${d.backend}) - ${basename(file)}: ${detail}, total ${ms('total')} ms`,
        captions: [
          'photo (face region)',
          quality === 'fast' ? 'mean albedo, fitted SH light' : `fitted albedo + SH light (${f.mesh.topology})`,
          '50 % blend',
          'landmarks: fit (green) vs landmarker (red)',
          `geometry only (${f.mesh.topology}, grey, fixed light)`,
        ],
      });
      const path = join(out, `reconstruct-${quality}-${basename(file, extname(file))}.png`);
      writePng(path, sheet);
      console.log(JSON.stringify({ image: file, out: path, quality, backend: d.backend, stageMs: d.stageMs, energies: { ...e, refine: e.refine.length ? [e.refine[0], e.refine.at(-1)] : [] }, pose: { euler: f.pose.rotation.euler, translation: f.pose.translation } }));
    }
  } finally {
    await rec.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
