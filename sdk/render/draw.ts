/**
 * Overlay drawing and contact sheets on RGBA8 images (previews, evaluation figures, debugging).
 *
 * Image frame: pixels, origin at the top-left corner, +x right, +y down; a point (x, y) lies in
 * pixel (floor(x), floor(y)) (same convention as sdk/model/camera.ts and sdk/vision/image.ts).
 * The `draw*` functions modify the image passed to them in place (that is their purpose) and
 * return it; `createImage`, `composeContactSheet` and `resizeBilinear` return new images.
 */
import { MofaError } from '../errors.js';

/** RGBA8 image, row-major, top-left origin (structurally the same as sdk/node/image-io's RgbaImage). */
export interface RgbaImage {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** RGB or RGBA colour, bytes 0..255; alpha (default 255) blends over the existing pixel. */
export type Rgba = readonly [number, number, number] | readonly [number, number, number, number];

/** A new W×H image filled with `fill` (default opaque black). */
export function createImage(width: number, height: number, fill: Rgba = [0, 0, 0, 255]): RgbaImage & { data: Uint8ClampedArray } {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new MofaError('BAD_INPUT', `image size must be positive integers, got ${width}×${height}`);
  }
  const data = new Uint8ClampedArray(width * height * 4);
  const a = fill.length > 3 ? (fill as readonly number[])[3] : 255;
  for (let p = 0; p < data.length; p += 4) {
    data[p] = fill[0]; data[p + 1] = fill[1]; data[p + 2] = fill[2]; data[p + 3] = a;
  }
  return { data, width, height };
}

/** Writes (alpha-blends) colour `c` into integer pixel (x, y); ignores pixels outside the image. */
function plot(img: RgbaImage, x: number, y: number, c: Rgba): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const o = 4 * (y * img.width + x);
  const a = c.length > 3 ? (c as readonly number[])[3] / 255 : 1;
  const d = img.data;
  if (a >= 1) {
    d[o] = c[0]; d[o + 1] = c[1]; d[o + 2] = c[2]; d[o + 3] = 255;
  } else if (a > 0) {
    d[o] = Math.round(a * c[0] + (1 - a) * d[o]);
    d[o + 1] = Math.round(a * c[1] + (1 - a) * d[o + 1]);
    d[o + 2] = Math.round(a * c[2] + (1 - a) * d[o + 2]);
    d[o + 3] = Math.round(255 * a + (1 - a) * d[o + 3]);
  }
}

/**
 * Draws filled discs at the given points.
 * @param points (N, 2) px, image frame (non-finite points are skipped).
 * @param opts.radius disc radius, px (default 1.5: a 3-px dot).
 */
export function drawPoints(img: RgbaImage, points: ArrayLike<number>, opts: { color?: Rgba; radius?: number } = {}): RgbaImage {
  const color = opts.color ?? [255, 0, 0];
  const r = opts.radius ?? 1.5;
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i], y = points[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const j0 = Math.floor(x - r), j1 = Math.floor(x + r), i0 = Math.floor(y - r), i1 = Math.floor(y + r);
    for (let py = i0; py <= i1; py++) {
      for (let px = j0; px <= j1; px++) {
        const dx = px + 0.5 - x, dy = py + 0.5 - y;
        if (dx * dx + dy * dy <= r * r || (px === Math.floor(x) && py === Math.floor(y))) plot(img, px, py, color);
      }
    }
  }
  return img;
}

/** Draws a 1-px line from (x0, y0) to (x1, y1), px (DDA along the major axis). */
export function drawLine(img: RgbaImage, x0: number, y0: number, x1: number, y1: number, color: Rgba = [0, 255, 0]): RgbaImage {
  if (![x0, y0, x1, y1].every(Number.isFinite)) return img;
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
  if (steps > 1e5) return img; // absurdly long (off-screen) segment: nothing sensible to draw
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    plot(img, Math.floor(x0 + t * (x1 - x0)), Math.floor(y0 + t * (y1 - y0)), color);
  }
  return img;
}

/**
 * Draws line segments between indexed points.
 * @param points (N, 2) px.
 * @param pairs (M, 2) point indices; each pair is one segment.
 */
export function drawSegments(img: RgbaImage, points: ArrayLike<number>, pairs: ArrayLike<number>, color: Rgba = [0, 255, 0]): RgbaImage {
  for (let k = 0; k + 1 < pairs.length; k += 2) {
    const a = pairs[k], b = pairs[k + 1];
    drawLine(img, points[2 * a], points[2 * a + 1], points[2 * b], points[2 * b + 1], color);
  }
  return img;
}

