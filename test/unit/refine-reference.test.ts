/**
 * Refine TypeScript reference (sdk/refine/reference.ts): exact gradient vs central finite
 * differences, energy decrease, no NaN / flipped triangles, and synthetic detail recovery.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import {
  allocForward, prepareRefineState, refineEnergy, refineForward, refineGradient, refreshWeights, runRefineReference,
  type RefineRunResult, type RefineState,
} from '../../sdk/refine/reference.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { rng } from './reference-meshes.js';
import { detailError, detailScene, flippedTriangles, type DetailScene } from './refine-scene.js';

let model: FaceModel;
let scene: DetailScene;

beforeAll(async () => {
  model = await loadFaceModel(new URL('../../models/mofa-face-v1.mofa', import.meta.url));
  scene = detailScene(model);
}, 60_000);

/**
 * The state restricted to T2 vertices inside a box around the forehead and nose (≈ 4k vertices):
 * triangles and one-ring edges with both ends kept. A self-consistent smaller problem, so the
 * finite-difference check (2 energy evaluations per coordinate) stays fast.
 */
function subState(full: RefineState): RefineState {
  const keep = new Int32Array(full.n).fill(-1);
  let m = 0;
  for (let i = 0; i < full.n; i++) {
    const x = full.coarse[3 * i], y = full.coarse[3 * i + 1];
    if (Math.abs(x) < 35 && y > 0 && y < 70) keep[i] = m++;
  }
  const idx: number[] = [];
  for (let f = 0; f < full.index.length; f += 3) {
    const a = keep[full.index[f]], b = keep[full.index[f + 1]], c = keep[full.index[f + 2]];
    if (a >= 0 && b >= 0 && c >= 0) idx.push(a, b, c);
  }
  const offsets = new Uint32Array(m + 1);
  const nb: number[] = [];
  const coarse = new Float64Array(3 * m), albedo = new Float64Array(3 * m);
  for (let i = 0; i < full.n; i++) {
    const k = keep[i];
    if (k < 0) continue;
    for (let q = full.offsets[i]; q < full.offsets[i + 1]; q++) if (keep[full.neighbors[q]] >= 0) nb.push(keep[full.neighbors[q]]);
    offsets[k + 1] = nb.length;
    for (let a = 0; a < 3; a++) { coarse[3 * k + a] = full.coarse[3 * i + a]; albedo[3 * k + a] = full.albedo[3 * i + a]; }
  }
  return {
    ...full, n: m, coarse, albedo, index: Uint32Array.from(idx), offsets, neighbors: Uint32Array.from(nb),
    visible: new Uint8Array(m), invC: new Float64Array(m),
  };
}

describe('Refine reference', () => {
  it('one-ring adjacency of T2 is symmetric without self loops (the gradient gathers rely on it)', () => {
    const { offsets, neighbors } = model.t2.adjacency;
    const edges = new Set<string>();
    for (let i = 0; i < model.t2.vertexCount; i++) for (let q = offsets[i]; q < offsets[i + 1]; q++) edges.add(`${i},${neighbors[q]}`);
    let asym = 0, self = 0;
    for (let i = 0; i < model.t2.vertexCount; i++) {
      for (let q = offsets[i]; q < offsets[i + 1]; q++) {
        if (neighbors[q] === i) self++;
        if (!edges.has(`${neighbors[q]},${i}`)) asym++;
      }
    }
    expect(asym).toBe(0);
    expect(self).toBe(0);
  }, 60_000);

  it('gradient matches central finite differences on 300 random coordinates', () => {
    const full = prepareRefineState(scene.problem, { wGrad: 1, wReg: 0.05 });
    const st = subState(full);
    const r = rng(7);
    // A random, mildly rough displacement so every term (and the Laplacian) is active.
    const D = new Float64Array(3 * st.n).map(() => 0.15 * (r() - 0.5));
    const fwd = allocForward(st.n);
    refineForward(st, D, fwd);
    expect(refreshWeights(st, D, fwd)).toBeGreaterThan(0.8 * st.n);
    const g = new Float64Array(3 * st.n);
    refineGradient(st, D, g, fwd);
    let gScale = 0;
    for (const v of g) gScale = Math.max(gScale, Math.abs(v));
    const h = 1e-5;
    const errs: number[] = [];
    let worst = 0;
    for (let s = 0; s < 300; s++) {
      const k = Math.floor(r() * 3 * st.n);
      const d0 = D[k];
      D[k] = d0 + h;
      const ep = refineEnergy(st, D).total;
      D[k] = d0 - h;
      const em = refineEnergy(st, D).total;
      D[k] = d0;
      const fd = (ep - em) / (2 * h);
      const err = Math.abs(fd - g[k]) / (Math.abs(g[k]) + 1e-3 * gScale);
      errs.push(err);
      worst = Math.max(worst, err);
    }
    errs.sort((a, b) => a - b);
    const median = errs[errs.length >> 1];
    // eslint-disable-next-line no-console
    console.log(`refine FD: n=${st.n} |g|max=${gScale.toExponential(3)} rel err median ${median.toExponential(2)}, p95 ${errs[Math.floor(0.95 * errs.length)].toExponential(2)}, max ${worst.toExponential(2)}`);
    // A central difference may straddle a bilinear cell border (u − 0.5 ∈ ℤ) where the
    // interpolant has a kink: allow a few outliers, but the bulk must agree to ~1e-5.
    expect(median).toBeLessThan(1e-6);
    expect(errs[Math.floor(0.97 * errs.length)]).toBeLessThan(1e-4);
  }, 60_000);

  it('energy decreases over 12 iterations without NaN and the forehead detail starts to appear', () => {
    const its = 12;
    const totals: number[] = [];
    const res: RefineRunResult = runRefineReference(scene.problem, { iterations: its, onIteration: (_, e) => totals.push(e.total) });
    expect(res.energies.length).toBe(its + 1);
    for (const v of res.positions) expect(Number.isFinite(v)).toBe(true);
    for (const v of res.energies) expect(Number.isFinite(v)).toBe(true);
    // Monotone decrease (IRLS weights are refreshed each iteration, so allow no increase beyond 1e-9 relative).
    for (let k = 1; k <= its; k++) expect(res.energies[k]).toBeLessThan(res.energies[k - 1] * (1 + 1e-9));
    expect(res.energies[its]).toBeLessThan(0.6 * res.energies[0]);
    const before = detailError(model, scene, scene.coarse);
    const after = detailError(model, scene, res.positions);
    // eslint-disable-next-line no-console
    console.log(`refine reference ${its} it: E ${res.energies[0].toExponential(3)} → ${res.energies[its].toExponential(3)}; normal RMS ${before.rmsNormal.toFixed(3)} → ${after.rmsNormal.toFixed(3)} mm, corr ${after.correlation.toFixed(3)}`);
    expect(after.rmsNormal).toBeLessThan(0.8 * before.rmsNormal);
    expect(after.correlation).toBeGreaterThan(0.85);
    expect(flippedTriangles(scene.coarse, res.positions, model.t2.index)).toBe(0);
  }, 60_000);
});
