/**
 * TS twin of wgsl/reduce_partials.wgsl: total[e] = Σ_c partials[c·n + e] over `chunks` chunks
 * of n vec4 (the second stage of normal_equations.wgsl).
 */
import reducePartialsSource from '../../wgsl/reduce_partials.wgsl';
import { MofaError } from '../errors.js';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, type ComputeKernel } from './kernel.js';

export const REDUCE_PARTIALS_WORKGROUP_SIZE = 64;
const PARAMS_BYTES = 16;

export class ReducePartialsPass {
  readonly kernel: ComputeKernel;
  private readonly ctx: GpuContext;
  private readonly params: GPUBuffer;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.kernel = createComputeKernel(ctx.device, 'reduce_partials', reducePartialsSource,
      ['uniform', 'read-only-storage', 'storage'], { WORKGROUP_SIZE: REDUCE_PARTIALS_WORKGROUP_SIZE });
    this.params = ctx.createBuffer('reduce_partials/params', PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  /** `count` vec4 per chunk. One encode per submitted command buffer (uniform via writeBuffer). */
  encode(encoder: GPUCommandEncoder, partials: GPUBuffer, total: GPUBuffer, count: number, chunks: number): void {
    if (count * chunks * 16 > partials.size || count * 16 > total.size) {
      throw new MofaError('BAD_INPUT', `reduce_partials: ${chunks} × ${count} vec4 do not fit the buffers (${partials.size} B, ${total.size} B)`);
    }
    this.ctx.device.queue.writeBuffer(this.params, 0, Uint32Array.of(count, chunks, 0, 0));
    dispatchKernel(encoder, this.ctx.device, this.kernel, [this.params, partials, total], Math.ceil(count / REDUCE_PARTIALS_WORKGROUP_SIZE));
  }

  destroy(): void {
    this.ctx.destroyBuffer(this.params);
  }
}
