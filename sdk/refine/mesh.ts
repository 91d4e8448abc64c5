/**
 * The refined T2 mesh as plain typed arrays under three.js attribute names (style.md "Meshes"):
 * the output of Refine (docs/design/refine.md §5).
 */
import { MofaError } from '../errors.js';
import { computeNormals } from '../model/normals.js';
import type { FaceModel } from '../types/face-model.js';
import { remapAttribute } from './remap.js';

export interface RefinedMesh {
  /** (N2, 3) vertex positions, mm, model frame (+x subject's left, +y up, +z toward the camera). */
  position: Float32Array;
  /** (N2, 3) unit area-weighted one-ring normals, model frame (outward). */
  normal: Float32Array;
  /** (N2, 3) albedo r (Eq. 3), linear RGB clamped to 0..1. */
  color: Float32Array;
  /** (N2, 2) texture coordinates 0..1, v up (MediaPipe canonical UV convention). */
  uv: Float32Array;
  /** (F2, 3) triangles, counter-clockwise seen from outside. */
  index: Uint32Array;
}

/**
 * Assembles the refined mesh.
 * @param model face model (T2 topology, uv and the map L).
 * @param result Refine output: `positions` (N2, 3) mm and optionally `normals` (N2, 3); normals
 *   are recomputed with computeNormals when omitted.
 * @param albedo (N1, 3) T1 albedo (remapped with L here) or (N2, 3) T2 albedo, linear RGB.
 * @returns new arrays; the inputs and the model are not modified or aliased.
 * @throws MofaError('BAD_INPUT') on sizes that match neither topology.
 */
export function toRefinedMesh(
  model: Pick<FaceModel, 't1' | 't2'>,
  result: { positions: Float32Array; normals?: Float32Array },
  albedo: Float32Array,
): RefinedMesh {
  const n2 = model.t2.vertexCount;
  if (result.positions.length !== 3 * n2) {
    throw new MofaError('BAD_INPUT', `positions has ${result.positions.length} values, expected (N2, 3) = ${3 * n2} for T2`);
  }
  if (result.normals && result.normals.length !== 3 * n2) {
    throw new MofaError('BAD_INPUT', `normals has ${result.normals.length} values, expected (N2, 3) = ${3 * n2} for T2`);
  }
  let color: Float32Array;
  if (albedo.length === 3 * n2) color = Float32Array.from(albedo);
  else if (albedo.length === 3 * model.t1.vertexCount) color = remapAttribute(albedo, 3, model.t2.fromT1);
  else throw new MofaError('BAD_INPUT', `albedo has ${albedo.length} values: pass (N1, 3) T1 or (N2, 3) T2 linear RGB`);
  for (let k = 0; k < color.length; k++) color[k] = Math.min(1, Math.max(0, color[k]));
  const index = Uint32Array.from(model.t2.index);
  const position = Float32Array.from(result.positions);
  const normal = result.normals ? Float32Array.from(result.normals) : computeNormals(position, index);
  return { position, normal, color, uv: Float32Array.from(model.t2.uv), index };
}
