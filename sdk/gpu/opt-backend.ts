/**
 * WebGPU Opt backend (paper Sec. 9.1: "a data-parallel implementation of dense matrix-matrix and
 * matrix-vector multiplication to compute JᵀJ and JᵀF"; math: docs/design/opt.md). Implements
 * `OptBackend` with the WGSL kernels of wgsl/ (one TS twin each in sdk/gpu/):
 *
 *   decode → normals → project_shade → [rasterize (z-buffer visibility)] → photo_select
 *   (linearize only) → residual_rows → normal_equations → reduce_partials → energy
 *
 * The model (bases, means, topology), the image and the landmarks are uploaded once in
 * `setProblem`; `linearize` / `energy` write the code and a small uniform, record every pass into
 * one command encoder and read all results back with a single readback. J is materialised
 * (M × 260 f32, augmented with F) and multiplied by a register-tiled JᵀJ pass; the regulariser
 * (diagonal, Eq. 10) is added on the CPU in float64. The vertex sample is the reference's
 * (`sampleVertices`), so this backend and ReferenceOptBackend optimise the same objective.
 * Float32 throughout on the GPU; reductions of partials on the CPU in float64.
 */
import { MofaError } from '../errors.js';
import { CODE_DIM, CODE_OFFSET, CODE_SIZE } from '../model/code-layout.js';
import type { EnergyTerms, Linearization, OptBackend, OptProblem } from '../opt/backend.js';
import { checkCode, checkOptProblem, energyTerms, sampleVertices } from '../opt/residuals.js';
import { DecodePass, interleaveGeometryBasis } from './decode.js';
import { EnergyPass, ENERGY_INVOCATIONS, sumEnergyPartials } from './energy.js';
import type { GpuContext } from './gpu-context.js';
import { incidentTriangles, NormalsPass } from './normals.js';
import { chunkCount, NormalEquationsPass, partialsBytes, TILE_COUNT, unpackNormalEquations, DEFAULT_ROWS_PER_CHUNK } from './normal-equations.js';
import { FRAME_FLAG_JACOBIAN, FRAME_FLAG_ZBUFFER, gpuResidualRows, OPT_FRAME_BYTES, packOptFrame } from './opt-frame.js';
import { PhotoSelectPass } from './photo-select.js';
import { ProjectShadePass, VERTEX_RECORD, VERTEX_RECORD_STRIDE } from './project-shade.js';
import { RasterizePass } from './rasterize.js';
import { ReducePartialsPass } from './reduce-partials.js';
import { JACOBIAN_COLUMNS, ResidualRowsPass } from './residual-rows.js';

const STORAGE = GPUBufferUsage.STORAGE;
const STORAGE_RW = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** `Linearization` plus the photometric set the GPU chose (for diagnostics and tests). */
export interface WebGpuLinearization extends Linearization {
  /** (|P|) T1 vertex indices of the photometric set P, ascending. */
  photometricVertices: Uint32Array;
}

/** Decoded per-vertex state at a code x (`decodeVertices`), float32 from the GPU. */
export interface GpuVertexState {
  /** (N, 3) v, mm, model frame (Eq. 2). */
  position: Float32Array;
  /** (N, 3) r, linear RGB (Eq. 3). */
  albedo: Float32Array;
  /** (N, 3) unit one-ring normals, model frame. */
  normal: Float32Array;
  /** (N, 3) p = R v + t, mm, camera frame. */
  camera: Float32Array;
  /** (N, 2) u = Π(p), px, image frame. */
  screen: Float32Array;
  /** (N) −p_z, mm. */
  depth: Float32Array;
  /** (N, 3) R n. */
  normalCamera: Float32Array;
  /** (N, 3) c = r ⊙ irradiance (Eq. 4). */
  color: Float32Array;
  /** (N) 1 if front-facing ((R n)·p < 0 and depth > 0). */
  frontFacing: Uint8Array;
}

