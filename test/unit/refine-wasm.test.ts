/**
 * Refine on WASM SIMD (assembly/refine.ts, assembly/remap.ts) against the TypeScript reference,
 * the full 250-iteration synthetic detail recovery, and the output mesh.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import { ReferenceRefineBackend } from '../../sdk/refine/backend.js';
import { REFINE_DEFAULTS } from '../../sdk/refine/defaults.js';
import { toRefinedMesh } from '../../sdk/refine/mesh.js';
import { runRefineReference } from '../../sdk/refine/reference.js';
import { remapAttribute } from '../../sdk/refine/remap.js';
import { instantiateMofaWasm } from '../../sdk/wasm/linalg.js';
import { WasmRefineBackend } from '../../sdk/wasm/refine-backend.js';
import { asRemapExports, remapWasm } from '../../sdk/wasm/remap.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { MofaError } from '../../sdk/errors.js';
import { rng } from './reference-meshes.js';
import { detailError, detailScene, flippedTriangles, type DetailScene } from './refine-scene.js';

const WASM_PATH = new URL('../../build/wasm/mofa.wasm', import.meta.url);

let model: FaceModel;
let scene: DetailScene;
let wasmBytes: Uint8Array;

beforeAll(async () => {
  model = await loadFaceModel(new URL('../../models/mofa-face-v1.mofa', import.meta.url));
  scene = detailScene(model);
  wasmBytes = await readFile(WASM_PATH);
}, 60_000);

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]));
  return m;
}

function rmsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) ** 2;
  return Math.sqrt(s / a.length);
}

describe('Refine remap T1 → T2', () => {
  it('WASM remap is bit-identical to the TS reference; both match a float64 evaluation of L', async () => {
    const ex = asRemapExports((await instantiateMofaWasm(wasmBytes)).exports);
    const r = rng(3);
    const n1 = model.t1.vertexCount;
    for (const [name, src, width] of [
      ['positions', model.t1.meanShape, 3],
      ['albedo', model.albedoMean, 3],
      ['random width 5', new Float32Array(5 * n1).map(() => 200 * r() - 100), 5],
    ] as [string, Float32Array, number][]) {
      const ts = remapAttribute(src, width, model.t2.fromT1);
      const wa = remapWasm(ex, src, width, model.t2.fromT1);
      expect(wa.length, name).toBe(model.t2.vertexCount * width);
      expect(Buffer.from(wa.buffer).equals(Buffer.from(ts.buffer)), name).toBe(true);
      const { index, weight } = model.t2.fromT1;
      let worst = 0;
      for (let j = 0; j < model.t2.vertexCount; j++) {
        for (let c = 0; c < width; c++) {
          let acc = 0, mag = 0;
          for (let k = 0; k < 3; k++) {
            acc += weight[3 * j + k] * src[index[3 * j + k] * width + c];
            mag += Math.abs(weight[3 * j + k] * src[index[3 * j + k] * width + c]);
          }
          worst = Math.max(worst, Math.abs(ts[j * width + c] - acc) / Math.max(mag, 1e-30));
        }
      }
      expect(worst, name).toBeLessThan(1e-6);
    }
    expect(() => remapWasm(ex, new Float32Array(9), 3, model.t2.fromT1)).toThrow(MofaError);
  }, 60_000);
});

describe('Refine WASM backend', () => {
  it('one iteration: displacements (= −step·∇E) and energies match the float64 reference to f32 precision', async () => {
    const be = await WasmRefineBackend.create(wasmBytes);
    await be.setProblem(scene.problem);
    const w = await be.run({ iterations: 1 });
    const ref = runRefineReference(scene.problem, { iterations: 1 });
    const scale = maxAbs(ref.displacements);
    expect(scale).toBeGreaterThan(0.01);
    expect(maxAbs(w.displacements.map((v, k) => v - ref.displacements[k]))).toBeLessThan(2e-4 * scale);
    expect(rmsDiff(w.displacements, ref.displacements)).toBeLessThan(1e-5 * scale);
    expect(maxAbs(w.positions.map((v, k) => v - ref.positions[k]))).toBeLessThan(1e-4);
    for (let k = 0; k < 2; k++) expect(Math.abs(w.energies[k] - ref.energies[k])).toBeLessThan(1e-5 * ref.energies[k]);
    be.destroy();
    be.destroy();
    await expect(be.run()).rejects.toThrow(MofaError);
  }, 60_000);

  it('after 20 iterations the WASM result stays close to the reference', async () => {
    const be = await WasmRefineBackend.create(wasmBytes);
    await be.setProblem(scene.problem);
    const its = 20;
    const w = await be.run({ iterations: its });
    await expect(new ReferenceRefineBackend().run()).rejects.toThrow(MofaError); // before setProblem
    const rb = new ReferenceRefineBackend();
    await rb.setProblem(scene.problem);
    const r = await rb.run({ iterations: its });
    const scale = maxAbs(r.displacements);
    const rms = rmsDiff(w.displacements, r.displacements);
    // eslint-disable-next-line no-console
    console.log(`refine WASM vs reference after ${its} it: RMS diff ${rms.toExponential(2)} mm, max ${maxAbs(w.displacements.map((v, k) => v - r.displacements[k])).toExponential(2)} mm (max |d| ${scale.toFixed(3)} mm); E ${w.energies[its].toExponential(5)} vs ${r.energies[its].toExponential(5)}`);
    expect(rms).toBeLessThan(1e-3 * scale);
    expect(Math.abs(w.energies[its] - r.energies[its])).toBeLessThan(1e-3 * r.energies[its]);
    be.destroy();
    rb.destroy();
  }, 60_000);

  it('recovers the synthetic fine detail in 250 iterations (defaults) without NaN or flipped triangles', async () => {
    const be = await WasmRefineBackend.create(wasmBytes);
    await be.setProblem(scene.problem);
    const res = await be.run();
    const its = REFINE_DEFAULTS.iterations;
    for (const v of res.positions) expect(Number.isFinite(v)).toBe(true);
    const before = detailError(model, scene, scene.coarse);
    const after = detailError(model, scene, res.positions);
    // eslint-disable-next-line no-console
    console.log(`refine detail (WASM, ${its} it, ${res.ms.toFixed(0)} ms): normal RMS ${before.rmsNormal.toFixed(3)} → ${after.rmsNormal.toFixed(3)} mm, band RMS ${before.rmsBand.toFixed(3)} → ${after.rmsBand.toFixed(3)} mm, correlation ${after.correlation.toFixed(3)} (${after.count} vertices); E ${res.energies[0].toExponential(3)} → ${res.energies[its].toExponential(3)}`);
    // Measured: 0.413 → 0.102 mm, band 0.382 → 0.073 mm, correlation 0.988.
    expect(after.rmsNormal).toBeLessThan(0.15);
    expect(after.rmsBand).toBeLessThan(0.11);
    expect(after.correlation).toBeGreaterThan(0.96);
    expect(res.energies[its]).toBeLessThan(0.2 * res.energies[0]);
    expect(flippedTriangles(scene.coarse, res.positions, model.t2.index)).toBe(0);

    const mesh = toRefinedMesh(model, res, model.albedoMean);
    expect(mesh.position).toEqual(res.positions);
    expect(mesh.index).toEqual(model.t2.index);
    expect(mesh.uv.length).toBe(2 * model.t2.vertexCount);
    expect(mesh.color).toEqual(scene.albedoT2.map((v) => Math.min(1, Math.max(0, v))));
    for (let i = 0; i < model.t2.vertexCount; i += 97) {
      expect(Math.hypot(mesh.normal[3 * i], mesh.normal[3 * i + 1], mesh.normal[3 * i + 2])).toBeCloseTo(1, 5);
    }
    expect(() => toRefinedMesh(model, { positions: new Float32Array(6) }, model.albedoMean)).toThrow(MofaError);
    be.destroy();
  }, 60_000);
});
