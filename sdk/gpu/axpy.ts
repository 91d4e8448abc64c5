/**
 * TS twin of wgsl/axpy.wgsl: y ← a·x + y over n f32 elements. Owns an explicit, labelled
 * bind-group layout and builds its pipeline once; `encode` records into the caller's encoder.
 * Plain-JS reference of the same maths: `axpyRef`.
 */
import axpySource from '../../wgsl/axpy.wgsl';
import { MofaError } from '../errors.js';
import type { GpuContext } from './gpu-context.js';

/** Workgroup size (WGSL `override WORKGROUP_SIZE`); ≤ 256 invocations on every adapter. */
export const AXPY_WORKGROUP_SIZE = 256;
const MAX_WORKGROUPS_PER_DIM = 65535;
const PARAMS_BYTES = 16; // struct AxpyParams { a: f32, n: u32, rowStride: u32, _pad: u32 }

/** Reference: y[i] ← fround(a·x[i] + y[i]) for i < n (in place). */
export function axpyRef(a: number, x: Float32Array, y: Float32Array): void {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) y[i] = Math.fround(a * x[i] + y[i]);
}

export class AxpyPass {
  readonly bindGroupLayout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
  private readonly ctx: GpuContext;
  private readonly params: GPUBuffer;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    const device = ctx.device;
    this.bindGroupLayout = device.createBindGroupLayout({
      label: 'axpy/bind-group-layout',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', minBindingSize: PARAMS_BYTES } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      ],
    });
    this.pipeline = device.createComputePipeline({
      label: 'axpy/pipeline',
      layout: device.createPipelineLayout({ label: 'axpy/pipeline-layout', bindGroupLayouts: [this.bindGroupLayout] }),
      compute: {
        module: device.createShaderModule({ label: 'axpy.wgsl', code: axpySource }),
        entryPoint: 'main',
        constants: { WORKGROUP_SIZE: AXPY_WORKGROUP_SIZE },
      },
    });
    this.params = ctx.createBuffer('axpy/params', PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  /**
   * Records y ← a·x + y for the first n elements of two f32 storage buffers.
   * The parameters go through one uniform buffer written with `queue.writeBuffer`, which takes
   * effect at the next submit: encode at most one axpy per submitted command buffer.
   */
  encode(encoder: GPUCommandEncoder, a: number, x: GPUBuffer, y: GPUBuffer, n: number): void {
    if (!Number.isInteger(n) || n < 0 || n * 4 > x.size || n * 4 > y.size) {
      throw new MofaError('BAD_INPUT', `axpy: n = ${n} does not fit buffers of ${x.size} and ${y.size} bytes.`);
    }
    if (n === 0) return;
    const groups = Math.ceil(n / AXPY_WORKGROUP_SIZE);
    const groupsX = Math.min(groups, MAX_WORKGROUPS_PER_DIM);
    const groupsY = Math.ceil(groups / groupsX);
    const params = new ArrayBuffer(PARAMS_BYTES);
    new Float32Array(params, 0, 1)[0] = a;
    new Uint32Array(params, 4, 2).set([n, groupsX * AXPY_WORKGROUP_SIZE]);
    this.ctx.device.queue.writeBuffer(this.params, 0, params);

    const bindGroup = this.ctx.device.createBindGroup({
      label: 'axpy/bind-group',
      layout: this.bindGroupLayout,
      entries: [
        { binding: 0, resource: { buffer: this.params } },
        { binding: 1, resource: { buffer: x } },
        { binding: 2, resource: { buffer: y } },
      ],
    });
    const pass = encoder.beginComputePass({ label: 'axpy' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groupsX, groupsY);
    pass.end();
  }

  /** Frees the pass's uniform buffer (pipelines and layouts are garbage-collected). */
  destroy(): void {
    this.ctx.destroyBuffer(this.params);
  }
}
