/**
 * TS twin of wgsl/photo_select.wgsl: the photometric set P (sampled front-face vertices that
 * are front-facing, pass the optional z-buffer test and project inside the image) and the IRLS
 * norms C_j of Eq. (11) at the linearisation point; |P| is atomically counted in counters[0].
 * Reference: sdk/opt/residuals.ts selectPhotometricVertices, visibleVertices, irlsScales.
 */
import imageSampleSource from '../../wgsl/image-sample.wgsl';
import photoSelectSource from '../../wgsl/photo_select.wgsl';
import { IRLS_MIN_RESIDUAL } from '../opt/residuals.js';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, optKernelSource, type ComputeKernel } from './kernel.js';

export const PHOTO_SELECT_WORKGROUP_SIZE = 64;

export interface PhotoSelectBuffers {
  frame: GPUBuffer;
  /** (S + L) vec4 row-group records (wgsl/common.wgsl); the first S are updated. */
  groups: GPUBuffer;
  /** 4 × u32 counters; counters[0] must be 0 before the dispatch. */
  counters: GPUBuffer;
  records: GPUBuffer;
  image: GPUBuffer;
  /** (W·H) z-buffer keys (rasterize.wgsl), read only with FRAME_FLAG_ZBUFFER. */
  zbuffer: GPUBuffer;
}

export class PhotoSelectPass {
  readonly kernel: ComputeKernel;
  private readonly ctx: GpuContext;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.kernel = createComputeKernel(
      ctx.device,
      'photo_select',
      optKernelSource(photoSelectSource, imageSampleSource),
      ['uniform', 'storage', 'storage', 'read-only-storage', 'read-only-storage', 'read-only-storage'],
      { WORKGROUP_SIZE: PHOTO_SELECT_WORKGROUP_SIZE, IRLS_MIN_RESIDUAL },
    );
  }

  encode(encoder: GPUCommandEncoder, b: PhotoSelectBuffers, sampleCount: number): void {
    dispatchKernel(encoder, this.ctx.device, this.kernel, [b.frame, b.groups, b.counters, b.records, b.image, b.zbuffer],
      Math.ceil(sampleCount / PHOTO_SELECT_WORKGROUP_SIZE));
  }
}
