/**
 * `OptBackend` on WebAssembly SIMD (assembly/opt.ts): the CPU fast path of the Opt stage
 * (paper Sec. 9.1; math: docs/design/opt.md). On CPU-only devices WebGPU runs on a software
 * rasteriser and is slower than this.
 *
 * Memory: the backend instantiates its own copy of mofa.wasm (own linear memory). `setProblem`
 * copies the model once (bases re-packed for SIMD: geometry basis [E_s | E_e] as one (3N, 144)
 * f32 matrix, albedo (3N, 80)), plus per-model work arrays, into a "model block", and the image
 * and landmarks into a "problem block" allocated after it; a new problem with the same model
 * only replaces the problem block. `linearize` / `energy` allocate nothing in linear memory, so
 * memory does not grow across iterations. `destroy` resets the heap and drops the instance.
 *
 * Per linearisation (same stages and vertex sets as the reference, sdk/opt/residuals.ts):
 *   sample S (sampleVertices, JS) → decode the geometry of S's one-ring closure (gather) or of
 *   all vertices (when the closure is large or for the z-buffer test) → normals of S →
 *   visibility (front-facing, inside the image; optionally z-buffer via sdk/render) → P →
 *   albedo of P → photometric rows + landmark rows folded into JᵀJ / JᵀF in WASM.
 * Precision: decode and the Jacobian rows are f32 (SIMD), per-vertex shading / projection f64,
 * Gram tiles f32 over ≤ 192 rows then accumulated in f64 (see assembly/opt.ts).
 */
import { MofaError } from '../errors.js';
import { project, rotationMatrix, toCamera } from '../model/camera.js';
import { CODE_DIM, CODE_OFFSET, CODE_SIZE } from '../model/code-layout.js';
import { effectiveGamma } from '../model/shading.js';
import { rasterize } from '../render/rasterize.js';
import type { FaceModel } from '../types/face-model.js';
import type { EnergyTerms, Linearization, OptBackend, OptProblem } from '../opt/backend.js';
import { addRegularizerNormalEquations } from '../opt/reference-backend.js';
import {
  checkCode, checkOptProblem, energyTerms, IRLS_MIN_RESIDUAL, rotationDerivatives, sampleVertices,
  ZBUFFER_TOLERANCE_MM,
} from '../opt/residuals.js';
import { instantiateMofaWasm, type MofaWasmExports, type WasmSource } from './linalg.js';

/** The Opt kernels exported by mofa.wasm (assembly/opt.ts). Pointers are byte offsets into `memory`. */
export interface OptWasmExports extends MofaWasmExports {
  decodeAffine(out: number, mean: number, basis: number, K: number, coeff: number, rows: number): void;
  decodeAffineVertices(out: number, mean: number, basis: number, K: number, coeff: number, idx: number, count: number, compact: number): void;
  normalsAll(pos: number, tri: number, triCount: number, n: number, out: number): void;
  normalsVertices(pos: number, tri: number, vtOff: number, vtList: number, idx: number, count: number, out: number): void;
  markOneRing(tri: number, vtOff: number, vtList: number, idx: number, count: number, mark: number, outList: number): number;
  visibleFront(idx: number, count: number, pos: number, nrm: number, params: number, flags: number, screen: number, depth: number): number;
  gramAccumulate(c: number, ldc: number, a: number, aCap: number, b: number, bCap: number, rows: number, pFrom: number, pTo: number, qFrom: number, qTo: number): void;
  optAssemble(jtj: number, jtf: number): number;
  optScratchBytes(geoCols: number, albCols: number): number;
  optRestCols(albCols: number): number;
  optSetScratch(ptr: number, geoCols: number, albCols: number): void;
  optClearGram(): void;
  optGramGeoPtr(): number;
  optGramRestPtr(): number;
  optLastStat(k: number): number;
  photoTerm(mode: number, idx: number, count: number, pos: number, nrm: number, alb: number, albBasis: number, geoBasis: number, params: number, img: number, weight: number): number;
  landmarkTerm(mode: number, vert: number, target: number, weight: number, count: number, pos: number, geoBasis: number, params: number): number;
  OPT_CHUNK: WebAssembly.Global;
  P_COUNT: WebAssembly.Global;
}

