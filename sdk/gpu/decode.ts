/**
 * TS twin of wgsl/decode.wgsl — Eq. (2), (3): v = A_s + E_s α + E_e δ, r = A_r + E_r β, one
 * invocation per output element (6N). Reference: sdk/model/decode.ts (computeShape,
 * computeAlbedo). `interleaveGeometryBasis` builds the [E_s | E_e] rows the kernel reads.
 */
import decodeSource from '../../wgsl/decode.wgsl';
import { MofaError } from '../errors.js';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, foldedGrid, optKernelSource, type ComputeKernel } from './kernel.js';

export const DECODE_WORKGROUP_SIZE = 64;

/**
 * [E_s | E_e] row by row: (3N, Ks + Ke) row-major from two (3N, Ks), (3N, Ke) row-major bases.
 * @returns Float32Array((3N)·(Ks + Ke)).
 */
export function interleaveGeometryBasis(shapeBasis: Float32Array, shapeDim: number, expressionBasis: Float32Array, expressionDim: number): Float32Array {
  const rows = shapeBasis.length / shapeDim;
  if (!Number.isInteger(rows) || expressionBasis.length !== rows * expressionDim) {
    throw new MofaError('BAD_INPUT', `shape basis (${shapeBasis.length}) and expression basis (${expressionBasis.length}) do not have the same number of rows for K = ${shapeDim}, ${expressionDim}`);
  }
  const K = shapeDim + expressionDim;
  const out = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    out.set(shapeBasis.subarray(r * shapeDim, (r + 1) * shapeDim), r * K);
    out.set(expressionBasis.subarray(r * expressionDim, (r + 1) * expressionDim), r * K + shapeDim);
  }
  return out;
}

/** Buffers of one decode dispatch (see the bindings in wgsl/decode.wgsl). */
export interface DecodeBuffers {
  frame: GPUBuffer;
  code: GPUBuffer;
  geometryMean: GPUBuffer;
  geometryBasis: GPUBuffer;
  albedoMean: GPUBuffer;
  albedoBasis: GPUBuffer;
  position: GPUBuffer;
  albedo: GPUBuffer;
}

export class DecodePass {
  readonly kernel: ComputeKernel;
  private readonly ctx: GpuContext;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.kernel = createComputeKernel(
      ctx.device,
      'decode',
      optKernelSource(decodeSource),
      ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage'],
      { WORKGROUP_SIZE: DECODE_WORKGROUP_SIZE },
    );
  }

  /** Records the decode of all N vertices (N is read from the frame uniform). */
  encode(encoder: GPUCommandEncoder, b: DecodeBuffers, vertexCount: number): void {
    const [gx, gy] = foldedGrid(6 * vertexCount, DECODE_WORKGROUP_SIZE);
    dispatchKernel(encoder, this.ctx.device, this.kernel,
      [b.frame, b.code, b.geometryMean, b.geometryBasis, b.albedoMean, b.albedoBasis, b.position, b.albedo], gx, gy);
  }
}
