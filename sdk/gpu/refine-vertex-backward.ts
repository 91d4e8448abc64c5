/**
 * TS twin of wgsl/refine_vertex_backward.wgsl: pass (b), one invocation per T2 vertex: ∂E/∂c_k and ∂E/∂I_k (Eq. 20, 21 gathered over the one-ring), ∂E/∂m_k through the SH shading and the normalisation, ∂E/∂v_k through u_k = Π(p_k), and the vertex's energy shares → VertexGrad.
 * Plain-TS reference of the same maths: sdk/refine/reference.ts (refineGradient, step (b)).
 */
import source from '../../wgsl/refine_vertex_backward.wgsl';
import { REFINE_WORKGROUP_SIZE, RefineKernel, refineKernelSource, refineTopologySource, type RefineBindingKind } from './refine-common.js';

/** Bindings in order: params (uniform RefineParams), surface (SurfaceVertex[N]), state (VertexState[N]), ring (RingValues[N]), topology (CSR tables), grads (VertexGrad[N], written). */
export const REFINE_VERTEX_BACKWARD_BINDINGS: readonly RefineBindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'];

/** Builds the pipeline of wgsl/refine_vertex_backward.wgsl (once per device). */
export function createRefineVertexBackward(device: GPUDevice, workgroupSize = REFINE_WORKGROUP_SIZE): RefineKernel {
  return new RefineKernel(device, 'refine_vertex_backward', refineKernelSource(source, refineTopologySource), REFINE_VERTEX_BACKWARD_BINDINGS, workgroupSize);
}
