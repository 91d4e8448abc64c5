/**
 * TS twin of wgsl/normals.wgsl: area-weighted one-ring vertex normals gathered per vertex over
 * its incident triangles (CSR built once on the CPU by `incidentTriangles`), no atomics.
 * Reference: sdk/model/normals.ts computeNormals.
 */
import normalsSource from '../../wgsl/normals.wgsl';
import { MofaError } from '../errors.js';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, optKernelSource, type ComputeKernel } from './kernel.js';

export const NORMALS_WORKGROUP_SIZE = 64;

/**
 * Incident-triangle lists in one array: entries [0, N] are absolute offsets into the same array,
 * the triangles of vertex i are out[out[i] .. out[i + 1]) in ascending triangle order.
 * @param index (F, 3) triangle vertex indices; vertexCount N.
 */
export function incidentTriangles(index: Uint32Array, vertexCount: number): Uint32Array {
  const F = index.length / 3;
  const count = new Uint32Array(vertexCount);
  for (const v of index) {
    if (v >= vertexCount) throw new MofaError('BAD_INPUT', `triangle index ${v} out of range for ${vertexCount} vertices`);
    count[v]++;
  }
  const out = new Uint32Array(vertexCount + 1 + index.length);
  out[0] = vertexCount + 1;
  for (let i = 0; i < vertexCount; i++) out[i + 1] = out[i] + count[i];
  const cursor = out.slice(0, vertexCount);
  for (let f = 0; f < F; f++) {
    for (let k = 0; k < 3; k++) {
      const v = index[3 * f + k];
      out[cursor[v]++] = f;
    }
  }
  return out;
}

export interface NormalsBuffers {
  frame: GPUBuffer;
  position: GPUBuffer;
  triangles: GPUBuffer;
  incident: GPUBuffer;
  normal: GPUBuffer;
}

export class NormalsPass {
  readonly kernel: ComputeKernel;
  private readonly ctx: GpuContext;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.kernel = createComputeKernel(
      ctx.device,
      'normals',
      optKernelSource(normalsSource),
      ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
      { WORKGROUP_SIZE: NORMALS_WORKGROUP_SIZE },
    );
  }

  encode(encoder: GPUCommandEncoder, b: NormalsBuffers, vertexCount: number): void {
    dispatchKernel(encoder, this.ctx.device, this.kernel, [b.frame, b.position, b.triangles, b.incident, b.normal],
      Math.ceil(vertexCount / NORMALS_WORKGROUP_SIZE));
  }
}
