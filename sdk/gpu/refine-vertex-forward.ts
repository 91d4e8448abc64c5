/**
 * TS twin of wgsl/refine_vertex_forward.wgsl: pass (a), one invocation per T2 vertex: one-ring normal m_i (face normals of pass a0 gathered over the incident-triangle CSR), n_i, p_i, u_i, c_i (Eq. 4, 5), bilinear I(u_i) and ∇I(u_i), g_i = c_i − I(u_i), C_i, visibility, and the Laplacian of D (Eq. 22) → VertexState.
 * Plain-TS reference of the same maths: sdk/refine/reference.ts (refineForward + refreshWeights + displacementLaplacian).
 */
import source from '../../wgsl/refine_vertex_forward.wgsl';
import imageSampleSource from '../../wgsl/image-sample.wgsl';
import { REFINE_WORKGROUP_SIZE, RefineKernel, refineKernelSource, refineTopologySource, type RefineBindingKind } from './refine-common.js';

/** Bindings in order: params (uniform RefineParams), surface (SurfaceVertex[N]), position (vec4[N], mm), disp (vec4[N], mm), faceNormal (vec4[F]), topology (CSR tables), image (vec4[W·H]), state (VertexState[N], written), ring (RingValues[N], written). */
export const REFINE_VERTEX_FORWARD_BINDINGS: readonly RefineBindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage'];

/** Builds the pipeline of wgsl/refine_vertex_forward.wgsl (once per device). */
export function createRefineVertexForward(device: GPUDevice, workgroupSize = REFINE_WORKGROUP_SIZE): RefineKernel {
  return new RefineKernel(device, 'refine_vertex_forward', refineKernelSource(source, refineTopologySource, imageSampleSource), REFINE_VERTEX_FORWARD_BINDINGS, workgroupSize);
}
