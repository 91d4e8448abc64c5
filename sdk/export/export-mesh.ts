/**
 * The mesh the exporters (sdk/export/obj.ts, sdk/export/gltf.ts) write, and the checks and
 * colour conversions they share. Pure TypeScript, no Node or DOM APIs: usable in the browser.
 *
 * A `FaceReconstruction` maps onto it directly (three.js attribute names, style.md):
 *   { name: 'face_0', ...face.mesh, color: face.albedo }
 */
import { MofaError } from '../errors.js';

/** One triangle mesh to export. Arrays are read, never modified. */
export interface ExportMesh {
  /** Object / mesh name in the file (letters, digits, `_`, `-`, `.`; others become `_`). Default `mesh_<i>`. */
  name?: string;
  /** (N, 3) vertex positions in whatever frame and unit the caller uses (reconstruct(): camera frame, mm). */
  position: ArrayLike<number>;
  /** (N, 3) unit vertex normals, same frame as `position`. Optional. */
  normal?: ArrayLike<number>;
  /** (N, 2) texture coordinates 0..1, v UP (origin at the bottom-left, OBJ convention; reconstruct()'s `mesh.uv`). Optional. */
  uv?: ArrayLike<number>;
  /** (F, 3) triangle vertex indices (0-based), counter-clockwise seen from the front. */
  index: ArrayLike<number>;
  /** (N, 3) per-vertex colour, LINEAR RGB nominally 0..1 (reconstruct()'s `albedo`). Optional. */
  color?: ArrayLike<number>;
}

/** Vertex and triangle counts of a checked mesh. */
export interface MeshCounts {
  vertices: number;
  triangles: number;
}

/**
 * Checks array lengths, finiteness of positions and the index range of one mesh.
 * @throws MofaError('BAD_INPUT') saying which array is wrong.
 */
export function checkExportMesh(mesh: ExportMesh, label = 'mesh'): MeshCounts {
  const n = mesh.position.length / 3;
  if (!Number.isInteger(n) || n === 0) throw new MofaError('BAD_INPUT', `${label}.position has ${mesh.position.length} numbers: pass (N, 3) xyz triples, N ≥ 1`);
  const f = mesh.index.length / 3;
  if (!Number.isInteger(f) || f === 0) throw new MofaError('BAD_INPUT', `${label}.index has ${mesh.index.length} entries: pass (F, 3) triangle indices, F ≥ 1`);
  const expect = (arr: ArrayLike<number> | undefined, per: number, what: string): void => {
    if (arr !== undefined && arr.length !== per * n) throw new MofaError('BAD_INPUT', `${label}.${what} has ${arr.length} numbers, expected ${per}·${n} = ${per * n} (one per vertex)`);
  };
  expect(mesh.normal, 3, 'normal');
  expect(mesh.uv, 2, 'uv');
  expect(mesh.color, 3, 'color');
  for (let i = 0; i < mesh.position.length; i++) {
    if (!Number.isFinite(mesh.position[i])) throw new MofaError('BAD_INPUT', `${label}.position[${i}] is ${mesh.position[i]}: positions must be finite`);
  }
  for (let i = 0; i < mesh.index.length; i++) {
    const k = mesh.index[i];
    if (!Number.isInteger(k) || k < 0 || k >= n) throw new MofaError('BAD_INPUT', `${label}.index[${i}] = ${k} is not a vertex index in 0..${n - 1}`);
  }
  return { vertices: n, triangles: f };
}

/** A name safe for OBJ `o` lines and glTF names: `[A-Za-z0-9_.-]`, others replaced by `_`. */
export function safeName(name: string | undefined, i: number): string {
  const s = (name ?? '').replace(/[^A-Za-z0-9_.-]/g, '_');
  return s.length > 0 ? s : `mesh_${i}`;
}

/** Clamps to 0..1 (NaN → 0). */
export function clamp01(v: number): number {
  return v > 0 ? (v < 1 ? v : 1) : 0;
}

/**
 * sRGB transfer function (IEC 61966-2-1) of a linear value, after clamping it to 0..1:
 * 12.92·c for c ≤ 0.0031308, else 1.055·c^(1/2.4) − 0.055. Result 0..1.
 */
export function linearToSrgb(c: number): number {
  const x = clamp01(c);
  return x <= 0.0031308 ? 12.92 * x : 1.055 * Math.pow(x, 1 / 2.4) - 0.055;
}
