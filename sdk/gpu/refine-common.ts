/**
 * Shared pieces of the Refine WebGPU kernels (wgsl/refine_*.wgsl, docs/design/refine.md):
 * WGSL assembly (wgsl/refine_common.wgsl + one kernel), a compute kernel with an explicit,
 * labelled bind-group layout (never `layout: 'auto'`), the packing of the per-run uniform
 * `RefineParams`, and the CSR tables the gather passes read (built once on the CPU).
 */
import refineCommonSource from '../../wgsl/refine_common.wgsl';
import shSource from '../../wgsl/sh.wgsl';
import refineTopologySource from '../../wgsl/refine_topology.wgsl';
import { MofaError } from '../errors.js';
import type { RefineState } from '../refine/reference.js';

/** Most workgroups per dispatch dimension (WebGPU default limit). */
const MAX_WORKGROUPS_PER_DIM = 65535;

/** Default `override WORKGROUP_SIZE` of the per-vertex / per-face Refine kernels. */
export const REFINE_WORKGROUP_SIZE = 64;

/** Byte size of `struct RefineParams` (wgsl/refine_common.wgsl). */
export const REFINE_PARAMS_BYTES = 272;
/** Byte size of `struct VertexState` (4 vec4). */
export const VERTEX_STATE_BYTES = 64;
/** Byte size of `struct RingValues` (2 vec4). */
export const RING_VALUES_BYTES = 32;
/** Byte size of `struct VertexGrad` (3 vec4). */
export const VERTEX_GRAD_BYTES = 48;
/** Byte size of `struct SurfaceVertex` (2 vec4). */
export const SURFACE_VERTEX_BYTES = 32;

/** Kind of a binding of a Refine kernel. */
export type RefineBindingKind = 'uniform' | 'read-only-storage' | 'storage';

/** Full WGSL module of a Refine kernel: wgsl/sh.wgsl, wgsl/refine_common.wgsl, the snippets, then the kernel file. */
export function refineKernelSource(kernel: string, ...snippets: string[]): string {
  return [shSource, refineCommonSource, ...snippets, kernel].join('\n');
}

/** wgsl/refine_topology.wgsl: CSR accessors for the kernels that bind `topology`. */
export { refineTopologySource };

/**
 * One Refine compute pipeline (entry point `main`) with its explicit bind-group layout:
 * binding i has kind `bindings[i]` (compute stage). Built once per backend; `bind` makes a bind
 * group once per problem; `dispatch` records into the caller's compute pass, so a whole Refine
 * run (≈ 1000 dispatches) lives in one pass of one command buffer.
 */
export class RefineKernel {
  readonly label: string;
  readonly bindGroupLayout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
  readonly workgroupSize: number;
  private readonly device: GPUDevice;
  private readonly bindings: readonly RefineBindingKind[];

  /**
   * @param code the full WGSL module (`refineKernelSource(kernel, ...snippets)`).
   */
  constructor(device: GPUDevice, label: string, code: string, bindings: readonly RefineBindingKind[], workgroupSize: number) {
    this.device = device;
    this.label = label;
    this.bindings = bindings;
    this.workgroupSize = workgroupSize;
    this.bindGroupLayout = device.createBindGroupLayout({
      label: `${label}/bind-group-layout`,
      entries: bindings.map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
    });
    this.pipeline = device.createComputePipeline({
      label: `${label}/pipeline`,
      layout: device.createPipelineLayout({ label: `${label}/pipeline-layout`, bindGroupLayouts: [this.bindGroupLayout] }),
      compute: {
        module: device.createShaderModule({ label: `${label}.wgsl`, code }),
        entryPoint: 'main',
        constants: { WORKGROUP_SIZE: workgroupSize },
      },
    });
  }

