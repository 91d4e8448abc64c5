/**
 * Opt benchmark core (issue 3, item 7), shared by the browser page
 * (test/browser/pages/bench-entry.ts, bundled by bench/run.ts) and `npm run bench -- --node`.
 * Environment-agnostic: the caller passes the face model, the compiled mofa.wasm and, in the
 * browser, a GpuContext; rows are handed to `emit` as soon as they are measured.
 *
 * Synthetic problem (test/unit/opt-scene.ts): the real T1 model, a 240×240 image rendered by the
 * CPU renderer (sdk/render) from the known code `trueCode()`, the 468 landmarks projected from it
 * (0.5 px noise), default Opt weights; everything is linearised at / optimised from
 * `perturbedCode(xTrue)` (pose off by ~14°, noise on α, δ, β, γ), front-facing visibility.
 *
 * Stages (ms are wall time per call, results in JS memory):
 * - decode: shape (Eq. 2), albedo (Eq. 3) and one-ring normals of all N T1 vertices.
 * - jtj_jtf: one `backend.linearize(x0, 0)` (sample, visibility, IRLS weights, residuals,
 *   Jacobian, JᵀJ 257×257 and JᵀF, energy).
 * - cholesky: one damped solve of the 257×257 normal equations (A + λ diag A) x = b
 *   (AssemblyScript sdk/wasm/linalg.ts vs TS sdk/model/cholesky-ref.ts; A = JᵀJ of the full
 *   problem + floor, λ = 1e-3).
 * - gn_step: one Gauss-Newton iteration as runOpt does it: linearize + damped solve + energy at
 *   the trial code (wasm / webgpu rows use the AssemblyScript solve, reference rows the TS one).
 * - opt_5: `runOpt(backend, x0, { iterations: 5 })` (sdk/opt/gauss-newton.ts), incl. the
 *   rejected-step retries; same solver choice as gn_step.
 * `vertices`: decode → N (T1 vertex count); jtj_jtf / gn_step / opt_5 → number of front-face
 * vertices sampled per iteration (Sec. 7; the full problem samples all of model.frontFace);
 * cholesky → null. The photometric set |P| ⊆ sample (visible, inside the image) is logged.
 */
import { CholeskyStatus, choleskySolveRef } from '../sdk/model/cholesky-ref.js';
import { CODE_DIM, CODE_SIZE } from '../sdk/model/code-layout.js';
import { computeAlbedo, computeShape } from '../sdk/model/decode.js';
import { computeNormals } from '../sdk/model/normals.js';
import type { OptBackend, OptProblem } from '../sdk/opt/backend.js';
import { runOpt } from '../sdk/opt/gauss-newton.js';
import { ReferenceOptBackend } from '../sdk/opt/reference-backend.js';
import { defaultOptWeights } from '../sdk/opt/weights.js';
import type { FaceModel } from '../sdk/types/face-model.js';
import { instantiateMofaWasm, loadLinalg, type WasmLinalg } from '../sdk/wasm/linalg.js';
import { createWasmOptBackend, type OptWasmExports } from '../sdk/wasm/opt-backend.js';
import { perturbedCode, sceneProblem, syntheticScene, trueCode } from '../test/unit/opt-scene.js';

export type BenchBackend = 'reference' | 'wasm' | 'webgpu';

/** One output line of `npm run bench` (Opt stages: this file; Refine stages: bench/refine-bench.ts; pipeline stages: bench/pipeline-bench.ts). */
export interface BenchRow {
  stage:
    | 'decode' | 'jtj_jtf' | 'cholesky' | 'gn_step' | 'opt_5' // Opt (this file)
    | 'remap' | 'refine_250' // Refine (bench/refine-bench.ts)
    | 'detect' | 'landmarks' | 'init' | 'total_fast' | 'total_balanced' | 'total_high'; // pipeline (bench/pipeline-bench.ts)
  backend: BenchBackend;
  vertices: number | null;
  ms_median: number;
  ms_min: number;
  runs: number;
  /** TS reference median / this backend's median, same run; 1 for reference rows; null without a reference. */
  ratio_vs_reference: number | null;
  /**
   * Only on rows whose iterations were not all run (the refine_250 reference row): the number
   * of iterations actually timed; the row's ms are extrapolated to the stage's count from them.
   */
  extrapolated_from_iterations?: number;
}