const OPT_EXPORTS = [
  'decodeAffine', 'decodeAffineVertices', 'normalsAll', 'normalsVertices', 'markOneRing', 'visibleFront',
  'gramAccumulate', 'optScratchBytes', 'optRestCols', 'optSetScratch', 'optClearGram', 'optGramGeoPtr',
  'optGramRestPtr', 'optLastStat', 'optAssemble', 'photoTerm', 'landmarkTerm',
] as const;

/** Slots of the f64 parameter block (assembly/opt.ts P_*). */
const P_R = 0, P_T = 9, P_F = 12, P_CX = 13, P_CY = 14, P_DR = 15, P_GAMMA = 42, P_W = 69, P_H = 70, P_WPHOTO = 71, P_CMIN = 72;
const P_SLOTS = 80;

const KG = CODE_SIZE.alpha + CODE_SIZE.delta; // 144 geometry columns (α | δ), code x[0, 144)
const KB = CODE_SIZE.beta; // 80 albedo columns, code x[144, 224)

/** How the geometry is decoded before the normals: the sample's one-ring closure only, or all vertices. */
export type DecodeStrategy = 'auto' | 'gather' | 'full';

export interface WasmOptBackendOptions {
  /**
   * 'gather' decodes only the vertices whose positions the sampled normals need (the sample's
   * one-ring closure); 'full' decodes all N (one streaming pass, 4 rows per step); 'auto'
   * (default) gathers when the closure has fewer than `AUTO_GATHER_FRACTION`·N vertices.
   * The z-buffer visibility test always decodes all vertices (it rasterises the whole mesh).
   */
  decode?: DecodeStrategy;
}

/** 'auto' gathers below this fraction of N (measured on the T1 model: a gathered vertex costs about 1.2× a streamed one, 0.22 vs 0.18 µs). */
export const AUTO_GATHER_FRACTION = 0.8;

/** Byte layout of a block: named 16-byte aligned regions. */
class Layout {
  bytes = 0;
  add(size: number): number {
    const at = this.bytes;
    this.bytes += Math.ceil(size / 16) * 16;
    return at;
  }
}

interface ModelRegions {
  geoMean: number; geoBasis: number; albMean: number; albBasis: number;
  tri: number; vtOff: number; vtList: number;
  pos: number; nrm: number; alb: number;
  sample: number; setP: number; closure: number; closureP: number; mark: number; flags: number;
  weight: number; screen: number; depth: number; params: number; coeffG: number; coeffB: number; scratch: number;
  jtj: number; jtf: number;
}

interface ProblemRegions {
  image: number; lmVert: number; lmTarget: number; lmWeight: number;
}

/** The photometric set fixed by `linearize` (for the following `energy` calls). */
interface FixedSet {
  count: number;
  closureCount: number;
}

/**
 * Creates a WASM Opt backend.
 * @param source mofa.wasm: bytes, a compiled module (shared, cheap to instantiate again), or its URL.
 * @throws MofaError('NO_BACKEND') without WebAssembly SIMD; 'MODEL_INTEGRITY' if the module
 *   lacks the Opt kernels (rebuild with `npm run build:wasm`).
 */
export async function createWasmOptBackend(source: WasmSource, options: WasmOptBackendOptions = {}): Promise<WasmOptBackend> {
  const instance = await instantiateMofaWasm(source);
  const ex = instance.exports as unknown as OptWasmExports;
  for (const name of ['memory', 'alloc', 'free', 'resetHeap', ...OPT_EXPORTS] as const) {
    if (!(name in ex)) throw new MofaError('MODEL_INTEGRITY', `mofa.wasm lacks export '${name}': rebuild it with \`npm run build:wasm\`.`);
  }
  return new WasmOptBackend(ex, options);
}

export class WasmOptBackend implements OptBackend {
  readonly kind = 'wasm' as const;
  private ex: OptWasmExports | null;
  private readonly decode: DecodeStrategy;
  private problem: OptProblem | null = null;
  private model: FaceModel | null = null;
  private modelPtr = 0;
  private problemPtr = 0;
  private m: ModelRegions | null = null;
  private pr: ProblemRegions | null = null;
  private set: FixedSet | null = null;
  private n = 0;

