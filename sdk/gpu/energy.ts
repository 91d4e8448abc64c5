/**
 * TS twin of wgsl/energy.wgsl: partial sums of F² of the photometric and landmark rows
 * (ENERGY_INVOCATIONS vec2 partials); `sumEnergyPartials` adds them in float64.
 */
import energySource from '../../wgsl/energy.wgsl';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, optKernelSource, type ComputeKernel } from './kernel.js';

export const ENERGY_WORKGROUP_SIZE = 64;
export const ENERGY_WORKGROUPS = 4;
/** Number of vec2 partials written (one per invocation). */
export const ENERGY_INVOCATIONS = ENERGY_WORKGROUP_SIZE * ENERGY_WORKGROUPS;

/** Σ of the partials: [photometric Σ F², landmark Σ F²]. */
export function sumEnergyPartials(partials: Float32Array): [number, number] {
  let photo = 0, land = 0;
  for (let t = 0; t < ENERGY_INVOCATIONS; t++) {
    photo += partials[2 * t];
    land += partials[2 * t + 1];
  }
  return [photo, land];
}

export class EnergyPass {
  readonly kernel: ComputeKernel;
  private readonly ctx: GpuContext;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.kernel = createComputeKernel(ctx.device, 'energy', optKernelSource(energySource),
      ['uniform', 'read-only-storage', 'storage'], { WORKGROUP_SIZE: ENERGY_WORKGROUP_SIZE });
  }

  /** `partials` needs ENERGY_INVOCATIONS · 8 bytes. */
  encode(encoder: GPUCommandEncoder, frame: GPUBuffer, residual: GPUBuffer, partials: GPUBuffer): void {
    dispatchKernel(encoder, this.ctx.device, this.kernel, [frame, residual, partials], ENERGY_WORKGROUPS);
  }
}
