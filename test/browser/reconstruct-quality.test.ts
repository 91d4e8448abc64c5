/**
 * reconstruct() at quality 'balanced' / 'high' in Chromium through the Web Worker
 * (dist/mofa-web.js + dist/workers/reconstruct-worker.js; mofa.wasm from dist/assets/):
 * - backend 'wasm', 'balanced': Opt runs in the worker and agrees with the same
 *   reconstruction in Node; a second call reuses the backends (no 'load' stage).
 * - backend 'webgpu' (chosen explicitly: here SwiftShader, a software adapter that 'auto'
 *   would not pick), 'high' with reduced iterations for test time: the WebGPU Opt and Refine
 *   backends run in the worker on one GpuContext and return a finite T2 mesh.
 */
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReconstructor, type Reconstructor } from '../../sdk/reconstructor.js';
import type { ReconstructionResult } from '../../sdk/types/reconstruct-result.js';
import { openPage } from './harness.js';

const ORT_WASM_PATHS = '/node_modules/onnxruntime-web/dist/';
const PORTRAIT = 'demo/assets/astronaut.png';

type MofaModule = typeof import('../../sdk/index.js');
interface PageGlobals {
  mofa: MofaModule;
}

function median(v: ArrayLike<number>): number {
  const a = Float64Array.from(v).sort();
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : 0.5 * (a[m - 1] + a[m]);
}

const round = (o: Record<string, number | undefined>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v ?? NaN)]));

