/**
 * WASM/SIMD Opt backend (assembly/opt.ts, sdk/wasm/opt-backend.ts) against the TypeScript
 * reference: each kernel on its own, then JᵀJ / JᵀF / energies of the whole backend against
 * ReferenceOptBackend on the real face model with a synthetic rendered image.
 *
 * Tolerances (the WASM path is f32 SIMD for decode and Jacobian rows, f64 for per-vertex
 * shading; the reference is f64 except the f32 decoded shape):
 * - decode: |Δ| ≤ 1e-4 mm (f32 sums of 144 terms of ≤ ~10 mm vs f64 sums rounded to f32);
 * - normals: |Δ| ≤ 2e-5 per component (unit vectors);
 * - Gram kernel: |Δ| ≤ 1e-5 · Σ|a||b| (f32 products summed over ≤ 192 rows);
 * - JᵀJ: |Δ_pq| ≤ 2e-5 · sqrt(JᵀJ_pp JᵀJ_qq) (measured ≤ 3e-6); JᵀF: |Δ_p| ≤ 1e-6 ·
 *   sqrt(JᵀJ_pp · E) (Cauchy–Schwarz scale; measured ≤ 4e-8); energies: relative 1e-6.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { CODE_DIM, CODE_OFFSET } from '../../sdk/model/code-layout.js';
import { applyAffineBasis } from '../../sdk/model/decode.js';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import { computeNormals } from '../../sdk/model/normals.js';
import type { EnergyTerms, Linearization, OptProblem } from '../../sdk/opt/backend.js';
import { ReferenceOptBackend, type ReferenceLinearization } from '../../sdk/opt/reference-backend.js';
import { defaultOptWeights } from '../../sdk/opt/weights.js';
import { runOpt } from '../../sdk/opt/gauss-newton.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { instantiateMofaWasm } from '../../sdk/wasm/linalg.js';
import { createWasmOptBackend, type OptWasmExports, type WasmOptBackend } from '../../sdk/wasm/opt-backend.js';
import { perturbedCode, sceneProblem, syntheticScene, type SyntheticScene } from './opt-scene.js';
import { rng } from './reference-meshes.js';

const WASM_PATH = new URL('../../build/wasm/mofa.wasm', import.meta.url);
const MODEL_PATH = new URL('../../models/mofa-face-v1.mofa', import.meta.url);

let wasmBytes: Uint8Array;
let model: FaceModel;
let scene: SyntheticScene;
let x0: Float64Array;

beforeAll(async () => {
  wasmBytes = await readFile(WASM_PATH);
  model = await loadFaceModel(MODEL_PATH);
  scene = syntheticScene(model);
  x0 = perturbedCode(scene.xTrue);
}, 60_000);

/** A fresh module with a bump-allocating helper that returns typed views (re-made after every alloc). */
async function rawModule() {
  const ex = (await instantiateMofaWasm(wasmBytes)).exports as unknown as OptWasmExports;
  const put = <T extends Float32Array | Float64Array | Uint32Array | Uint8Array>(src: T): number => {
    const ptr = ex.alloc(Math.max(src.byteLength, 16));
    new Uint8Array(ex.memory.buffer, ptr, src.byteLength).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
    return ptr;
  };
  const f32 = (ptr: number, len: number) => new Float32Array(ex.memory.buffer, ptr, len);
  const f64 = (ptr: number, len: number) => new Float64Array(ex.memory.buffer, ptr, len);
  return { ex, put, f32, f64 };
}

/** The geometry basis [E_s | E_e] as the backend packs it: (3N, 144) row-major. */
function geometryBasis(m: FaceModel): Float32Array {
  const rows = 3 * m.t1.vertexCount;
  const G = new Float32Array(rows * 144);
  for (let r = 0; r < rows; r++) {
    G.set(m.shapeBasis.subarray(80 * r, 80 * r + 80), 144 * r);
    G.set(m.expressionBasis.subarray(64 * r, 64 * r + 64), 144 * r + 80);
  }
  return G;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let k = 0; k < a.length; k++) d = Math.max(d, Math.abs(a[k] - b[k]));
  return d;
}

