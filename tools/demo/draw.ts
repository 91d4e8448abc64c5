/**
 * Demo-overlay shapes (box, rotated ROI, mesh edges) on RGBA8 images, built on the SDK's
 * sdk/render/draw.ts primitives (Node tooling, not SDK).
 * Coordinates are image px (origin top-left, +y down, pixel centres at +0.5).
 * Colours are [r, g, b, a] bytes 0..255 (alpha blended over the image), as in sdk/render/draw.ts.
 */
import type { RgbaImage } from '../../sdk/vision/image.js';
import { drawLine, type Rgba } from '../../sdk/render/draw.js';

export type { Rgba };

/** A copy of `img` with a fresh, writable Uint8ClampedArray. */
export function cloneImage(img: RgbaImage): { data: Uint8ClampedArray; width: number; height: number } {
  return { data: new Uint8ClampedArray(img.data), width: img.width, height: img.height };
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
