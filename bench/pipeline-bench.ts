/**
 * Pipeline benchmark (issue 5, item 9), shared by the browser page
 * (test/browser/pages/bench-entry.ts, bundled by bench/run.ts) and `npm run bench -- --node`.
 * Measures the public API end to end: one reconstructor per backend from
 * `createReconstructor({ runIn: 'thread', backend })` (sdk/reconstructor.ts), called on one
 * portrait (demo/assets/astronaut.png, passed as an already decoded RGBA buffer, so PNG decoding
 * is not timed), and reads the per-stage wall times the pipeline reports in
 * `result.diagnostics.stageMs` (sdk/types/reconstruct-result.ts; measured inside the pipeline
 * with performance.now()).
 *
 * Stages (ms per call; the median / min over the timed calls):
 * - detect: `stageMs.detect`: downscale for detection + BlazeFace (onnxruntime-web wasm) + NMS.
 * - landmarks: `stageMs.landmarks`: the 468-point landmarker (2 passes) for the detected face.
 * - init: `stageMs.init`: face crop (240×240, linear RGB) + the landmark-fit initialiser (pose,
 *   shape, expression Gauss-Newton on the landmark + regulariser terms; SH lighting by linear
 *   least squares).
 *   These three are taken from the timed `quality: 'fast'` calls. They do not depend on the
 *   Opt / Refine backend (the networks always run on onnxruntime-web wasm), but are measured in
 *   each backend's own reconstructor.
 * - total_fast / total_balanced / total_high: `stageMs.total` of one `reconstruct()` call at
 *   that quality (decode of the RGBA input … result assembly; + Opt for 'balanced'; + Opt +
 *   Refine for 'high'). The wall time of the whole promise (incl. `hydrateResult`) is logged.
 * `vertices`: null for detect / landmarks / init; for the totals the result mesh's vertex count
 * (T1 7152 for fast / balanced, T2 24343 for high). `ratio_vs_reference`: always null (there is
 * no TS-reference pipeline).
 *
 * Warm-up: before any timed call, one untimed call at each quality (the first loads the model,
 * the ONNX sessions and the Opt / Refine backend: mofa.wasm compilation or GPU pipelines; its
 * `stageMs.load` is logged). Iteration counts are the defaults (Opt 5 × 2000 samples, Refine 250).
 */
import type { Reconstructor } from '../sdk/reconstructor.js';
import type { ReconstructQuality } from '../sdk/types/reconstruct-options.js';
import type { ReconstructionResult } from '../sdk/types/reconstruct-result.js';
import type { RgbaImage } from '../sdk/vision/image.js';
import { median, round, type BenchBackend, type BenchRow } from './opt-bench.js';

/** A backend of the pipeline bench and how to make its reconstructor. */
export interface PipelineBackend {
  name: Extract<BenchBackend, 'wasm' | 'webgpu'>;
  /** `createReconstructor({ runIn: 'thread', backend: name, … })` with the environment's asset locations. */
  create(): Promise<Reconstructor>;
  /** Timed calls per quality (default: the BASE_RUNS; never below 2). */
  runs?: Partial<Record<ReconstructQuality, number>>;
}

export interface PipelineBenchOptions {
  /** The portrait, decoded (RGBA8, row-major). */
  image: RgbaImage;
  backends: PipelineBackend[];
  /** Scales the run counts (default 1); at least 2 timed calls per quality remain. */
  runScale?: number;
  emit(row: BenchRow): void;
  log(message: string): void;
}

/** Default timed calls per quality on the 'wasm' backend. */
export const BASE_RUNS: Record<ReconstructQuality, number> = { fast: 5, balanced: 3, high: 3 };
const QUALITIES: ReconstructQuality[] = ['fast', 'balanced', 'high'];

