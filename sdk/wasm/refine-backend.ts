/**
 * Refine (paper Sec. 9.2) on WASM SIMD: `WasmRefineBackend` implements sdk/refine/backend.ts
 * over assembly/refine.ts (all iterations in one `refineRun` call) and assembly/remap.ts (the
 * T1 → T2 transfer L). f32 throughout; tested against the float64 reference
 * (sdk/refine/reference.ts).
 *
 * Memory: the backend owns its own mofa.wasm instance (so its long-lived blocks never
 * interleave with another owner's on the stub runtime's bump heap). `setProblem` resets the
 * heap and lays out: context block, triangles, one-ring CSR, the image as RGBA f32 (A = 0, so
 * a pixel is one v128), SoA (3 × nPad) f32 arrays for coarse positions, albedo and
 * displacements, then the scratch block (its own SoA / AoS4 layout, assembly/refine.ts).
 *
 * Vertex order: T2's vertex numbering is not spatially coherent (one-ring neighbours are on
 * average ~8k indices apart), which makes every gather a cache miss. The backend therefore
 * renumbers vertices internally along a Z-order (Morton) curve of the coarse (x, y) and sorts
 * the triangles by their first corner (`spatialOrder`), and maps the results back; the math
 * is unchanged (only f32 summation order differs).
 */
import { MofaError } from '../errors.js';
import type { RefineBackend } from '../refine/backend.js';
import { REFINE_DEFAULTS, type RefineOptions } from '../refine/defaults.js';
import { checkRefineOptions, checkRefineProblem, foldedSh, IRLS_FLOOR, resolveRotation, type RefineProblem, type RefineRunResult } from '../refine/reference.js';
import { instantiateMofaWasm, type WasmSource } from './linalg.js';
import { asRemapExports, remapWasm, type RemapWasmExports } from './remap.js';

/** Context-block word offsets; must match assembly/refine.ts (checked against the module's exported globals). */
const CTX = {
  N: 0, NPAD: 1, F: 2, W: 3, H: 4, INDEX: 5, OFFSETS: 6, NEIGHBORS: 7, IMAGE: 8, COARSE: 9, ALBEDO: 10, DISP: 11,
  SCRATCH: 12, FOCAL: 13, CX: 14, CY: 15, STEP: 16, WGRAD: 17, WREG: 18, CMIN: 19, ROT: 20, TRANS: 29, SH: 32, WORDS: 64,
} as const;

interface RefineWasmExports extends RemapWasmExports {
  resetHeap(): void;
  refineScratchBytes(nPad: number): number;
  refineRun(ctx: number, iterations: number, energiesPtr: number): void;
  refineOutputPtr(ctx: number, which: number): number;
}

interface Layout {
  n: number;
  /** perm[k] = original T2 index of internal vertex k. */
  perm: Uint32Array;
  nPad: number;
  ctx: number;
  disp: number;
  scratch: number;
  scratchBytes: number;
  /** Time spent in the WASM remap of positions + albedo, ms. */
  remapMs: number;
}

export class WasmRefineBackend implements RefineBackend {
  readonly kind = 'wasm' as const;
  private ex: RefineWasmExports | null;
  private layout: Layout | null = null;

  private constructor(ex: RefineWasmExports) {
    this.ex = ex;
  }

  /** Instantiates a private copy of mofa.wasm (needs WebAssembly SIMD). */
  static async create(source: WasmSource): Promise<WasmRefineBackend> {
    const instance = await instantiateMofaWasm(source);
    const ex = asRemapExports(instance.exports) as RefineWasmExports;
    for (const name of ['resetHeap', 'refineScratchBytes', 'refineRun', 'refineOutputPtr']) {
      if (!(name in instance.exports)) throw new MofaError('MODEL_INTEGRITY', `mofa.wasm lacks export '${name}': rebuild it with \`npm run build:wasm\`.`);
    }
    // The context layout is part of the module's ABI: compare with its exported constants.
    const glob = (name: string) => (instance.exports[name] as WebAssembly.Global | undefined)?.value;
    const expect: [string, number][] = [['REFINE_SH', CTX.SH], ['REFINE_CTX_WORDS', CTX.WORDS], ['REFINE_SCRATCH', CTX.SCRATCH], ['REFINE_CMIN', CTX.CMIN]];
    for (const [name, value] of expect) {
      if (glob(name) !== value) throw new MofaError('MODEL_INTEGRITY', `mofa.wasm's ${name} is ${glob(name)}, this SDK expects ${value}: rebuild it with \`npm run build:wasm\`.`);
    }
    return new WasmRefineBackend(ex);
  }

  /** ms of the last `setProblem`'s WASM remap (positions + albedo, T1 → T2). */
  get lastRemapMs(): number {
    return this.layout?.remapMs ?? NaN;
  }