describe("reconstruct() quality 'balanced' / 'high' in a Web Worker (Chromium)", () => {
  let nodeRec: Reconstructor;
  let nodeBalanced: ReconstructionResult;

  beforeAll(async () => {
    nodeRec = await createReconstructor({ runIn: 'thread', backend: 'wasm' });
    nodeBalanced = await nodeRec.reconstruct(PORTRAIT, { quality: 'balanced' });
  }, 120_000);
  afterAll(async () => {
    await nodeRec?.close();
  });

  it("'balanced' on backend 'wasm': Opt in the worker, same result as Node, backends reused on the next call", async () => {
    const page: Page = await openPage('/test/browser/pages/sdk.html');
    const out = await page.evaluate(
      async (src: string, ortWasmPaths: string) => {
        const { mofa } = globalThis as unknown as PageGlobals;
        const img = new Image();
        img.src = src;
        await img.decode();
        const rec = await mofa.createReconstructor({ backend: 'wasm', assets: { ortWasmPaths } });
        const stages: string[][] = [[], []];
        const runs = [];
        for (let k = 0; k < 2; k++) {
          const res = await rec.reconstruct(img, { quality: 'balanced', onProgress: (p) => stages[k].push(p.stage) });
          const f = res.faces[0];
          runs.push({
            diagnostics: res.diagnostics,
            topology: f.mesh.topology,
            vertices: f.mesh.position.length / 3,
            landmarks: Array.from(f.landmarks),
            code: Array.from(f.code),
            finite: [f.mesh.position, f.mesh.normal, f.albedo, f.code, f.landmarks].every((a) => Array.from(a).every(Number.isFinite)),
          });
        }
        await rec.close();
        return { runIn: rec.runIn, stages, runs };
      },
      `/${PORTRAIT}`,
      ORT_WASM_PATHS,
    );
    const nf = nodeBalanced.faces[0];
    const [first, second] = out.runs;
    const e = first.diagnostics.energies[0];
    const vsNode = Array.from({ length: 468 }, (_, i) => Math.hypot(first.landmarks[2 * i] - nf.landmarks[2 * i], first.landmarks[2 * i + 1] - nf.landmarks[2 * i + 1]));
    console.info(`worker 'balanced' (wasm): 1st call ${JSON.stringify(round(first.diagnostics.stageMs))}, 2nd call ${JSON.stringify(round(second.diagnostics.stageMs))}; Opt E ${e.opt.map((v) => v.toFixed(3)).join(' → ')} (Node ${nodeBalanced.diagnostics.energies[0].opt.map((v) => v.toFixed(3)).join(' → ')}); median |browser − Node| landmarks ${median(vsNode).toFixed(3)} px`);
    expect(out.runIn).toBe('worker');
    expect(first.diagnostics.runIn).toBe('worker');
    expect(first.diagnostics.quality).toBe('balanced');
    expect(first.diagnostics.backend).toBe('wasm');
    expect(first.diagnostics.backendReason).toMatch(/requested 'wasm'/);
    expect(first.topology).toBe('T1');
    expect(first.vertices).toBe(nf.mesh.position.length / 3);
    expect(first.finite && second.finite).toBe(true);
    expect(out.stages[0]).toEqual(['load', 'decode', 'detect', 'landmarks', 'init', 'opt', 'result']);
    expect(out.stages[1]).toEqual(['decode', 'detect', 'landmarks', 'init', 'opt', 'result']); // backends reused
    expect(first.diagnostics.stageMs.opt).toBeGreaterThan(0);
    expect(e.opt).toHaveLength(6);
    for (let k = 0; k < 5; k++) expect(e.opt[k + 1]).toBeLessThanOrEqual(e.optAtLinearization[k]);
    expect(e.opt[5]).toBeLessThan(0.9 * e.opt[0]);
    // Same Opt as Node up to the PNG decoder / ORT differences of the input.
    expect(median(vsNode)).toBeLessThan(1);
    expect(Math.abs(e.opt[5] - nodeBalanced.diagnostics.energies[0].opt[5])).toBeLessThan(0.1 * e.opt[5]);
    // Deterministic: the second call gives the same code.
    for (let k = 0; k < 257; k++) expect(second.code[k]).toBeCloseTo(first.code[k], 9);
  });

  it("'high' on backend 'webgpu' (explicit; SwiftShader, reduced iterations): WebGPU Opt + Refine in the worker return a finite T2 mesh", async () => {
    const page: Page = await openPage('/test/browser/pages/sdk.html');
    const out = await page.evaluate(
      async (src: string, ortWasmPaths: string) => {
        const { mofa } = globalThis as unknown as PageGlobals;
        const rec = await mofa.createReconstructor({ backend: 'webgpu', assets: { ortWasmPaths }, iterations: { opt: 2, optSamples: 1000, refine: 20 } });
        try {
          const res = await rec.reconstruct(src, { quality: 'high' });
          const f = res.faces[0];
          return {
            diagnostics: res.diagnostics,
            topology: f.mesh.topology,
            vertices: f.mesh.position.length / 3,
            finite: [f.mesh.position, f.mesh.normal, f.mesh.uv, f.albedo, f.code, f.landmarks].every((a) => Array.from(a).every(Number.isFinite)),
            landmarks: Array.from(f.landmarks),
            detected: Array.from(f.detectedLandmarks),
            k: f.pose.cropToImage[0],
          };
        } finally {
          await rec.close();
        }
      },
      `/${PORTRAIT}`,
      ORT_WASM_PATHS,
    );
    const d = out.diagnostics;
    const e = d.energies[0];
    const lm = Array.from({ length: 468 }, (_, i) => Math.hypot(out.landmarks[2 * i] - out.detected[3 * i], out.landmarks[2 * i + 1] - out.detected[3 * i + 1]) / out.k);
    console.info(`worker 'high' (webgpu, 2 GN iterations / 1000 samples, 20 Refine iterations): ${JSON.stringify(round(d.stageMs))}; ${d.backendReason}; Opt E ${e.opt.map((v) => v.toFixed(3)).join(' → ')}; Refine E ${e.refine.map((r) => `${r.iteration}:${r.energy.toExponential(3)}`).join(' ')}; fold-repaired ${e.refineFoldRepairedVertices}; landmark median ${median(lm).toFixed(2)} crop px`);
    expect(d.backend).toBe('webgpu');
    expect(d.backendReason).toMatch(/requested 'webgpu'/);
    expect(d.quality).toBe('high');
    expect(out.topology).toBe('T2');
    expect(out.vertices).toBe(24_343);
    expect(out.finite).toBe(true);
    expect(e.opt).toHaveLength(3);
    for (let k = 0; k < 2; k++) expect(e.opt[k + 1]).toBeLessThanOrEqual(e.optAtLinearization[k]);
    expect(e.opt[2]).toBeLessThan(e.opt[0]);
    expect(e.refine.at(-1)!.iteration).toBe(20);
    expect(e.refine.at(-1)!.energy).toBeLessThan(e.refine[0].energy);
    expect(median(lm)).toBeLessThan(3);
  }, 300_000);
});
