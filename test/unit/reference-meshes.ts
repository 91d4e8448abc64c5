/** Synthetic meshes for the reference-math and renderer tests. */
import { mulberry32 } from '../../sdk/util/random.js';

/** Unit icosphere: `subdivisions` rounds of 1→4 midpoint subdivision, vertices on the unit sphere,
 * triangles counter-clockwise seen from outside. */
export function icosphere(subdivisions: number): { position: Float32Array; index: Uint32Array } {
  const t = (1 + Math.sqrt(5)) / 2;
  const verts: number[][] = [
    [-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0],
    [0, -1, t], [0, 1, t], [0, -1, -t], [0, 1, -t],
    [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1],
  ].map(([x, y, z]) => {
    const l = Math.hypot(x, y, z);
    return [x / l, y / l, z / l];
  });
  let faces: number[][] = [
    [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
    [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
    [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
    [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
  ];
  for (let s = 0; s < subdivisions; s++) {
    const cache = new Map<string, number>();
    const mid = (a: number, b: number): number => {
      const key = a < b ? `${a},${b}` : `${b},${a}`;
      let m = cache.get(key);
      if (m === undefined) {
        const p = verts[a].map((v, k) => v + verts[b][k]);
        const l = Math.hypot(p[0], p[1], p[2]);
        m = verts.push([p[0] / l, p[1] / l, p[2] / l]) - 1;
        cache.set(key, m);
      }
      return m;
    };
    const next: number[][] = [];
    for (const [a, b, c] of faces) {
      const ab = mid(a, b), bc = mid(b, c), ca = mid(c, a);
      next.push([a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]);
    }
    faces = next;
  }
  return { position: Float32Array.from(verts.flat()), index: Uint32Array.from(faces.flat()) };
}

/** Deterministic PRNG (mulberry32) returning floats in [0, 1). */
export const rng = mulberry32;
