/**
 * TS twin of wgsl/refine_face.wgsl: pass (c), one invocation per T2 triangle: the position gradients of the triangle's contribution to the one-ring normals of its three corners → faceGrad[3f + corner].
 * Plain-TS reference of the same maths: sdk/refine/reference.ts (refineGradient, step (c)).
 */
import source from '../../wgsl/refine_face.wgsl';
import { REFINE_WORKGROUP_SIZE, RefineKernel, refineKernelSource, type RefineBindingKind } from './refine-common.js';

/** Bindings in order: params (uniform RefineParams), position (vec4[N], mm), triangles (u32[3F]), grads (VertexGrad[N]), faceGrad (vec4[3F], written). */
export const REFINE_FACE_BINDINGS: readonly RefineBindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'];

/** Builds the pipeline of wgsl/refine_face.wgsl (once per device). */
export function createRefineFace(device: GPUDevice, workgroupSize = REFINE_WORKGROUP_SIZE): RefineKernel {
  return new RefineKernel(device, 'refine_face', refineKernelSource(source), REFINE_FACE_BINDINGS, workgroupSize);
}
