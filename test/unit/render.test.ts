import { describe, expect, it } from 'vitest';
import { rasterize, visibleVertices } from '../../sdk/render/rasterize.js';
import { composeContactSheet, createImage, drawPoints, drawSegments, drawText, measureText } from '../../sdk/render/draw.js';
import { renderMesh } from '../../sdk/render/render-mesh.js';
import { rotationMatrix } from '../../sdk/model/camera.js';
import { SH_AMBIENT_OFFSET } from '../../sdk/model/shading.js';
import { icosphere, rng } from './reference-meshes.js';

/** Per-pixel count of triangles covering each pixel, rendering each triangle on its own. */
function coverageCount(W: number, H: number, screen: Float32Array, index: Uint32Array): Uint16Array {
  const count = new Uint16Array(W * H);
  const depth = new Float32Array(screen.length / 2).fill(1);
  for (let f = 0; f < index.length; f += 3) {
    const { triangleId } = rasterize({ width: W, height: H, screen, depth, index: index.subarray(f, f + 3) });
    for (let p = 0; p < W * H; p++) if (triangleId[p] >= 0) count[p]++;
  }
  return count;
}

/** A (n+1)² vertex grid over [x0, x1]², triangulated with alternating diagonals. */
function grid(n: number, x0: number, x1: number, jitter: (i: number, j: number) => [number, number]) {
  const pos: number[] = [];
  for (let i = 0; i <= n; i++) for (let j = 0; j <= n; j++) {
    const inner = i > 0 && i < n && j > 0 && j < n;
    const [dx, dy] = inner ? jitter(i, j) : [0, 0];
    pos.push(x0 + ((x1 - x0) * j) / n + dx, x0 + ((x1 - x0) * i) / n + dy);
  }
  const idx: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const a = i * (n + 1) + j, b = a + 1, c = a + n + 1, d = c + 1;
    if ((i + j) % 2) idx.push(a, c, b, b, c, d);
    else idx.push(a, c, d, a, d, b);
  }
  return { screen: Float32Array.from(pos), index: Uint32Array.from(idx) };
}

describe('rasterize: top-left fill rule', () => {
  it('two triangles sharing an edge through pixel centres cover every pixel exactly once', () => {
    // Square [2.5, 12.5]² split along the diagonal; edges run exactly through pixel centres.
    const screen = Float32Array.of(2.5, 2.5, 12.5, 2.5, 12.5, 12.5, 2.5, 12.5);
    const index = Uint32Array.of(0, 3, 2, 0, 2, 1);
    const count = coverageCount(16, 16, screen, index);
    for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) {
      // pixel centre (j + .5, i + .5) inside [2.5, 12.5)² under the top-left rule ⇔ 2 ≤ j, i ≤ 11
      const inside = j >= 2 && j <= 11 && i >= 2 && i <= 11;
      expect(count[i * 16 + j]).toBe(inside ? 1 : 0);
    }
    // and both windings give the same coverage
    const flipped = Uint32Array.of(0, 2, 3, 0, 1, 2);
    expect(Array.from(coverageCount(16, 16, screen, flipped))).toEqual(Array.from(count));
  });

  it('a jittered mesh (integer, half-integer and random vertices) has no gaps or double hits', () => {
    const r = rng(7);
    for (const mode of ['half', 'int', 'random'] as const) {
      const { screen, index } = grid(8, 4, 36, () =>
        mode === 'random' ? [(r() - 0.5) * 3, (r() - 0.5) * 3] : mode === 'half' ? [0.5, 0.5] : [1, -1]);
      const count = coverageCount(40, 40, screen, index);
      for (let i = 0; i < 40; i++) for (let j = 0; j < 40; j++) {
        const inside = j >= 4 && j <= 35 && i >= 4 && i <= 35; // outer square [4, 36)²
        expect(count[i * 40 + j], `${mode} pixel ${j},${i}`).toBe(inside ? 1 : 0);
      }
    }
  });
});

