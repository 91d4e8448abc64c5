/**
 * TS twin of wgsl/rasterize.wgsl (z-buffer passes, built twice with PASS = 0 depth and 1
 * triangle id) and wgsl/rasterize_resolve.wgsl (per-pixel colour): a compute rasteriser with the
 * conventions of the CPU reference sdk/render/rasterize.ts (1/256-px snapping, exact integer
 * edge functions, top-left rule, perspective-correct depth and colour, ties → lower triangle).
 * Limit: triangles whose screen bounding box spans 128 px or more are skipped and counted
 * (`skippedTriangles`), which keeps the edge functions in i32.
 * Used by the Opt backend for 'zbuffer' visibility and by `rasterizeOnGpu` for overlays and
 * synthetic images.
 */
import rasterSetupSource from '../../wgsl/raster-setup.wgsl';
import rasterizeSource from '../../wgsl/rasterize.wgsl';
import resolveSource from '../../wgsl/rasterize_resolve.wgsl';
import { MofaError } from '../errors.js';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, foldedGrid, type ComputeKernel } from './kernel.js';

export const RASTERIZE_WORKGROUP_SIZE = 64;
const PARAMS_BYTES = 32;

/** Geometry of one rasterisation (see `struct RasterParams` in wgsl/raster-setup.wgsl). */
export interface RasterParams {
  width: number;
  height: number;
  triangleCount: number;
  /** vec4 per vertex in the vertex buffer. */
  vertexStride: number;
  /** vec4 slot of (x px, y px, depth > 0) within a vertex. */
  positionSlot: number;
  /** vec4 slot of the linear RGB colour within a vertex (read by the resolve pass only). */
  colorSlot: number;
  cullBackFaces: boolean;
}

export interface RasterBuffers {
  /** Vertex records, array<vec4<f32>>, `vertexStride` vec4 per vertex. */
  vertices: GPUBuffer;
  /** (3F) u32 triangle indices. */
  triangles: GPUBuffer;
  /** (W·H) u32 depth keys ~bits(depth), 0 = empty (cleared here). */
  depthKeys: GPUBuffer;
  /** (W·H) u32 triangle keys ~f, 0 = empty (cleared here). */
  triangleKeys: GPUBuffer;
  /** 4 × u32: [0] triangles skipped as too large (cleared here). */
  stats: GPUBuffer;
  /** (W·H) vec4 colour output; omit for a z-buffer-only rasterisation. */
  color?: GPUBuffer;
}

