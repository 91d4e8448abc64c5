/**
 * Small helpers shared by the TS twins of the Opt kernels (one class per `wgsl/<pass>.wgsl`):
 * WGSL source assembly (generated code-layout constants + wgsl/common.wgsl + snippets), explicit
 * labelled bind-group layouts, pipeline creation and dispatch sizing. No `layout: 'auto'`.
 */
import commonSource from '../../wgsl/common.wgsl';
import shSource from '../../wgsl/sh.wgsl';
import { wgslCodeLayoutConstants } from '../model/code-layout.js';
import { MofaError } from '../errors.js';

/** Most workgroups per dispatch dimension (WebGPU default limit). */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** Kind of a storage / uniform binding of a kernel. */
export type BindingKind = 'uniform' | 'read-only-storage' | 'storage';

/**
 * Full WGSL module of an Opt kernel: the code-layout constants generated from
 * sdk/model/code-layout.ts, wgsl/common.wgsl, then the given snippets and the kernel itself.
 */
export function optKernelSource(kernel: string, ...snippets: string[]): string {
  return [wgslCodeLayoutConstants(), shSource, commonSource, ...snippets, kernel].join('\n');
}

/** A compute pipeline with its explicit, labelled bind-group layout. */
export interface ComputeKernel {
  readonly label: string;
  readonly bindGroupLayout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
}

/**
 * Builds the bind-group layout (binding i has kind bindings[i], compute stage only) and the
 * compute pipeline of one kernel (entry point `main`).
 */
export function createComputeKernel(
  device: GPUDevice,
  label: string,
  code: string,
  bindings: readonly BindingKind[],
  constants: Record<string, number> = {},
): ComputeKernel {
  const bindGroupLayout = device.createBindGroupLayout({
    label: `${label}/bind-group-layout`,
    entries: bindings.map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
  });
  const pipeline = device.createComputePipeline({
    label: `${label}/pipeline`,
    layout: device.createPipelineLayout({ label: `${label}/pipeline-layout`, bindGroupLayouts: [bindGroupLayout] }),
    compute: { module: device.createShaderModule({ label: `${label}.wgsl`, code }), entryPoint: 'main', constants },
  });
  return { label, bindGroupLayout, pipeline };
}

/** Records one dispatch of `kernel` with the buffers bound in order (binding i = buffers[i]). */
export function dispatchKernel(
  encoder: GPUCommandEncoder,
  device: GPUDevice,
  kernel: ComputeKernel,
  buffers: readonly GPUBuffer[],
  groupsX: number,
  groupsY = 1,
): void {
  if (groupsX === 0 || groupsY === 0) return;
  if (groupsX > MAX_WORKGROUPS_PER_DIM || groupsY > MAX_WORKGROUPS_PER_DIM) {
    throw new MofaError('BAD_INPUT', `${kernel.label}: ${groupsX}×${groupsY} workgroups exceed the ${MAX_WORKGROUPS_PER_DIM} per-dimension limit: the problem is too large for this kernel.`);
  }
  const bindGroup = device.createBindGroup({
    label: `${kernel.label}/bind-group`,
    layout: kernel.bindGroupLayout,
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const pass = encoder.beginComputePass({ label: kernel.label });
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(groupsX, groupsY);
  pass.end();
}

/**
 * Grid for `count` invocations of a 1-D kernel that folds gid.y into its flat index
 * (index = gid.y · groupsX · WORKGROUP_SIZE + gid.x): [groupsX, groupsY].
 */
export function foldedGrid(count: number, workgroupSize: number): [number, number] {
  const groups = Math.ceil(count / workgroupSize);
  const x = Math.min(groups, MAX_WORKGROUPS_PER_DIM);
  return [x, x === 0 ? 0 : Math.ceil(groups / x)];
}
