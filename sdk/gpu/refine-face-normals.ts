/**
 * TS twin of wgsl/refine_face_normals.wgsl: pass (a0), one invocation per T2 triangle: its
 * area-weighted normal M_f = (v_b − v_a) × (v_c − v_a) at the current positions, which pass (a)
 * sums per vertex through the incident-triangle CSR (m_i = Σ_{f∋i} M_f).
 * Plain-TS reference of the same maths: sdk/refine/reference.ts (refineForward, the m loop).
 */
import source from '../../wgsl/refine_face_normals.wgsl';
import { REFINE_WORKGROUP_SIZE, RefineKernel, refineKernelSource, type RefineBindingKind } from './refine-common.js';

/** Bindings in order: params (uniform RefineParams), position (vec4[N], mm), triangles (u32[3F]), faceNormal (vec4[F], written). */
export const REFINE_FACE_NORMALS_BINDINGS: readonly RefineBindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'storage'];

/** Builds the pipeline of wgsl/refine_face_normals.wgsl (once per device). */
export function createRefineFaceNormals(device: GPUDevice, workgroupSize = REFINE_WORKGROUP_SIZE): RefineKernel {
  return new RefineKernel(device, 'refine_face_normals', refineKernelSource(source), REFINE_FACE_NORMALS_BINDINGS, workgroupSize);
}