export class RasterizePass {
  readonly depthKernel: ComputeKernel;
  readonly triangleKernel: ComputeKernel;
  readonly resolveKernel: ComputeKernel;
  private readonly ctx: GpuContext;
  private readonly params: GPUBuffer;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    const code = [rasterSetupSource, rasterizeSource].join('\n');
    const bindings = ['uniform', 'read-only-storage', 'read-only-storage', 'storage', 'storage', 'storage'] as const;
    this.depthKernel = createComputeKernel(ctx.device, 'rasterize/depth', code, bindings, { WORKGROUP_SIZE: RASTERIZE_WORKGROUP_SIZE, PASS: 0 });
    this.triangleKernel = createComputeKernel(ctx.device, 'rasterize/triangle', code, bindings, { WORKGROUP_SIZE: RASTERIZE_WORKGROUP_SIZE, PASS: 1 });
    this.resolveKernel = createComputeKernel(ctx.device, 'rasterize_resolve', [rasterSetupSource, resolveSource].join('\n'),
      ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'], { WORKGROUP_SIZE: RASTERIZE_WORKGROUP_SIZE });
    this.params = ctx.createBuffer('rasterize/params', PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  /**
   * Records clear + depth + triangle (+ colour) passes. Uniforms are written with
   * queue.writeBuffer: encode at most once per submitted command buffer.
   */
  encode(encoder: GPUCommandEncoder, b: RasterBuffers, p: RasterParams): void {
    const pixels = p.width * p.height;
    if (!(Number.isInteger(p.width) && Number.isInteger(p.height) && p.width > 0 && p.height > 0)) {
      throw new MofaError('BAD_INPUT', `raster size must be positive integers, got ${p.width}×${p.height}`);
    }
    if (b.depthKeys.size < 4 * pixels || b.triangleKeys.size < 4 * pixels || (b.color && b.color.size < 16 * pixels) || b.triangles.size < 12 * p.triangleCount) {
      throw new MofaError('BAD_INPUT', `rasterize: buffers too small for ${p.width}×${p.height} px and ${p.triangleCount} triangles`);
    }
    this.ctx.device.queue.writeBuffer(this.params, 0, Uint32Array.of(
      p.width, p.height, p.triangleCount, p.vertexStride, p.positionSlot, p.colorSlot, p.cullBackFaces ? 1 : 0, 0));
    encoder.clearBuffer(b.depthKeys, 0, 4 * pixels);
    encoder.clearBuffer(b.triangleKeys, 0, 4 * pixels);
    encoder.clearBuffer(b.stats, 0, 16);
    const [tx, ty] = foldedGrid(p.triangleCount, RASTERIZE_WORKGROUP_SIZE);
    const buffers = [this.params, b.vertices, b.triangles, b.depthKeys, b.triangleKeys, b.stats];
    dispatchKernel(encoder, this.ctx.device, this.depthKernel, buffers, tx, ty);
    dispatchKernel(encoder, this.ctx.device, this.triangleKernel, buffers, tx, ty);
    if (b.color) {
      const [px, py] = foldedGrid(pixels, RASTERIZE_WORKGROUP_SIZE);
      dispatchKernel(encoder, this.ctx.device, this.resolveKernel, [this.params, b.vertices, b.triangles, b.triangleKeys, b.color], px, py);
    }
  }

  destroy(): void {
    this.ctx.destroyBuffer(this.params);
  }
}

/** Result of `rasterizeOnGpu` (cf. sdk/render/rasterize.ts RasterResult). */
export interface GpuRasterResult {
  width: number;
  height: number;
  /** (H·W·4) linear RGB + coverage alpha (1 drawn, 0 background), unclamped. */
  color: Float32Array;
  /** (H·W) depth of the visible surface; +Infinity where nothing was drawn. */
  depth: Float32Array;
  /** (H·W) visible triangle index; −1 where nothing was drawn. */
  triangleId: Int32Array;
  /** Triangles skipped because their bounding box spans ≥ 128 px. */
  skippedTriangles: number;
}

/**
 * Rasterises a mesh on the GPU and reads the result back (overlays, synthetic images, tests).
 * @param screen (N, 2) px image frame; depth (N) > 0 (−z_cam); color (N, 3) linear RGB;
 *   index (F, 3). Same inputs as sdk/render/rasterize.ts `rasterize` (perspectiveCorrect).
 */
export async function rasterizeOnGpu(
  ctx: GpuContext,
  input: { width: number; height: number; screen: Float32Array; depth: Float32Array; color: Float32Array; index: Uint32Array },
  options: { cullBackFaces?: boolean } = {},
): Promise<GpuRasterResult> {
  const { width, height, screen, depth, color, index } = input;
  const n = depth.length;
  if (screen.length !== 2 * n || color.length !== 3 * n || index.length % 3 !== 0) {
    throw new MofaError('BAD_INPUT', `rasterizeOnGpu: screen (${screen.length}), depth (${n}), color (${color.length}) and index (${index.length}) sizes disagree`);
  }
  for (const v of index) if (v >= n) throw new MofaError('BAD_INPUT', `rasterizeOnGpu: triangle index ${v} out of range for ${n} vertices`);
  const vertexData = new Float32Array(8 * n);
  for (let i = 0; i < n; i++) {
    vertexData.set([screen[2 * i], screen[2 * i + 1], depth[i], 0, color[3 * i], color[3 * i + 1], color[3 * i + 2], 1], 8 * i);
  }
  const pixels = width * height;
  const pass = new RasterizePass(ctx);
  const created: GPUBuffer[] = [];
  const make = (label: string, size: number, usage: GPUBufferUsageFlags) => {
    const b = ctx.createBuffer(label, size, usage);
    created.push(b);
    return b;
  };
  try {
    const vertices = ctx.createBufferWithData('rasterize/vertices', vertexData, GPUBufferUsage.STORAGE);
    created.push(vertices);
    const triangles = ctx.createBufferWithData('rasterize/triangles', index, GPUBufferUsage.STORAGE);
    created.push(triangles);
    const rw = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const b: RasterBuffers = {
      vertices,
      triangles,
      depthKeys: make('rasterize/depth-keys', 4 * pixels, rw),
      triangleKeys: make('rasterize/triangle-keys', 4 * pixels, rw),
      stats: make('rasterize/stats', 16, rw),
      color: make('rasterize/color', 16 * pixels, rw),
    };
    const encoder = ctx.device.createCommandEncoder({ label: 'rasterize' });
    pass.encode(encoder, b, { width, height, triangleCount: index.length / 3, vertexStride: 2, positionSlot: 0, colorSlot: 1, cullBackFaces: options.cullBackFaces ?? false });
    ctx.device.queue.submit([encoder.finish()]);
    const [colorBytes, depthBytes, triBytes, statBytes] = await Promise.all([
      ctx.readback(b.color!, 0, 16 * pixels), ctx.readback(b.depthKeys, 0, 4 * pixels),
      ctx.readback(b.triangleKeys, 0, 4 * pixels), ctx.readback(b.stats, 0, 16),
    ]);
    const depthKeys = new Uint32Array(depthBytes);
    const triKeys = new Uint32Array(triBytes);
    const depthOut = new Float32Array(pixels);
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    const triangleId = new Int32Array(pixels);
    for (let p = 0; p < pixels; p++) {
      if (depthKeys[p] === 0) depthOut[p] = Infinity;
      else {
        bits[0] = ~depthKeys[p];
        depthOut[p] = asFloat[0];
      }
      triangleId[p] = triKeys[p] === 0 ? -1 : ~triKeys[p] >>> 0;
    }
    return { width, height, color: new Float32Array(colorBytes), depth: depthOut, triangleId, skippedTriangles: new Uint32Array(statBytes)[0] };
  } finally {
    for (const buf of created) ctx.destroyBuffer(buf);
    pass.destroy();
  }
}
