/**
 * TS twin of wgsl/refine_remap.wgsl: the T1 → T2 attribute transfer L (paper Sec. 9.2 "Mesh
 * Topology") on the GPU, a_T2[j] = Σ_k w[3j+k] · a_T1[idx[3j+k]] per component. Builds its
 * pipeline once; `encode` records into the caller's encoder. Plain-TS reference of the same
 * maths: sdk/refine/remap.ts `remapAttribute` (the AssemblyScript `remap` is the CPU path).
 */
import source from '../../wgsl/refine_remap.wgsl';
import { MofaError } from '../errors.js';
import type { VertexMap } from '../refine/remap.js';
import type { GpuContext } from './gpu-context.js';
import { REFINE_WORKGROUP_SIZE, RefineKernel, type RefineBindingKind } from './refine-common.js';

/** Bindings in order: params (uniform {count, width}), src (f32[N1·W]), index (u32[3·N2]), weight (f32[3·N2]), dst (f32[N2·W], written). */
export const REFINE_REMAP_BINDINGS: readonly RefineBindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'];

/** The map L uploaded once, and a pipeline to apply it to attributes of any width. */
export class RefineRemapPass {
  readonly kernel: RefineKernel;
  /** Destination (T2) vertex count N2. */
  readonly count: number;
  private readonly ctx: GpuContext;
  private readonly index: GPUBuffer;
  private readonly weight: GPUBuffer;
  /** One immutable parameter uniform per attribute width (the vertex count is fixed), so repeated encodes allocate nothing. */
  private readonly params = new Map<number, GPUBuffer>();

  /** Uploads `map` (FaceModel.t2.fromT1) and builds the pipeline. */
  constructor(ctx: GpuContext, map: VertexMap, workgroupSize = REFINE_WORKGROUP_SIZE) {
    if (map.index.length % 3 !== 0 || map.weight.length !== map.index.length) {
      throw new MofaError('BAD_INPUT', `fromT1 must hold 3 indices and 3 weights per T2 vertex (got ${map.index.length} indices, ${map.weight.length} weights)`);
    }
    this.ctx = ctx;
    this.count = map.index.length / 3;
    this.kernel = new RefineKernel(ctx.device, 'refine_remap', source, REFINE_REMAP_BINDINGS, workgroupSize);
    this.index = ctx.createBufferWithData('refine-remap/index', map.index, GPUBufferUsage.STORAGE);
    this.weight = ctx.createBufferWithData('refine-remap/weight', map.weight, GPUBufferUsage.STORAGE);
  }

  /**
   * Records dst ← L(src) for an attribute of `width` floats per vertex.
   * @param src f32 storage buffer holding (N1, width) values; the caller guarantees its indices cover fromT1.
   * @param dst f32 storage buffer of at least N2·width values.
   */
  encode(encoder: GPUCommandEncoder, src: GPUBuffer, dst: GPUBuffer, width: number): void {
    if (!(Number.isInteger(width) && width >= 1)) throw new MofaError('BAD_INPUT', `remap width must be a positive integer, got ${width}`);
    if (dst.size < 4 * this.count * width) throw new MofaError('BAD_INPUT', `remap destination '${dst.label}' has ${dst.size} bytes, needs ${4 * this.count * width}`);
    let params = this.params.get(width);
    if (!params) {
      params = this.ctx.createBufferWithData(`refine-remap/params-w${width}`, Uint32Array.of(this.count, width, 0, 0), GPUBufferUsage.UNIFORM);
      this.params.set(width, params);
    }
    const pass = encoder.beginComputePass({ label: 'refine_remap' });
    this.kernel.dispatch(pass, this.kernel.bind([params, src, this.index, this.weight, dst]), this.count * width);
    pass.end();
  }

  /** Frees the map and the parameter buffers. */
  destroy(): void {
    for (const b of [this.index, this.weight, ...this.params.values()]) this.ctx.destroyBuffer(b);
    this.params.clear();
  }
}
