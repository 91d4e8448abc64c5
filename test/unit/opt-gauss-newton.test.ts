/**
 * Gauss-Newton Opt driver (paper Sec. 9.1) on the reference backend: synthetic recovery of a
 * rendered face, driver mechanics on small analytic backends, and failure cases.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { MofaError } from '../../sdk/errors.js';
import { CODE_DIM } from '../../sdk/model/code-layout.js';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import type { EnergyTerms, Linearization, OptBackend, OptProblem } from '../../sdk/opt/backend.js';
import { defaultOptWeights, runOpt } from '../../sdk/opt/gauss-newton.js';
import { ReferenceOptBackend } from '../../sdk/opt/reference-backend.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { loadLinalg } from '../../sdk/wasm/linalg.js';
import {
  geometricErrorMm, landmarkErrorPx, perturbedCode, photometricError, rotationErrorDeg, sceneProblem, syntheticScene,
  type SyntheticScene,
} from './opt-scene.js';
import { rng } from './reference-meshes.js';

async function expectMofaError(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(MofaError);
    expect((e as MofaError).code).toBe(code);
    return;
  }
  throw new Error(`expected MofaError ${code}`);
}

describe('runOpt on the reference backend: synthetic recovery', () => {
  let model: FaceModel;
  let scene: SyntheticScene;
  let problem: OptProblem;

  beforeAll(async () => {
    model = await loadFaceModel('models/mofa-face-v1.mofa');
    scene = syntheticScene(model);
    problem = sceneProblem(model, scene, defaultOptWeights, 2000);
  });

  it('recovers pose, shape and appearance of a rendered face in 5 iterations', async () => {
    const x0 = perturbedCode(scene.xTrue);
    const before = {
      geo: geometricErrorMm(model, x0, scene.shape), photo: photometricError(problem, x0),
      land: landmarkErrorPx(problem, x0, scene.landmarks), rot: rotationErrorDeg(x0, scene.xTrue),
    };
    const backend = new ReferenceOptBackend();
    await backend.setProblem(problem);
    const progress: number[] = [];
    const res = await runOpt(backend, x0, { iterations: 5, onProgress: (p) => progress.push(p.fraction) });
    backend.destroy();
    const after = {
      geo: geometricErrorMm(model, res.x, scene.shape), photo: photometricError(problem, res.x),
      land: landmarkErrorPx(problem, res.x, scene.landmarks), rot: rotationErrorDeg(res.x, scene.xTrue),
    };
    const truth = { photo: photometricError(problem, scene.xTrue), land: landmarkErrorPx(problem, scene.xTrue, scene.landmarks) };
    console.log(
      `Opt synthetic recovery (5 it, 2000 samples, ${res.ms.toFixed(0)} ms): ` +
      `geometric ${before.geo.toFixed(2)} → ${after.geo.toFixed(2)} mm, photometric ${before.photo.toFixed(4)} → ${after.photo.toFixed(4)} (true code ${truth.photo.toFixed(4)}), ` +
      `landmarks ${before.land.toFixed(2)} → ${after.land.toFixed(2)} px (true ${truth.land.toFixed(2)}), rotation ${before.rot.toFixed(1)} → ${after.rot.toFixed(2)}°; ` +
      `energies ${res.energies.map((e) => e.total.toPrecision(4)).join(' → ')}; λ ${res.lambdas.map((l) => l.toExponential(1)).join(', ')}`,
    );
    expect(res.x.every(Number.isFinite)).toBe(true);
    expect(res.solver).toBe('typescript');
    expect(progress).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    // energy: monotone over the run (measured 1307 → 101 → 8.4 → 4.0 → 3.8 → 3.1) and never up within an iteration
    expect(res.energies).toHaveLength(6);
    for (let k = 0; k < 5; k++) {
      expect(res.energies[k + 1].total).toBeLessThanOrEqual(res.energies[k].total);
      expect(res.energies[k + 1].total).toBeLessThanOrEqual(res.linearizationEnergies[k].total);
    }
    expect(res.energies[5].total).toBeLessThan(0.01 * res.energies[0].total);
    // measured: geometric 2.96 → 2.34 mm, photometric 0.113 → 0.0082 (true code 0.0077),
    // landmarks 16.2 → 0.61 px (true 0.61), rotation 14.9 → 1.7°
    expect(before.geo).toBeGreaterThan(2.8);
    expect(after.geo).toBeLessThan(2.6);
    expect(after.photo).toBeLessThan(0.011);
    expect(after.photo).toBeLessThan(0.1 * before.photo);
    expect(after.land).toBeLessThan(0.8);
    expect(after.rot).toBeLessThan(3);
  }, 60_000);

  it('the AssemblyScript Cholesky gives the same steps as the TypeScript reference', async () => {
    const linalg = await loadLinalg(await readFile(new URL('../../build/wasm/mofa.wasm', import.meta.url)));
    const small = { ...problem, sampleCount: 300 };
    const x0 = perturbedCode(scene.xTrue);
    const runs = [];
    for (const opts of [{}, { linalg }]) {
      const backend = new ReferenceOptBackend();
      await backend.setProblem(small);
      runs.push(await runOpt(backend, x0, { iterations: 2, ...opts }));
    }
    expect(runs[1].solver).toBe('wasm');
    let maxDiff = 0;
    for (let k = 0; k < CODE_DIM; k++) maxDiff = Math.max(maxDiff, Math.abs(runs[0].x[k] - runs[1].x[k]));
    expect(maxDiff).toBeLessThan(1e-6);
    expect(runs[1].energies[2].total).toBeCloseTo(runs[0].energies[2].total, 6);
  }, 30_000);

  it('rejects bad inputs: NaN in x, image size mismatch, use after destroy, abort', async () => {
    const backend = new ReferenceOptBackend();
    await backend.setProblem(problem);
    const bad = perturbedCode(scene.xTrue);
    bad[100] = NaN;
    await expectMofaError(runOpt(backend, bad), 'BAD_INPUT');
    await expectMofaError(backend.linearize(bad, 0), 'BAD_INPUT');
    await expectMofaError(backend.energy(scene.xTrue), 'INTERNAL'); // before any linearize
    await expectMofaError(runOpt(backend, new Float64Array(256)), 'BAD_INPUT');
    const wrongSize = { ...problem, image: { width: 240, height: 200, rgb: problem.image.rgb } };
    await expectMofaError(new ReferenceOptBackend().setProblem(wrongSize), 'BAD_INPUT');
    const controller = new AbortController();
    controller.abort();
    await expectMofaError(runOpt(backend, scene.xTrue, { signal: controller.signal }), 'ABORTED');
    backend.destroy();
    backend.destroy(); // twice is harmless
    await expectMofaError(backend.linearize(scene.xTrue, 0), 'CLOSED');
  });
});

/** A backend for the linear least-squares problem F(x) = A x − b (A: m × 257). */
class LinearBackend implements OptBackend {
  readonly kind = 'reference' as const;
  private readonly jtj: Float64Array;
  constructor(readonly A: Float64Array, readonly b: Float64Array, readonly m: number, jtjOverride?: Float64Array) {
    // JᵀJ = AᵀA is constant for a linear F.
    this.jtj = jtjOverride ?? new Float64Array(CODE_DIM * CODE_DIM);
    if (!jtjOverride) {
      for (let r = 0; r < m; r++) {
        const row = r * CODE_DIM;
        for (let p = 0; p < CODE_DIM; p++) {
          const a = A[row + p], o = p * CODE_DIM;
          for (let q = 0; q < CODE_DIM; q++) this.jtj[o + q] += a * A[row + q];
        }
      }
    }
  }
  async setProblem(): Promise<void> {}
  residual(x: Float64Array): Float64Array {
    const { A, b, m } = this;
    const F = new Float64Array(m);
    for (let r = 0; r < m; r++) {
      let s = -b[r];
      for (let c = 0; c < CODE_DIM; c++) s += A[r * CODE_DIM + c] * x[c];
      F[r] = s;
    }
    return F;
  }
  trueEnergy(x: Float64Array): EnergyTerms {
    let e = 0;
    for (const f of this.residual(x)) e += f * f;
    return { total: e, photo: e, land: 0, reg: 0, photoVertices: 0 };
  }
  async linearize(x: Float64Array): Promise<Linearization> {
    const { A, m } = this;
    const F = this.residual(x);
    const jtf = new Float64Array(CODE_DIM);
    for (let r = 0; r < m; r++) for (let p = 0; p < CODE_DIM; p++) jtf[p] += A[r * CODE_DIM + p] * F[r];
    return { jtj: this.jtj, jtf, energy: this.trueEnergy(x) };
  }
  async energy(x: Float64Array): Promise<EnergyTerms> {
    return this.trueEnergy(x);
  }
  destroy(): void {}
}