  /** Use `createWasmOptBackend`. */
  constructor(exports: OptWasmExports, options: WasmOptBackendOptions = {}) {
    this.ex = exports;
    this.decode = options.decode ?? 'auto';
  }

  /** The raw module (tests and benchmarks). */
  get wasm(): OptWasmExports {
    return this.requireExports();
  }

  /** The photometric vertex set P fixed by the last `linearize` (ascending T1 indices; a copy). */
  get photometricVertices(): Uint32Array {
    const { m } = this.ready();
    return this.u32(m.setP, this.set?.count ?? 0).slice();
  }

  /** Bytes of linear memory currently reserved by the module (grows only in `setProblem`). */
  get memoryBytes(): number {
    return this.requireExports().memory.buffer.byteLength;
  }

  async setProblem(problem: OptProblem): Promise<void> {
    const ex = this.requireExports();
    checkOptProblem(problem);
    if (problem.model !== this.model) {
      ex.resetHeap();
      this.model = null;
      this.m = null;
      this.problemPtr = 0;
      this.uploadModel(problem.model);
      this.model = problem.model;
    } else if (this.problemPtr) {
      ex.free(this.problemPtr); // the most recent block: the stub allocator reclaims it
      this.problemPtr = 0;
    }
    this.uploadProblem(problem);
    this.problem = problem;
    this.set = null;
  }

  async linearize(x: Float64Array, iteration: number): Promise<Linearization> {
    const { ex, m, problem } = this.ready();
    checkCode(x);
    this.set = null; // the buffers of the previous set are overwritten below
    this.writeParams(x);
    // Sample S of the front face (same generator as the reference) → geometry → visibility.
    const sample = sampleVertices(problem.model.frontFace, problem.sampleCount, problem.seed, iteration);
    this.u32(m.sample, sample.length).set(sample);
    const zbuffer = problem.visibility === 'zbuffer';
    this.decodeGeometry(m.sample, sample.length, m.closure, zbuffer);
    ex.visibleFront(m.sample, sample.length, m.pos, m.nrm, m.params, m.flags, zbuffer ? m.screen : 0, zbuffer ? m.depth : 0);
    const flags = this.u8(m.flags, sample.length);
    if (zbuffer) this.zbufferTest(sample, flags);
    const setP = this.u32(m.setP, sample.length);
    let count = 0;
    for (let k = 0; k < sample.length; k++) if (flags[k]) setP[count++] = sample[k];
    // One-ring closure of P, kept for `energy`.
    const closureCount = this.closureOf(m.setP, count, m.closureP);
    this.f64(m.params, P_SLOTS)[P_WPHOTO] = count > 0 ? problem.weights.photo / count : 0;
    ex.decodeAffineVertices(m.alb, m.albMean, m.albBasis, KB, m.coeffB, m.setP, count, 1);
    ex.optClearGram();
    const photo = ex.photoTerm(1, m.setP, count, m.pos, m.nrm, m.alb, m.albBasis, m.geoBasis, m.params, this.pr!.image, m.weight);
    let land = 0;
    const L = problem.landmarks?.vertex.length ?? 0;
    if (L > 0) {
      const pr = this.pr!;
      land = ex.landmarkTerm(1, pr.lmVert, pr.lmTarget, pr.lmWeight, L, m.pos, m.geoBasis, m.params);
      if (ex.optLastStat(1) > 0) {
        throw new MofaError('BAD_INPUT', 'the start code puts a landmark vertex behind the camera: initialise the pose so the face is in front of it (translation z < 0)');
      }
    }
    const { jtj, jtf } = this.assembleNormalEquations(x);
    this.set = { count, closureCount };
    return { jtj, jtf, energy: energyTerms(photo, land, this.regularizerEnergy(x), count) };
  }

