/** Forward model, vertex selection and energy of the reference residuals (sdk/opt/residuals.ts). */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INTRINSICS, rotationMatrix } from '../../sdk/model/camera.js';
import { CODE_OFFSET, codeSlices } from '../../sdk/model/code-layout.js';
import { computeAlbedo } from '../../sdk/model/decode.js';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import type { OptProblem } from '../../sdk/opt/backend.js';
import { energyReference, linearizeReference } from '../../sdk/opt/reference-backend.js';
import {
  decodeGeometry, irlsScales, sampleVertices, selectPhotometricVertices, VertexState, vertexForward, visibleVertices,
} from '../../sdk/opt/residuals.js';
import { defaultOptWeights } from '../../sdk/opt/weights.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { sceneProblem, syntheticScene, type SyntheticScene } from './opt-scene.js';

describe('Opt residuals: forward model and vertex selection', () => {
  let model: FaceModel;
  let scene: SyntheticScene;
  let problem: OptProblem;
  beforeAll(async () => {
    model = await loadFaceModel('models/mofa-face-v1.mofa');
    scene = syntheticScene(model);
    problem = sceneProblem(model, scene, defaultOptWeights, 1000);
  });

  it('vertexForward reproduces the renderer\'s projection and shading (Eq. 3–5)', () => {
    const s = codeSlices(Float64Array.from(scene.xTrue));
    const ref = renderMesh({
      position: scene.shape, index: model.t1.index, albedo: computeAlbedo(model, s.beta), gamma: s.gamma,
      rotation: rotationMatrix(s.rotation), translation: s.translation, intrinsics: DEFAULT_INTRINSICS,
    });
    const geo = decodeGeometry(problem, scene.xTrue);
    const st = new VertexState();
    for (const i of [0, 1, 4, 152, 1000, 5000, 7151]) {
      expect(vertexForward(problem, geo, i, st)).toBe(true);
      expect(st.u).toBeCloseTo(ref.screen[2 * i], 3);
      expect(st.v).toBeCloseTo(ref.screen[2 * i + 1], 3);
      for (let c = 0; c < 3; c++) expect(st.color[c]).toBeCloseTo(ref.vertexColor[3 * i + c], 5);
    }
  });

  it('sampleVertices is deterministic in (seed, iteration), a sorted subset, and differs per iteration', () => {
    const ff = model.frontFace;
    const a = sampleVertices(ff, 500, 1, 0), b = sampleVertices(ff, 500, 1, 0), c = sampleVertices(ff, 500, 1, 1);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(new Set(a).size).toBe(500);
    const inFront = new Set(ff);
    for (let k = 0; k < a.length; k++) {
      expect(inFront.has(a[k])).toBe(true);
      if (k > 0) expect(a[k]).toBeGreaterThan(a[k - 1]);
    }
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(sampleVertices(ff, 0, 1, 0)).toHaveLength(ff.length);
  });

  it('z-buffer visibility is a subset of front-facing visibility that drops occluded vertices', () => {
    // turn the head 40° so that the nose occludes part of the far cheek
    const x = Float64Array.from(scene.xTrue);
    x[CODE_OFFSET.rotation + 1] = 0.7;
    const geo = decodeGeometry(problem, x);
    const ff = model.frontFace;
    const front = visibleVertices(problem, geo, ff);
    const zb = visibleVertices({ ...problem, visibility: 'zbuffer' }, geo, ff);
    let nFront = 0, nZ = 0;
    for (let k = 0; k < ff.length; k++) {
      nFront += front[k]; nZ += zb[k];
      if (zb[k]) expect(front[k]).toBe(1);
    }
    expect(nZ).toBeLessThan(nFront);
    expect(nZ).toBeGreaterThan(0.5 * nFront);
  });

  it('IRLS energy at the linearisation point equals w_photo · mean ‖c − I‖ where ‖c − I‖ ≥ 0.02 (Eq. 8, 11)', () => {
    const x = Float64Array.from(scene.xTrue);
    x[CODE_OFFSET.translation] += 6; // 6 mm shift: most residuals above the IRLS clamp
    const geo = decodeGeometry(problem, x);
    const set = irlsScales(problem, geo, selectPhotometricVertices(problem, geo, 0));
    const st = new VertexState();
    let expected = 0;
    for (const i of set.vertex) {
      vertexForward(problem, geo, i, st);
      const n = Math.hypot(st.e[0], st.e[1], st.e[2]);
      expected += n >= 0.02 ? n : (n * n) / 0.02;
    }
    expected *= problem.weights.photo / set.vertex.length;
    expect(energyReference(problem, set, x).photo).toBeCloseTo(expected, 10);
  });

  it('a trial code with the face behind the camera has infinite energy; linearising there is BAD_INPUT', () => {
    const lin = linearizeReference(problem, scene.xTrue, 0);
    const behind = Float64Array.from(scene.xTrue);
    behind[CODE_OFFSET.translation + 2] = 900;
    expect(energyReference(problem, lin.set, behind).total).toBe(Infinity);
    expect(() => linearizeReference(problem, behind, 0)).toThrow(/behind the camera/);
  });
});