describe('runOpt mechanics (analytic backends)', () => {
  const m = 260;
  const r = rng(4);
  const A = Float64Array.from({ length: m * CODE_DIM }, () => r() - 0.5);
  const xStar = Float64Array.from({ length: CODE_DIM }, () => r() - 0.5);
  const b = new Float64Array(m);
  for (let i = 0; i < m; i++) for (let c = 0; c < CODE_DIM; c++) b[i] += A[i * CODE_DIM + c] * xStar[c];

  it('solves a linear least-squares problem in one accepted step per iteration', async () => {
    const res = await runOpt(new LinearBackend(A, b, m), new Float64Array(CODE_DIM), { iterations: 3, lambda0: 1e-6 });
    expect(res.accepted).toEqual([true, true, true]);
    let err = 0;
    for (let c = 0; c < CODE_DIM; c++) err = Math.max(err, Math.abs(res.x[c] - xStar[c]));
    expect(err).toBeLessThan(1e-4);
    expect(res.energies[3].total).toBeLessThan(1e-8 * res.energies[0].total);
    expect(res.lambdas[0]).toBeCloseTo(1e-6 / 3, 12);
  });

  it('raises λ ×4 when steps are rejected and keeps x (no NaN) when none is accepted', async () => {
    // a backend whose trial energies are never finite (e.g. every trial leaves the image)
    class Rejecting extends LinearBackend {
      override async energy(x: Float64Array): Promise<EnergyTerms> {
        return { ...this.trueEnergy(x), total: NaN };
      }
    }
    const x0 = new Float64Array(CODE_DIM);
    const res = await runOpt(new Rejecting(A, b, m), x0, { iterations: 1, lambda0: 1e-2 });
    expect(res.accepted).toEqual([false]);
    expect(res.steps.map((s) => s.lambda)).toEqual([1e-2, 4e-2, 16e-2, 64e-2]);
    expect(res.lambdas[0]).toBeCloseTo(2.56, 12);
    expect(Array.from(res.x)).toEqual(Array.from(x0));
    expect(res.energies[1].total).toBe(res.energies[0].total);
    expect(res.steps.every((st) => st.energy === Infinity && st.status === 0)).toBe(true);
  });

  it('throws INTERNAL when no damped system can be factorised (indefinite JᵀJ)', async () => {
    const bad = new Float64Array(CODE_DIM * CODE_DIM);
    for (let k = 0; k < CODE_DIM; k++) bad[k * CODE_DIM + k] = 1;
    bad[1] = bad[CODE_DIM] = 100; // leading block [[1, 100], [100, 1]] + λ diag is indefinite for λ < 99
    const res = runOpt(new LinearBackend(A, b, m, bad), new Float64Array(CODE_DIM), { iterations: 1, lambda0: 0.1 });
    await expectMofaError(res, 'INTERNAL');
  });
});