/** Decode of all T1 vertices (shape, albedo, normals) into JS memory. */
export type DecodeFn = (x: Float64Array) => Promise<{ position: Float32Array; albedo: Float32Array; normal: Float32Array }>;

/** What a non-reference platform contributes (the WebGPU backend lives in the browser entry). */
export interface ExtraBackend {
  name: BenchBackend;
  /** A fresh OptBackend (setProblem is called by the bench). */
  create(): Promise<OptBackend>;
  decode: DecodeFn;
  destroy(): void;
}

export interface BenchOptions {
  model: FaceModel;
  /** Compiled mofa.wasm (build/wasm/mofa.wasm). */
  wasm: WebAssembly.Module;
  /** Backends besides reference and wasm (the browser adds webgpu). */
  extra?: ExtraBackend[];
  /** Sample sizes of the sampled problems (default [2000, 5000]); the full problem is always run. */
  samples?: number[];
  /** Scales the run counts (default 1); the minimums (5 fast, 3 slow) are kept. */
  runScale?: number;
  emit(row: BenchRow): void;
  log(message: string): void;
}

/** Runs a function `warmup` times untimed, then `runs` times timed; returns the times (ms). */
export async function timeRuns(fn: () => unknown | Promise<unknown>, runs: number, warmup = 1): Promise<number[]> {
  for (let w = 0; w < warmup; w++) await fn();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Median of a non-empty list. */
export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

/** `v` rounded to `digits` decimals (as a number, for the JSON rows). */
export const round = (v: number, digits = 3) => Number(v.toFixed(digits));

/** Wasm decode of all N vertices (decodeAffine ×2 + normalsAll) on its own instance of mofa.wasm. */
export async function createWasmDecode(module: WebAssembly.Module, model: FaceModel): Promise<{ decode: DecodeFn; destroy(): void }> {
  const ex = (await instantiateMofaWasm(module)).exports as unknown as OptWasmExports;
  const n = model.t1.vertexCount;
  const F = model.t1.index.length / 3;
  const rows = 3 * n;
  const rowsPad = Math.ceil(rows / 4) * 4;
  const KA = CODE_SIZE.alpha, KD = CODE_SIZE.delta, KG = KA + KD, KB = CODE_SIZE.beta;
  const geoMean = ex.alloc(4 * rowsPad), geoBasis = ex.alloc(4 * rowsPad * KG);
  const albMean = ex.alloc(4 * rowsPad), albBasis = ex.alloc(4 * rowsPad * KB);
  const tri = ex.alloc(12 * F), pos = ex.alloc(4 * rowsPad), alb = ex.alloc(4 * rowsPad), nrm = ex.alloc(4 * rowsPad);
  const coeffG = ex.alloc(4 * KG), coeffB = ex.alloc(4 * KB);
  const f32 = (p: number, len: number) => new Float32Array(ex.memory.buffer, p, len);
  f32(geoMean, rows).set(model.t1.meanShape);
  const G = f32(geoBasis, rows * KG);
  for (let r = 0; r < rows; r++) {
    G.set(model.shapeBasis.subarray(r * KA, r * KA + KA), r * KG);
    G.set(model.expressionBasis.subarray(r * KD, r * KD + KD), r * KG + KA);
  }
  f32(albMean, rows).set(model.albedoMean);
  f32(albBasis, rows * KB).set(model.albedoBasis);
  new Uint32Array(ex.memory.buffer, tri, 3 * F).set(model.t1.index);
  return {
    decode: async (x) => {
      f32(coeffG, KG).set(x.subarray(0, KG)); // α | δ contiguous (code-layout.ts)
      f32(coeffB, KB).set(x.subarray(KG, KG + KB));
      ex.decodeAffine(pos, geoMean, geoBasis, KG, coeffG, rows);
      ex.decodeAffine(alb, albMean, albBasis, KB, coeffB, rows);
      ex.normalsAll(pos, tri, F, n, nrm);
      return { position: f32(pos, rows).slice(), albedo: f32(alb, rows).slice(), normal: f32(nrm, rows).slice() };
    },
    destroy: () => ex.resetHeap(),
  };
}

/** Reference decode (sdk/model/decode.ts, normals.ts). */
export function referenceDecode(model: FaceModel): DecodeFn {
  return async (x) => {
    const position = computeShape(model, x.subarray(0, CODE_SIZE.alpha), x.subarray(CODE_SIZE.alpha, CODE_SIZE.alpha + CODE_SIZE.delta));
    const albedo = computeAlbedo(model, x.subarray(CODE_SIZE.alpha + CODE_SIZE.delta, CODE_SIZE.alpha + CODE_SIZE.delta + CODE_SIZE.beta));
    return { position, albedo, normal: computeNormals(position, model.t1.index) };
  };
}

/** max_i |a_i − b_i| (Infinity if any difference is NaN). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** One Gauss-Newton iteration as runOpt performs it (linearize, one damped solve, one trial energy). */
async function gnStep(backend: OptBackend, x: Float64Array, linalg: WasmLinalg | null): Promise<number> {
  const lin = await backend.linearize(x, 0);
  const a = dampable(lin.jtj);
  const b = lin.jtf.map((v) => -v);
  let delta: Float64Array | null;
  if (linalg) delta = linalg.choleskySolve(a, b, 1e-3).x;
  else delta = choleskySolveRef(a, b, CODE_DIM, 1e-3) === CholeskyStatus.OK ? b : null;
  if (!delta) throw new Error('gn_step: the damped solve failed');
  const trial = new Float64Array(CODE_DIM);
  for (let k = 0; k < CODE_DIM; k++) trial[k] = x[k] + delta[k];
  return (await backend.energy(trial)).total;
}

/** Copy of JᵀJ with zero diagonal entries floored as the driver does (1e-9 · max diag). */
function dampable(jtj: Float64Array): Float64Array {
  const a = Float64Array.from(jtj);
  let maxDiag = 0;
  for (let k = 0; k < CODE_DIM; k++) maxDiag = Math.max(maxDiag, a[k * CODE_DIM + k]);
  for (let k = 0; k < CODE_DIM; k++) if (!(a[k * CODE_DIM + k] > 1e-9 * maxDiag)) a[k * CODE_DIM + k] = 1e-9 * maxDiag || 1;
  return a;
}

/** Runs every stage for reference, wasm and the extra backends; emits rows as it goes. */
export async function runOptBench(o: BenchOptions): Promise<BenchRow[]> {
  const { model, log } = o;
  const scale = o.runScale ?? 1;
  const fast = Math.max(5, Math.round(10 * scale));
  const slow = Math.max(3, Math.round(3 * scale));
  const rows: BenchRow[] = [];
  const refMedian = new Map<string, number>();
  const record = (stage: BenchRow['stage'], backend: BenchBackend, vertices: number | null, times: number[], hasReference = true) => {
    const med = median(times);
    const key = `${stage}/${vertices}`;
    if (backend === 'reference') refMedian.set(key, med);
    const ref = refMedian.get(key);
    const row: BenchRow = {
      stage, backend, vertices, ms_median: round(med), ms_min: round(Math.min(...times)), runs: times.length,
      ratio_vs_reference: backend === 'reference' ? 1 : hasReference && ref !== undefined ? round(ref / med) : null,
    };
    rows.push(row);
    o.emit(row);
  };

  const xTrue = trueCode();
  const scene = syntheticScene(model, xTrue);
  const x0 = perturbedCode(xTrue);
  const weights = { ...defaultOptWeights };
  const linalg = await loadLinalg(o.wasm);
  const wasmDecode = await createWasmDecode(o.wasm, model);
  const extra = o.extra ?? [];
  const N = model.t1.vertexCount;
  const frontCount = model.frontFace.length;
  log(`model: N = ${N} T1 vertices, ${model.t1.index.length / 3} triangles, |frontFace| = ${frontCount}; image ${scene.image.width}×${scene.image.height}, ${scene.landmarks.vertex.length} landmarks`);

  try {
    // ---- decode (all N vertices) ----
    const refDec = referenceDecode(model);
    const truth = await refDec(x0);
    const decoders: Array<[BenchBackend, DecodeFn]> = [['reference', refDec], ['wasm', wasmDecode.decode], ...extra.map((e) => [e.name, e.decode] as [BenchBackend, DecodeFn])];
    for (const [name, fn] of decoders) {
      const out = await fn(x0);
      if (name !== 'reference') {
        const err = { position: maxAbsDiff(out.position, truth.position), albedo: maxAbsDiff(out.albedo, truth.albedo), normal: maxAbsDiff(out.normal, truth.normal) };
        log(`decode ${name} vs reference: max |Δ| position ${err.position.toExponential(2)} mm, albedo ${err.albedo.toExponential(2)}, normal ${err.normal.toExponential(2)}`);
        if (!(err.position < 1e-2 && err.albedo < 1e-3 && err.normal < 1e-3)) throw new Error(`decode ${name} disagrees with the reference: ${JSON.stringify(err)}`);
      }
      record('decode', name, N, await timeRuns(() => fn(x0), fast));
    }

    // ---- cholesky (257×257, JᵀJ of the full problem) ----
    const fullProblem = sceneProblem(model, scene, weights, 0);
    const refBackend = new ReferenceOptBackend();
    await refBackend.setProblem(fullProblem);
    const lin = await refBackend.linearize(x0, 0);
    const A = dampable(lin.jtj);
    const rhs = lin.jtf.map((v) => -v);
    const refX = Float64Array.from(rhs);
    if (choleskySolveRef(Float64Array.from(A), refX, CODE_DIM, 1e-3) !== CholeskyStatus.OK) throw new Error('cholesky: reference solve failed');
    const wasmX = linalg.choleskySolve(A, rhs, 1e-3).x;
    if (!wasmX) throw new Error('cholesky: wasm solve failed');
    let xs = 0, xd = 0;
    for (let k = 0; k < CODE_DIM; k++) { xs = Math.max(xs, Math.abs(refX[k])); xd = Math.max(xd, Math.abs(refX[k] - wasmX[k])); }
    log(`cholesky wasm vs reference: max |Δx| / max |x| = ${(xd / xs).toExponential(2)}`);
    record('cholesky', 'reference', null, await timeRuns(() => {
      const a = Float64Array.from(A), b = Float64Array.from(rhs); // the TS solve works in place
      choleskySolveRef(a, b, CODE_DIM, 1e-3);
    }, fast * 2));
    record('cholesky', 'wasm', null, await timeRuns(() => linalg.choleskySolve(A, rhs, 1e-3), fast * 2));

    // ---- per problem: jtj_jtf, gn_step, opt_5 ----
    const problems: Array<{ label: string; sample: number; problem: OptProblem }> = [
      { label: 'full', sample: frontCount, problem: fullProblem },
      ...(o.samples ?? [2000, 5000]).map((s) => ({ label: `sample ${s}`, sample: s, problem: sceneProblem(model, scene, weights, s) })),
    ];
    const makers: Array<{ name: BenchBackend; create(): Promise<OptBackend>; solver: WasmLinalg | null }> = [
      { name: 'reference', create: async () => new ReferenceOptBackend(), solver: null },
      { name: 'wasm', create: () => createWasmOptBackend(o.wasm), solver: linalg },
      ...extra.map((e) => ({ name: e.name, create: () => e.create(), solver: linalg })),
    ];
    for (const { label, sample, problem } of problems) {
      const refLin = await (async () => { const b = new ReferenceOptBackend(); await b.setProblem(problem); return b.linearize(x0, 0); })();
      log(`problem ${label}: sample ${sample} of ${frontCount} front-face vertices, |P| = ${refLin.energy.photoVertices} photometric vertices at x0, E(x0) = ${refLin.energy.total.toFixed(4)}`);
      for (const m of makers) {
        const backend = await m.create();
        try {
          await backend.setProblem(problem);
          const runsLin = m.name === 'wasm' ? fast : slow;
          record('jtj_jtf', m.name, sample, await timeRuns(() => backend.linearize(x0, 0), runsLin));
          record('gn_step', m.name, sample, await timeRuns(() => gnStep(backend, x0, m.solver), runsLin));
          let last: Awaited<ReturnType<typeof runOpt>> | null = null;
          let perIteration: number[] = [];
          const times = await timeRuns(async () => {
            const its: number[] = [];
            let t = performance.now();
            last = await runOpt(backend, x0, {
              iterations: 5, linalg: m.solver ?? undefined,
              onProgress: () => { const now = performance.now(); its.push(now - t); t = now; },
            });
            perIteration = its;
          }, slow);
          const r = last as unknown as Awaited<ReturnType<typeof runOpt>>;
          log(`opt_5 ${m.name} ${label}: E ${r.energies[0].total.toFixed(4)} → ${r.energies[5].total.toFixed(4)}, accepted ${r.accepted.map(Number).join('')}, ${r.steps.length} solves; last run per iteration ${perIteration.map((v) => v.toFixed(1)).join(' / ')} ms`);
          record('opt_5', m.name, sample, times);
        } finally {
          backend.destroy();
        }
      }
    }
  } finally {
    wasmDecode.destroy();
  }
  return rows;
}
