/**
 * Refine on WebGPU (paper Sec. 9.2, docs/design/refine.md): gradient descent on per-vertex
 * displacements D of the T2 mesh with the exact gradient of Eq. (19)–(22), computed by gather
 * passes (wgsl/refine_*.wgsl) — no atomics:
 *
 *   per iteration:  (a0) refine_face_normals    per triangle: M_f = (v_b − v_a) × (v_c − v_a)
 *                   (a) refine_vertex_forward   per vertex: m_i = Σ M_f (incident CSR), n_i, p_i, u_i, c_i, I(u_i), ∇I(u_i), C_i, V, lap_i
 *                   (b) refine_vertex_backward  per vertex: ∂E/∂c, ∂E/∂I (one-ring gather), ∂E/∂m_i, ∂E/∂v_i|_u, energy shares
 *                  [(e) refine_energy           one workgroup: Σ energy shares → log record, every k iterations]
 *                   (c) refine_face             per triangle: position gradients of its normal contributions
 *                   (d) refine_update           per vertex: gather (c) + direct + Lᵀ L D, D ← D − step ∇E, V = V^C + D (in place)
 *   after the last: (a0), (a), (b), (e) once more: energy, normals of the final surface.
 *
 * All iterations are recorded into ONE compute pass of ONE command buffer (5 dispatches per
 * iteration, +1 where the energy is logged; bind groups made once per problem); nothing is read back until the end, when D,
 * the final per-vertex state (normals), the last gradient and the energy log are copied out.
 * The update is in place (no ping-pong needed): pass (d) writes only its own d_k and v_k, and
 * every read of D and V in an iteration happens in earlier dispatches (WebGPU makes storage
 * writes of one dispatch visible to the next).
 *
 * The same math in plain TypeScript (float64): sdk/refine/reference.ts; tests compare them
 * (test/browser/refine-gpu.test.ts).
 */
import { MofaError } from '../errors.js';
import type { RefineBackend } from '../refine/backend.js';
import { REFINE_DEFAULTS } from '../refine/defaults.js';
import {
  checkRefineOptions,
  IRLS_FLOOR,
  prepareRefineState,
  type RefineEnergy,
  type RefineOptions,
  type RefineProblem,
  type RefineRunResult,
  type RefineState,
} from '../refine/reference.js';
import { GpuContext } from './gpu-context.js';
import {
  incidentTriangleCsr,
  packRefineParams,
  packTopology,
  REFINE_PARAMS_BYTES,
  REFINE_WORKGROUP_SIZE,
  RING_VALUES_BYTES,
  SURFACE_VERTEX_BYTES,
  VERTEX_GRAD_BYTES,
  VERTEX_STATE_BYTES,
  type RefineKernel,
} from './refine-common.js';
import { createRefineEnergyReduce } from './refine-energy.js';
import { createRefineFace } from './refine-face.js';
import { createRefineFaceNormals } from './refine-face-normals.js';
import { createRefineUpdate } from './refine-update.js';
import { createRefineVertexBackward } from './refine-vertex-backward.js';
import { createRefineVertexForward } from './refine-vertex-forward.js';

/** Options of `WebGpuRefineBackend.run`: the common RefineOptions plus the energy cadence. */
export interface WebGpuRefineRunOptions extends Partial<RefineOptions> {
  /**
   * Evaluate (reduce) the energy every `energyEvery` iterations (default 1 = every iteration,
   * as the reference); the energy after the final update is always evaluated. Iterations not
   * evaluated get NaN in `energies`. Integer ≥ 1.
   */
  energyEvery?: number;
}

/** One evaluated energy of a WebGPU run. */
export interface WebGpuRefineEnergyRecord extends RefineEnergy {
  /** Iteration at whose start E was evaluated (= `iterations` for the final one). */
  iteration: number;
}

/** `RefineRunResult` plus what the WebGPU run additionally reports. */
export interface WebGpuRefineRunResult extends RefineRunResult {
  /** (N, 3) ∇E (per mm) of the last iteration taken, f32; all zeros when iterations = 0. */
  gradient: Float32Array;
  /** The evaluated energies with their terms (f32 sums on the GPU). */
  energyRecords: WebGpuRefineEnergyRecord[];
  /** Command encoding time, ms (part of `ms`). */
  encodeMs: number;
}