/** GPU buffers of one problem (freed by setProblem / destroy). */
interface ProblemBuffers {
  problem: OptProblem;
  vertexCount: number;
  triangleCount: number;
  sampleCount: number;
  landmarkCount: number;
  rows: number;
  frame: GPUBuffer;
  code: GPUBuffer;
  geometryMean: GPUBuffer;
  geometryBasis: GPUBuffer;
  albedoMean: GPUBuffer;
  albedoBasis: GPUBuffer;
  triangles: GPUBuffer;
  incident: GPUBuffer;
  image: GPUBuffer;
  position: GPUBuffer;
  albedo: GPUBuffer;
  normal: GPUBuffer;
  records: GPUBuffer;
  groups: GPUBuffer;
  counters: GPUBuffer;
  jacobian: GPUBuffer;
  residual: GPUBuffer;
  partials: GPUBuffer;
  tiles: GPUBuffer;
  energyPartials: GPUBuffer;
  depthKeys: GPUBuffer;
  triangleKeys: GPUBuffer;
  rasterStats: GPUBuffer;
  results: GPUBuffer;
  all: GPUBuffer[];
}

// Layout of the results buffer read back by linearize / energy (bytes).
const RESULT_COUNTERS = 0;
const RESULT_ENERGY = 16;
const RESULT_TILES = RESULT_ENERGY + ENERGY_INVOCATIONS * 8;
const RESULT_GROUPS = RESULT_TILES + TILE_COUNT * 64;

export class WebGpuOptBackend implements OptBackend {
  readonly kind = 'webgpu' as const;
  readonly ctx: GpuContext;
  private readonly decode: DecodePass;
  private readonly normals: NormalsPass;
  private readonly projectShade: ProjectShadePass;
  private readonly photoSelect: PhotoSelectPass;
  private readonly residualRows: ResidualRowsPass;
  private readonly normalEquations: NormalEquationsPass;
  private readonly reducePartials: ReducePartialsPass;
  private readonly energyPass: EnergyPass;
  private readonly rasterize: RasterizePass;
  private buffers: ProblemBuffers | null = null;
  private linearized = false;
  private closed = false;

