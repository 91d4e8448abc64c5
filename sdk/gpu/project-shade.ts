/**
 * TS twin of wgsl/project_shade.wgsl — Eq. (4), (5) per vertex: p = R v + t, u = Π(p),
 * n_cam = R n, c = r ⊙ irradiance(n_cam, γ), front-facing flag; writes the per-vertex record
 * (VERTEX_RECORD_* below = REC_* in wgsl/common.wgsl). References: camera.ts, shading.ts.
 */
import projectShadeSource from '../../wgsl/project_shade.wgsl';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, optKernelSource, type ComputeKernel } from './kernel.js';

export const PROJECT_SHADE_WORKGROUP_SIZE = 64;
/** vec4 per vertex record, and the slot of each field (wgsl/common.wgsl). */
export const VERTEX_RECORD_STRIDE = 7;
export const VERTEX_RECORD = Object.freeze({
  /** p_cam.xyz mm, .w = 1 if front-facing. */
  camera: 0,
  /** n_cam = R n. */
  normalCamera: 1,
  /** r, linear RGB. */
  albedo: 2,
  /** c = r ⊙ irradiance (Eq. 4). */
  color: 3,
  /** u.xy px, .z depth = −p_z mm. */
  screen: 4,
  /** v, mm, model frame. */
  model: 5,
  /** n, model frame. */
  normal: 6,
});

export interface ProjectShadeBuffers {
  frame: GPUBuffer;
  position: GPUBuffer;
  normal: GPUBuffer;
  albedo: GPUBuffer;
  records: GPUBuffer;
}

export class ProjectShadePass {
  readonly kernel: ComputeKernel;
  private readonly ctx: GpuContext;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.kernel = createComputeKernel(
      ctx.device,
      'project_shade',
      optKernelSource(projectShadeSource),
      ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
      { WORKGROUP_SIZE: PROJECT_SHADE_WORKGROUP_SIZE },
    );
  }

  encode(encoder: GPUCommandEncoder, b: ProjectShadeBuffers, vertexCount: number): void {
    dispatchKernel(encoder, this.ctx.device, this.kernel, [b.frame, b.position, b.normal, b.albedo, b.records],
      Math.ceil(vertexCount / PROJECT_SHADE_WORKGROUP_SIZE));
  }
}