/** Runs the pipeline stages for each backend, one after the other; emits rows as it goes. */
export async function runPipelineBench(o: PipelineBenchOptions): Promise<BenchRow[]> {
  const { log } = o;
  const scale = o.runScale ?? 1;
  const rows: BenchRow[] = [];
  const record = (stage: BenchRow['stage'], backend: BenchBackend, times: number[], vertices: number | null) => {
    const row: BenchRow = {
      stage, backend, vertices, ms_median: round(median(times)), ms_min: round(Math.min(...times)), runs: times.length, ratio_vs_reference: null,
    };
    rows.push(row);
    o.emit(row);
  };
  // A fresh copy per call: the input must not be shared between calls (it is the caller's buffer).
  const input = () => ({ data: new Uint8ClampedArray(o.image.data), width: o.image.width, height: o.image.height });

  for (const b of o.backends) {
    const rec = await b.create();
    try {
      for (const quality of QUALITIES) {
        const t0 = performance.now();
        const r = await rec.reconstruct(input(), { quality });
        const d = r.diagnostics;
        log(`pipeline ${b.name} warm-up '${quality}': ${(performance.now() - t0).toFixed(0)} ms (stageMs ${JSON.stringify(roundAll(d.stageMs))}); backend ${d.backend} (${d.backendReason}); runIn ${d.runIn}; ${r.faces.length} face(s), score ${r.faces[0].detectionScore.toFixed(3)}, mesh ${r.faces[0].mesh.topology} ${r.faces[0].mesh.position.length / 3} vertices`);
        if (d.backend !== b.name) throw new Error(`pipeline ${b.name}: the reconstructor ran on '${d.backend}' (${d.backendReason})`);
      }
      const stage = { detect: [] as number[], landmarks: [] as number[], init: [] as number[] };
      for (const quality of QUALITIES) {
        const runs = Math.max(2, Math.round((b.runs?.[quality] ?? BASE_RUNS[quality]) * scale));
        const totals: number[] = [];
        const walls: number[] = [];
        let last: ReconstructionResult | null = null;
        for (let k = 0; k < runs; k++) {
          const t0 = performance.now();
          last = await rec.reconstruct(input(), { quality });
          walls.push(performance.now() - t0);
          const ms = last.diagnostics.stageMs;
          if (ms.load !== undefined) throw new Error(`pipeline ${b.name} '${quality}': a timed call loaded assets (stageMs.load ${ms.load} ms)`);
          totals.push(need(ms.total, 'total'));
          if (quality === 'fast') {
            stage.detect.push(need(ms.detect, 'detect'));
            stage.landmarks.push(need(ms.landmarks, 'landmarks'));
            stage.init.push(need(ms.init, 'init'));
          }
        }
        const r = last as ReconstructionResult;
        const e = r.diagnostics.energies[0];
        const ms = r.diagnostics.stageMs;
        log(`pipeline ${b.name} '${quality}' (${runs} runs): median stageMs.total ${median(totals).toFixed(1)} ms, promise wall median ${median(walls).toFixed(1)} ms; last call's stageMs ${JSON.stringify(roundAll(ms))}; landmark median ${e.landmarkMedianPx.toFixed(2)} px` +
          (e.opt.length ? `; Opt E ${e.opt[0].toExponential(3)} → ${e.opt[e.opt.length - 1].toExponential(3)}` : '') +
          (e.refine.length ? `; Refine E ${e.refine[0].energy.toExponential(3)} → ${e.refine[e.refine.length - 1].energy.toExponential(3)}` : ''));
        if (quality === 'fast') {
          record('detect', b.name, stage.detect, null);
          record('landmarks', b.name, stage.landmarks, null);
          record('init', b.name, stage.init, null);
        }
        record(`total_${quality}`, b.name, totals, r.faces[0].mesh.position.length / 3);
      }
    } finally {
      await rec.close();
    }
  }
  return rows;
}

function need(v: number | undefined, name: string): number {
  if (v === undefined || !Number.isFinite(v)) throw new Error(`pipeline: diagnostics.stageMs.${name} is missing`);
  return v;
}

function roundAll(o: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [k, round(v as number, 1)]));
}
