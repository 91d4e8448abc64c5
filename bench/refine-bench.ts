/**
 * Refine benchmark core (issue 4, item 6), shared by the browser page
 * (test/browser/pages/bench-entry.ts, bundled by bench/run.ts) and `npm run bench -- --node`.
 * Environment-agnostic like bench/opt-bench.ts: the caller passes the face model, the compiled
 * mofa.wasm and, in the browser, the WebGPU backend; rows (the same `BenchRow` JSON lines as the
 * Opt stages) are handed to `emit` as soon as they are measured.
 *
 * Problem: the synthetic detail scene of the Refine tests (test/unit/refine-scene.ts): the real
 * T2 mesh (N2 = 24 343 vertices), mean shape and albedo remapped T1 → T2, a 240×240 image
 * rendered by the CPU renderer from the coarse surface plus known fine detail (0.6 mm forehead
 * ridges, 0.8 mm bumps), known pose, light and albedo; Refine starts from the coarse surface.
 *
 * Stages (ms are wall time per call, results in JS memory):
 * - remap: the T1 → T2 transfer L (paper Sec. 9.2 "Mesh Topology") of positions AND albedo
 *   (two attributes of width 3). reference: sdk/refine/remap.ts `remapAttribute` ×2; wasm:
 *   sdk/wasm/remap.ts `remapWasm` ×2 on one mofa.wasm instance (copies L and the attribute in,
 *   the result out, every call); webgpu (page only): sdk/gpu/refine-remap.ts `RefineRemapPass`
 *   with L uploaded once, per call 2 attribute uploads + 2 dispatches in one submit + 2 readbacks.
 *   `vertices` = N2.
 * - refine_250: `backend.run({ iterations: 250 })` with the default weights and step
 *   (REFINE_DEFAULTS) from D = 0 (paper Sec. 9.2, Eq. 19–22), energies evaluated every
 *   iteration by every backend; `setProblem` (remap, upload, layout) is not timed. reference:
 *   `runRefineReference` (float64 TS; its `prepareRefineState` is inside the call), ~30 ms per
 *   iteration, so by default it runs `referenceIterations` (20) iterations and 0 iterations and
 *   is extrapolated linearly: t(250) = t(0) + (t(k) − t(0)) · 250 / k, per statistic (median of
 *   each, min of each); the row says so in `extrapolated_from_iterations`. wasm:
 *   `WasmRefineBackend` (sdk/wasm/refine-backend.ts); webgpu (page only): `WebGpuRefineBackend`.
 *   `vertices` = N2.
 */
import type { RefineBackend } from '../sdk/refine/backend.js';
import { REFINE_DEFAULTS } from '../sdk/refine/defaults.js';
import { runRefineReference } from '../sdk/refine/reference.js';
import { remapAttribute } from '../sdk/refine/remap.js';
import type { FaceModel } from '../sdk/types/face-model.js';
import { instantiateMofaWasm } from '../sdk/wasm/linalg.js';
import { WasmRefineBackend } from '../sdk/wasm/refine-backend.js';
import { asRemapExports, remapWasm } from '../sdk/wasm/remap.js';
import { detailScene } from '../test/unit/refine-scene.js';
import { maxAbsDiff, median, round, timeRuns, type BenchBackend, type BenchRow } from './opt-bench.js';

/** Positions and albedo remapped T1 → T2, (N2, 3) each, in JS memory. */
export type RemapFn = (position: Float32Array, albedo: Float32Array) => Promise<{ position: Float32Array; albedo: Float32Array }>;

/** A Refine backend the page adds (webgpu). */
export interface RefineExtraBackend {
  name: BenchBackend;
  /** A fresh Refine backend (setProblem is called by the bench, untimed). */
  createRefine(): Promise<RefineBackend>;
  /** Its T1 → T2 remap of positions + albedo, or null when it has no standalone remap. */
  createRemap(model: FaceModel): Promise<{ remap: RemapFn; destroy(): void } | null>;
}

export interface RefineBenchOptions {
  model: FaceModel;
  /** Compiled mofa.wasm (build/wasm/mofa.wasm). */
  wasm: WebAssembly.Module;
  /** Backends besides reference and wasm (the browser adds webgpu). */
  extra?: RefineExtraBackend[];
  /** Scales the run counts (default 1); the minimums (10 remap, 3 wasm / 2 webgpu / 3 reference refine runs) are kept. */
  runScale?: number;
  /** Iterations the reference actually runs for refine_250 (default 20; 250 = no extrapolation). */
  referenceIterations?: number;
  /**
   * CPU time of this process so far (user + system), ms — Node only (`process.cpuUsage`). When
   * given, the CPU time of the timed refine_250 runs is logged next to the wall time (on a shared
   * machine wall time includes time descheduled; CPU time does not).
   */
  cpuMs?: () => number;
  emit(row: BenchRow): void;
  log(message: string): void;
}

