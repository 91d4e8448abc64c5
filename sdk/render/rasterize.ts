/**
 * CPU triangle rasteriser: the software reference renderer (z-buffer, barycentric colour
 * interpolation) used for previews, tests and visibility.
 *
 * Frames and conventions
 * - Screen positions are image-frame pixels (top-left origin, +x right, +y down); pixel
 *   (col j, row i) is sampled at its centre (j + 0.5, i + 0.5) — as produced by `project` in
 *   sdk/model/camera.ts.
 * - Positions are snapped to a 1/256-px fixed-point grid and the edge functions are evaluated in
 *   exact integer arithmetic (held in float64, which represents these integers exactly), so
 *   two triangles sharing an edge compute identical, negated edge values.
 * - Fill rule: top-left (as Direct3D / OpenGL). A pixel centre inside a triangle is covered; a
 *   centre exactly on an edge is covered only if that edge is a top edge (horizontal, the triangle
 *   below it) or a left edge. Hence a pixel on a shared edge is covered exactly once.
 * - Winding: a triangle is front-facing if its vertices run counter-clockwise *as seen on screen*
 *   (i.e. with +y up), which is what a mesh wound counter-clockwise seen from outside (the face
 *   model's convention) gives for its camera-facing side. `cullBackFaces` drops the others.
 * - Depth: the z-test keeps the nearest surface (smallest depth); on exact ties the triangle
 *   drawn first (lower index) wins.
 */
import { MofaError } from '../errors.js';
import type { RgbaImage } from './draw.js';

const SUB = 256; // fixed-point sub-pixel steps per pixel
const HALF = SUB / 2;
/** Triangles with a vertex farther than this from the origin (px) are dropped (no clipping). */
export const MAX_SCREEN_COORD_PX = 32768;

export interface RasterInput {
  /** Output size, px. */
  width: number;
  height: number;
  /** (N, 2) vertex positions, px, image frame. NaN/Infinity marks a vertex whose triangles are dropped. */
  screen: Float32Array;
  /**
   * (N) per-vertex depth = distance in front of the camera along the optical axis (−z_cam, mm or
   * any unit); smaller = nearer. With `perspectiveCorrect` it must be > 0 (triangles with a
   * vertex at depth ≤ 0 are dropped).
   */
  depth: Float32Array;
  /** (F, 3) triangle vertex indices. */
  index: Uint32Array;
  /** (N, 3) per-vertex colour, linear RGB 0..1 (clamped when written). Omit for a depth/id-only pass. */
  color?: Float32Array;
}

export interface RasterOptions {
  /** Drop triangles that are clockwise on screen (see module comment). Default false. */
  cullBackFaces?: boolean;
  /**
   * Interpolate depth and colour perspective-correctly (linear in 1/depth across the screen,
   * which requires depth = view-space distance > 0). Default true. With false, attributes and
   * depth are interpolated affinely in screen space.
   */
  perspectiveCorrect?: boolean;
  /** Background: an RGBA8 tuple 0..255 or an image of the same size. Default [0, 0, 0, 0]. */
  background?: readonly [number, number, number, number] | RgbaImage;
  /** How colours 0..1 become bytes: 'linear' (round(255·c)) or 'srgb' (sRGB transfer curve). Default 'linear'. */
  encoding?: 'linear' | 'srgb';
}

export interface RasterResult {
  /** RGBA8 image; covered pixels get alpha 255. */
  image: { data: Uint8ClampedArray; width: number; height: number };
  /** (H·W) row-major depth of the visible surface; +Infinity where nothing was drawn. */
  depth: Float32Array;
  /** (H·W) row-major index of the visible triangle; −1 where nothing was drawn. */
  triangleId: Int32Array;
}

let srgbLut: Uint8Array | null = null;
const SRGB_LUT_SIZE = 4096;
function getSrgbLut(): Uint8Array {
  if (!srgbLut) {
    srgbLut = new Uint8Array(SRGB_LUT_SIZE + 1);
    for (let i = 0; i <= SRGB_LUT_SIZE; i++) {
      const c = i / SRGB_LUT_SIZE;
      const s = c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055;
      srgbLut[i] = Math.round(255 * s);
    }
  }
  return srgbLut;
}

/** Linear RGB 0..1 → sRGB-encoded byte 0..255 (clamped). */
export function linearToSrgbByte(c: number): number {
  const lut = getSrgbLut();
  return lut[Math.round(Math.min(1, Math.max(0, c)) * SRGB_LUT_SIZE)];
}

/** Whether edge a→b is a top or left edge of a triangle with positive area (see module comment). */
function isTopLeft(dx: number, dy: number): boolean {
  return dy < 0 || (dy === 0 && dx > 0);
}

/**
 * Rasterises a triangle mesh with a z-buffer.
 * @throws MofaError('BAD_INPUT') for inconsistent array sizes or out-of-range indices.
 */
