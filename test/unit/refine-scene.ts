/**
 * Synthetic Refine scene for test/unit/refine*.test.ts: the mean face on T2 (via L) with a
 * known fine displacement along the coarse normals (horizontal forehead ridges + cheek / chin
 * bumps), rendered by the CPU renderer with known albedo, light and pose. Refine starts from the
 * coarse (undisplaced) surface; the detail-band error is measured along the coarse normals.
 */
import { rotationMatrix, type CameraIntrinsics } from '../../sdk/model/camera.js';
import { computeNormals } from '../../sdk/model/normals.js';
import { gammaFromLights } from '../../sdk/model/shading.js';
import type { LinearImage } from '../../sdk/opt/backend.js';
import { linearImageFromRgba } from '../../sdk/opt/image.js';
import type { RefineProblem } from '../../sdk/refine/reference.js';
import { remapAttribute } from '../../sdk/refine/remap.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import type { FaceModel } from '../../sdk/types/face-model.js';

const DEG = Math.PI / 180;

export interface DetailScene {
  problem: RefineProblem;
  /** (N2, 3) coarse T2 positions (L · mean shape), mm. */
  coarse: Float32Array;
  /** (N2, 3) coarse T2 unit normals. */
  coarseNormal: Float32Array;
  /** (N2) true detail height h_i along the coarse normal, mm. */
  height: Float32Array;
  /** (N2) detail-region weight 0..1 (1 inside the ridge / bump patches). */
  region: Float32Array;
  /** (N2, 3) true positions coarse + h · n. */
  truth: Float32Array;
  /** The rendered target, sRGB RGBA8 (for looking at). */
  rgba: { data: Uint8ClampedArray; width: number; height: number };
  image: LinearImage;
  intrinsics: CameraIntrinsics;
  R: Float64Array;
  t: number[];
  gamma: Float64Array;
  albedoT2: Float32Array;
}

/** Cosine taper: 1 for |s| ≤ 1 − w, 0 for |s| ≥ 1, smooth in between. */
function taper(s: number, w = 0.35): number {
  const a = Math.abs(s);
  if (a >= 1) return 0;
  if (a <= 1 - w) return 1;
  return 0.5 + 0.5 * Math.cos((Math.PI * (a - (1 - w))) / w);
}

/**
 * Detail height field (mm) on the mean face's model frame:
 * - forehead ridges: A·sin(2π y / λ), A = 0.6 mm, λ = 7 mm, in |x| < 40, 38 < y < 70 mm;
 * - four Gaussian bumps (σ = 2.5 mm, 0.8 mm high) on the cheeks and chin.
 * @returns [height, region weight].
 */
export function detailHeight(x: number, y: number, z: number): [number, number] {
  let h = 0, r = 0;
  if (z > 30) {
    const wf = taper(x / 40) * taper((y - 54) / 16);
    h += wf * 0.6 * Math.sin((2 * Math.PI * y) / 7);
    r = Math.max(r, wf);
  }
  const bumps: [number, number][] = [[-38, -8], [38, -8], [-30, -22], [0, -60]];
  for (const [bx, by] of bumps) {
    const d2 = (x - bx) ** 2 + (y - by) ** 2;
    if (d2 < 100 && z > 20) {
      h += 0.8 * Math.exp(-d2 / (2 * 2.5 * 2.5));
      r = Math.max(r, taper(Math.sqrt(d2) / 8));
    }
  }
  return [h, r];
}

/**
 * Builds the scene. `size` px square crop, focal scaled with it (f = size · 1000/240), so the
 * face covers the same field of view as the default 240×240 crop.
 */
