/**
 * Timing helpers for the WASM Opt backend vs the TypeScript reference (not a test: no timing
 * assertions). Run: `npx tsx test/unit/wasm-opt-bench.ts` (after `npm run build:wasm`).
 * Reports median wall times in ms; the machine's other load makes single runs noisy, so each
 * figure is the median of `reps` runs after one warm-up.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { CODE_OFFSET } from '../../sdk/model/code-layout.js';
import { computeShape } from '../../sdk/model/decode.js';
import { loadFaceModel } from '../../sdk/model/load-face-model.js';
import type { OptBackend, OptProblem } from '../../sdk/opt/backend.js';
import { runOpt } from '../../sdk/opt/gauss-newton.js';
import { ReferenceOptBackend } from '../../sdk/opt/reference-backend.js';
import { defaultOptWeights } from '../../sdk/opt/weights.js';
import type { FaceModel } from '../../sdk/types/face-model.js';
import { loadLinalg } from '../../sdk/wasm/linalg.js';
import { createWasmOptBackend } from '../../sdk/wasm/opt-backend.js';
import { perturbedCode, sceneProblem, syntheticScene } from './opt-scene.js';

/** Fastest of the last `medianMs` call, ms (less sensitive to other processes than the median). */
export let lastMinMs = 0;

/** Median of `reps` timed runs of `fn` after one untimed warm-up, ms (the minimum goes to `lastMinMs`). */
export async function medianMs(fn: () => unknown, reps: number): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  lastMinMs = t[0];
  return t[t.length >> 1];
}

/** Decode of the full T1 shape (Eq. 2, 7152 vertices × 144 modes): WASM `decodeAffine` vs `computeShape`. */
export async function benchDecode(model: FaceModel, wasmBytes: Uint8Array, reps = 30): Promise<{ wasm: number; ts: number }> {
  const backend = await createWasmOptBackend(wasmBytes, { decode: 'full' });
  const problem = sceneProblem(model, syntheticScene(model), defaultOptWeights, 0, false);
  await backend.setProblem(problem);
  const x = new Float64Array(257).map((_, k) => (k < 144 ? Math.sin(k) : 0));
  x[CODE_OFFSET.translation + 2] = -900;
  await backend.linearize(x, 0); // uploads the coefficients
  const ex = backend.wasm;
  const m = (backend as unknown as { m: { pos: number; geoMean: number; geoBasis: number; coeffG: number } }).m;
  const rows = 3 * model.t1.vertexCount;
  const wasm = await medianMs(() => ex.decodeAffine(m.pos, m.geoMean, m.geoBasis, 144, m.coeffG, rows), reps);
  const ts = await medianMs(() => computeShape(model, x.subarray(0, 80), x.subarray(80, 144)), Math.max(5, reps / 3));
  backend.destroy();
  return { wasm, ts };
}

/** One `linearize` (and one `energy`) at the perturbed synthetic code, WASM vs reference. */
export async function benchLinearize(
  problem: OptProblem, x: Float64Array, wasmBytes: Uint8Array, reps = 15, refReps = 3,
): Promise<{ wasm: number; wasmMin: number; ref: number; wasmEnergy: number; photoVertices: number }> {
  const w = await createWasmOptBackend(wasmBytes);
  await w.setProblem(problem);
  const lin = await w.linearize(x, 0);
  const wasm = await medianMs(() => w.linearize(x, 0), reps);
  const wasmMin = lastMinMs;
  const wasmEnergy = await medianMs(() => w.energy(x), reps);
  const r = new ReferenceOptBackend();
  await r.setProblem(problem);
  const ref = await medianMs(() => r.linearize(x, 0), refReps);
  w.destroy();
  return { wasm, wasmMin, ref, wasmEnergy, photoVertices: lin.energy.photoVertices };
}

/** The whole Opt (runOpt, 5 iterations, WASM Cholesky) with the given backend, ms. */
export async function benchOpt(backend: OptBackend, problem: OptProblem, x: Float64Array, wasmBytes: Uint8Array, reps = 5): Promise<number> {
  const linalg = await loadLinalg(wasmBytes);
  await backend.setProblem(problem);
  return medianMs(() => runOpt(backend, x, { iterations: 5, linalg }), reps);
}

async function main(): Promise<void> {
  const wasmBytes = await readFile(new URL('../../build/wasm/mofa.wasm', import.meta.url));
  const model = await loadFaceModel(new URL('../../models/mofa-face-v1.mofa', import.meta.url));
  const scene = syntheticScene(model);
  const x = perturbedCode(scene.xTrue);
  const d = await benchDecode(model, wasmBytes);
  console.log(`decode full T1 (${model.t1.vertexCount} v): wasm ${d.wasm.toFixed(2)} ms, ts ${d.ts.toFixed(2)} ms, ×${(d.ts / d.wasm).toFixed(1)}`);
  for (const [name, count] of [['2k samples', 2000], ['5k samples', 5000], ['full front face', 0]] as const) {
    const b = await benchLinearize(sceneProblem(model, scene, defaultOptWeights, count, true), x, wasmBytes);
    console.log(`linearize ${name} (|P| = ${b.photoVertices}, 468 landmarks): wasm ${b.wasm.toFixed(1)} ms (min ${b.wasmMin.toFixed(1)}), ref ${b.ref.toFixed(0)} ms, ×${(b.ref / b.wasm).toFixed(0)}; wasm energy ${b.wasmEnergy.toFixed(2)} ms`);
  }
  const problem = sceneProblem(model, scene, defaultOptWeights, 2000, true);
  const opt = await benchOpt(await createWasmOptBackend(wasmBytes), problem, x, wasmBytes, 9);
  console.log(`runOpt 5 iterations, 2k samples, wasm backend + wasm Cholesky: ${opt.toFixed(1)} ms (min ${lastMinMs.toFixed(1)})`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
