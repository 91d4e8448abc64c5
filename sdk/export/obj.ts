/**
 * Wavefront OBJ export of triangle meshes (pure TypeScript, browser and Node).
 *
 * What is written, per mesh (`o <name>`), with 1-based indices global over the file:
 * - `v x y z r g b` — position in the caller's frame and unit, unchanged (reconstruct(): camera
 *   frame, mm; 4 decimals), followed by the vertex colour when `color` is given. OBJ vertex
 *   colours are a de-facto extension (MeshLab, Blender, CloudCompare read them) and viewers
 *   treat them as display colours, so the LINEAR `color` (albedo) is clamped to 0..1 and
 *   encoded with the sRGB transfer function (IEC 61966-2-1) before writing (4 decimals). To get
 *   linear albedo back, apply the inverse sRGB curve, or use the glTF export (linear COLOR_0).
 * - `vt u v` — when `uv` is given, as is (OBJ's v-up convention, same as `mesh.uv`).
 * - `vn x y z` — when `normal` is given.
 * - `f a/a/a b/b/b c/c/c` — one line per triangle, same winding as `index` (counter-clockwise
 *   seen from the front); `a//a` without uv, `a/a` without normals, `a` with neither.
 */
import { checkExportMesh, linearToSrgb, safeName, type ExportMesh } from './export-mesh.js';

/** Options of `encodeObj`. */
export interface ObjOptions {
  /** Comment lines written at the top (each prefixed with `# `; newlines split lines). Default none. */
  comment?: string;
}

/**
 * Encodes one or more meshes as OBJ text.
 * @returns the file contents (ASCII, `\n` line ends).
 * @throws MofaError('BAD_INPUT') for inconsistent arrays (see `checkExportMesh`).
 */
export function encodeObj(meshes: ExportMesh | ExportMesh[], options: ObjOptions = {}): string {
  const list = Array.isArray(meshes) ? meshes : [meshes];
  const counts = list.map((m, i) => checkExportMesh(m, `meshes[${i}]`));
  const lines: string[] = [];
  if (options.comment) for (const c of options.comment.split('\n')) lines.push(`# ${c}`);
  if (list.some((m) => m.color)) lines.push('# vertex colours: v x y z r g b, r g b = sRGB-encoded (IEC 61966-2-1) linear albedo clamped to 0..1');
  let base = 1; // OBJ indices are 1-based and shared by v, vt, vn (one vt / vn per v here)
  list.forEach((m, i) => {
    const n = counts[i].vertices;
    lines.push(`o ${safeName(m.name, i)}`);
    const p = m.position, c = m.color;
    for (let k = 0; k < n; k++) {
      const xyz = `v ${p[3 * k].toFixed(4)} ${p[3 * k + 1].toFixed(4)} ${p[3 * k + 2].toFixed(4)}`;
      lines.push(c ? `${xyz} ${linearToSrgb(c[3 * k]).toFixed(4)} ${linearToSrgb(c[3 * k + 1]).toFixed(4)} ${linearToSrgb(c[3 * k + 2]).toFixed(4)}` : xyz);
    }
    if (m.uv) {
      const t = m.uv;
      for (let k = 0; k < n; k++) lines.push(`vt ${t[2 * k].toFixed(6)} ${t[2 * k + 1].toFixed(6)}`);
    }
    if (m.normal) {
      const q = m.normal;
      for (let k = 0; k < n; k++) lines.push(`vn ${q[3 * k].toFixed(5)} ${q[3 * k + 1].toFixed(5)} ${q[3 * k + 2].toFixed(5)}`);
    }
    const ref = m.uv && m.normal ? (j: number) => `${j}/${j}/${j}` : m.uv ? (j: number) => `${j}/${j}` : m.normal ? (j: number) => `${j}//${j}` : (j: number) => `${j}`;
    const idx = m.index;
    for (let f = 0; f < idx.length; f += 3) lines.push(`f ${ref(idx[f] + base)} ${ref(idx[f + 1] + base)} ${ref(idx[f + 2] + base)}`);
    base += n;
  });
  lines.push('');
  return lines.join('\n');
}