/** Per-problem GPU resources. */
interface ProblemResources {
  state: RefineState;
  faceCount: number;
  /** Start of the one-ring CSR in the topology buffer. */
  ringStart: number;
  /** (N, 4) v^C_i, the initial positions (written to `position` at the start of a run). */
  basePositions: Float32Array<ArrayBuffer>;
  buffers: GPUBuffer[];
  params: GPUBuffer;
  disp: GPUBuffer;
  position: GPUBuffer;
  vertexState: GPUBuffer;
  grads: GPUBuffer;
  gradient: GPUBuffer;
  groups: { faceNormals: GPUBindGroup; forward: GPUBindGroup; backward: GPUBindGroup; face: GPUBindGroup; update: GPUBindGroup };
}

/** Options of `WebGpuRefineBackend.create`. */
export interface WebGpuRefineBackendOptions {
  /** Use this context (its device and buffer accounting); it is not destroyed by `destroy()`. Default: a new GpuContext. */
  context?: GpuContext;
  /** `override WORKGROUP_SIZE` of the per-vertex / per-face kernels (default 64). */
  workgroupSize?: number;
}

/**
 * The WebGPU Refine backend: same contract (sdk/refine/backend.ts) and math as the reference
 * (`runRefineReference`). `onIteration` is not called (nothing is read back during a run).
 */
export class WebGpuRefineBackend implements RefineBackend {
  readonly kind = 'webgpu' as const;
  /** The GPU context whose buffers this backend creates (live count 0 after `destroy()` when nothing else uses it). */
  readonly context: GpuContext;
  private readonly ownsContext: boolean;
  private readonly kernels: { faceNormals: RefineKernel; forward: RefineKernel; backward: RefineKernel; face: RefineKernel; update: RefineKernel; energy: RefineKernel };
  private problem: ProblemResources | null = null;
  private closed = false;

  /** Creates the backend (a new GpuContext unless one is given) and builds its six pipelines. */
  static async create(options: WebGpuRefineBackendOptions = {}): Promise<WebGpuRefineBackend> {
    const context = options.context ?? (await GpuContext.create({ label: 'mofa-web/refine' }));
    return new WebGpuRefineBackend(context, !options.context, options.workgroupSize ?? REFINE_WORKGROUP_SIZE);
  }

  /** Builds the six pipelines on `context`'s device; `ownsContext` makes `destroy()` destroy it too. */
  constructor(context: GpuContext, ownsContext = false, workgroupSize = REFINE_WORKGROUP_SIZE) {
    this.context = context;
    this.ownsContext = ownsContext;
    const device = context.device;
    this.kernels = {
      faceNormals: createRefineFaceNormals(device, workgroupSize),
      forward: createRefineVertexForward(device, workgroupSize),
      backward: createRefineVertexBackward(device, workgroupSize),
      face: createRefineFace(device, workgroupSize),
      update: createRefineUpdate(device, workgroupSize),
      energy: createRefineEnergyReduce(device),
    };
  }

  private check(): void {
    if (this.closed) throw new MofaError('CLOSED', 'This WebGpuRefineBackend was destroyed: create a new one.');
  }