  async energy(x: Float64Array): Promise<EnergyTerms> {
    const { ex, m, problem } = this.ready();
    if (!this.set) throw new MofaError('INTERNAL', 'energy() was called before linearize(): the IRLS weights and vertex set are fixed by linearize');
    checkCode(x);
    const { count, closureCount } = this.set;
    this.writeParams(x);
    this.f64(m.params, P_SLOTS)[P_WPHOTO] = count > 0 ? problem.weights.photo / count : 0;
    if (this.useFullDecode(closureCount, false)) {
      ex.decodeAffine(m.pos, m.geoMean, m.geoBasis, KG, m.coeffG, 3 * this.n);
    } else {
      ex.decodeAffineVertices(m.pos, m.geoMean, m.geoBasis, KG, m.coeffG, m.closureP, closureCount, 0);
      this.decodeLandmarkVertices();
    }
    ex.normalsVertices(m.pos, m.tri, m.vtOff, m.vtList, m.setP, count, m.nrm);
    ex.decodeAffineVertices(m.alb, m.albMean, m.albBasis, KB, m.coeffB, m.setP, count, 1);
    let photo = ex.photoTerm(0, m.setP, count, m.pos, m.nrm, m.alb, m.albBasis, m.geoBasis, m.params, this.pr!.image, m.weight);
    if (ex.optLastStat(1) > 0) photo = Infinity; // a vertex went behind the camera (as the reference)
    let land = 0;
    const L = problem.landmarks?.vertex.length ?? 0;
    if (L > 0) {
      const pr = this.pr!;
      land = ex.landmarkTerm(0, pr.lmVert, pr.lmTarget, pr.lmWeight, L, m.pos, m.geoBasis, m.params);
      if (ex.optLastStat(1) > 0) land = Infinity;
    }
    return energyTerms(photo, land, this.regularizerEnergy(x), count);
  }

  destroy(): void {
    if (this.ex) this.ex.resetHeap();
    this.ex = null;
    this.problem = null;
    this.model = null;
    this.m = null;
    this.pr = null;
    this.set = null;
  }

  // -------------------------------------------------------------------------------------------

  private requireExports(): OptWasmExports {
    if (!this.ex) throw new MofaError('CLOSED', 'this WasmOptBackend was destroyed; create a new one');
    return this.ex;
  }

  private ready(): { ex: OptWasmExports; m: ModelRegions; problem: OptProblem } {
    const ex = this.requireExports();
    if (!this.problem || !this.m) throw new MofaError('BAD_INPUT', 'call setProblem() before linearize() / energy()');
    return { ex, m: this.m, problem: this.problem };
  }

  private f32(ptr: number, len: number): Float32Array { return new Float32Array(this.ex!.memory.buffer, ptr, len); }
  private f64(ptr: number, len: number): Float64Array { return new Float64Array(this.ex!.memory.buffer, ptr, len); }
  private u32(ptr: number, len: number): Uint32Array { return new Uint32Array(this.ex!.memory.buffer, ptr, len); }
  private u8(ptr: number, len: number): Uint8Array { return new Uint8Array(this.ex!.memory.buffer, ptr, len); }