describe('WASM Opt kernels vs TypeScript reference', () => {
  it('decodeAffine (Eq. 2) matches applyAffineBasis on the T1 model; gather-decode equals it bit for bit', async () => {
    const { ex, put, f32 } = await rawModule();
    const r = rng(21);
    const coeff = new Float32Array(144).map(() => 2 * r() - 1);
    const rows = 3 * model.t1.vertexCount;
    const G = geometryBasis(model);
    const ref = applyAffineBasis(model.t1.meanShape, G, coeff, new Float32Array(rows));
    const gp = put(G), mp = put(model.t1.meanShape), cp = put(coeff);
    const out = ex.alloc(4 * rows);
    ex.decodeAffine(out, mp, gp, 144, cp, rows);
    const full = f32(out, rows).slice();
    expect(maxAbsDiff(full, ref)).toBeLessThan(1e-4);

    const idx = Uint32Array.from({ length: 300 }, () => Math.floor(r() * model.t1.vertexCount));
    const ip = put(idx);
    const compact = ex.alloc(12 * idx.length);
    ex.decodeAffineVertices(compact, mp, gp, 144, cp, ip, idx.length, 1);
    const scattered = ex.alloc(4 * rows);
    ex.decodeAffineVertices(scattered, mp, gp, 144, cp, ip, idx.length, 0);
    const c = f32(compact, 3 * idx.length), s = f32(scattered, rows);
    for (let j = 0; j < idx.length; j++) {
      for (let a = 0; a < 3; a++) {
        expect(c[3 * j + a]).toBe(full[3 * idx[j] + a]);
        expect(s[3 * idx[j] + a]).toBe(full[3 * idx[j] + a]);
      }
    }
  });

  it('normalsAll / normalsVertices match computeNormals on a decoded face', async () => {
    const { ex, put, f32 } = await rawModule();
    const n = model.t1.vertexCount;
    const pos = Float32Array.from(model.t1.meanShape);
    const r = rng(3);
    for (let k = 0; k < pos.length; k++) pos[k] += 0.5 * (r() - 0.5); // break symmetries
    const ref = computeNormals(pos, model.t1.index);
    const pp = put(pos), tp = put(model.t1.index);
    const out = ex.alloc(12 * n);
    ex.normalsAll(pp, tp, model.t1.index.length / 3, n, out);
    expect(maxAbsDiff(f32(out, 3 * n), ref)).toBeLessThan(2e-5);
    // vertex → triangle CSR, as the backend builds it
    const off = new Uint32Array(n + 1);
    for (const v of model.t1.index) off[v + 1]++;
    for (let i = 0; i < n; i++) off[i + 1] += off[i];
    const fill = off.slice(0, n);
    const list = new Uint32Array(model.t1.index.length);
    model.t1.index.forEach((v, e) => { list[fill[v]++] = (e / 3) | 0; });
    const idx = Uint32Array.from({ length: 500 }, (_, j) => (j * 13) % n);
    const out2 = put(new Float32Array(3 * n));
    ex.normalsVertices(pp, tp, put(off), put(list), put(idx), idx.length, out2);
    const got = f32(out2, 3 * n);
    let d = 0;
    for (const i of idx) for (let a = 0; a < 3; a++) d = Math.max(d, Math.abs(got[3 * i + a] - ref[3 * i + a]));
    expect(d).toBeLessThan(2e-5);
  });

  it('gramAccumulate computes the upper tiles of AᵀB over a row range (panel-8 layout)', async () => {
    const { ex, put, f64 } = await rawModule();
    const rows = 37, P = 24, Q = 40, cap = 40;
    const r = rng(8);
    const A = new Float32Array(P * rows).map(() => 2 * r() - 1); // A[r*P + p]
    const B = new Float32Array(Q * rows).map(() => 2 * r() - 1);
    const panel = (M: Float32Array, cols: number) => {
      const out = new Float32Array(Math.ceil(cols / 8) * cap * 8);
      for (let rr = 0; rr < rows; rr++) for (let c = 0; c < cols; c++) out[(c >> 3) * cap * 8 + rr * 8 + (c & 7)] = M[rr * cols + c];
      return out;
    };
    const ap = put(panel(A, P)), bp = put(panel(B, Q));
    const cp = put(new Float64Array(P * Q));
    ex.gramAccumulate(cp, Q, ap, cap, bp, cap, rows, 0, P, 0, Q);
    ex.gramAccumulate(cp, Q, ap, cap, bp, cap, rows, 8, 16, 32, 40); // second pass over one block
    const C = f64(cp, P * Q);
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < Q; q++) {
        let s = 0, sa = 0;
        for (let rr = 0; rr < rows; rr++) { s += A[rr * P + p] * B[rr * Q + q]; sa += Math.abs(A[rr * P + p] * B[rr * Q + q]); }
        const inTile = q >= ((p >> 3) << 3); // 4×8 tiles meeting the upper triangle
        const twice = p >= 8 && p < 16 && q >= 32;
        const expected = inTile ? (twice ? 2 * s : s) : 0;
        expect(Math.abs(C[p * Q + q] - expected)).toBeLessThanOrEqual(1e-5 * sa + 1e-12);
      }
    }
  });
});

