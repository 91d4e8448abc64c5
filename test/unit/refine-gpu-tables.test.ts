/**
 * CPU-side tables of the Refine WebGPU kernels (sdk/gpu/refine-common.ts): the
 * incident-triangle CSR, the packed `topology` buffer of wgsl/refine_topology.wgsl and the
 * `RefineParams` uniform layout of wgsl/refine_common.wgsl. The kernels themselves are tested in
 * test/browser/refine-gpu.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { incidentTriangleCsr, packRefineParams, packTopology, REFINE_PARAMS_BYTES } from '../../sdk/gpu/refine-common.js';
import type { RefineState } from '../../sdk/refine/reference.js';
import refineCommon from '../../wgsl/refine_common.wgsl';

// A square split into two triangles plus a separate triangle: vertices 0..3 and 4..6, 7 isolated.
const index = Uint32Array.of(0, 1, 2, 0, 2, 3, 4, 5, 6);
const N = 8;

describe('Refine GPU tables', () => {
  it('incidentTriangleCsr lists every corner 3f + c at its vertex, in increasing f', () => {
    const { offsets, entries } = incidentTriangleCsr(index, N);
    const rows = Array.from({ length: N }, (_, i) => Array.from(entries.subarray(offsets[i], offsets[i + 1])));
    expect(rows).toEqual([[0, 3], [1], [2, 4], [5], [6], [7], [8], []]);
    for (let i = 0; i < N; i++) for (const e of rows[i]) expect(index[e]).toBe(i);
    expect(() => incidentTriangleCsr(Uint32Array.of(0, 1, 9), N)).toThrow(/references vertex 9/);
  });

  it('packTopology stores both CSRs with absolute offsets', () => {
    const inc = incidentTriangleCsr(index, N);
    // One ring of the same mesh (symmetric, sorted).
    const ringRows = [[1, 2, 3], [0, 2], [0, 1, 3], [0, 2], [5, 6], [4, 6], [4, 5], []];
    const offsets = Uint32Array.from([0, ...ringRows.map((r, i) => ringRows.slice(0, i + 1).flat().length)]);
    const neighbors = Uint32Array.from(ringRows.flat());
    const { data, ringStart } = packTopology(inc, { offsets, neighbors });
    expect(ringStart).toBe(N + 1 + index.length);
    for (let i = 0; i < N; i++) {
      expect(Array.from(data.subarray(data[i], data[i + 1]))).toEqual(Array.from(inc.entries.subarray(inc.offsets[i], inc.offsets[i + 1])));
      expect(Array.from(data.subarray(data[ringStart + i], data[ringStart + i + 1]))).toEqual(ringRows[i]);
    }
    expect(data.length).toBe(ringStart + N + 1 + neighbors.length);
  });

  it('packRefineParams follows the WGSL struct RefineParams', () => {
    // The struct: 3 + 1 + 1 + 9 + 1 + 1 + 1 vec4 members = 17 × 16 bytes.
    const struct = /struct RefineParams \{([\s\S]*?)\n\}/.exec(refineCommon)![1];
    const members = [...struct.matchAll(/^\s*(\w+): (array<vec4<[fu]32>, (\d+)>|vec4<[fu]32>),/gm)].map((m) => [m[1], m[3] ? Number(m[3]) : 1] as const);
    expect(members).toEqual([['rot', 3], ['trans', 1], ['intr', 1], ['light', 9], ['weights', 1], ['image', 1], ['sizes', 1]]);
    expect(REFINE_PARAMS_BYTES).toBe(16 * members.reduce((s, [, k]) => s + k, 0));

    const sh = Float64Array.from({ length: 27 }, (_, k) => k + 0.5); // sh[9c + b]
    const state = {
      n: 4, R: Float64Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9), t: Float64Array.of(10, 11, -900), sh,
      focalPx: 1000, cx: 120, cy: 121, image: { width: 240, height: 200, rgb: new Float32Array(0) },
    } as unknown as RefineState;
    const buf = packRefineParams(state, 7, { step: 1000, wGrad: 2, wReg: 0.5 }, 0.02, 99);
    const f = new Float32Array(buf);
    const u = new Uint32Array(buf);
    expect(Array.from(f.subarray(0, 12))).toEqual([1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0]);
    expect(Array.from(f.subarray(12, 20))).toEqual([10, 11, -900, 0, 1000, 120, 121, 0]);
    for (let b = 0; b < 9; b++) expect(Array.from(f.subarray(20 + 4 * b, 23 + 4 * b))).toEqual([sh[b], sh[9 + b], sh[18 + b]]);
    expect(Array.from(f.subarray(56, 64))).toEqual([1000, 0.5, 0.125, 0.25, 240, 200, Math.fround(0.02), 0]);
    expect(Array.from(u.subarray(64, 68))).toEqual([4, 7, 99, 0]);
  });
});