// 5×7 bitmap font: 7 rows per glyph, bit 4 (0x10) = leftmost column. Lower-case has its own glyphs.
const GLYPHS: Record<string, number[]> = {
  A: [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11], B: [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
  C: [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e], D: [0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e],
  E: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f], F: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
  G: [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f], H: [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  I: [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e], J: [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
  K: [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], L: [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
  M: [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11], N: [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
  O: [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], P: [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
  Q: [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d], R: [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
  S: [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e], T: [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  U: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], V: [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
  W: [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a], X: [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
  Y: [0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04], Z: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
  a: [0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f], b: [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e],
  c: [0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e], d: [0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f],
  e: [0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e], f: [0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08],
  g: [0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e], h: [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
  i: [0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e], j: [0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c],
  k: [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12], l: [0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
  m: [0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11], n: [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11],
  o: [0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e], p: [0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10],
  q: [0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01], r: [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10],
  s: [0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e], t: [0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06],
  u: [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d], v: [0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04],
  w: [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a], x: [0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11],
  y: [0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e], z: [0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f],
  '0': [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e], '1': [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  '2': [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f], '3': [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  '4': [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02], '5': [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  '6': [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e], '7': [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  '8': [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e], '9': [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
  ' ': [0, 0, 0, 0, 0, 0, 0], '-': [0, 0, 0, 0x1f, 0, 0, 0], _: [0, 0, 0, 0, 0, 0, 0x1f],
  '.': [0, 0, 0, 0, 0, 0x0c, 0x0c], ':': [0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0], ',': [0, 0, 0, 0, 0x0c, 0x04, 0x08],
  '/': [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10], '(': [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
  ')': [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08], '%': [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
  '+': [0, 0x04, 0x04, 0x1f, 0x04, 0x04, 0], '=': [0, 0, 0x1f, 0, 0x1f, 0, 0],
  '#': [0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a], '|': [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  '[': [0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e], ']': [0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e],
  '<': [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02], '>': [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
  '!': [0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04], '?': [0x0e, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
  "'": [0x04, 0x04, 0x08, 0, 0, 0, 0], '*': [0, 0x04, 0x15, 0x0e, 0x15, 0x04, 0],
  '~': [0, 0, 0x08, 0x15, 0x02, 0, 0], ';': [0, 0x0c, 0x0c, 0, 0x0c, 0x04, 0x08],
};
const UNKNOWN_GLYPH = [0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f];
/** Glyph cell of the built-in font at scale 1, px (5×7 glyph + 1 px spacing / leading). */
export const FONT_ADVANCE = 6;
export const FONT_LINE_HEIGHT = 9;

/** Size of `text` drawn with `drawText` at `scale`, px. */
export function measureText(text: string, scale = 1): { width: number; height: number } {
  return { width: Math.max(0, text.length * FONT_ADVANCE - 1) * scale, height: 7 * scale };
}

/**
 * Draws one line of text with the built-in 5×7 bitmap font (ASCII letters, digits, a few
 * punctuation marks; other characters show as a box).
 * @param x, y top-left corner of the first glyph, px.
 * @param opts.scale integer magnification (default 1).
 */
export function drawText(img: RgbaImage, text: string, x: number, y: number, opts: { color?: Rgba; scale?: number } = {}): RgbaImage {
  const color = opts.color ?? [255, 255, 255];
  const s = Math.max(1, Math.round(opts.scale ?? 1));
  let cx = Math.round(x);
  const cy = Math.round(y);
  for (const ch of text) {
    const g = GLYPHS[ch] ?? UNKNOWN_GLYPH;
    for (let row = 0; row < 7; row++) {
      const bits = g[row];
      for (let col = 0; col < 5; col++) {
        if (bits & (0x10 >> col)) {
          for (let dy = 0; dy < s; dy++) for (let dx = 0; dx < s; dx++) plot(img, cx + col * s + dx, cy + row * s + dy, color);
        }
      }
    }
    cx += FONT_ADVANCE * s;
  }
  return img;
}

/** Copies `src` into `dst` with its top-left corner at integer (x, y), alpha-blending by src alpha; clipped to `dst`. */
export function blit(dst: RgbaImage, src: RgbaImage, x: number, y: number): RgbaImage {
  for (let i = 0; i < src.height; i++) {
    const ty = y + i;
    if (ty < 0 || ty >= dst.height) continue;
    for (let j = 0; j < src.width; j++) {
      const tx = x + j;
      if (tx < 0 || tx >= dst.width) continue;
      const s = 4 * (i * src.width + j);
      plot(dst, tx, ty, [src.data[s], src.data[s + 1], src.data[s + 2], src.data[s + 3]]);
    }
  }
  return dst;
}

/** Bilinear resampling to width × height (pixel centres aligned: corner-to-corner mapping of the pixel grid). */
export function resizeBilinear(img: RgbaImage, width: number, height: number): RgbaImage & { data: Uint8ClampedArray } {
  const out = createImage(width, height, [0, 0, 0, 0]);
  const sx = img.width / width, sy = img.height / height;
  for (let i = 0; i < height; i++) {
    const fy = Math.min(Math.max((i + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, img.height - 1), wy = fy - y0;
    for (let j = 0; j < width; j++) {
      const fx = Math.min(Math.max((j + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, img.width - 1), wx = fx - x0;
      const o = 4 * (i * width + j);
      const a = 4 * (y0 * img.width + x0), b = 4 * (y0 * img.width + x1);
      const c = 4 * (y1 * img.width + x0), d = 4 * (y1 * img.width + x1);
      for (let k = 0; k < 4; k++) {
        const top = img.data[a + k] * (1 - wx) + img.data[b + k] * wx;
        const bot = img.data[c + k] * (1 - wx) + img.data[d + k] * wx;
        out.data[o + k] = top * (1 - wy) + bot * wy;
      }
    }
  }
  return out;
}

export interface ContactSheetOptions {
  /** Tiles per row (default ⌈√count⌉). */
  columns?: number;
  /** One caption per tile (drawn below it with the built-in font); shorter arrays leave tiles uncaptioned. */
  captions?: string[];
  /** Gap between cells and around the sheet, px (default 4). */
  padding?: number;
  /** Sheet background (default dark grey). */
  background?: Rgba;
  captionColor?: Rgba;
  /** Integer font scale (default 1). */
  captionScale?: number;
  /** Optional title drawn at the top of the sheet. */
  title?: string;
}

/**
 * Arranges images on a grid (row-major, left to right then top to bottom). Cells are as large
 * as the largest tile; each tile is centred horizontally in its cell, and its caption (if any)
 * is drawn underneath, truncated to the cell width.
 */
export function composeContactSheet(tiles: RgbaImage[], opts: ContactSheetOptions = {}): RgbaImage & { data: Uint8ClampedArray } {
  if (tiles.length === 0) throw new MofaError('BAD_INPUT', 'composeContactSheet needs at least one tile');
  const cols = Math.max(1, Math.min(tiles.length, opts.columns ?? Math.ceil(Math.sqrt(tiles.length))));
  const rows = Math.ceil(tiles.length / cols);
  const pad = opts.padding ?? 4;
  const scale = Math.max(1, Math.round(opts.captionScale ?? 1));
  const hasCaptions = (opts.captions ?? []).some((c) => c.length > 0);
  const capH = hasCaptions ? FONT_LINE_HEIGHT * scale + 2 : 0;
  const titleH = opts.title ? FONT_LINE_HEIGHT * scale + pad : 0;
  const cellW = Math.max(...tiles.map((t) => t.width));
  const cellH = Math.max(...tiles.map((t) => t.height)) + capH;
  const sheet = createImage(cols * cellW + (cols + 1) * pad, titleH + rows * cellH + (rows + 1) * pad, opts.background ?? [40, 40, 40, 255]);
  const capColor = opts.captionColor ?? [230, 230, 230];
  if (opts.title) drawText(sheet, opts.title, pad, pad, { color: capColor, scale });
  tiles.forEach((tile, k) => {
    const r = Math.floor(k / cols), c = k % cols;
    const x = pad + c * (cellW + pad);
    const y = titleH + pad + r * (cellH + pad);
    blit(sheet, tile, x + Math.floor((cellW - tile.width) / 2), y);
    const caption = opts.captions?.[k];
    if (caption) {
      const maxChars = Math.max(1, Math.floor((cellW + scale) / (FONT_ADVANCE * scale)));
      const text = caption.length > maxChars ? caption.slice(0, maxChars) : caption;
      drawText(sheet, text, x, y + cellH - capH + 2, { color: capColor, scale });
    }
  });
  return sheet;
}