  /** Builds every pipeline once on `ctx` (which the caller keeps owning). */
  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.decode = new DecodePass(ctx);
    this.normals = new NormalsPass(ctx);
    this.projectShade = new ProjectShadePass(ctx);
    this.photoSelect = new PhotoSelectPass(ctx);
    this.residualRows = new ResidualRowsPass(ctx);
    this.normalEquations = new NormalEquationsPass(ctx);
    this.reducePartials = new ReducePartialsPass(ctx);
    this.energyPass = new EnergyPass(ctx);
    this.rasterize = new RasterizePass(ctx);
  }

  async setProblem(problem: OptProblem): Promise<void> {
    this.checkOpen();
    checkOptProblem(problem);
    this.freeProblem();
    const { model, image } = problem;
    const ctx = this.ctx;
    const N = model.t1.vertexCount;
    const F = model.t1.index.length / 3;
    const S = sampleVertices(model.frontFace, problem.sampleCount, problem.seed, 0).length;
    const L = problem.landmarks?.vertex.length ?? 0;
    const M = gpuResidualRows(S, L);
    const pixels = image.width * image.height;
    const all: GPUBuffer[] = [];
    const data = (label: string, d: ArrayBufferView, usage = STORAGE) => {
      const b = ctx.createBufferWithData(`opt/${label}`, d, usage);
      all.push(b);
      return b;
    };
    const empty = (label: string, bytes: number, usage = STORAGE_RW) => {
      const b = ctx.createBuffer(`opt/${label}`, bytes, usage);
      all.push(b);
      return b;
    };
    try {
      const rgba = new Float32Array(4 * pixels);
      for (let p = 0; p < pixels; p++) {
        rgba[4 * p] = image.rgb[3 * p];
        rgba[4 * p + 1] = image.rgb[3 * p + 1];
        rgba[4 * p + 2] = image.rgb[3 * p + 2];
      }
      // Landmark row groups are constant: (vertex id bits, target u, target v, confidence).
      const groupsInit = new Float32Array(4 * (S + L));
      const groupsU32 = new Uint32Array(groupsInit.buffer);
      for (let j = 0; j < L; j++) {
        const lm = problem.landmarks!;
        groupsU32[4 * (S + j)] = lm.vertex[j];
        groupsInit[4 * (S + j) + 1] = lm.position[2 * j];
        groupsInit[4 * (S + j) + 2] = lm.position[2 * j + 1];
        groupsInit[4 * (S + j) + 3] = lm.confidence[j];
      }
      const b: ProblemBuffers = {
        problem, vertexCount: N, triangleCount: F, sampleCount: S, landmarkCount: L, rows: M,
        frame: empty('frame', OPT_FRAME_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
        code: empty('code', 4 * JACOBIAN_COLUMNS, STORAGE | GPUBufferUsage.COPY_DST),
        geometryMean: data('geometry-mean', model.t1.meanShape),
        geometryBasis: data('geometry-basis', interleaveGeometryBasis(model.shapeBasis, model.shapeDim, model.expressionBasis, model.expressionDim)),
        albedoMean: data('albedo-mean', model.albedoMean),
        albedoBasis: data('albedo-basis', model.albedoBasis),
        triangles: data('triangles', model.t1.index),
        incident: data('incident-triangles', incidentTriangles(model.t1.index, N)),
        image: data('image', rgba),
        position: empty('position', 12 * N),
        albedo: empty('albedo', 12 * N),
        normal: empty('normal', 12 * N),
        records: empty('vertex-records', 16 * VERTEX_RECORD_STRIDE * N),
        groups: data('row-groups', groupsInit, STORAGE_RW),
        counters: empty('counters', 16),
        jacobian: empty('jacobian', 4 * JACOBIAN_COLUMNS * Math.max(M, 1)),
        residual: empty('residual', 4 * Math.max(M, 1)),
        partials: empty('normal-equation-partials', partialsBytes(M)),
        tiles: empty('normal-equation-tiles', TILE_COUNT * 64),
        energyPartials: empty('energy-partials', ENERGY_INVOCATIONS * 8),
        depthKeys: empty('zbuffer-depth-keys', 4 * pixels),
        triangleKeys: empty('zbuffer-triangle-keys', 4 * pixels),
        rasterStats: empty('zbuffer-stats', 16),
        results: empty('results', RESULT_GROUPS + 16 * S, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST),
        all,
      };
      this.buffers = b;
      this.linearized = false;
    } catch (e) {
      for (const buf of all) ctx.destroyBuffer(buf);
      throw e;
    }
  }

  async linearize(x: Float64Array, iteration: number): Promise<WebGpuLinearization> {
    const b = this.requireProblem();
    checkCode(x);
    const { problem } = b;
    const S = b.sampleCount;
    const { sample, stages } = this.prepareLinearize(b, x, iteration);
    const device = this.ctx.device;
    const encoder = device.createCommandEncoder({ label: 'opt/linearize' });
    for (const stage of stages) stage.encode(encoder);
    device.queue.submit([encoder.finish()]);
    const bytes = await this.ctx.readback(b.results, 0, RESULT_GROUPS + 16 * S);

    const counters = new Uint32Array(bytes, RESULT_COUNTERS, 4);
    if (counters[2] > 0) {
      throw new MofaError('BAD_INPUT', 'the start code puts a landmark vertex behind the camera: initialise the pose so the face is in front of it (translation z < 0)');
    }
    const { jtj, jtf } = unpackNormalEquations(new Float32Array(bytes, RESULT_TILES, TILE_COUNT * 16));
    const [photo, land] = sumEnergyPartials(new Float32Array(bytes, RESULT_ENERGY, ENERGY_INVOCATIONS * 2));
    const reg = addRegularizer(problem, x, jtj, jtf);
    const groupData = new Float32Array(bytes, RESULT_GROUPS, 4 * S);
    const used: number[] = [];
    for (let j = 0; j < S; j++) if (groupData[4 * j + 1] > 0.5) used.push(sample[j]);
    if (used.length !== counters[0]) {
      throw new MofaError('INTERNAL', `the GPU counted |P| = ${counters[0]} but flagged ${used.length} vertices`);
    }
    this.linearized = true;
    return { jtj, jtf, energy: energyTerms(photo, land, reg, counters[0]), photometricVertices: Uint32Array.from(used) };
  }

  async energy(x: Float64Array): Promise<EnergyTerms> {
    const b = this.requireProblem();
    if (!this.linearized) throw new MofaError('INTERNAL', 'energy() was called before linearize(): the IRLS weights and vertex set are fixed by linearize');
    checkCode(x);
    this.writeFrameAndCode(b, x, 0);
    const device = this.ctx.device;
    const encoder = device.createCommandEncoder({ label: 'opt/energy' });
    for (const stage of [...this.forwardStages(b), ...this.rowStages(b)]) stage.encode(encoder);
    encoder.copyBufferToBuffer(b.counters, 0, b.results, RESULT_COUNTERS, 16);
    encoder.copyBufferToBuffer(b.energyPartials, 0, b.results, RESULT_ENERGY, ENERGY_INVOCATIONS * 8);
    device.queue.submit([encoder.finish()]);
    const bytes = await this.ctx.readback(b.results, 0, RESULT_TILES);
    const counters = new Uint32Array(bytes, RESULT_COUNTERS, 4);
    let [photo, land] = sumEnergyPartials(new Float32Array(bytes, RESULT_ENERGY, ENERGY_INVOCATIONS * 2));
    // A vertex behind the camera makes the energy infinite (as the reference): the step is rejected.
    if (counters[1] > 0) photo = Infinity;
    if (counters[2] > 0) land = Infinity;
    const reg = addRegularizer(b.problem, x, null, null);
    return energyTerms(photo, land, reg, counters[0]);
  }

  /**
   * Runs the passes of `linearize(x, iteration)` one command buffer each, waiting for the queue
   * after every pass, and returns the wall time of each (ms, incl. submit overhead; the first
   * call also pays pipeline warm-up). Diagnostics only: the results are not read back and the
   * state for `energy` is not updated.
   */
  async profileLinearize(x: Float64Array, iteration: number): Promise<Array<{ stage: string; ms: number }>> {
    const b = this.requireProblem();
    checkCode(x);
    const { stages } = this.prepareLinearize(b, x, iteration);
    const device = this.ctx.device;
    await device.queue.onSubmittedWorkDone();
    const out: Array<{ stage: string; ms: number }> = [];
    for (const stage of stages) {
      const t = performance.now();
      const encoder = device.createCommandEncoder({ label: `opt/profile/${stage.name}` });
      stage.encode(encoder);
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      out.push({ stage: stage.name, ms: performance.now() - t });
    }
    this.linearized = false; // the profile run's IRLS state is not a linearisation the caller saw
    return out;
  }

  /**
   * Writes the sample, frame and code of `linearize(x, iteration)` and returns its passes in
   * order (each records into the given encoder; uniforms are already written).
   */
  private prepareLinearize(b: ProblemBuffers, x: Float64Array, iteration: number): { sample: Uint32Array; stages: Array<{ name: string; encode: (e: GPUCommandEncoder) => void }> } {
    const { problem } = b;
    const S = b.sampleCount;
    const sample = sampleVertices(problem.model.frontFace, problem.sampleCount, problem.seed, iteration);
    const groups = new Uint32Array(4 * S);
    for (let j = 0; j < S; j++) groups[4 * j] = sample[j];
    this.ctx.device.queue.writeBuffer(b.groups, 0, groups);
    const zbuffer = problem.visibility === 'zbuffer';
    this.writeFrameAndCode(b, x, FRAME_FLAG_JACOBIAN | (zbuffer ? FRAME_FLAG_ZBUFFER : 0));
    const stages: Array<{ name: string; encode: (e: GPUCommandEncoder) => void }> = [
      ...this.forwardStages(b),
    ];
    if (zbuffer) {
      stages.push({
        name: 'rasterize',
        encode: (e) => this.rasterize.encode(e, { vertices: b.records, triangles: b.triangles, depthKeys: b.depthKeys, triangleKeys: b.triangleKeys, stats: b.rasterStats }, {
          width: problem.image.width, height: problem.image.height, triangleCount: b.triangleCount,
          vertexStride: VERTEX_RECORD_STRIDE, positionSlot: VERTEX_RECORD.screen, colorSlot: VERTEX_RECORD.color, cullBackFaces: false,
        }),
      });
    }
    stages.push({
      name: 'photo_select',
      encode: (e) => {
        e.clearBuffer(b.counters, 0, 16);
        this.photoSelect.encode(e, { frame: b.frame, groups: b.groups, counters: b.counters, records: b.records, image: b.image, zbuffer: b.depthKeys }, S);
      },
    });
    stages.push(...this.rowStages(b));
    stages.push({
      name: 'normal_equations',
      encode: (e) => {
        if (b.rows > 0) this.normalEquations.encode(e, b.jacobian, b.partials, b.rows);
      },
    });
    stages.push({
      name: 'reduce_partials',
      encode: (e) => {
        if (b.rows > 0) this.reducePartials.encode(e, b.partials, b.tiles, TILE_COUNT * 4, chunkCount(b.rows, DEFAULT_ROWS_PER_CHUNK));
        else e.clearBuffer(b.tiles);
      },
    });
    stages.push({
      name: 'copy_results',
      encode: (e) => {
        e.copyBufferToBuffer(b.counters, 0, b.results, RESULT_COUNTERS, 16);
        e.copyBufferToBuffer(b.energyPartials, 0, b.results, RESULT_ENERGY, ENERGY_INVOCATIONS * 8);
        e.copyBufferToBuffer(b.tiles, 0, b.results, RESULT_TILES, TILE_COUNT * 64);
        if (S > 0) e.copyBufferToBuffer(b.groups, 0, b.results, RESULT_GROUPS, 16 * S);
      },
    });
    return { sample, stages };
  }

  /**
   * Decodes x on the GPU (Eq. 2–5) and reads back the per-vertex state: the fitted mesh for
   * overlays, and the intermediate results of decode / normals / project_shade for tests.
   */
  async decodeVertices(x: Float64Array): Promise<GpuVertexState> {
    const b = this.requireProblem();
    checkCode(x);
    this.writeFrameAndCode(b, x, 0);
    const encoder = this.ctx.device.createCommandEncoder({ label: 'opt/decode-vertices' });
    for (const stage of this.forwardStages(b)) stage.encode(encoder);
    this.ctx.device.queue.submit([encoder.finish()]);
    const N = b.vertexCount;
    const [pos, alb, nrm, rec] = await Promise.all([
      this.ctx.readback(b.position, 0, 12 * N), this.ctx.readback(b.albedo, 0, 12 * N),
      this.ctx.readback(b.normal, 0, 12 * N), this.ctx.readback(b.records, 0, 16 * VERTEX_RECORD_STRIDE * N),
    ]);
    const r = new Float32Array(rec);
    const out: GpuVertexState = {
      position: new Float32Array(pos), albedo: new Float32Array(alb), normal: new Float32Array(nrm),
      camera: new Float32Array(3 * N), screen: new Float32Array(2 * N), depth: new Float32Array(N),
      normalCamera: new Float32Array(3 * N), color: new Float32Array(3 * N), frontFacing: new Uint8Array(N),
    };
    for (let i = 0; i < N; i++) {
      const o = 4 * VERTEX_RECORD_STRIDE * i;
      const at = (slot: number, k: number) => r[o + 4 * slot + k];
      for (let k = 0; k < 3; k++) {
        out.camera[3 * i + k] = at(VERTEX_RECORD.camera, k);
        out.normalCamera[3 * i + k] = at(VERTEX_RECORD.normalCamera, k);
        out.color[3 * i + k] = at(VERTEX_RECORD.color, k);
      }
      out.screen[2 * i] = at(VERTEX_RECORD.screen, 0);
      out.screen[2 * i + 1] = at(VERTEX_RECORD.screen, 1);
      out.depth[i] = at(VERTEX_RECORD.screen, 2);
      out.frontFacing[i] = at(VERTEX_RECORD.camera, 3) > 0.5 ? 1 : 0;
    }
    return out;
  }

  /** Frees every buffer this backend made (the GpuContext stays with its owner). Idempotent. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.freeProblem();
    this.normalEquations.destroy();
    this.reducePartials.destroy();
    this.rasterize.destroy();
  }

  private writeFrameAndCode(b: ProblemBuffers, x: Float64Array, flags: number): void {
    const { problem } = b;
    const frame = packOptFrame({
      x, intrinsics: problem.intrinsics, weights: problem.weights, vertexCount: b.vertexCount,
      sampleCount: b.sampleCount, landmarkCount: b.landmarkCount, flags,
      imageWidth: problem.image.width, imageHeight: problem.image.height,
    });
    const code = new Float32Array(JACOBIAN_COLUMNS);
    for (let k = 0; k < CODE_DIM; k++) code[k] = x[k];
    this.ctx.device.queue.writeBuffer(b.frame, 0, frame);
    this.ctx.device.queue.writeBuffer(b.code, 0, code);
  }

  /** decode → normals → project_shade for all N vertices. */
  private forwardStages(b: ProblemBuffers): Array<{ name: string; encode: (e: GPUCommandEncoder) => void }> {
    const N = b.vertexCount;
    return [
      {
        name: 'decode',
        encode: (e) => this.decode.encode(e, {
          frame: b.frame, code: b.code, geometryMean: b.geometryMean, geometryBasis: b.geometryBasis,
          albedoMean: b.albedoMean, albedoBasis: b.albedoBasis, position: b.position, albedo: b.albedo,
        }, N),
      },
      { name: 'normals', encode: (e) => this.normals.encode(e, { frame: b.frame, position: b.position, triangles: b.triangles, incident: b.incident, normal: b.normal }, N) },
      { name: 'project_shade', encode: (e) => this.projectShade.encode(e, { frame: b.frame, position: b.position, normal: b.normal, albedo: b.albedo, records: b.records }, N) },
    ];
  }

  /** residual_rows (J only if the frame's FLAG_JACOBIAN is set) → energy partials. */
  private rowStages(b: ProblemBuffers): Array<{ name: string; encode: (e: GPUCommandEncoder) => void }> {
    return [
      {
        name: 'residual_rows',
        encode: (e) => {
          e.clearBuffer(b.counters, 4, 8); // behind-camera counters; |P| (counters[0]) is kept
          this.residualRows.encode(e, {
            frame: b.frame, groups: b.groups, counters: b.counters, records: b.records, image: b.image,
            geometryBasis: b.geometryBasis, albedoBasis: b.albedoBasis, jacobian: b.jacobian, residual: b.residual,
          }, b.sampleCount, b.landmarkCount);
        },
      },
      { name: 'energy', encode: (e) => this.energyPass.encode(e, b.frame, b.residual, b.energyPartials) },
    ];
  }

  private freeProblem(): void {
    if (!this.buffers) return;
    for (const buf of this.buffers.all) this.ctx.destroyBuffer(buf);
    this.buffers = null;
    this.linearized = false;
  }

  private checkOpen(): void {
    if (this.closed) throw new MofaError('CLOSED', 'this WebGpuOptBackend was destroyed; create a new one');
  }

  private requireProblem(): ProblemBuffers {
    this.checkOpen();
    if (!this.buffers) throw new MofaError('BAD_INPUT', 'call setProblem() before linearize() / energy()');
    return this.buffers;
  }
}

/**
 * Regulariser of Eq. (10) in float64: jtj_kk += a², jtf_k += a² x_k (when given) for the rows
 * a·x_k (a² = w_reg for α, w_reg·w_β for β, w_reg·w_δ for δ).
 * @returns its energy Σ a² x_k².
 */
function addRegularizer(problem: OptProblem, x: Float64Array, jtj: Float64Array | null, jtf: Float64Array | null): number {
  const { reg, beta, delta } = problem.weights;
  const blocks: [number, number, number][] = [
    [CODE_OFFSET.alpha, CODE_SIZE.alpha, reg],
    [CODE_OFFSET.beta, CODE_SIZE.beta, reg * beta],
    [CODE_OFFSET.delta, CODE_SIZE.delta, reg * delta],
  ];
  let e = 0;
  for (const [off, size, a2] of blocks) {
    for (let k = off; k < off + size; k++) {
      e += a2 * x[k] * x[k];
      if (jtj) jtj[k * CODE_DIM + k] += a2;
      if (jtf) jtf[k] += a2 * x[k];
    }
  }
  return e;
}