  /** Bind group with `buffers[i]` at binding i (whole buffers). */
  bind(buffers: readonly GPUBuffer[]): GPUBindGroup {
    if (buffers.length !== this.bindings.length) {
      throw new MofaError('BAD_INPUT', `${this.label}: ${buffers.length} buffers given, the kernel has ${this.bindings.length} bindings.`);
    }
    return this.device.createBindGroup({
      label: `${this.label}/bind-group`,
      layout: this.bindGroupLayout,
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /** Records one dispatch of ⌈count / workgroupSize⌉ workgroups (1-D) into `pass`. */
  dispatch(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, count: number): void {
    const groups = Math.ceil(count / this.workgroupSize);
    if (groups > MAX_WORKGROUPS_PER_DIM) {
      throw new MofaError('BAD_INPUT', `${this.label}: ${count} items need ${groups} workgroups, more than the ${MAX_WORKGROUPS_PER_DIM} one dispatch allows: the mesh is too large for this kernel.`);
    }
    if (groups === 0) return;
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups);
  }
}

/** Step and weights of one run, as the kernels use them. */
export interface RefineRunWeights {
  /** Gradient-descent step, mm² per energy unit (D ← D − step · ∇E). */
  step: number;
  /** w_grad of Eq. (19). */
  wGrad: number;
  /** w_reg of Eq. (19). */
  wReg: number;
}

/**
 * Packs `struct RefineParams` (wgsl/refine_common.wgsl) from the prepared Refine state (f64 →
 * f32): rows of R, t (mm), intrinsics (px), the folded SH coefficients light[b].c = Â_b γ'_{c,b},
 * the weights divided by N, the image size and the IRLS floor, and the mesh sizes.
 * @param irlsFloor C_min of C_i = max(‖I(u_i) − c_i‖, C_min) (0.02, reference IRLS_FLOOR).
 * @param ringStart index of the one-ring CSR in the topology buffer (`packTopology`).
 */
export function packRefineParams(state: RefineState, faceCount: number, weights: RefineRunWeights, irlsFloor: number, ringStart: number): ArrayBuffer {
  const buffer = new ArrayBuffer(REFINE_PARAMS_BYTES);
  const f = new Float32Array(buffer);
  const u = new Uint32Array(buffer);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) f[4 * r + c] = state.R[3 * r + c];
  f.set([state.t[0], state.t[1], state.t[2], 0], 12);
  f.set([state.focalPx, state.cx, state.cy, 0], 16);
  for (let b = 0; b < 9; b++) for (let c = 0; c < 3; c++) f[20 + 4 * b + c] = state.sh[9 * c + b];
  const n = state.n;
  f.set([weights.step, weights.wGrad / n, weights.wReg / n, 1 / n], 56);
  f.set([state.image.width, state.image.height, irlsFloor, 0], 60);
  u.set([n, faceCount, ringStart, 0], 64);
  return buffer;
}

/**
 * The `topology` buffer of wgsl/refine_topology.wgsl: the incident-triangle CSR at 0, then the
 * one-ring CSR at `ringStart`; each CSR is (N + 1) start offsets, absolute in `data`, followed
 * by its entries (row i of a CSR at s is `data[data[s + i] .. data[s + i + 1])`).
 * @param incident incident-triangle CSR (`incidentTriangleCsr`), offsets relative to its entries.
 * @param ring one-ring CSR (`model.t2.adjacency`: offsets, neighbors).
 */
export function packTopology(
  incident: { offsets: Uint32Array; entries: Uint32Array },
  ring: { offsets: Uint32Array; neighbors: Uint32Array },
): { data: Uint32Array; ringStart: number } {
  const n = incident.offsets.length - 1;
  if (ring.offsets.length !== n + 1) throw new MofaError('BAD_INPUT', `one-ring CSR has ${ring.offsets.length - 1} rows, the incident-triangle CSR ${n}`);
  const ringStart = n + 1 + incident.entries.length;
  const data = new Uint32Array(ringStart + n + 1 + ring.neighbors.length);
  for (let i = 0; i <= n; i++) {
    data[i] = n + 1 + incident.offsets[i];
    data[ringStart + i] = ringStart + n + 1 + ring.offsets[i];
  }
  data.set(incident.entries, n + 1);
  data.set(ring.neighbors, ringStart + n + 1);
  return { data, ringStart };
}

/**
 * Incident-triangle CSR of a mesh: for vertex i, the entries 3f + corner of every triangle f
 * with index[3f + corner] = i, in increasing f.
 * @param index (F, 3) triangle vertex indices.
 * @returns offsets (N + 1) and entries (3F).
 * @throws MofaError('BAD_INPUT') if an index is ≥ vertexCount.
 */
export function incidentTriangleCsr(index: Uint32Array, vertexCount: number): { offsets: Uint32Array; entries: Uint32Array } {
  const offsets = new Uint32Array(vertexCount + 1);
  for (let k = 0; k < index.length; k++) {
    const v = index[k];
    if (v >= vertexCount) throw new MofaError('BAD_INPUT', `triangle corner ${k} references vertex ${v} but the mesh has ${vertexCount} vertices`);
    offsets[v + 1]++;
  }
  for (let i = 0; i < vertexCount; i++) offsets[i + 1] += offsets[i];
  const fill = offsets.slice(0, vertexCount);
  const entries = new Uint32Array(index.length);
  for (let k = 0; k < index.length; k++) entries[fill[index[k]]++] = k;
  return { offsets, entries };
}
