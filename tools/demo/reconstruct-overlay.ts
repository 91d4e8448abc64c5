/**
 * Evidence image of `reconstruct()` at quality 'fast' (issue 5): for each portrait, a contact
 * sheet of [photo | shaded reconstruction rendered over the photo | 50 % blend | fitted model
 * landmarks (green) vs the landmarker's points (red)], rendered with the CPU renderer
 * (sdk/render) through the result's own camera (`pose.intrinsics`, original image px).
 *
 * Usage: tsx tools/demo/reconstruct-overlay.ts [image ...] [--out dir]
 * Defaults: demo/assets/astronaut.png, --out docs → docs/reconstruct-fast-<basename>.png.
 */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { readImage, writePng } from '../../sdk/node/image-io.js';
import { composeContactSheet, drawPoints, resizeBilinear, type RgbaImage } from '../../sdk/render/draw.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import { createReconstructor } from '../../sdk/reconstructor.js';

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
  const images: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out = argv[++i];
    else images.push(argv[i]);
  }
  if (images.length === 0) images.push('demo/assets/astronaut.png');
  mkdirSync(out, { recursive: true });
  const rec = await createReconstructor({ runIn: 'thread' });
  try {
    for (const file of images) {
      const photo = readImage(file);
      const res = await rec.reconstruct(photo);
      const f = res.faces[0];
      // The mesh is already in the camera frame: render it with R = I, t = 0 through the image camera.
      const r = renderMesh(
        { position: f.mesh.position, index: f.mesh.index, albedo: f.albedo, gamma: f.lighting.sh, rotation: [1, 0, 0, 0, 1, 0, 0, 0, 1], translation: [0, 0, 0], intrinsics: f.pose.intrinsics, normal: f.mesh.normal },
        { cullBackFaces: true, background: photo, encoding: 'srgb' },
      );
      const marks: RgbaImage = { data: Uint8ClampedArray.from(photo.data), width: photo.width, height: photo.height };
      const det = new Float32Array(468 * 2);
      for (let i = 0; i < 468; i++) det.set([f.detectedLandmarks[3 * i], f.detectedLandmarks[3 * i + 1]], 2 * i);
      drawPoints(marks, det, { color: [255, 40, 40], radius: 0 });
      drawPoints(marks, f.landmarks, { color: [40, 255, 40], radius: 0 });
      const d = res.diagnostics;
      const tiles = [photo, r.image, blend(photo, r.image, 0.5)].map((t) => zoom(t, f.faceBox, 1.8, 400));
      tiles.push(zoom(marks, f.faceBox, 1.8, 400));
      const sheet = composeContactSheet(tiles, {
        columns: 4,
        title: `reconstruct() quality 'fast' - ${basename(file)}: landmark median ${d.energies[0].landmarkMedianPx.toFixed(2)} crop px, lighting RMS ${d.energies[0].photometricRms.toFixed(3)}, total ${Math.round(d.stageMs.total ?? 0)} ms`,
        captions: ['photo (face region)', 'reconstruction: mean albedo, fitted SH light', '50 % blend', 'landmarks: fit (green) vs landmarker (red)'],
      });
      const path = join(out, `reconstruct-fast-${basename(file, extname(file))}.png`);
      writePng(path, sheet);
      console.log(JSON.stringify({ image: file, out: path, stageMs: d.stageMs, energies: d.energies[0], pose: { euler: f.pose.rotation.euler, translation: f.pose.translation } }));
    }
  } finally {
    await rec.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