describe('rasterize: depth, culling, interpolation', () => {
  const screen = Float32Array.of(0, 0, 20, 0, 0, 20, 20, 20, -10, 10, 10, -10);
  const index = Uint32Array.of(0, 2, 1, 3, 4, 5); // two triangles overlapping in the middle
  const color = Float32Array.of(1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1);

  it('the z-test keeps the nearer triangle whatever the draw order', () => {
    for (const [dA, dB, winner] of [[5, 10, 0], [10, 5, 1]] as const) {
      const depth = Float32Array.of(dA, dA, dA, dB, dB, dB);
      for (const order of [index, Uint32Array.of(3, 4, 5, 0, 2, 1)]) {
        const res = rasterize({ width: 20, height: 20, screen, depth, index: order, color });
        const p = 5 * 20 + 5; // pixel centre (5.5, 5.5) lies in both triangles
        const expectedTri = order[0] === 0 ? winner : 1 - winner;
        expect(res.triangleId[p]).toBe(expectedTri);
        expect(res.depth[p]).toBeCloseTo(Math.min(dA, dB), 5);
        expect(res.image.data[4 * p + (winner === 0 ? 0 : 2)]).toBe(255);
        expect(res.image.data[4 * p + 3]).toBe(255);
      }
    }
    const empty = rasterize({ width: 20, height: 20, screen, depth: new Float32Array(6).fill(1), index: Uint32Array.of(0, 2, 1) });
    expect(empty.depth[19 * 20 + 19]).toBe(Infinity);
  });

  it('cullBackFaces drops triangles that are clockwise on screen', () => {
    const depth = new Float32Array(6).fill(1);
    // index 0,2,1 = (0,0),(0,20),(20,0): counter-clockwise with +y up ⇒ front-facing
    const front = rasterize({ width: 20, height: 20, screen, depth, index: Uint32Array.of(0, 2, 1) }, { cullBackFaces: true });
    expect(front.triangleId[2 * 20 + 2]).toBe(0);
    const back = rasterize({ width: 20, height: 20, screen, depth, index: Uint32Array.of(0, 1, 2) }, { cullBackFaces: true });
    expect(back.triangleId.every((t) => t === -1)).toBe(true);
  });

  it('perspective-correct interpolation matches the 3D surface point on each pixel ray', () => {
    // A tilted quad in camera space; colour = linear function of the 3D point.
    const f = 100, c = 32;
    const P = [[-40, -40, -120], [40, -40, -220], [40, 40, -220], [-40, 40, -120]];
    const screenP = new Float32Array(8), depth = new Float32Array(4), col = new Float32Array(12);
    const colorOf = (p: number[]) => [(p[0] + 40) / 80, (p[1] + 40) / 80, (-p[2] - 120) / 100];
    P.forEach((p, i) => {
      screenP[2 * i] = c + (f * p[0]) / -p[2];
      screenP[2 * i + 1] = c - (f * p[1]) / -p[2];
      depth[i] = -p[2];
      col.set(colorOf(p), 3 * i);
    });
    const res = rasterize({ width: 64, height: 64, screen: screenP, depth, index: Uint32Array.of(0, 1, 2, 0, 2, 3), color: col }, { encoding: 'linear' });
    let checked = 0;
    for (let i = 0; i < 64; i++) for (let j = 0; j < 64; j++) {
      const p = i * 64 + j;
      if (res.triangleId[p] < 0) continue;
      // ray through the pixel centre: (x, y, z) = s·((u − c)/f, −(v − c)/f, −1); plane z = −120 − 100·(x + 40)/80
      const rx = (j + 0.5 - c) / f, ry = -(i + 0.5 - c) / f;
      const s = (120 + 50) / (1 - 1.25 * rx); // solves −s = −120 − 1.25·(s·rx + 40)
      const X = [s * rx, s * ry, -s];
      expect(res.depth[p]).toBeCloseTo(s, 1);
      const e = colorOf(X);
      for (let k = 0; k < 3; k++) expect(Math.abs(res.image.data[4 * p + k] - 255 * e[k])).toBeLessThanOrEqual(1.01);
      checked++;
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('visibleVertices marks the vertices of triangles that won pixels', () => {
    const depth = Float32Array.of(5, 5, 5, 10, 10, 10);
    const res = rasterize({ width: 20, height: 20, screen, depth, index });
    const vis = visibleVertices(res.triangleId, index, 6);
    expect(Array.from(vis)).toEqual([1, 1, 1, 1, 1, 1]); // both triangles keep some pixels
    const hidden = rasterize({ width: 20, height: 20, screen: Float32Array.of(0, 0, 20, 0, 0, 20, 2, 2, 6, 2, 2, 6), depth, index });
    expect(Array.from(visibleVertices(hidden.triangleId, index, 6))).toEqual([1, 1, 1, 0, 0, 0]);
  });
});

describe('renderMesh', () => {
  it('renders a lit sphere: centre pixel equals the Eq. (4) shade of n = +z, silhouette is a disc', () => {
    const { position, index } = icosphere(4);
    const N = position.length / 3;
    const scaled = position.map((v) => 50 * v);
    const albedo = new Float32Array(3 * N).fill(0.5);
    const intr = { focalPx: 400, cx: 64, cy: 64, width: 128, height: 128 };
    const out = renderMesh({ position: scaled, index, albedo, gamma: new Float64Array(27), rotation: rotationMatrix([0, 0, 0]), translation: [0, 0, -400], intrinsics: intr });
    const centre = 64 * 128 + 64;
    expect(out.image.data[4 * centre]).toBeCloseTo(255 * 0.5 * SH_AMBIENT_OFFSET * Math.sqrt(Math.PI) / 2, -0.5);
    expect(out.depth[centre]).toBeGreaterThan(349);
    expect(out.depth[centre]).toBeLessThan(352);
    // silhouette radius of a sphere of radius 50 at distance 400: f·tan(asin(50/400))
    const rs = 400 * Math.tan(Math.asin(50 / 400));
    let covered = 0;
    for (let p = 0; p < 128 * 128; p++) if (out.triangleId[p] >= 0) covered++;
    expect(covered / (Math.PI * rs * rs)).toBeGreaterThan(0.97);
    expect(covered / (Math.PI * rs * rs)).toBeLessThan(1.01);
  });

  it('rasterises ~20k triangles at 512² quickly', () => {
    const { position, index } = icosphere(5); // 20 480 triangles
    const N = position.length / 3;
    const albedo = new Float32Array(3 * N).fill(0.6);
    const intr = { focalPx: 1200, cx: 256, cy: 256, width: 512, height: 512 };
    const args = { position: position.map((v) => 100 * v), index, albedo, gamma: new Float64Array(27), rotation: rotationMatrix([0, 0, 0]), translation: [0, 0, -500], intrinsics: intr };
    renderMesh(args); // warm-up (JIT)
    const screen = renderMesh(args).screen;
    const depth = renderMesh(args).vertexDepth;
    const color = renderMesh(args).vertexColor;
    const t0 = performance.now();
    const reps = 5;
    for (let k = 0; k < reps; k++) rasterize({ width: 512, height: 512, screen, depth, index, color });
    const ms = (performance.now() - t0) / reps;
    console.log(`rasterize: ${index.length / 3} triangles at 512²: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(100); // typically far below; generous for a shared CI machine
  });
});

describe('draw', () => {
  it('draws points, segments and text, and composes a contact sheet', () => {
    const img = createImage(30, 20, [0, 0, 0, 255]);
    drawPoints(img, [10.2, 5.7], { color: [255, 0, 0], radius: 1 });
    expect(img.data[4 * (5 * 30 + 10)]).toBe(255);
    drawSegments(img, [0.5, 15.5, 29.5, 15.5], [0, 1], [0, 255, 0]);
    for (let x = 0; x < 30; x++) expect(img.data[4 * (15 * 30 + x) + 1]).toBe(255);
    const t = createImage(40, 10, [0, 0, 0, 255]);
    drawText(t, 'Ab1', 0, 0, { color: [255, 255, 255] });
    let lit = 0;
    for (let p = 0; p < 400; p++) if (t.data[4 * p] === 255) lit++;
    expect(lit).toBeGreaterThan(20);
    expect(measureText('Ab1').width).toBe(17);
    const sheet = composeContactSheet([img, img, img], { columns: 2, captions: ['a', 'b', 'c'], padding: 2 });
    expect(sheet.width).toBe(2 * 30 + 3 * 2);
    expect(sheet.height).toBe(2 * (20 + 9 + 2) + 3 * 2);
    expect(sheet.data[4 * (2 * sheet.width + 2) + 3]).toBe(255);
  });
});
