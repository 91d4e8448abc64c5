/**
 * TS twin of wgsl/refine_energy.wgsl: sums the per-vertex energy shares of pass (b) into one record (E_photo, E_grad, E_reg unweighted, |V|) appended to an on-GPU log (count + records), so energies are read back once after the run. One workgroup; WORKGROUP_SIZE must be a power of two.
 * Plain-TS reference of the same maths: sdk/refine/reference.ts (refineEnergy).
 */
import source from '../../wgsl/refine_energy.wgsl';
import { RefineKernel, refineKernelSource, type RefineBindingKind } from './refine-common.js';

/** Workgroup size of the reduction (a power of two ≤ 256). */
export const REFINE_ENERGY_WORKGROUP_SIZE = 256;

/** Bindings in order: params (uniform RefineParams), grads (VertexGrad[N]), log (EnergyLog, read-write). */
export const REFINE_ENERGY_BINDINGS: readonly RefineBindingKind[] = ['uniform', 'read-only-storage', 'storage'];

/** Builds the pipeline of wgsl/refine_energy.wgsl (once per device). */
export function createRefineEnergyReduce(device: GPUDevice, workgroupSize = REFINE_ENERGY_WORKGROUP_SIZE): RefineKernel {
  return new RefineKernel(device, 'refine_energy', refineKernelSource(source), REFINE_ENERGY_BINDINGS, workgroupSize);
}
