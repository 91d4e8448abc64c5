import { describe, expect, it } from 'vitest';
import { MofaError } from '../../sdk/errors.js';
import { checkLinearImage, linearImageFromRgba, sampleBilinear } from '../../sdk/opt/image.js';
import { rng } from './reference-meshes.js';

describe('Opt image: sRGB decode and bilinear sampling', () => {
  it('decodes sRGB bytes with the IEC 61966-2-1 curve', () => {
    const img = linearImageFromRgba(Uint8Array.of(0, 128, 255, 7, 10, 188, 255, 255), 2, 1);
    expect(img.rgb[0]).toBe(0);
    expect(img.rgb[1]).toBeCloseTo(0.2158605, 6);
    expect(img.rgb[2]).toBeCloseTo(1, 6);
    expect(img.rgb[3]).toBeCloseTo(10 / 255 / 12.92, 7);
    expect(img.rgb[4]).toBeCloseTo(0.5028865, 6);
  });

  it('hits pixel values at pixel centres, interpolates between them, clamps to the edge', () => {
    const r = rng(2);
    const W = 5, H = 4;
    const rgb = Float32Array.from({ length: 3 * W * H }, () => r());
    const img = { width: W, height: H, rgb };
    const out = new Float64Array(9);
    const px = (j: number, i: number, c: number) => rgb[3 * (i * W + j) + c];
    sampleBilinear(img, 2.5, 1.5, out);
    for (let c = 0; c < 3; c++) expect(out[c]).toBeCloseTo(px(2, 1, c), 7);
    sampleBilinear(img, 3.0, 1.5, out); // halfway between columns 2 and 3
    for (let c = 0; c < 3; c++) expect(out[c]).toBeCloseTo((px(2, 1, c) + px(3, 1, c)) / 2, 7);
    sampleBilinear(img, -3, -2, out); // far outside the top-left corner
    for (let c = 0; c < 3; c++) {
      expect(out[c]).toBeCloseTo(px(0, 0, c), 7);
      expect(out[3 + c]).toBe(0);
      expect(out[6 + c]).toBe(0);
    }
  });

  it('analytic gradient equals central differences inside cells', () => {
    const r = rng(9);
    const W = 7, H = 6;
    const img = { width: W, height: H, rgb: Float32Array.from({ length: 3 * W * H }, () => r()) };
    const a = new Float64Array(9), p = new Float64Array(9), m = new Float64Array(9);
    const h = 1e-6;
    for (let t = 0; t < 50; t++) {
      const u = 0.6 + r() * (W - 1.2), v = 0.6 + r() * (H - 1.2);
      if (Math.abs((u - 0.5) - Math.round(u - 0.5)) < 1e-4 || Math.abs((v - 0.5) - Math.round(v - 0.5)) < 1e-4) continue;
      sampleBilinear(img, u, v, a);
      sampleBilinear(img, u + h, v, p); sampleBilinear(img, u - h, v, m);
      for (let c = 0; c < 3; c++) expect(a[3 + c]).toBeCloseTo((p[c] - m[c]) / (2 * h), 6);
      sampleBilinear(img, u, v + h, p); sampleBilinear(img, u, v - h, m);
      for (let c = 0; c < 3; c++) expect(a[6 + c]).toBeCloseTo((p[c] - m[c]) / (2 * h), 6);
    }
  });

  it('rejects malformed images with BAD_INPUT', () => {
    expect(() => linearImageFromRgba(new Uint8Array(15), 2, 2)).toThrow(MofaError);
    expect(() => checkLinearImage({ width: 4, height: 4, rgb: new Float32Array(47) })).toThrow(/3·W·H/);
  });
});