  async setProblem(problem: RefineProblem): Promise<void> {
    const ex = this.live();
    checkRefineProblem(problem);
    const { model } = problem;
    const R = resolveRotation(problem.R);
    const sh = foldedSh(problem.gamma);
    this.layout = null;
    ex.resetHeap();
    const t0 = performance.now();
    const coarse = remapWasm(ex, problem.positionT1, 3, model.t2.fromT1);
    const albedo = remapWasm(ex, problem.albedoT1, 3, model.t2.fromT1);
    const remapMs = performance.now() - t0;
    const n = model.t2.vertexCount;
    const nPad = (n + 3) & ~3;
    const { perm, index, offsets, neighbors } = spatialOrder(coarse, model.t2.index, model.t2.adjacency);
    const { image } = problem;
    const ctx = ex.alloc(4 * CTX.WORDS);
    const indexPtr = ex.alloc(index.byteLength);
    const offsetsPtr = ex.alloc(offsets.byteLength);
    const neighborsPtr = ex.alloc(neighbors.byteLength);
    const imagePtr = ex.alloc(16 * image.width * image.height);
    const coarsePtr = ex.alloc(12 * nPad);
    const albedoPtr = ex.alloc(12 * nPad);
    const disp = ex.alloc(12 * nPad);
    const scratchBytes = ex.refineScratchBytes(nPad);
    const scratch = ex.alloc(scratchBytes);
    const buf = ex.memory.buffer;
    new Uint32Array(buf, indexPtr, index.length).set(index);
    new Uint32Array(buf, offsetsPtr, offsets.length).set(offsets);
    new Uint32Array(buf, neighborsPtr, neighbors.length).set(neighbors);
    writeRgba(new Float32Array(buf, imagePtr, 4 * image.width * image.height), image.rgb);
    writeSoA(new Float32Array(buf, coarsePtr, 3 * nPad), coarse, perm, nPad);
    writeSoA(new Float32Array(buf, albedoPtr, 3 * nPad), albedo, perm, nPad);
    const ci = new Int32Array(buf, ctx, CTX.WORDS);
    const cf = new Float32Array(buf, ctx, CTX.WORDS);
    ci.fill(0);
    ci[CTX.N] = n; ci[CTX.NPAD] = nPad; ci[CTX.F] = index.length / 3;
    ci[CTX.W] = image.width; ci[CTX.H] = image.height;
    ci[CTX.INDEX] = indexPtr; ci[CTX.OFFSETS] = offsetsPtr; ci[CTX.NEIGHBORS] = neighborsPtr; ci[CTX.IMAGE] = imagePtr;
    ci[CTX.COARSE] = coarsePtr; ci[CTX.ALBEDO] = albedoPtr; ci[CTX.DISP] = disp; ci[CTX.SCRATCH] = scratch;
    cf[CTX.FOCAL] = problem.intrinsics.focalPx; cf[CTX.CX] = problem.intrinsics.cx; cf[CTX.CY] = problem.intrinsics.cy;
    cf[CTX.CMIN] = IRLS_FLOOR;
    for (let k = 0; k < 9; k++) cf[CTX.ROT + k] = R[k];
    for (let k = 0; k < 3; k++) cf[CTX.TRANS + k] = problem.t[k];
    for (let k = 0; k < 27; k++) cf[CTX.SH + k] = sh[k];
    this.layout = { n, perm, nPad, ctx, disp, scratch, scratchBytes, remapMs };
  }

  async run(options: Partial<RefineOptions> = {}): Promise<RefineRunResult> {
    const ex = this.live();
    const L = this.layout;
    if (!L) throw new MofaError('BAD_INPUT', 'call setProblem() before run()');
    const opts: RefineOptions = { ...REFINE_DEFAULTS, ...options };
    checkRefineOptions(opts);
    const { nPad, perm } = L;
    const energiesPtr = ex.alloc(8 * (opts.iterations + 1));
    try {
      let buf = ex.memory.buffer;
      const cf = new Float32Array(buf, L.ctx, CTX.WORDS);
      cf[CTX.STEP] = opts.step; cf[CTX.WGRAD] = opts.wGrad; cf[CTX.WREG] = opts.wReg;
      new Float32Array(buf, L.disp, 3 * nPad).fill(0);
      new Uint8Array(buf, L.scratch, L.scratchBytes).fill(0);
      const t0 = performance.now();
      ex.refineRun(L.ctx, opts.iterations, energiesPtr);
      const ms = performance.now() - t0;
      buf = ex.memory.buffer;
      const energies = new Float64Array(buf, energiesPtr, opts.iterations + 1).slice();
      const positions = readAos4(new Float32Array(buf, ex.refineOutputPtr(L.ctx, 0), 4 * nPad), perm);
      const normals = readSoA(new Float32Array(buf, ex.refineOutputPtr(L.ctx, 1), 3 * nPad), perm, nPad);
      const displacements = readSoA(new Float32Array(buf, L.disp, 3 * nPad), perm, nPad);
      return { positions, normals, displacements, energies, ms };
    } finally {
      ex.free(energiesPtr);
    }
  }

  destroy(): void {
    this.ex = null;
    this.layout = null;
  }

