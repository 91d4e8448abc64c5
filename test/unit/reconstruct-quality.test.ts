/**
 * reconstruct() at quality 'balanced' (initial code + Gauss-Newton Opt) and 'high' (+ Refine on
 * T2) in Node, backend 'wasm', on the public-domain portraits: Opt lowers the energy and the
 * photometric error over the face vs 'fast' while keeping the landmarks on the landmarker's
 * points; Refine returns a finite T2 mesh with no flipped triangles and a lower energy;
 * backends are created once per reconstructor (no WebAssembly instantiation on later calls);
 * abort between stages and close().
 *
 * The photometric error is measured here independently of the pipeline: the crop is rebuilt
 * from the result's detected landmarks, the mesh is shaded with the result's albedo and SH
 * lighting and projected with `pose.cropIntrinsics`, over the model's front-face vertices that
 * face the camera and fall inside the crop.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MofaError } from '../../sdk/errors.js';
import { project, toCamera } from '../../sdk/model/camera.js';
import { codeSlices } from '../../sdk/model/code-layout.js';
import { computeShape } from '../../sdk/model/decode.js';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import { irradiance } from '../../sdk/model/shading.js';
import { readImage } from '../../sdk/node/image-io.js';
import { sampleBilinear } from '../../sdk/opt/image.js';
import { cropLinearImage, faceCropFromLandmarks, landmarksToCrop } from '../../sdk/pipeline/crop.js';
import { compileMofaWasm, createComputeStages } from '../../sdk/pipeline/compute-stages.js';
import { GaussNewtonOptStage } from '../../sdk/pipeline/opt-stage.js';
import type { FaceStageInput } from '../../sdk/pipeline/stages.js';
import type { OptBackend } from '../../sdk/opt/backend.js';
import { repairFolds } from '../../sdk/pipeline/refine-stage.js';
import { createReconstructor, type Reconstructor } from '../../sdk/reconstructor.js';
import { remapAttribute } from '../../sdk/refine/remap.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import type { FaceReconstruction, ReconstructionResult } from '../../sdk/types/reconstruct-result.js';
import type { RgbaImage } from '../../sdk/vision/image.js';

const PORTRAITS = ['demo/assets/astronaut.png', 'demo/assets/grace_hopper.jpg'];

function median(v: ArrayLike<number>): number {
  const a = Float64Array.from(v).sort();
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : 0.5 * (a[m - 1] + a[m]);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<MofaError> {
  const e = await p.then(
    () => {
      throw new Error(`expected MofaError ${code}, but the call resolved`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MofaError);
  expect((e as MofaError).code, (e as Error).message).toBe(code);
  return e as MofaError;
}

/**
 * Per front-face T1 vertex: |c − I| averaged over R, G, B (linear RGB) in the crop, NaN where
 * the vertex faces away from the camera or falls outside the crop.
 */
function photometricErrors(model: FaceModel, image: RgbaImage, f: FaceReconstruction): Float64Array {
  expect(f.mesh.topology).toBe('T1');
  const crop = faceCropFromLandmarks(f.detectedLandmarks);
  for (let k = 0; k < 6; k++) expect(crop.cropToImage[k]).toBeCloseTo(f.pose.cropToImage[k], 6); // the pipeline's crop
  const I = cropLinearImage(image, crop);
  const u = project(f.mesh.position, f.pose.cropIntrinsics).screen;
  const E = f.lighting.irradiance(f.mesh.normal);
  const s = new Float64Array(9);
  const out = new Float64Array(model.frontFace.length).fill(NaN);
  model.frontFace.forEach((v, k) => {
    const p = f.mesh.position.subarray(3 * v, 3 * v + 3), n = f.mesh.normal.subarray(3 * v, 3 * v + 3);
    if (!(n[0] * p[0] + n[1] * p[1] + n[2] * p[2] < 0)) return;
    const x = u[2 * v], y = u[2 * v + 1];
    if (!(x >= 0 && x < I.width && y >= 0 && y < I.height)) return;
    sampleBilinear(I, x, y, s);
    let d = 0;
    for (let c = 0; c < 3; c++) d += Math.abs(f.albedo[3 * v + c] * E[3 * v + c] - s[c]);
    out[k] = d / 3;
  });
  return out;
}