export function rasterize(input: RasterInput, options: RasterOptions = {}): RasterResult {
  const { width: W, height: H, screen, depth, index, color } = input;
  if (!(Number.isInteger(W) && Number.isInteger(H) && W > 0 && H > 0)) {
    throw new MofaError('BAD_INPUT', `raster size must be positive integers, got ${W}×${H}`);
  }
  const n = depth.length;
  if (screen.length !== 2 * n) throw new MofaError('BAD_INPUT', `screen has ${screen.length} values, expected 2·N = ${2 * n}`);
  if (color && color.length !== 3 * n) throw new MofaError('BAD_INPUT', `color has ${color.length} values, expected 3·N = ${3 * n}`);
  if (index.length % 3 !== 0) throw new MofaError('BAD_INPUT', `index length ${index.length} is not a multiple of 3`);
  const cull = options.cullBackFaces ?? false;
  const persp = options.perspectiveCorrect ?? true;
  const srgb = (options.encoding ?? 'linear') === 'srgb';
  const lut = srgb ? getSrgbLut() : null;

  const pixels = W * H;
  const data = new Uint8ClampedArray(pixels * 4);
  const bg = options.background ?? [0, 0, 0, 0];
  if ('data' in bg) {
    if (bg.width !== W || bg.height !== H) throw new MofaError('BAD_INPUT', `background is ${bg.width}×${bg.height}, expected ${W}×${H}`);
    data.set(bg.data);
  } else {
    for (let p = 0; p < pixels * 4; p += 4) {
      data[p] = bg[0]; data[p + 1] = bg[1]; data[p + 2] = bg[2]; data[p + 3] = bg[3];
    }
  }
  const zbuf = new Float32Array(pixels).fill(Infinity);
  const tri = new Int32Array(pixels).fill(-1);

  const lim = MAX_SCREEN_COORD_PX;
  const F = index.length / 3;
  for (let f = 0; f < F; f++) {
    let i0 = index[3 * f], i1 = index[3 * f + 1], i2 = index[3 * f + 2];
    if (i0 >= n || i1 >= n || i2 >= n) {
      throw new MofaError('BAD_INPUT', `triangle ${f} references vertex ${Math.max(i0, i1, i2)} but there are ${n} vertices`);
    }
    const fx0 = screen[2 * i0], fy0 = screen[2 * i0 + 1];
    const fx1 = screen[2 * i1], fy1 = screen[2 * i1 + 1];
    const fx2 = screen[2 * i2], fy2 = screen[2 * i2 + 1];
    // NaN fails every comparison, so `!(…)` also drops non-finite vertices.
    if (!(Math.abs(fx0) < lim && Math.abs(fy0) < lim && Math.abs(fx1) < lim && Math.abs(fy1) < lim && Math.abs(fx2) < lim && Math.abs(fy2) < lim)) continue;
    let d0 = depth[i0], d1 = depth[i1], d2 = depth[i2];
    if (persp ? !(d0 > 0 && d1 > 0 && d2 > 0) : !(Number.isFinite(d0) && Number.isFinite(d1) && Number.isFinite(d2))) continue;
    let x0 = Math.round(fx0 * SUB), y0 = Math.round(fy0 * SUB);
    let x1 = Math.round(fx1 * SUB), y1 = Math.round(fy1 * SUB);
    let x2 = Math.round(fx2 * SUB), y2 = Math.round(fy2 * SUB);
    let area2 = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
    if (area2 === 0) continue;
    // area2 < 0 ⇔ counter-clockwise on screen with +y up ⇔ front-facing.
    if (area2 > 0) {
      if (cull) continue;
    } else {
      // Swap v1 and v2 so that the edge functions are positive inside.
      let s = x1; x1 = x2; x2 = s;
      s = y1; y1 = y2; y2 = s;
      s = d1; d1 = d2; d2 = s;
      s = i1; i1 = i2; i2 = s;
      area2 = -area2;
    }
    // Pixel range whose centres (j·SUB + HALF) can lie inside the bounding box.
    let jMin = Math.ceil((Math.min(x0, x1, x2) - HALF) / SUB);
    let jMax = Math.floor((Math.max(x0, x1, x2) - HALF) / SUB);
    let iMin = Math.ceil((Math.min(y0, y1, y2) - HALF) / SUB);
    let iMax = Math.floor((Math.max(y0, y1, y2) - HALF) / SUB);
    if (jMin < 0) jMin = 0;
    if (iMin < 0) iMin = 0;
    if (jMax > W - 1) jMax = W - 1;
    if (iMax > H - 1) iMax = H - 1;
    if (jMin > jMax || iMin > iMax) continue;

    // Edge k is opposite vertex k: e0 = v1→v2, e1 = v2→v0, e2 = v0→v1; E(p) = dx·(py − ay) − dy·(px − ax).
    const dx0 = x2 - x1, dy0 = y2 - y1;
    const dx1 = x0 - x2, dy1 = y0 - y2;
    const dx2 = x1 - x0, dy2 = y1 - y0;
    const b0 = isTopLeft(dx0, dy0) ? 0 : -1;
    const b1 = isTopLeft(dx1, dy1) ? 0 : -1;
    const b2 = isTopLeft(dx2, dy2) ? 0 : -1;
    const px0 = jMin * SUB + HALF;
    const py0 = iMin * SUB + HALF;
    let r0 = dx0 * (py0 - y1) - dy0 * (px0 - x1);
    let r1 = dx1 * (py0 - y2) - dy1 * (px0 - x2);
    let r2 = dx2 * (py0 - y0) - dy2 * (px0 - x0);
    const sx0 = -dy0 * SUB, sx1 = -dy1 * SUB, sx2 = -dy2 * SUB;
    const sy0 = dx0 * SUB, sy1 = dx1 * SUB, sy2 = dx2 * SUB;

    const inv = 1 / area2;
    const q0 = 1 / d0, q1 = 1 / d1, q2 = 1 / d2;
    let cr0 = 0, cg0 = 0, cb0 = 0, cr1 = 0, cg1 = 0, cb1 = 0, cr2 = 0, cg2 = 0, cb2 = 0;
    if (color) {
      cr0 = color[3 * i0]; cg0 = color[3 * i0 + 1]; cb0 = color[3 * i0 + 2];
      cr1 = color[3 * i1]; cg1 = color[3 * i1 + 1]; cb1 = color[3 * i1 + 2];
      cr2 = color[3 * i2]; cg2 = color[3 * i2 + 1]; cb2 = color[3 * i2 + 2];
    }
    for (let i = iMin; i <= iMax; i++) {
      let w0 = r0, w1 = r1, w2 = r2;
      let p = i * W + jMin;
      for (let j = jMin; j <= jMax; j++, p++) {
        if (w0 + b0 >= 0 && w1 + b1 >= 0 && w2 + b2 >= 0) {
          const l0 = w0 * inv, l1 = w1 * inv, l2 = w2 * inv;
          let z: number, m0: number, m1: number, m2: number;
          if (persp) {
            const iz = l0 * q0 + l1 * q1 + l2 * q2;
            z = 1 / iz;
            m0 = l0 * q0 * z; m1 = l1 * q1 * z; m2 = l2 * q2 * z;
          } else {
            z = l0 * d0 + l1 * d1 + l2 * d2;
            m0 = l0; m1 = l1; m2 = l2;
          }
          if (z < zbuf[p]) {
            zbuf[p] = z;
            tri[p] = f;
            if (color) {
              const r = m0 * cr0 + m1 * cr1 + m2 * cr2;
              const g = m0 * cg0 + m1 * cg1 + m2 * cg2;
              const b = m0 * cb0 + m1 * cb1 + m2 * cb2;
              const o = 4 * p;
              if (lut) {
                data[o] = lut[(r <= 0 ? 0 : r >= 1 ? SRGB_LUT_SIZE : (r * SRGB_LUT_SIZE + 0.5) | 0)];
                data[o + 1] = lut[(g <= 0 ? 0 : g >= 1 ? SRGB_LUT_SIZE : (g * SRGB_LUT_SIZE + 0.5) | 0)];
                data[o + 2] = lut[(b <= 0 ? 0 : b >= 1 ? SRGB_LUT_SIZE : (b * SRGB_LUT_SIZE + 0.5) | 0)];
              } else {
                data[o] = 255 * r; data[o + 1] = 255 * g; data[o + 2] = 255 * b;
              }
              data[o + 3] = 255;
            }
          }
        }
        w0 += sx0; w1 += sx1; w2 += sx2;
      }
      r0 += sy0; r1 += sy1; r2 += sy2;
    }
  }
  return { image: { data, width: W, height: H }, depth: zbuf, triangleId: tri };
}

/**
 * Vertex visibility from a triangle-id buffer: a vertex is visible if any triangle that covers
 * at least one pixel contains it (the z-buffered counterpart of the paper's front-facing
 * approximation of the visible vertex set, Sec. 9.1).
 * @param triangleId (H·W) from `rasterize`.
 * @param index (F, 3) the same index buffer.
 * @param vertexCount N.
 * @returns (N) 1 = visible, 0 = not.
 */
export function visibleVertices(triangleId: Int32Array, index: Uint32Array, vertexCount: number): Uint8Array {
  const F = index.length / 3;
  const seen = new Uint8Array(F);
  for (let p = 0; p < triangleId.length; p++) {
    const t = triangleId[p];
    if (t >= 0) seen[t] = 1;
  }
  const vis = new Uint8Array(vertexCount);
  for (let f = 0; f < F; f++) {
    if (seen[f]) {
      vis[index[3 * f]] = 1;
      vis[index[3 * f + 1]] = 1;
      vis[index[3 * f + 2]] = 1;
    }
  }
  return vis;
}