function expectLinearizationsClose(ref: Linearization, got: Linearization): void {
  const n = CODE_DIM;
  let worst = 0;
  for (let p = 0; p < n; p++) {
    for (let q = 0; q < n; q++) {
      const scale = Math.sqrt(ref.jtj[p * n + p] * ref.jtj[q * n + q]);
      const d = Math.abs(ref.jtj[p * n + q] - got.jtj[p * n + q]);
      worst = Math.max(worst, scale > 0 ? d / scale : d);
      expect(got.jtj[p * n + q]).toBe(got.jtj[q * n + p]);
    }
  }
  expect(worst).toBeLessThan(2e-5);
  let worstF = 0;
  for (let p = 0; p < n; p++) {
    const scale = Math.sqrt(ref.jtj[p * n + p] * ref.energy.total);
    worstF = Math.max(worstF, Math.abs(ref.jtf[p] - got.jtf[p]) / scale);
  }
  expect(worstF).toBeLessThan(1e-6);
  expectEnergiesClose(ref.energy, got.energy);
}

function expectEnergiesClose(ref: EnergyTerms, got: EnergyTerms): void {
  expect(got.photoVertices).toBe(ref.photoVertices);
  for (const k of ['total', 'photo', 'land', 'reg'] as const) {
    expect(Math.abs(got[k] - ref[k])).toBeLessThanOrEqual(1e-6 * Math.abs(ref[k]) + 1e-15);
  }
}

