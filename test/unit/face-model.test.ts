import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { loadFaceModel, parseFaceModel, f16ToF32 } from '../../sdk/model/load-face-model.js';
import { MofaError } from '../../sdk/errors.js';
import { sha256Sync } from '../../sdk/util/sha256.js';
import type { FaceModel } from '../../sdk/types/face-model.js';

const BUNDLE = new URL('../../models/mofa-face-v1.mofa', import.meta.url);

async function expectIntegrity(p: Promise<unknown>): Promise<MofaError> {
  const e = await p.then(() => null, (x) => x);
  expect(e).toBeInstanceOf(MofaError);
  expect((e as MofaError).code).toBe('MODEL_INTEGRITY');
  return e as MofaError;
}

describe('f16 and sha256 helpers', () => {
  it('decodes binary16 exactly', () => {
    const h = new Uint16Array([0x0000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x8400, 0x7c00]);
    const f = f16ToF32(h);
    expect(Array.from(f.slice(0, 4))).toEqual([0, 1, -2, 65504]);
    expect(f[4]).toBeCloseTo(5.960464477539063e-8, 20);
    expect(f[5]).toBeCloseTo(0.333251953125, 12);
    expect(f[6]).toBeCloseTo(-6.103515625e-5, 14);
    expect(f[7]).toBe(Infinity);
  });
  it('pure-TS SHA-256 matches node:crypto', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 1000]) {
      const m = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 255);
      const ref = createHash('sha256').update(m).digest('hex');
      expect(Buffer.from(sha256Sync(m)).toString('hex')).toBe(ref);
    }
  });
});

describe('face-model bundle', () => {
  let bytes: Uint8Array;
  let model: FaceModel;
  beforeAll(async () => {
    bytes = new Uint8Array(readFileSync(BUNDLE));
    model = await loadFaceModel(BUNDLE.pathname);
  });

  it('loads with documented sizes and a consistent structure', () => {
    expect(model.formatVersion).toBe(1);
    expect(model.t1.vertexCount).toBeGreaterThanOrEqual(5000);
    expect(model.t1.vertexCount).toBeLessThanOrEqual(10000);
    expect(model.t2.vertexCount).toBeGreaterThanOrEqual(20000);
    expect(model.t2.vertexCount).toBeLessThanOrEqual(30000);
    expect(model.shapeDim).toBe(80);
    expect(model.expressionDim).toBe(64);
    expect(model.albedoDim).toBe(80);
    expect(model.shapeBasis.length).toBe(3 * model.t1.vertexCount * 80);
    expect(model.expressionBasis.length).toBe(3 * model.t1.vertexCount * 64);
    expect(model.albedoBasis.length).toBe(3 * model.t1.vertexCount * 80);
    expect(model.expressionNames).toContain('jawOpen');
    expect(model.expressionNames).toContain('eyeBlink_L');
    expect(Array.from(model.landmarks.mediapipe468)).toEqual(Array.from({ length: 468 }, (_, i) => i));
    for (const a of [model.t1.meanShape, model.shapeBasis, model.expressionBasis, model.albedoMean, model.albedoBasis]) {
      expect(a.every(Number.isFinite)).toBe(true);
    }
  });

  it('keeps the 468 MediaPipe vertices at the canonical landmark positions (mm)', () => {
    const v = model.t1.meanShape;
    const p = (i: number) => [v[3 * i], v[3 * i + 1], v[3 * i + 2]];
    // Eye corners are mirror images (x ↔ −x) and ~89 mm apart; +x is the subject's left.
    expect(p(263)[0]).toBeGreaterThan(40);
    expect(p(33)[0]).toBeCloseTo(-p(263)[0], 4);
    expect(Math.hypot(p(263)[0] - p(33)[0], p(263)[1] - p(33)[1], p(263)[2] - p(33)[2])).toBeCloseTo(88.9, 0);
    // Nose tip is the front-most point, chin below the nose.
    expect(p(1)[2]).toBeGreaterThan(p(168)[2]);
    expect(p(152)[1]).toBeLessThan(p(2)[1]);
  });

  it('L: T1 → T2 rows are convex combinations', () => {
    const { index, weight } = model.t2.fromT1;
    let maxSumErr = 0, minWeight = Infinity, maxIndex = 0;
    for (let j = 0; j < model.t2.vertexCount; j++) {
      maxSumErr = Math.max(maxSumErr, Math.abs(weight[3 * j] + weight[3 * j + 1] + weight[3 * j + 2] - 1));
      for (let k = 0; k < 3; k++) {
        minWeight = Math.min(minWeight, weight[3 * j + k]);
        maxIndex = Math.max(maxIndex, index[3 * j + k]);
      }
    }
    expect(maxSumErr).toBeLessThan(1e-5);
    expect(minWeight).toBeGreaterThanOrEqual(-1e-6);
    expect(maxIndex).toBeLessThan(model.t1.vertexCount);
  });

  it('adjacency is symmetric and matches the triangle edges', () => {
    for (const t of [model.t1, model.t2]) {
      const { offsets, neighbors } = t.adjacency;
      const has = (a: number, b: number) => {
        for (let p = offsets[a]; p < offsets[a + 1]; p++) if (neighbors[p] === b) return true;
        return false;
      };
      let missing = 0;
      for (let f = 0; f < t.index.length; f += 3) {
        const [a, b, c] = [t.index[f], t.index[f + 1], t.index[f + 2]];
        if (!(has(a, b) && has(b, a) && has(b, c) && has(c, b) && has(c, a) && has(a, c))) missing++;
      }
      expect(missing).toBe(0);
    }
  });

  it('accepts a Node Buffer (whose slice() is a view) and a view at an odd offset', async () => {
    const m1 = await loadFaceModel(readFileSync(BUNDLE));
    expect(m1.t1.vertexCount).toBe(model.t1.vertexCount);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    const m2 = await parseFaceModel(padded.subarray(3));
    expect(m2.t1.meanShape[3 * 263]).toBe(model.t1.meanShape[3 * 263]);
  });

  it('rejects a truncated file', async () => {
    await expectIntegrity(parseFaceModel(bytes.subarray(0, bytes.length - 1000)));
    await expectIntegrity(parseFaceModel(bytes.subarray(0, 10)));
  });

  it('rejects corrupt data (checksum) and a corrupt header', async () => {
    const c = bytes.slice();
    c[c.length - 5] ^= 0xff;
    const e = await expectIntegrity(parseFaceModel(c));
    expect(e.message).toMatch(/SHA-256/);
    const h = bytes.slice();
    h[20] = 0x7b; // '{' inside the JSON breaks it
    h[21] = 0x7b;
    await expectIntegrity(parseFaceModel(h));
  });

  it('rejects a wrong magic and a wrong format version with a clear message', async () => {
    const m = bytes.slice();
    m[0] = 0x58;
    await expectIntegrity(parseFaceModel(m));
    const v = bytes.slice();
    new DataView(v.buffer).setUint32(4, 2, true);
    const e = await expectIntegrity(parseFaceModel(v));
    expect(e.message).toMatch(/format version 2/);
  });

  it('reports a missing file as ASSET_LOAD', async () => {
    const e = await loadFaceModel('/nonexistent/model.mofa').then(() => null, (x) => x);
    expect((e as MofaError).code).toBe('ASSET_LOAD');
  });
});
