/**
 * Per-vertex normals from a one-ring neighbourhood (paper Sec. 4: "vertex normals … computed
 * using a local one-ring neighborhood").
 *
 * Orientation: a triangle (a, b, c) whose vertices run counter-clockwise when seen from outside
 * the surface has the face normal (b − a) × (c − a) pointing outward (right-hand rule). The
 * face-model meshes (MeshTopology.index) use this winding, so the normals point out of the face
 * (toward the camera for a frontal face, +z in the model frame).
 */
import { MofaError } from '../errors.js';

/**
 * Area-weighted vertex normals: n_i = normalize(Σ_{f ∋ i} (b_f − a_f) × (c_f − a_f)); the cross
 * product's length is twice the triangle area, so larger triangles weigh more.
 * @param position (N, 3) vertex positions (any unit, any right-handed frame).
 * @param index (F, 3) triangle vertex indices, counter-clockwise seen from outside.
 * @returns (N, 3) unit normals in the frame of `position`; a vertex that belongs to no
 *   non-degenerate triangle gets the zero vector (0, 0, 0).
 * @throws MofaError('BAD_INPUT') if an index is out of range or the lengths are not multiples of 3.
 */
export function computeNormals(position: Float32Array, index: Uint32Array): Float32Array {
  if (position.length % 3 !== 0 || index.length % 3 !== 0) {
    throw new MofaError('BAD_INPUT', `position (${position.length}) and index (${index.length}) lengths must be multiples of 3`);
  }
  const n = position.length / 3;
  const acc = new Float64Array(position.length);
  for (let f = 0; f < index.length; f += 3) {
    const ia = index[f], ib = index[f + 1], ic = index[f + 2];
    if (ia >= n || ib >= n || ic >= n) {
      throw new MofaError('BAD_INPUT', `triangle ${f / 3} references vertex ${Math.max(ia, ib, ic)} but the mesh has ${n} vertices`);
    }
    const a = 3 * ia, b = 3 * ib, c = 3 * ic;
    const ax = position[a], ay = position[a + 1], az = position[a + 2];
    const ux = position[b] - ax, uy = position[b + 1] - ay, uz = position[b + 2] - az;
    const vx = position[c] - ax, vy = position[c + 1] - ay, vz = position[c + 2] - az;
    const nx = uy * vz - uz * vy;
    const ny = uz * vx - ux * vz;
    const nz = ux * vy - uy * vx;
    acc[a] += nx; acc[a + 1] += ny; acc[a + 2] += nz;
    acc[b] += nx; acc[b + 1] += ny; acc[b + 2] += nz;
    acc[c] += nx; acc[c + 1] += ny; acc[c + 2] += nz;
  }
  const out = new Float32Array(position.length);
  for (let i = 0; i < position.length; i += 3) {
    const x = acc[i], y = acc[i + 1], z = acc[i + 2];
    const len = Math.sqrt(x * x + y * y + z * z);
    if (len > 0) {
      out[i] = x / len;
      out[i + 1] = y / len;
      out[i + 2] = z / len;
    }
  }
  return out;
}