/** Mean of a and b over the entries finite in both (the vertices visible in both fits). */
function meanOverCommon(a: Float64Array, b: Float64Array): { a: number; b: number; count: number } {
  let sa = 0, sb = 0, count = 0;
  for (let k = 0; k < a.length; k++) {
    if (Number.isFinite(a[k]) && Number.isFinite(b[k])) {
      sa += a[k];
      sb += b[k];
      count++;
    }
  }
  return { a: sa / count, b: sb / count, count };
}

/** Model landmarks vs the landmarker's points, crop px. */
function landmarkErrorsCropPx(f: FaceReconstruction): Float64Array {
  const k = f.pose.cropToImage[0];
  const out = new Float64Array(468);
  for (let i = 0; i < 468; i++) out[i] = Math.hypot(f.landmarks[2 * i] - f.detectedLandmarks[3 * i], f.landmarks[2 * i + 1] - f.detectedLandmarks[3 * i + 1]) / k;
  return out;
}

function allFinite(...arrays: ArrayLike<number>[]): boolean {
  return arrays.every((a) => Array.from(a).every(Number.isFinite));
}

function stageMs(r: ReconstructionResult): string {
  return JSON.stringify(Object.fromEntries(Object.entries(r.diagnostics.stageMs).map(([k, v]) => [k, Math.round(v as number)])));
}

let model: FaceModel;
let rec: Reconstructor;
const images: RgbaImage[] = [];
const fast: ReconstructionResult[] = [];
const balanced: ReconstructionResult[] = [];

beforeAll(async () => {
  model = await loadFaceModel('models/mofa-face-v1.mofa');
  rec = await createReconstructor({ runIn: 'thread', backend: 'wasm' });
  for (const file of PORTRAITS) {
    const img = readImage(file);
    images.push(img);
    fast.push(await rec.reconstruct(img, { quality: 'fast' }));
    balanced.push(await rec.reconstruct(img, { quality: 'balanced' }));
  }
}, 180_000);
afterAll(async () => {
  await rec?.close();
});

describe("quality 'balanced' (initial code + Opt, backend 'wasm')", () => {
  it.each(PORTRAITS.map((p, i) => [p, i] as const))('%s: Opt descends, lowers the photometric error vs fast, keeps the landmarks', (file, i) => {
    const r = balanced[i];
    const f = r.faces[0];
    const e = r.diagnostics.energies[0];
    expect(r.diagnostics.quality).toBe('balanced');
    expect(r.diagnostics.backend).toBe('wasm');
    expect(r.diagnostics.backendReason).toMatch(/requested 'wasm'/);
    expect(r.diagnostics.stageMs.opt).toBeGreaterThan(0);
    expect(r.diagnostics.stageMs.refine).toBeUndefined();
    // Energies: 5 iterations; every accepted step lowers that iteration's energy; the energy at
    // the start of each iteration (fresh 2000-vertex sample) does not go up beyond sampling noise.
    expect(e.opt).toHaveLength(6);
    expect(e.optTerms).toHaveLength(6);
    expect(e.optAtLinearization).toHaveLength(5);
    expect(allFinite(e.opt, e.optAtLinearization)).toBe(true);
    for (let k = 0; k < 5; k++) expect(e.opt[k + 1]).toBeLessThanOrEqual(e.optAtLinearization[k]);
    for (let k = 1; k < 5; k++) expect(e.optAtLinearization[k]).toBeLessThanOrEqual(e.optAtLinearization[k - 1] * 1.02);
    expect(e.opt[5]).toBeLessThan(0.9 * e.opt[0]);
    for (const t of e.optTerms) expect(t.photoVertices).toBeGreaterThan(500);
    // Outputs finite, T1.
    expect(f.mesh.topology).toBe('T1');
    expect(allFinite(f.mesh.position, f.mesh.normal, f.albedo, f.code, f.lighting.sh, f.landmarks)).toBe(true);
    // Photometric error over the face: lower than 'fast' on the vertices visible in both.
    const errFast = photometricErrors(model, images[i], fast[i].faces[0]);
    const errBal = photometricErrors(model, images[i], f);
    const m = meanOverCommon(errFast, errBal);
    expect(m.count).toBeGreaterThan(2000);
    // Landmarks stay on the landmarker's points.
    const lmFast = median(landmarkErrorsCropPx(fast[i].faces[0]));
    const lmBal = median(landmarkErrorsCropPx(f));
    console.info(`${file}: fast ${stageMs(fast[i])}; balanced ${stageMs(r)}; Opt E ${e.opt.map((v) => v.toFixed(3)).join(' → ')} (at linearisation ${e.optAtLinearization.map((v) => v.toFixed(3)).join(', ')}); mean |c − I| over ${m.count} front-face vertices: fast ${m.a.toFixed(4)}, balanced ${m.b.toFixed(4)}; landmark median fast ${lmFast.toFixed(2)} / balanced ${lmBal.toFixed(2)} crop px`);
    expect(m.b).toBeLessThan(0.9 * m.a);
    expect(lmBal).toBeLessThan(3);
    expect(lmBal).toBeLessThan(lmFast + 1);
  });
});

