/**
 * The full per-vertex image formation of Eq. (5) on the CPU, followed by rasterisation:
 *   u_i = Π ∘ Φ(V_i),   c_i = C(r_i, R n_i, γ)                                     (Eq. 5)
 * A reference / preview renderer; the GPU path reproduces the same math.
 */
import type { CameraIntrinsics } from '../model/camera.js';
import { project, rotateVectors, toCamera } from '../model/camera.js';
import { computeNormals } from '../model/normals.js';
import { shade } from '../model/shading.js';
import type { RasterOptions, RasterResult } from './rasterize.js';
import { rasterize } from './rasterize.js';

export interface MeshRenderInput {
  /** (N, 3) vertex positions, mm, model frame (e.g. computeShape). */
  position: Float32Array;
  /** (F, 3) triangles, counter-clockwise seen from outside. */
  index: Uint32Array;
  /** (N, 3) albedo r_i, linear RGB 0..1 (e.g. computeAlbedo). */
  albedo: Float32Array;
  /** (27) SH illumination code, layout gamma[9·c + b] (see shading.ts; the ambient offset is added there). */
  gamma: ArrayLike<number>;
  /** Row-major 3×3 rotation R of Φ (p_cam = R·v + t), e.g. rotationMatrix([pitch, yaw, roll]). */
  rotation: ArrayLike<number>;
  /** (3) translation t of Φ, mm, camera frame (t_z < 0 puts the face in front of the camera). */
  translation: ArrayLike<number>;
  /** Pinhole intrinsics; the raster has intrinsics.width × intrinsics.height pixels. */
  intrinsics: CameraIntrinsics;
  /** (N, 3) model-frame unit normals; computed with computeNormals(position, index) when omitted. */
  normal?: Float32Array;
}

export interface MeshRenderResult extends RasterResult {
  /** (N, 2) projected vertices, px, image frame. */
  screen: Float32Array;
  /** (N) vertex depth, mm in front of the camera. */
  vertexDepth: Float32Array;
  /** (N, 3) shaded vertex colours c_i, linear RGB (unclamped). */
  vertexColor: Float32Array;
}

/** Shades (Eq. 4) and projects (Eq. 5) every vertex, then rasterises the mesh with a z-buffer. */
export function renderMesh(input: MeshRenderInput, options: RasterOptions = {}): MeshRenderResult {
  const normal = input.normal ?? computeNormals(input.position, input.index);
  const camNormal = rotateVectors(normal, input.rotation);
  const vertexColor = shade(input.albedo, camNormal, input.gamma);
  const cam = toCamera(input.position, input.rotation, input.translation);
  const { screen, depth } = project(cam, input.intrinsics);
  const raster = rasterize(
    { width: input.intrinsics.width, height: input.intrinsics.height, screen, depth, index: input.index, color: vertexColor },
    options,
  );
  return { ...raster, screen, vertexDepth: depth, vertexColor };
}