  private live(): RefineWasmExports {
    if (!this.ex) throw new MofaError('CLOSED', 'this Refine backend was destroyed: create a new one');
    return this.ex;
  }
}

/** T2 renumbered for locality (see the module comment). */
export interface SpatialOrder {
  /** perm[k] = original index of internal vertex k. */
  perm: Uint32Array;
  /** Triangles in internal numbering, sorted by their first corner. */
  index: Uint32Array;
  /** One-ring CSR in internal numbering. */
  offsets: Uint32Array;
  neighbors: Uint32Array;
}

/**
 * Z-order (Morton) renumbering of the vertices by their (x, y) (10 bits each over the bounding
 * box), with triangles and the one ring remapped and triangles sorted by their first corner.
 * @param position (N, 3) positions (the coarse T2 surface).
 */
export function spatialOrder(position: Float32Array, index: Uint32Array, adjacency: { offsets: Uint32Array; neighbors: Uint32Array }): SpatialOrder {
  const n = position.length / 3;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, position[3 * i]); x1 = Math.max(x1, position[3 * i]);
    y0 = Math.min(y0, position[3 * i + 1]); y1 = Math.max(y1, position[3 * i + 1]);
  }
  const spread = (v: number) => { // 10-bit value → bits at even positions
    v = (v | (v << 8)) & 0x00ff00ff; v = (v | (v << 4)) & 0x0f0f0f0f;
    v = (v | (v << 2)) & 0x33333333; return (v | (v << 1)) & 0x55555555;
  };
  const key = new Uint32Array(n);
  const sx = 1023 / Math.max(x1 - x0, 1e-9), sy = 1023 / Math.max(y1 - y0, 1e-9);
  for (let i = 0; i < n; i++) {
    const qx = Math.round((position[3 * i] - x0) * sx), qy = Math.round((position[3 * i + 1] - y0) * sy);
    key[i] = (spread(qy) << 1 | spread(qx)) >>> 0;
  }
  const perm = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => key[a] - key[b] || a - b);
  const inv = new Uint32Array(n);
  for (let k = 0; k < n; k++) inv[perm[k]] = k;
  const nf = index.length / 3;
  const faces = Uint32Array.from({ length: nf }, (_, f) => f);
  const first = (f: number) => Math.min(inv[index[3 * f]], inv[index[3 * f + 1]], inv[index[3 * f + 2]]);
  const fk = Float64Array.from({ length: nf }, (_, f) => first(f));
  faces.sort((a, b) => fk[a] - fk[b] || a - b);
  const outIndex = new Uint32Array(index.length);
  for (let k = 0; k < nf; k++) {
    const f = faces[k]; // keep the corner order (winding)
    outIndex[3 * k] = inv[index[3 * f]]; outIndex[3 * k + 1] = inv[index[3 * f + 1]]; outIndex[3 * k + 2] = inv[index[3 * f + 2]];
  }
  const offsets = new Uint32Array(n + 1);
  const neighbors = new Uint32Array(adjacency.neighbors.length);
  for (let k = 0, q = 0; k < n; k++) {
    const i = perm[k];
    for (let p = adjacency.offsets[i]; p < adjacency.offsets[i + 1]; p++) neighbors[q++] = inv[adjacency.neighbors[p]];
    offsets[k + 1] = q;
  }
  return { perm, index: outIndex, offsets, neighbors };
}

/** (N, 3) AoS in original order → SoA rows [x… | y… | z…] of nPad in internal order (padding zero). */
function writeSoA(dst: Float32Array, src: Float32Array, perm: Uint32Array, nPad: number): void {
  dst.fill(0);
  for (let k = 0; k < perm.length; k++) {
    const i = perm[k];
    dst[k] = src[3 * i];
    dst[nPad + k] = src[3 * i + 1];
    dst[2 * nPad + k] = src[3 * i + 2];
  }
}

/** (H·W, 3) RGB → (H·W, 4) RGBA with A = 0. */
function writeRgba(dst: Float32Array, rgb: Float32Array): void {
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    dst[q] = rgb[p]; dst[q + 1] = rgb[p + 1]; dst[q + 2] = rgb[p + 2]; dst[q + 3] = 0;
  }
}

/** AoS4 in internal order → (N, 3) in original order. */
function readAos4(src: Float32Array, perm: Uint32Array): Float32Array {
  const out = new Float32Array(3 * perm.length);
  for (let k = 0; k < perm.length; k++) {
    const i = perm[k];
    out[3 * i] = src[4 * k];
    out[3 * i + 1] = src[4 * k + 1];
    out[3 * i + 2] = src[4 * k + 2];
  }
  return out;
}

/** SoA (3 × nPad) in internal order → (N, 3) in original order. */
function readSoA(src: Float32Array, perm: Uint32Array, nPad: number): Float32Array {
  const out = new Float32Array(3 * perm.length);
  for (let k = 0; k < perm.length; k++) {
    const i = perm[k];
    out[3 * i] = src[k];
    out[3 * i + 1] = src[nPad + k];
    out[3 * i + 2] = src[2 * nPad + k];
  }
  return out;
}