describe('WasmOptBackend vs ReferenceOptBackend (real model, synthetic image)', () => {
  async function pair(problem: OptProblem): Promise<{ ref: ReferenceOptBackend; wasm: WasmOptBackend }> {
    const ref = new ReferenceOptBackend();
    await ref.setProblem(problem);
    const wasm = await createWasmOptBackend(wasmBytes);
    await wasm.setProblem(problem);
    return { ref, wasm };
  }

  it('front-facing, 2000 samples, 468 landmarks: same P, JᵀJ, JᵀF and energies', async () => {
    const problem = sceneProblem(model, scene, defaultOptWeights, 2000, true);
    const { ref, wasm } = await pair(problem);
    const a = (await ref.linearize(x0, 1)) as ReferenceLinearization;
    const b = await wasm.linearize(x0, 1);
    expect(b.energy.photoVertices).toBeGreaterThan(1000);
    expect(wasm.photometricVertices).toEqual(a.set.vertex);
    expectLinearizationsClose(a, b);
    // Energy at a trial code with the fixed set / IRLS weights (all blocks moved).
    const trial = Float64Array.from(x0);
    trial[CODE_OFFSET.alpha] += 0.3;
    trial[CODE_OFFSET.delta + 2] -= 0.2;
    trial[CODE_OFFSET.beta + 1] += 0.4;
    trial[CODE_OFFSET.rotation + 1] += 0.02;
    trial[CODE_OFFSET.translation] += 1.5;
    trial[CODE_OFFSET.gamma + 3] += 0.05;
    expectEnergiesClose(await ref.energy(trial), await wasm.energy(trial));
    // Behind the camera: both report +∞.
    const behind = Float64Array.from(x0);
    behind[CODE_OFFSET.translation + 2] = 900;
    const eb = await wasm.energy(behind);
    expect((await ref.energy(behind)).total).toBe(Infinity);
    expect(eb.total).toBe(Infinity);
    expect(eb.land).toBe(Infinity);
    await expect(wasm.linearize(behind, 0)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    wasm.destroy();
  }, 30_000);

  it("'zbuffer' visibility without landmarks, gather and full decode give the same result", async () => {
    const problem: OptProblem = { ...sceneProblem(model, scene, defaultOptWeights, 400, false), visibility: 'zbuffer' };
    const { ref, wasm } = await pair(problem);
    const a = (await ref.linearize(x0, 0)) as ReferenceLinearization;
    const b = await wasm.linearize(x0, 0);
    expect(wasm.photometricVertices).toEqual(a.set.vertex);
    expect(b.energy.land).toBe(0);
    expectLinearizationsClose(a, b);

    const fp = sceneProblem(model, scene, defaultOptWeights, 400, true);
    const gather = await createWasmOptBackend(wasmBytes, { decode: 'gather' });
    const full = await createWasmOptBackend(wasmBytes, { decode: 'full' });
    await gather.setProblem(fp);
    await full.setProblem(fp);
    const lg = await gather.linearize(x0, 2);
    const lf = await full.linearize(x0, 2);
    expect(lg.jtj).toEqual(lf.jtj);
    expect(lg.jtf).toEqual(lf.jtf);
    expect(await gather.energy(x0)).toEqual(await full.energy(x0));
    for (const w of [wasm, gather, full]) w.destroy();
  }, 30_000);

  it('runOpt (5 Gauss-Newton iterations) follows the same energy path with either backend', async () => {
    const problem = sceneProblem(model, scene, defaultOptWeights, 2000, true);
    const { ref, wasm } = await pair(problem);
    const a = await runOpt(ref, x0, { iterations: 5 });
    const b = await runOpt(wasm, x0, { iterations: 5 });
    expect(b.accepted).toEqual(a.accepted);
    expect(b.energies[5].total).toBeLessThan(0.01 * b.energies[0].total); // it does converge
    // f32 Jacobians change each step by ~1e-6 relative; over 5 steps the paths stay within 1e-3.
    for (let k = 0; k <= 5; k++) {
      expect(Math.abs(b.energies[k].total - a.energies[k].total)).toBeLessThan(1e-3 * a.energies[k].total);
    }
    wasm.destroy();
  }, 30_000);

  it('linear memory does not grow across 50 linearize / energy calls; destroy is idempotent', async () => {
    const wasm = await createWasmOptBackend(wasmBytes);
    await wasm.setProblem(sceneProblem(model, scene, defaultOptWeights, 300, true));
    await wasm.linearize(x0, 0);
    const bytes = wasm.memoryBytes;
    for (let it = 0; it < 50; it++) {
      await wasm.linearize(x0, it);
      await wasm.energy(x0);
    }
    expect(wasm.memoryBytes).toBe(bytes);
    // A new problem with the same model reuses the model block.
    await wasm.setProblem(sceneProblem(model, scene, defaultOptWeights, 300, false));
    await wasm.linearize(x0, 0);
    expect(wasm.memoryBytes).toBe(bytes);
    wasm.destroy();
    wasm.destroy();
    await expect(wasm.linearize(x0, 0)).rejects.toMatchObject({ code: 'CLOSED' });
  }, 30_000);

  it('energy before linearize is an error', async () => {
    const wasm = await createWasmOptBackend(wasmBytes);
    await wasm.setProblem(sceneProblem(model, scene, defaultOptWeights, 100, false));
    await expect(wasm.energy(x0)).rejects.toMatchObject({ code: 'INTERNAL' });
    wasm.destroy();
  });
});