describe("quality 'high' (+ Refine on T2, backend 'wasm')", () => {
  it('returns the refined T2 mesh: finite, no flipped triangles vs the coarse surface, Refine energy decreases; backends are reused', async () => {
    const instantiate = vi.spyOn(WebAssembly, 'instantiate');
    const compile = vi.spyOn(WebAssembly, 'compile');
    let r: ReconstructionResult;
    try {
      r = await rec.reconstruct(images[0], { quality: 'high' });
      // Created once per reconstructor: no module compiled or instantiated by this (later) call.
      expect(compile).not.toHaveBeenCalled();
      expect(instantiate).not.toHaveBeenCalled();
    } finally {
      instantiate.mockRestore();
      compile.mockRestore();
    }
    const f = r.faces[0];
    const e = r.diagnostics.energies[0];
    expect(r.diagnostics.quality).toBe('high');
    expect(r.diagnostics.stageMs.load).toBeUndefined();
    expect(r.diagnostics.stageMs.refine).toBeGreaterThan(0);
    const n2 = model.t2.vertexCount;
    expect(n2).toBe(24_343);
    expect(f.mesh.topology).toBe('T2');
    expect(f.mesh.position).toHaveLength(3 * n2);
    expect(f.mesh.normal).toHaveLength(3 * n2);
    expect(f.mesh.uv).toHaveLength(2 * n2);
    expect(f.albedo).toHaveLength(3 * n2);
    expect(Array.from(f.mesh.index)).toEqual(Array.from(model.t2.index));
    expect(allFinite(f.mesh.position, f.mesh.normal, f.mesh.uv, f.albedo, f.code, f.landmarks)).toBe(true);
    for (const a of f.albedo) expect(a >= 0 && a <= 1).toBe(true);
    // Opt is deterministic: the same code as the 'balanced' call on this image.
    for (let k = 0; k < 257; k++) expect(f.code[k]).toBeCloseTo(balanced[0].faces[0].code[k], 9);
    // Coarse T2 surface (Opt code → T1 → L) in the camera frame vs the refined one: no flips,
    // small displacements (mm).
    const x = codeSlices(f.code);
    const coarse = toCamera(remapAttribute(computeShape(model, x.alpha, x.delta), 3, model.t2.fromT1), f.pose.rotation.matrix, f.pose.translation);
    const idx = f.mesh.index;
    const faceNormal = (P: Float32Array, t: number): [number, number, number] => {
      const a = 3 * idx[3 * t], b = 3 * idx[3 * t + 1], c = 3 * idx[3 * t + 2];
      const ux = P[b] - P[a], uy = P[b + 1] - P[a + 1], uz = P[b + 2] - P[a + 2];
      const vx = P[c] - P[a], vy = P[c + 1] - P[a + 1], vz = P[c + 2] - P[a + 2];
      return [uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx];
    };
    let flipped = 0;
    for (let t = 0; t < idx.length / 3; t++) {
      const p = faceNormal(f.mesh.position, t), q = faceNormal(coarse, t);
      if (!(p[0] * q[0] + p[1] * q[1] + p[2] * q[2] > 0)) flipped++;
    }
    let maxDisp = 0, sumDisp = 0;
    for (let i = 0; i < n2; i++) {
      const d = Math.hypot(f.mesh.position[3 * i] - coarse[3 * i], f.mesh.position[3 * i + 1] - coarse[3 * i + 1], f.mesh.position[3 * i + 2] - coarse[3 * i + 2]);
      maxDisp = Math.max(maxDisp, d);
      sumDisp += d;
    }
    // Refine energy: evaluated every iteration on wasm, decreasing overall.
    expect(e.refine).toHaveLength(251);
    expect(e.refine[0].iteration).toBe(0);
    expect(e.refine.at(-1)!.iteration).toBe(250);
    expect(allFinite(e.refine.map((v) => v.energy))).toBe(true);
    console.info(`high ${stageMs(r)}; Refine E ${e.refine[0].energy.toExponential(3)} → ${e.refine.at(-1)!.energy.toExponential(3)}; displacement mean ${(sumDisp / n2).toFixed(3)} mm, max ${maxDisp.toFixed(2)} mm; flipped triangles ${flipped}, fold-repaired vertices ${e.refineFoldRepairedVertices}`);
    expect(flipped).toBe(0);
    expect(e.refineFoldRepairedVertices).toBeLessThan(0.002 * n2); // the guard is a safety net, not the mechanism
    expect(e.refine.at(-1)!.energy).toBeLessThan(e.refine[0].energy);
    expect(maxDisp).toBeLessThan(10);
    expect(maxDisp).toBeGreaterThan(0.01); // Refine did move the surface
  }, 120_000);

  it('aborting after Opt stops before Refine (ABORTED); after close() calls reject with CLOSED', async () => {
    const r2 = await createReconstructor({ runIn: 'thread', backend: 'wasm', iterations: { opt: 2, refine: 10 } });
    const ac = new AbortController();
    const seen: string[] = [];
    await expectCode(
      r2.reconstruct(images[0], {
        quality: 'high',
        signal: ac.signal,
        onProgress: (p) => {
          seen.push(p.stage);
          if (p.stage === 'opt') ac.abort();
        },
      }),
      'ABORTED',
    );
    expect(seen).toContain('opt');
    expect(seen).not.toContain('refine');
    // Reduced iterations are honoured.
    const small = await r2.reconstruct(images[0], { quality: 'high' });
    expect(small.diagnostics.energies[0].opt).toHaveLength(3);
    expect(small.diagnostics.energies[0].refine.at(-1)!.iteration).toBe(10);
    await r2.close();
    await r2.close();
    await expectCode(r2.reconstruct(images[0], { quality: 'balanced' }), 'CLOSED');
    await expectCode(createReconstructor({ iterations: { opt: 0 } }), 'BAD_INPUT');
  }, 120_000);
});

