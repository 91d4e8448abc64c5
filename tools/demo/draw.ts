/**
 * Minimal raster drawing on RGBA8 images for the demo overlays (Node tooling, not SDK).
 * Coordinates are image px (origin top-left, +y down, pixel centres at +0.5).
 * Colours are [r, g, b, a] with a in 0..1 (alpha blended over the image).
 */
import type { RgbaImage } from '../../sdk/vision/image.js';

export type Rgba = [number, number, number, number];

/** A copy of `img` with a fresh, writable Uint8ClampedArray. */
export function cloneImage(img: RgbaImage): { data: Uint8ClampedArray; width: number; height: number } {
  return { data: new Uint8ClampedArray(img.data), width: img.width, height: img.height };
}

function blend(img: { data: Uint8ClampedArray; width: number; height: number }, x: number, y: number, c: Rgba, cover = 1): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const a = c[3] * cover;
  const p = (y * img.width + x) * 4;
  img.data[p] += a * (c[0] - img.data[p]);
  img.data[p + 1] += a * (c[1] - img.data[p + 1]);
  img.data[p + 2] += a * (c[2] - img.data[p + 2]);
}

/** Anti-aliased-ish line: samples every 0.5 px along the segment and splats into the nearest pixel. */
export function drawLine(img: { data: Uint8ClampedArray; width: number; height: number }, x0: number, y0: number, x1: number, y1: number, c: Rgba): void {
  const len = Math.hypot(x1 - x0, y1 - y0);
  const n = Math.max(1, Math.ceil(len * 1.5));
  let lastX = NaN;
  let lastY = NaN;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    const x = Math.floor(x0 + t * (x1 - x0));
    const y = Math.floor(y0 + t * (y1 - y0));
    if (x === lastX && y === lastY) continue; // blend each pixel once per line
    blend(img, x, y, c);
    lastX = x;
    lastY = y;
  }
}

/** Filled disc of radius r px centred at (cx, cy). */
export function drawDot(img: { data: Uint8ClampedArray; width: number; height: number }, cx: number, cy: number, r: number, c: Rgba): void {
  for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
    for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      if (d <= r + 0.5) blend(img, x, y, c, Math.min(1, r + 0.5 - d));
    }
  }
}

/** Axis-aligned rectangle outline, `thickness` px wide, drawn inside the box edges. */
export function drawRect(
  img: { data: Uint8ClampedArray; width: number; height: number },
  box: { x: number; y: number; width: number; height: number },
  c: Rgba,
  thickness = 2,
): void {
  for (let k = 0; k < thickness; k++) {
    const x0 = box.x + k;
    const y0 = box.y + k;
    const x1 = box.x + box.width - 1 - k;
    const y1 = box.y + box.height - 1 - k;
    drawLine(img, x0, y0, x1, y0, c);
    drawLine(img, x1, y0, x1, y1, c);
    drawLine(img, x1, y1, x0, y1, c);
    drawLine(img, x0, y1, x0, y0, c);
  }
}

/** Rotated square outline (a landmark ROI). */
export function drawRotatedSquare(
  img: { data: Uint8ClampedArray; width: number; height: number },
  roi: { center: [number, number]; size: number; rotation: number },
  c: Rgba,
): void {
  const h = roi.size / 2;
  const cs = Math.cos(roi.rotation);
  const sn = Math.sin(roi.rotation);
  const corners = [[-h, -h], [h, -h], [h, h], [-h, h]].map(([u, v]) => [roi.center[0] + cs * u - sn * v, roi.center[1] + sn * u + cs * v]);
  for (let i = 0; i < 4; i++) {
    const [a, b] = [corners[i], corners[(i + 1) % 4]];
    drawLine(img, a[0], a[1], b[0], b[1], c);
  }
}

/** Unique undirected edges of a triangle list ((F, 3) flat), as a flat (E, 2) array. */
export function triangleEdges(index: ArrayLike<number>): Uint32Array {
  const seen = new Set<number>();
  const out: number[] = [];
  for (let f = 0; f < index.length; f += 3) {
    for (let k = 0; k < 3; k++) {
      const a = index[f + k];
      const b = index[f + ((k + 1) % 3)];
      const key = a < b ? a * 1e6 + b : b * 1e6 + a;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(a, b);
    }
  }
  return Uint32Array.from(out);
}
