/**
 * Before/after figures of the synthetic Refine scene (test/unit/refine-scene.ts) for
 * docs/refine/: run with `npx tsx tools/refine/figures.ts` after `npm run build:wasm`.
 * - synthetic-shaded.png: input image | coarse (start) | refined | truth, geometry-only shading
 *   (grey albedo, raking light from the upper left) at 2× the crop resolution.
 * - synthetic-height.png: true detail height | recovered height (along the coarse normals),
 *   colour-coded −1..+1 mm (blue → white → red).
 */
import { readFileSync } from 'node:fs';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import { gammaFromLights } from '../../sdk/model/shading.js';
import { writePng } from '../../sdk/node/image-io.js';
import { composeContactSheet, resizeBilinear } from '../../sdk/render/draw.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import { WasmRefineBackend } from '../../sdk/wasm/refine-backend.js';
import { detailError, detailScene } from '../../test/unit/refine-scene.js';

const model = await loadFaceModel('models/mofa-face-v1.mofa');
const scene = detailScene(model);
const be = await WasmRefineBackend.create(readFileSync('build/wasm/mofa.wasm'));
await be.setProblem(scene.problem);
const res = await be.run();
be.destroy();
const before = detailError(model, scene, scene.coarse);
const after = detailError(model, scene, res.positions);
console.log(`normal RMS ${before.rmsNormal.toFixed(3)} → ${after.rmsNormal.toFixed(3)} mm, band ${before.rmsBand.toFixed(3)} → ${after.rmsBand.toFixed(3)} mm, corr ${after.correlation.toFixed(3)}, ${res.ms.toFixed(0)} ms`);

const size = 480;
const intrinsics = { focalPx: (size * 1000) / 240, cx: size / 2, cy: size / 2 - 60, width: size, height: size };
const n = model.t2.vertexCount;
const grey = new Float32Array(3 * n).fill(0.7);
const raking = gammaFromLights([0.15, 0.15, 0.15], [{ direction: [-0.5, 0.75, 0.45], color: [0.9, 0.9, 0.9] }]);
const shaded = (position: Float32Array) => renderMesh({ position, index: model.t2.index, albedo: grey, gamma: raking, rotation: scene.R, translation: scene.t, intrinsics },
  { encoding: 'srgb', background: [40, 40, 48, 255], cullBackFaces: true }).image;
const input = resizeBilinear(scene.rgba, 480, 480);
writePng('docs/refine/synthetic-shaded.png', composeContactSheet([input, shaded(scene.coarse), shaded(res.positions), shaded(scene.truth)], {
  columns: 4, captionScale: 2,
  captions: ['input image 240px', 'coarse (start)', `refined 250 it`, 'ground truth'],
  title: `Refine, synthetic detail: normal-error RMS ${before.rmsNormal.toFixed(2)} -> ${after.rmsNormal.toFixed(2)} mm, corr ${after.correlation.toFixed(3)}`,
}));

const heightColor = (h: ArrayLike<number>) => {
  const c = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const s = Math.max(-1, Math.min(1, h[i]));
    c[3 * i] = s > 0 ? 1 : 1 + s; c[3 * i + 1] = 1 - Math.abs(s); c[3 * i + 2] = s < 0 ? 1 : 1 - s;
  }
  return c;
};
const recovered = new Float32Array(n);
for (let i = 0; i < n; i++) {
  let q = 0;
  for (let a = 0; a < 3; a++) q += (res.positions[3 * i + a] - scene.coarse[3 * i + a]) * scene.coarseNormal[3 * i + a];
  recovered[i] = q;
}
const flat = gammaFromLights([1, 1, 1]);
const colored = (h: ArrayLike<number>) => renderMesh({ position: scene.coarse, index: model.t2.index, albedo: heightColor(h), gamma: flat, rotation: scene.R, translation: scene.t, intrinsics },
  { encoding: 'srgb', background: [40, 40, 48, 255], cullBackFaces: true }).image;
writePng('docs/refine/synthetic-height.png', composeContactSheet([colored(scene.height), colored(recovered)], {
  columns: 2, captionScale: 2, captions: ['true detail height', 'recovered (refined - coarse)'],
  title: 'height along the coarse normal, -1 mm blue .. +1 mm red',
}));