  private uploadModel(model: FaceModel): void {
    const ex = this.ex!;
    const n = model.t1.vertexCount;
    const F = model.t1.index.length / 3;
    const rows = 3 * n;
    const rowsPad = Math.ceil(rows / 4) * 4;
    const L = new Layout();
    const m: ModelRegions = {
      geoMean: L.add(4 * rowsPad), geoBasis: L.add(4 * rowsPad * KG),
      albMean: L.add(4 * rowsPad), albBasis: L.add(4 * rowsPad * KB),
      tri: L.add(12 * F), vtOff: L.add(4 * (n + 1)), vtList: L.add(12 * F),
      pos: L.add(4 * rowsPad), nrm: L.add(4 * rowsPad), alb: L.add(4 * rowsPad),
      sample: L.add(4 * n), setP: L.add(4 * n), closure: L.add(4 * n), closureP: L.add(4 * n),
      mark: L.add(n), flags: L.add(n), weight: L.add(8 * n), screen: L.add(8 * n), depth: L.add(4 * n),
      params: L.add(8 * P_SLOTS), coeffG: L.add(4 * KG), coeffB: L.add(4 * KB),
      scratch: L.add(ex.optScratchBytes(KG, KB)),
      jtj: L.add(8 * CODE_DIM * CODE_DIM), jtf: L.add(8 * CODE_DIM),
    };
    const base = ex.alloc(L.bytes);
    for (const k of Object.keys(m) as (keyof ModelRegions)[]) m[k] += base;
    this.modelPtr = base;
    this.m = m;
    this.n = n;
    // Views only after the allocation (it may grow and detach the buffer).
    new Uint8Array(ex.memory.buffer, base, L.bytes).fill(0);
    this.f32(m.geoMean, rows).set(model.t1.meanShape);
    const G = this.f32(m.geoBasis, rows * KG);
    const Es = model.shapeBasis, Ee = model.expressionBasis;
    const KA = CODE_SIZE.alpha, KD = CODE_SIZE.delta;
    for (let r = 0; r < rows; r++) {
      G.set(Es.subarray(r * KA, r * KA + KA), r * KG);
      G.set(Ee.subarray(r * KD, r * KD + KD), r * KG + KA);
    }
    this.f32(m.albMean, rows).set(model.albedoMean);
    this.f32(m.albBasis, rows * KB).set(model.albedoBasis);
    this.u32(m.tri, 3 * F).set(model.t1.index);
    // Vertex → triangle CSR.
    const off = this.u32(m.vtOff, n + 1);
    const idx = model.t1.index;
    for (let e = 0; e < idx.length; e++) off[idx[e] + 1]++;
    for (let i = 0; i < n; i++) off[i + 1] += off[i];
    const fill = off.slice(0, n);
    const list = this.u32(m.vtList, 3 * F);
    for (let e = 0; e < idx.length; e++) list[fill[idx[e]]++] = (e / 3) | 0;
    ex.optSetScratch(m.scratch, KG, KB);
  }

  private uploadProblem(problem: OptProblem): void {
    const ex = this.ex!;
    const { image, landmarks, weights } = problem;
    const Lm = landmarks?.vertex.length ?? 0;
    const L = new Layout();
    const pr: ProblemRegions = {
      image: L.add(4 * image.rgb.length), lmVert: L.add(4 * Lm), lmTarget: L.add(8 * Lm), lmWeight: L.add(8 * Lm),
    };
    const base = ex.alloc(Math.max(L.bytes, 16));
    for (const k of Object.keys(pr) as (keyof ProblemRegions)[]) pr[k] += base;
    this.problemPtr = base;
    this.pr = pr;
    this.f32(pr.image, image.rgb.length).set(image.rgb);
    if (landmarks && Lm > 0) {
      this.u32(pr.lmVert, Lm).set(landmarks.vertex);
      this.f32(pr.lmTarget, 2 * Lm).set(landmarks.position);
      const w = this.f64(pr.lmWeight, Lm);
      for (let j = 0; j < Lm; j++) w[j] = (weights.land * landmarks.confidence[j]) / Lm;
    }
    const p = this.f64(this.m!.params, P_SLOTS);
    p[P_F] = problem.intrinsics.focalPx;
    p[P_CX] = problem.intrinsics.cx;
    p[P_CY] = problem.intrinsics.cy;
    p[P_W] = image.width;
    p[P_H] = image.height;
    p[P_CMIN] = IRLS_MIN_RESIDUAL;
  }

  /** Pose, SH and the f32 coefficient vectors of x into the parameter block. */
  private writeParams(x: Float64Array): void {
    const m = this.m!;
    const p = this.f64(m.params, P_SLOTS);
    const euler = x.subarray(CODE_OFFSET.rotation, CODE_OFFSET.rotation + 3);
    p.set(rotationMatrix(euler), P_R);
    p.set(x.subarray(CODE_OFFSET.translation, CODE_OFFSET.translation + 3), P_T);
    const dR = rotationDerivatives(euler);
    for (let j = 0; j < 3; j++) p.set(dR[j], P_DR + 9 * j);
    p.set(effectiveGamma(x.subarray(CODE_OFFSET.gamma, CODE_OFFSET.gamma + 27)), P_GAMMA);
    this.f32(m.coeffG, KG).set(x.subarray(CODE_OFFSET.alpha, CODE_OFFSET.alpha + KG)); // α | δ are contiguous
    this.f32(m.coeffB, KB).set(x.subarray(CODE_OFFSET.beta, CODE_OFFSET.beta + KB));
  }