  /**
   * Uploads the problem: T1 → T2 remap of positions and albedo (sdk/refine/remap.ts, via
   * `prepareRefineState`), the mesh (triangles, incident-triangle CSR, one-ring CSR) and the
   * image; makes the bind groups. Replaces (and frees) a previous problem.
   * @throws MofaError('BAD_INPUT') on inconsistent inputs (see prepareRefineState).
   */
  async setProblem(problem: RefineProblem): Promise<void> {
    this.check();
    const state = prepareRefineState(problem, REFINE_DEFAULTS);
    this.releaseProblem();
    const ctx = this.context;
    const n = state.n;
    const index = state.index;
    const faceCount = index.length / 3;
    const buffers: GPUBuffer[] = [];
    const STORAGE = GPUBufferUsage.STORAGE;
    const make = (label: string, size: number, usage: GPUBufferUsageFlags) => {
      const b = ctx.createBuffer(`refine/${label}`, size, usage);
      buffers.push(b);
      return b;
    };
    const upload = (label: string, data: ArrayBufferView, usage: GPUBufferUsageFlags = STORAGE) => {
      const b = ctx.createBufferWithData(`refine/${label}`, data, usage);
      buffers.push(b);
      return b;
    };
    try {
      const surfaceData = new Float32Array((SURFACE_VERTEX_BYTES / 4) * n);
      const basePositions = new Float32Array(4 * n);
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < 3; c++) {
          surfaceData[8 * i + c] = state.coarse[3 * i + c];
          surfaceData[8 * i + 4 + c] = state.albedo[3 * i + c];
          basePositions[4 * i + c] = state.coarse[3 * i + c];
        }
      }
      const { width, height, rgb } = state.image;
      const pixels = new Float32Array(4 * width * height);
      for (let p = 0; p < width * height; p++) {
        pixels[4 * p] = rgb[3 * p];
        pixels[4 * p + 1] = rgb[3 * p + 1];
        pixels[4 * p + 2] = rgb[3 * p + 2];
      }
      const topo = packTopology(incidentTriangleCsr(index, n), { offsets: state.offsets, neighbors: state.neighbors });
      const params = make('params', REFINE_PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      const surface = upload('surface', surfaceData);
      const disp = make('displacement', 16 * n, STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
      const position = make('position', 16 * n, STORAGE | GPUBufferUsage.COPY_DST);
      const triangles = upload('triangles', index);
      const topology = upload('topology', topo.data);
      const image = upload('image', pixels);
      const faceNormal = make('face-normal', 16 * faceCount, STORAGE);
      const vertexState = make('vertex-state', VERTEX_STATE_BYTES * n, STORAGE | GPUBufferUsage.COPY_SRC);
      const ring = make('ring-values', RING_VALUES_BYTES * n, STORAGE);
      const grads = make('vertex-grad', VERTEX_GRAD_BYTES * n, STORAGE);
      const faceGrad = make('face-grad', 16 * 3 * faceCount, STORAGE);
      const gradient = make('gradient', 16 * n, STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
      const k = this.kernels;
      this.problem = {
        state,
        faceCount,
        ringStart: topo.ringStart,
        basePositions,
        buffers,
        params,
        disp,
        position,
        vertexState,
        grads,
        gradient,
        groups: {
          faceNormals: k.faceNormals.bind([params, position, triangles, faceNormal]),
          forward: k.forward.bind([params, surface, position, disp, faceNormal, topology, image, vertexState, ring]),
          backward: k.backward.bind([params, surface, vertexState, ring, topology, grads]),
          face: k.face.bind([params, position, triangles, grads, faceGrad]),
          update: k.update.bind([params, surface, ring, grads, faceGrad, topology, disp, position, gradient]),
        },
      };
    } catch (e) {
      for (const b of buffers) ctx.destroyBuffer(b);
      throw e;
    }
  }

  /**
   * Runs `iterations` gradient-descent steps from D = 0 (paper Sec. 9.2), all recorded into one
   * command buffer, and reads the result back once.
   * @returns positions/normals of the refined T2 mesh (model frame mm), D, the energies
   *   ((iterations + 1) totals: at the start of every evaluated iteration and after the final
   *   update; NaN where not evaluated), the last gradient and the wall time (ms, incl. readback).
   * @throws MofaError('BAD_INPUT') on invalid options, or without a problem, ('CLOSED') after destroy.
   */
  async run(options: WebGpuRefineRunOptions = {}): Promise<WebGpuRefineRunResult> {
    this.check();
    const pr = this.problem;
    if (!pr) throw new MofaError('BAD_INPUT', 'WebGpuRefineBackend.run: no problem set: call setProblem() first.');
    const opts: RefineOptions = { ...REFINE_DEFAULTS, ...options };
    checkRefineOptions(opts);
    const every = options.energyEvery ?? 1;
    if (!(Number.isInteger(every) && every >= 1)) throw new MofaError('BAD_INPUT', `energyEvery must be an integer ≥ 1, got ${every}`);
    const { iterations } = opts;
    const ctx = this.context;
    const device = ctx.device;
    const n = pr.state.n;
    const t0 = performance.now();

    // Energy log: header (count, capacity) + one vec4 record per evaluation.
    const logged: number[] = [];
    for (let it = 0; it < iterations; it += every) logged.push(it);
    logged.push(iterations);
    const log = ctx.createBuffer('refine/energy-log', 16 * (1 + logged.length), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    try {
      device.queue.writeBuffer(pr.params, 0, packRefineParams(pr.state, pr.faceCount, opts, IRLS_FLOOR, pr.ringStart));
      device.queue.writeBuffer(pr.position, 0, pr.basePositions);
      device.queue.writeBuffer(log, 0, Uint32Array.of(0, logged.length, 0, 0));
      const k = this.kernels;
      const g = pr.groups;
      const energyGroup = k.energy.bind([pr.params, pr.grads, log]);
      const encoder = device.createCommandEncoder({ label: 'refine/run' });
      encoder.clearBuffer(pr.disp);
      encoder.clearBuffer(pr.gradient);
      const pass = encoder.beginComputePass({ label: `refine/${iterations}-iterations` });
      for (let it = 0; it <= iterations; it++) {
        k.faceNormals.dispatch(pass, g.faceNormals, pr.faceCount);
        k.forward.dispatch(pass, g.forward, n);
        k.backward.dispatch(pass, g.backward, n);
        if (it === iterations || it % every === 0) k.energy.dispatch(pass, energyGroup, k.energy.workgroupSize);
        if (it === iterations) break;
        k.face.dispatch(pass, g.face, pr.faceCount);
        k.update.dispatch(pass, g.update, n);
      }
      pass.end();
      device.queue.submit([encoder.finish()]);
      const encodeMs = performance.now() - t0;

      const [dispBytes, stateBytes, gradBytes, logBytes] = await Promise.all([
        ctx.readback(pr.disp, 0, 16 * n),
        ctx.readback(pr.vertexState, 0, VERTEX_STATE_BYTES * n),
        ctx.readback(pr.gradient, 0, 16 * n),
        ctx.readback(log),
      ]);
      const d4 = new Float32Array(dispBytes);
      const s4 = new Float32Array(stateBytes);
      const g4 = new Float32Array(gradBytes);
      const positions = new Float32Array(3 * n);
      const normals = new Float32Array(3 * n);
      const displacements = new Float32Array(3 * n);
      const gradient = new Float32Array(3 * n);
      const stride = VERTEX_STATE_BYTES / 4;
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < 3; c++) {
          const d = d4[4 * i + c];
          displacements[3 * i + c] = d;
          positions[3 * i + c] = Math.fround(Math.fround(pr.state.coarse[3 * i + c]) + d);
          normals[3 * i + c] = s4[stride * i + c];
          gradient[3 * i + c] = g4[4 * i + c];
        }
      }
      const count = new Uint32Array(logBytes, 0, 1)[0];
      if (count !== logged.length) {
        throw new MofaError('INTERNAL', `refine energy log holds ${count} records, expected ${logged.length}.`);
      }
      const records = new Float32Array(logBytes, 16, 4 * logged.length);
      const energies = new Float64Array(iterations + 1).fill(NaN);
      const energyRecords: WebGpuRefineEnergyRecord[] = logged.map((iteration, r) => {
        const photo = records[4 * r], grad = records[4 * r + 1], reg = records[4 * r + 2];
        const total = photo + opts.wGrad * grad + opts.wReg * reg;
        energies[iteration] = total;
        return { iteration, total, photo, grad, reg, visible: Math.round(records[4 * r + 3]) };
      });
      return { positions, normals, displacements, energies, gradient, energyRecords, encodeMs, ms: performance.now() - t0 };
    } finally {
      ctx.destroyBuffer(log);
    }
  }

  private releaseProblem(): void {
    if (!this.problem) return;
    for (const b of this.problem.buffers) this.context.destroyBuffer(b);
    this.problem = null;
  }

  /** Frees every buffer of this backend (and its GpuContext if it created it). Idempotent. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseProblem();
    if (this.ownsContext) this.context.destroy();
  }
}