describe('repairFolds (Refine output guard)', () => {
  it('undoes a folded triangle by shrinking only its corners’ displacements, leaves an unfolded mesh alone', () => {
    // Two triangles sharing edge (1, 2) in the z = 0 plane, both CCW seen from +z.
    const coarse = Float32Array.of(0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0);
    const index = Uint32Array.of(0, 1, 2, 1, 3, 2);
    const fine = Float32Array.from(coarse);
    fine[11] = 0.3; // vertex 3 moves along the normal: no fold
    expect(repairFolds(coarse, fine, index)).toBe(0);
    expect(fine[11]).toBeCloseTo(0.3, 6);
    // Vertex 3 pushed across edge (1, 2): triangle 1 flips.
    const folded = Float32Array.from(coarse);
    folded[9] = -0.4; folded[10] = -0.4;
    const n = repairFolds(coarse, folded, index);
    expect(n).toBe(3); // the corners of triangle 1
    // Triangle (1, 3, 2): (v3 − v1) × (v2 − v1) has +z again (CCW seen from +z, as the coarse one).
    const [ux, uy] = [folded[9] - folded[3], folded[10] - folded[4]], [vx, vy] = [folded[6] - folded[3], folded[7] - folded[4]];
    expect(ux * vy - uy * vx).toBeGreaterThan(0);
    expect(folded[0]).toBe(0); // vertex 0 (only in the unfolded triangle) untouched
  });
});