  private useFullDecode(closureCount: number, forceFull: boolean): boolean {
    if (forceFull || this.decode === 'full') return true;
    if (this.decode === 'gather') return false;
    return closureCount >= AUTO_GATHER_FRACTION * this.n;
  }

  /** Appends the one-ring closure of list[0..count) to `outPtr`; returns its length. */
  private closureOf(listPtr: number, count: number, outPtr: number): number {
    const m = this.m!;
    const c = this.ex!.markOneRing(m.tri, m.vtOff, m.vtList, listPtr, count, m.mark, outPtr);
    this.u8(m.mark, this.n).fill(0);
    return c;
  }

  /** Positions (of the needed vertices) and normals (of list) at the current coefficients. */
  private decodeGeometry(listPtr: number, count: number, closurePtr: number, forceFull: boolean): void {
    const ex = this.ex!, m = this.m!;
    let closureCount = this.n;
    if (!forceFull && this.decode !== 'full') closureCount = this.closureOf(listPtr, count, closurePtr);
    if (this.useFullDecode(closureCount, forceFull)) {
      ex.decodeAffine(m.pos, m.geoMean, m.geoBasis, KG, m.coeffG, 3 * this.n);
    } else {
      ex.decodeAffineVertices(m.pos, m.geoMean, m.geoBasis, KG, m.coeffG, closurePtr, closureCount, 0);
      this.decodeLandmarkVertices();
    }
    ex.normalsVertices(m.pos, m.tri, m.vtOff, m.vtList, listPtr, count, m.nrm);
  }

  private decodeLandmarkVertices(): void {
    const Lm = this.problem?.landmarks?.vertex.length ?? 0;
    if (Lm === 0) return;
    const m = this.m!;
    this.ex!.decodeAffineVertices(m.pos, m.geoMean, m.geoBasis, KG, m.coeffG, this.pr!.lmVert, Lm, 0);
  }

  /** 'zbuffer' visibility (as residuals.ts visibleVertices): clears flags of occluded sample vertices. */
  private zbufferTest(sample: Uint32Array, flags: Uint8Array): void {
    const problem = this.problem!, m = this.m!;
    const { width, height } = problem.image;
    const position = this.f32(m.pos, 3 * this.n).slice();
    const p = this.f64(m.params, P_SLOTS);
    const cam = toCamera(position, p.subarray(P_R, P_R + 9), p.subarray(P_T, P_T + 3));
    const { screen, depth } = project(cam, { ...problem.intrinsics, width, height });
    const zbuf = rasterize({ width, height, screen, depth, index: problem.model.t1.index }).depth;
    const scr = this.f32(m.screen, 2 * sample.length), dep = this.f32(m.depth, sample.length);
    for (let k = 0; k < sample.length; k++) {
      if (!flags[k]) continue;
      const col = Math.floor(scr[2 * k]), row = Math.floor(scr[2 * k + 1]);
      if (col >= 0 && col < width && row >= 0 && row < height && dep[k] > zbuf[row * width + col] + ZBUFFER_TOLERANCE_MM) flags[k] = 0;
    }
  }

  /** JᵀJ (full symmetric) and JᵀF from the WASM Gram blocks plus the regulariser (Eq. 10). */
  private assembleNormalEquations(x: Float64Array): { jtj: Float64Array; jtf: Float64Array } {
    const m = this.m!;
    const n = CODE_DIM;
    this.ex!.optAssemble(m.jtj, m.jtf);
    const jtj = this.f64(m.jtj, n * n).slice();
    const jtf = this.f64(m.jtf, n).slice();
    addRegularizerNormalEquations(this.problem!, x, jtj, jtf);
    return { jtj, jtf };
  }

  /** Eq. (10): w_reg (Σ α² + w_β Σ β² + w_δ Σ δ²). */
  private regularizerEnergy(x: Float64Array): number {
    const { reg, beta, delta } = this.problem!.weights;
    const sq = (off: number, size: number) => {
      let s = 0;
      for (let k = off; k < off + size; k++) s += x[k] * x[k];
      return s;
    };
    return reg * (sq(CODE_OFFSET.alpha, CODE_SIZE.alpha) + beta * sq(CODE_OFFSET.beta, CODE_SIZE.beta) + delta * sq(CODE_OFFSET.delta, CODE_SIZE.delta));
  }
}
