/**
 * TS twin of wgsl/refine_update.wgsl: pass (d), one invocation per T2 vertex: ∇E = direct term + face gradients gathered over the incident-triangle CSR + Lᵀ L D (Eq. 22, two one-ring gathers), then D ← D − step · ∇E and V = V^C + D in place.
 * Plain-TS reference of the same maths: sdk/refine/reference.ts (refineGradient, step (d), and the update of runRefineReference).
 */
import source from '../../wgsl/refine_update.wgsl';
import { REFINE_WORKGROUP_SIZE, RefineKernel, refineKernelSource, refineTopologySource, type RefineBindingKind } from './refine-common.js';

/** Bindings in order: params (uniform RefineParams), surface (SurfaceVertex[N]), ring (RingValues[N]), grads (VertexGrad[N]), faceGrad (vec4[3F]), topology (CSR tables), disp (vec4[N], updated), position (vec4[N], updated), gradient (vec4[N], written). */
export const REFINE_UPDATE_BINDINGS: readonly RefineBindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage', 'storage'];

/** Builds the pipeline of wgsl/refine_update.wgsl (once per device). */
export function createRefineUpdate(device: GPUDevice, workgroupSize = REFINE_WORKGROUP_SIZE): RefineKernel {
  return new RefineKernel(device, 'refine_update', refineKernelSource(source, refineTopologySource), REFINE_UPDATE_BINDINGS, workgroupSize);
}