/** The refine_250 iteration count (paper Sec. 9.2 and REFINE_DEFAULTS). */
export const REFINE_BENCH_ITERATIONS = 250;

/** Runs remap and refine_250 for reference, wasm and the extra backends; emits rows as it goes. */
export async function runRefineBench(o: RefineBenchOptions): Promise<BenchRow[]> {
  const { model, log } = o;
  const scale = o.runScale ?? 1;
  const remapRuns = Math.max(10, Math.round(20 * scale));
  const wasmRuns = Math.max(3, Math.round(3 * scale));
  const gpuRuns = Math.max(2, Math.round(2 * scale));
  const refRuns = Math.max(3, Math.round(3 * scale));
  const ITS = REFINE_BENCH_ITERATIONS;
  const refIts = Math.min(ITS, o.referenceIterations ?? 20);
  if (!(Number.isInteger(refIts) && refIts >= 1)) throw new Error(`referenceIterations must be an integer in 1..${ITS}, got ${o.referenceIterations}`);
  const extra = o.extra ?? [];
  const N1 = model.t1.vertexCount;
  const N2 = model.t2.vertexCount;
  const rows: BenchRow[] = [];
  const refMedian = new Map<string, number>();
  const record = (stage: BenchRow['stage'], backend: BenchBackend, times: number[] | { median: number; min: number; runs: number }, extrapolatedFrom?: number) => {
    const t = Array.isArray(times) ? { median: median(times), min: Math.min(...times), runs: times.length } : times;
    if (backend === 'reference') refMedian.set(stage, t.median);
    const ref = refMedian.get(stage);
    const row: BenchRow = {
      stage, backend, vertices: N2, ms_median: round(t.median), ms_min: round(t.min), runs: t.runs,
      ratio_vs_reference: backend === 'reference' ? 1 : ref !== undefined ? round(ref / t.median) : null,
    };
    if (extrapolatedFrom !== undefined) row.extrapolated_from_iterations = extrapolatedFrom;
    rows.push(row);
    o.emit(row);
  };

  const t0 = performance.now();
  const scene = detailScene(model);
  const { problem } = scene;
  log(`refine scene: T1 N1 = ${N1} → T2 N2 = ${N2} vertices, ${model.t2.index.length / 3} triangles; image ${scene.image.width}×${scene.image.height} (built in ${(performance.now() - t0).toFixed(0)} ms); defaults ${JSON.stringify(REFINE_DEFAULTS)}`);

  // ---- remap (positions + albedo, T1 → T2) ----
  const { fromT1 } = model.t2;
  const refRemap: RemapFn = async (p, a) => ({ position: remapAttribute(p, 3, fromT1), albedo: remapAttribute(a, 3, fromT1) });
  const ex = asRemapExports((await instantiateMofaWasm(o.wasm)).exports);
  const wasmRemap: RemapFn = async (p, a) => ({ position: remapWasm(ex, p, 3, fromT1), albedo: remapWasm(ex, a, 3, fromT1) });
  const remaps: Array<{ name: BenchBackend; fn: RemapFn; destroy?(): void }> = [{ name: 'reference', fn: refRemap }, { name: 'wasm', fn: wasmRemap }];
  for (const e of extra) {
    const r = await e.createRemap(model);
    if (r) remaps.push({ name: e.name, fn: r.remap, destroy: r.destroy });
    else log(`remap: ${e.name} has no standalone remap pass, no row`);
  }
  try {
    const truth = await refRemap(model.t1.meanShape, model.albedoMean);
    for (const r of remaps) {
      if (r.name !== 'reference') {
        const out = await r.fn(model.t1.meanShape, model.albedoMean);
        const err = { position: maxAbsDiff(out.position, truth.position), albedo: maxAbsDiff(out.albedo, truth.albedo) };
        log(`remap ${r.name} vs reference: max |Δ| position ${err.position.toExponential(2)} mm, albedo ${err.albedo.toExponential(2)}`);
        if (!(out.position.length === 3 * N2 && err.position < 1e-3 && err.albedo < 1e-5)) throw new Error(`remap ${r.name} disagrees with the reference: ${JSON.stringify(err)}`);
      }
      record('remap', r.name, await timeRuns(() => r.fn(model.t1.meanShape, model.albedoMean), remapRuns));
    }
  } finally {
    for (const r of remaps) r.destroy?.();
  }

  // ---- refine_250 ----
  // Reference: k and 0 iterations, extrapolated linearly to 250 (see the module comment).
  const cpu = o.cpuMs;
  /** Wraps `fn` to record its CPU time per call (the warm-up call's is dropped by the reader). */
  const withCpu = (fn: () => unknown | Promise<unknown>, out: number[]) => async () => {
    const c0 = cpu ? cpu() : 0;
    await fn();
    if (cpu) out.push(cpu() - c0);
  };
  const cpuNote = (c: number[]) => (cpu ? `; CPU time (user + sys) min ${Math.min(...c.slice(1)).toFixed(1)} ms per timed run` : '');
  let refEnergies: Float64Array | null = null;
  const refCpu: number[] = [];
  const refTimes = await timeRuns(withCpu(() => { refEnergies = runRefineReference(problem, { iterations: refIts }).energies; }, refCpu), refRuns);
  log(`refine reference, ${refIts} iterations: wall median ${median(refTimes).toFixed(1)} ms${cpuNote(refCpu)}`);
  const E = refEnergies as unknown as Float64Array;
  if (refIts < ITS) {
    const zeroTimes = await timeRuns(() => runRefineReference(problem, { iterations: 0 }), refRuns);
    const extrapolate = (tk: number, t0: number) => t0 + ((tk - t0) * ITS) / refIts;
    const med = extrapolate(median(refTimes), median(zeroTimes));
    log(`refine_250 reference: EXTRAPOLATED from ${refIts} iterations (median ${median(refTimes).toFixed(1)} ms; 0 iterations: ${median(zeroTimes).toFixed(1)} ms, i.e. prepareRefineState + final energy; ${((median(refTimes) - median(zeroTimes)) / refIts).toFixed(2)} ms per iteration) → ${med.toFixed(0)} ms for ${ITS}; E ${E[0].toExponential(4)} → ${E[refIts].toExponential(4)} after ${refIts}`);
    record('refine_250', 'reference', { median: med, min: extrapolate(Math.min(...refTimes), Math.min(...zeroTimes)), runs: refTimes.length }, refIts);
  } else {
    log(`refine_250 reference: E ${E[0].toExponential(4)} → ${E[ITS].toExponential(4)}`);
    record('refine_250', 'reference', refTimes);
  }

  const makers: Array<{ name: BenchBackend; create(): Promise<RefineBackend>; runs: number }> = [
    { name: 'wasm', create: () => WasmRefineBackend.create(o.wasm), runs: wasmRuns },
    ...extra.map((e) => ({ name: e.name, create: () => e.createRefine(), runs: gpuRuns })),
  ];
  for (const m of makers) {
    const backend = await m.create();
    try {
      const ts = performance.now();
      await backend.setProblem(problem);
      const setupMs = performance.now() - ts;
      let last: Awaited<ReturnType<RefineBackend['run']>> | null = null;
      const runCpu: number[] = [];
      const times = await timeRuns(withCpu(async () => { last = await backend.run({ iterations: ITS }); }, runCpu), m.runs);
      const r = last as unknown as Awaited<ReturnType<RefineBackend['run']>>;
      const at = r.energies[refIts];
      const rel = Math.abs(at - E[refIts]) / Math.abs(E[refIts]);
      log(`refine_250 ${m.name}: setProblem ${setupMs.toFixed(0)} ms (untimed); E ${r.energies[0].toExponential(4)} → ${r.energies[ITS].toExponential(4)}; E after ${refIts} iterations ${at.toExponential(4)} vs reference ${E[refIts].toExponential(4)} (rel. diff ${rel.toExponential(2)}); last run's own ms ${r.ms.toFixed(1)}${cpuNote(runCpu)}`);
      if (!(Number.isFinite(r.energies[ITS]) && r.energies[ITS] < r.energies[0] && rel < 0.05)) {
        throw new Error(`refine_250 ${m.name}: energy did not decrease or disagrees with the reference (E0 ${r.energies[0]}, E${ITS} ${r.energies[ITS]}, rel. diff at ${refIts}: ${rel})`);
      }
      record('refine_250', m.name, times);
    } finally {
      backend.destroy();
    }
  }
  return rows;
}
