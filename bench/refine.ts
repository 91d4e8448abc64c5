/**
 * Refine timings (no asserts): `npx tsx bench/refine.ts` after `npm run build:wasm`.
 * - remap T1 → T2 of positions + albedo (TS reference vs WASM), min over repeats;
 * - Refine on the real T2 (24 343 vertices) with the synthetic detail scene: WASM 250
 *   iterations (min over runs) and the TS reference (fewer iterations; per-iteration cost is
 *   constant, so refine_250 is extrapolated ×250/its and reported as such).
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { loadFaceModel } from '../sdk/model/load-face-model.js';
import { runRefineReference } from '../sdk/refine/reference.js';
import { remapAttribute } from '../sdk/refine/remap.js';
import { instantiateMofaWasm } from '../sdk/wasm/linalg.js';
import { WasmRefineBackend } from '../sdk/wasm/refine-backend.js';
import { asRemapExports, remapWasm } from '../sdk/wasm/remap.js';
import { detailScene } from '../test/unit/refine-scene.js';

const refIts = Number(process.env.REF_ITS ?? 25);
const wasmRuns = Number(process.env.WASM_RUNS ?? 3);
const model = await loadFaceModel('models/mofa-face-v1.mofa');
const bytes = readFileSync('build/wasm/mofa.wasm');
const scene = detailScene(model);
const { fromT1 } = model.t2;

const minTime = (reps: number, f: () => void) => {
  let best = Infinity;
  for (let r = 0; r < reps; r++) { const t0 = performance.now(); f(); best = Math.min(best, performance.now() - t0); }
  return best;
};
const ex = asRemapExports((await instantiateMofaWasm(bytes)).exports);
const remapTs = minTime(20, () => { remapAttribute(model.t1.meanShape, 3, fromT1); remapAttribute(model.albedoMean, 3, fromT1); });
const remapWa = minTime(20, () => { remapWasm(ex, model.t1.meanShape, 3, fromT1); remapWasm(ex, model.albedoMean, 3, fromT1); });

const be = await WasmRefineBackend.create(bytes);
await be.setProblem(scene.problem);
await be.run({ iterations: 5 }); // warm-up
// Wall time is inflated on a shared machine; CPU time of this process (user + system) is not
// inflated by descheduling, so it is reported too (the closer estimate on an idle machine).
let wasm250 = Infinity, wasm250Cpu = Infinity;
for (let r = 0; r < wasmRuns; r++) {
  const c0 = process.cpuUsage();
  const res = await be.run({ iterations: 250 });
  const c = process.cpuUsage(c0);
  wasm250 = Math.min(wasm250, res.ms);
  wasm250Cpu = Math.min(wasm250Cpu, (c.user + c.system) / 1000);
}
runRefineReference(scene.problem, { iterations: 2 }); // warm-up (JIT)
const rc0 = process.cpuUsage();
const ref = runRefineReference(scene.problem, { iterations: refIts });
const rc = process.cpuUsage(rc0);
const refPerIt = ref.ms / refIts; // includes prepareRefineState once (small)
const refPerItCpu = (rc.user + rc.system) / 1000 / refIts;
be.destroy();

console.log(JSON.stringify({
  cpu: cpus()[0]?.model, cores: cpus().length, loadavg1: Number(loadavg()[0].toFixed(2)), t2Vertices: model.t2.vertexCount,
  remapPositionsAlbedoMs: { ts: +remapTs.toFixed(3), wasm: +remapWa.toFixed(3) },
  refine250Ms: { wasm: +wasm250.toFixed(1), referenceExtrapolated: +(refPerIt * 250).toFixed(0), referenceMeasuredIterations: refIts },
  refine250CpuMs: { wasm: +wasm250Cpu.toFixed(1), referenceExtrapolated: +(refPerItCpu * 250).toFixed(0) },
  ratioReferenceOverWasm: +((refPerIt * 250) / wasm250).toFixed(1),
  ratioReferenceOverWasmCpu: +((refPerItCpu * 250) / wasm250Cpu).toFixed(1),
}, null, 1));
