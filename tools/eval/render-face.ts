/**
 * Preview rendering of face-model instances for the evaluation figures: decode (Eq. 2, 3),
 * shade (Eq. 4) and project (Eq. 5) with the CPU reference renderer.
 */
import { computeAlbedo, computeShape } from '../../sdk/model/decode.js';
import { rotationMatrix } from '../../sdk/model/camera.js';
import { computeNormals } from '../../sdk/model/normals.js';
import { gammaFromLights } from '../../sdk/model/shading.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import type { RgbaImage } from '../../sdk/render/draw.js';
import type { FaceModel } from '../../sdk/types/face-model.js';

/** Studio lighting (camera frame): ambient 0.35 plus a key light 0.75 from the upper left, slightly in front. */
export const KEY_LIGHT_GAMMA = gammaFromLights([0.35, 0.35, 0.35], [{ direction: [-0.5, 0.55, 0.67], color: [0.75, 0.75, 0.75] }]);

export interface FaceRenderOptions {
  alpha?: ArrayLike<number>;
  beta?: ArrayLike<number>;
  delta?: ArrayLike<number>;
  /** Head rotation [pitch, yaw, roll], radians (default frontal). */
  euler?: [number, number, number];
  /** Square tile side, px (default 192). */
  size?: number;
  /** Illumination code (default KEY_LIGHT_GAMMA). */
  gamma?: ArrayLike<number>;
  /** Tile background RGBA (default dark grey). */
  background?: [number, number, number, number];
}

/** Framing from the mean shape: bounding-box centre (mm) and the largest x/y extent (mm). */
function framing(model: FaceModel): { centre: [number, number, number]; extent: number } {
  const v = model.t1.meanShape;
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < v.length; i += 3) for (let a = 0; a < 3; a++) { lo[a] = Math.min(lo[a], v[i + a]); hi[a] = Math.max(hi[a], v[i + a]); }
  return { centre: [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2], extent: Math.max(hi[0] - lo[0], hi[1] - lo[1]) };
}

/**
 * Renders one face (T1 mesh) with a perspective camera 900 mm away, framed so the mean face's
 * bounding box fills ~85 % of the tile, sRGB-encoded.
 */
export function renderFace(model: FaceModel, opts: FaceRenderOptions = {}): RgbaImage {
  const size = opts.size ?? 192;
  const zeros = (n: number) => new Float64Array(n);
  const position = computeShape(model, opts.alpha ?? zeros(model.shapeDim), opts.delta ?? zeros(model.expressionDim));
  const albedo = computeAlbedo(model, opts.beta ?? zeros(model.albedoDim));
  const R = rotationMatrix(opts.euler ?? [0, 0, 0]);
  const { centre, extent } = framing(model);
  const d = 900;
  const rc = [0, 1, 2].map((a) => R[3 * a] * centre[0] + R[3 * a + 1] * centre[1] + R[3 * a + 2] * centre[2]);
  const out = renderMesh(
    {
      position,
      index: model.t1.index,
      albedo,
      normal: computeNormals(position, model.t1.index),
      gamma: opts.gamma ?? KEY_LIGHT_GAMMA,
      rotation: R,
      translation: [-rc[0], -rc[1], -d - rc[2]],
      intrinsics: { focalPx: (0.85 * size * d) / extent, cx: size / 2, cy: size / 2, width: size, height: size },
    },
    { encoding: 'srgb', background: opts.background ?? [24, 24, 28, 255] },
  );
  return out.image;
}