export function detailScene(model: FaceModel, size = 240): DetailScene {
  const coarse = remapAttribute(model.t1.meanShape, 3, model.t2.fromT1);
  const albedoT2 = remapAttribute(model.albedoMean, 3, model.t2.fromT1);
  const coarseNormal = computeNormals(coarse, model.t2.index);
  const n = model.t2.vertexCount;
  const height = new Float32Array(n), region = new Float32Array(n), truth = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const [h, r] = detailHeight(coarse[3 * i], coarse[3 * i + 1], coarse[3 * i + 2]);
    height[i] = h; region[i] = r;
    for (let a = 0; a < 3; a++) truth[3 * i + a] = coarse[3 * i + a] + h * coarseNormal[3 * i + a];
  }
  const intrinsics: CameraIntrinsics = { focalPx: (size * 1000) / 240, cx: size / 2, cy: size / 2, width: size, height: size };
  const R = rotationMatrix([6 * DEG, -8 * DEG, 1 * DEG]);
  const t = [0, 8, -900];
  const gamma = gammaFromLights([0.35, 0.33, 0.32], [{ direction: [-0.35, 0.6, 0.72], color: [0.75, 0.72, 0.7] }]);
  const render = renderMesh({ position: truth, index: model.t2.index, albedo: albedoT2, gamma, rotation: R, translation: t, intrinsics },
    { encoding: 'srgb', background: [96, 104, 112, 255], cullBackFaces: true });
  const image = linearImageFromRgba(render.image.data, size, size);
  return {
    problem: { model, positionT1: model.t1.meanShape, albedoT1: model.albedoMean, R, t, gamma, intrinsics, image },
    coarse, coarseNormal, height, region, truth, rgba: render.image, image, intrinsics, R, t, gamma, albedoT2,
  };
}

/** Detail-band errors of refined positions against the truth, over vertices with region ≥ 0.9. */
export interface DetailError {
  /** RMS of (v − v_true)·n_coarse, mm. */
  rmsNormal: number;
  /** The same after subtracting the low-frequency part (the error smoothed by 20 one-ring averaging passes). */
  rmsBand: number;
  /** Pearson correlation of the recovered height (v − v_coarse)·n_coarse with the true height. */
  correlation: number;
  count: number;
}

export function detailError(model: FaceModel, scene: DetailScene, positions: ArrayLike<number>): DetailError {
  const n = model.t2.vertexCount;
  const { offsets, neighbors } = model.t2.adjacency;
  const e = new Float64Array(n), rec = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0, q = 0;
    for (let a = 0; a < 3; a++) {
      s += (positions[3 * i + a] - scene.truth[3 * i + a]) * scene.coarseNormal[3 * i + a];
      q += (positions[3 * i + a] - scene.coarse[3 * i + a]) * scene.coarseNormal[3 * i + a];
    }
    e[i] = s; rec[i] = q;
  }
  let low = Float64Array.from(e);
  for (let it = 0; it < 20; it++) {
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let acc = low[i];
      for (let k = offsets[i]; k < offsets[i + 1]; k++) acc += low[neighbors[k]];
      next[i] = acc / (1 + offsets[i + 1] - offsets[i]);
    }
    low = next;
  }
  let se = 0, sb = 0, c = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    if (scene.region[i] < 0.9) continue;
    c++;
    se += e[i] * e[i];
    sb += (e[i] - low[i]) ** 2;
    const x = rec[i], y = scene.height[i];
    sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
  }
  const cov = sxy / c - (sx / c) * (sy / c);
  const vx = sxx / c - (sx / c) ** 2, vy = syy / c - (sy / c) ** 2;
  return { rmsNormal: Math.sqrt(se / c), rmsBand: Math.sqrt(sb / c), correlation: vx > 0 ? cov / Math.sqrt(vx * vy) : 0, count: c };
}

/** Outward triangle normals of (F, 3) triangles. */
export function faceNormals(p: ArrayLike<number>, index: Uint32Array): Float64Array {
  const out = new Float64Array(index.length);
  for (let f = 0; f < index.length; f += 3) {
    const a = 3 * index[f], b = 3 * index[f + 1], c = 3 * index[f + 2];
    const ux = p[b] - p[a], uy = p[b + 1] - p[a + 1], uz = p[b + 2] - p[a + 2];
    const vx = p[c] - p[a], vy = p[c + 1] - p[a + 1], vz = p[c + 2] - p[a + 2];
    out[f] = uy * vz - uz * vy; out[f + 1] = uz * vx - ux * vz; out[f + 2] = ux * vy - uy * vx;
  }
  return out;
}

/** Triangles whose refined normal points against the coarse one (dot ≤ 0). */
export function flippedTriangles(coarse: ArrayLike<number>, refined: ArrayLike<number>, index: Uint32Array): number {
  const a = faceNormals(coarse, index), b = faceNormals(refined, index);
  let flips = 0;
  for (let f = 0; f < index.length; f += 3) if (a[f] * b[f] + a[f + 1] * b[f + 1] + a[f + 2] * b[f + 2] <= 0) flips++;
  return flips;
}