describe('Opt stage: abort between Gauss-Newton iterations, failures are typed errors (never NaN)', () => {
  /** The pipeline's stage input for portrait 0, rebuilt from the 'fast' result. */
  function stageInput(signal?: AbortSignal): FaceStageInput {
    const f = fast[0].faces[0];
    const crop = faceCropFromLandmarks(f.detectedLandmarks);
    return { model, crop, cropImage: cropLinearImage(images[0], crop), landmarks: landmarksToCrop(f.detectedLandmarks, crop), signal };
  }

  it('an AbortSignal fired after the first iteration stops Opt with ABORTED', async () => {
    const stages = await createComputeStages('wasm', await compileMofaWasm('build/wasm/mofa.wasm'));
    try {
      const ac = new AbortController();
      const fractions: number[] = [];
      const e = await expectCode(
        stages.opt.optimize(stageInput(ac.signal), fast[0].faces[0].code, (fr) => {
          fractions.push(fr);
          ac.abort();
        }),
        'ABORTED',
      );
      expect(fractions).toEqual([0.2]); // one of 5 iterations ran
      expect(e.message).toMatch(/abort/i);
    } finally {
      stages.destroy();
      stages.destroy(); // twice is harmless
    }
  });

  it('a backend returning a non-finite linearisation gives MofaError INTERNAL, not a NaN code', async () => {
    const nanBackend: OptBackend = {
      kind: 'wasm',
      async setProblem() {},
      async linearize() {
        return { jtj: new Float64Array(257 * 257).fill(NaN), jtf: new Float64Array(257), energy: { total: 1, photo: 1, land: 0, reg: 0, photoVertices: 10 } };
      },
      async energy() {
        return { total: NaN, photo: NaN, land: 0, reg: 0, photoVertices: 10 };
      },
      destroy() {},
    };
    const stage = new GaussNewtonOptStage(nanBackend, undefined);
    const e = await expectCode(stage.optimize(stageInput(), fast[0].faces[0].code), 'INTERNAL');
    expect(e.message).toMatch(/Opt \(Gauss-Newton, wasm\) failed on this face/);
  });
});

describe('mofa.wasm asset errors', () => {
  it('a truncated mofa.wasm is MODEL_INTEGRITY (also through reconstruct), a missing one ASSET_LOAD', async () => {
    const bytes = readFileSync('build/wasm/mofa.wasm');
    const truncated = new Uint8Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 2));
    await expectCode(compileMofaWasm(truncated), 'MODEL_INTEGRITY');
    await expectCode(compileMofaWasm('build/wasm/does-not-exist.wasm'), 'ASSET_LOAD');
    const r = await createReconstructor({ runIn: 'thread', assets: { mofaWasm: truncated } });
    try {
      await expectCode(r.reconstruct(images[0], { quality: 'balanced' }), 'MODEL_INTEGRITY');
      expect((await r.reconstruct(images[0], { quality: 'fast' })).faces).toHaveLength(1); // 'fast' needs no mofa.wasm
    } finally {
      await r.close();
    }
  }, 60_000);
});
