/**
 * TS twin of wgsl/residual_rows.wgsl: photometric (3 per sampled vertex, zero unless in P) and
 * landmark (2 per landmark) rows of F and, with FRAME_FLAG_JACOBIAN, of the augmented Jacobian
 * [J | F | 0 0] (JACOBIAN_COLUMNS floats per row). Reference: sdk/opt/residuals.ts
 * photometricRows, landmarkRows.
 */
import imageSampleSource from '../../wgsl/image-sample.wgsl';
import residualRowsSource from '../../wgsl/residual_rows.wgsl';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, optKernelSource, type ComputeKernel } from './kernel.js';

export const RESIDUAL_ROWS_WORKGROUP_SIZE = 64;
/** Floats per augmented Jacobian row: 257 ∂F/∂x, F, two zeros (65 vec4; J_COLS4 in common.wgsl). */
export const JACOBIAN_COLUMNS = 260;
/** Column of F in the augmented Jacobian (J_F_COLUMN). */
export const JACOBIAN_F_COLUMN = 257;

export interface ResidualRowsBuffers {
  frame: GPUBuffer;
  groups: GPUBuffer;
  counters: GPUBuffer;
  records: GPUBuffer;
  image: GPUBuffer;
  geometryBasis: GPUBuffer;
  albedoBasis: GPUBuffer;
  /** (M, 260) f32, written with FRAME_FLAG_JACOBIAN. */
  jacobian: GPUBuffer;
  /** (M) f32. */
  residual: GPUBuffer;
}

export class ResidualRowsPass {
  readonly kernel: ComputeKernel;
  private readonly ctx: GpuContext;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.kernel = createComputeKernel(
      ctx.device,
      'residual_rows',
      optKernelSource(residualRowsSource, imageSampleSource),
      ['uniform', 'read-only-storage', 'storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage'],
      { WORKGROUP_SIZE: RESIDUAL_ROWS_WORKGROUP_SIZE },
    );
  }

  /** Records the rows of S photometric samples and L landmarks (counts also in the frame). */
  encode(encoder: GPUCommandEncoder, b: ResidualRowsBuffers, sampleCount: number, landmarkCount: number): void {
    dispatchKernel(encoder, this.ctx.device, this.kernel,
      [b.frame, b.groups, b.counters, b.records, b.image, b.geometryBasis, b.albedoBasis, b.jacobian, b.residual],
      Math.ceil((sampleCount + landmarkCount) / RESIDUAL_ROWS_WORKGROUP_SIZE));
  }
}
