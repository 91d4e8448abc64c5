/**
 * TS twin of wgsl/normal_equations.wgsl: register-tiled partial AᵀA of the augmented Jacobian
 * A = [J | F | 0 0] (4×4 tiles over the upper block triangle, one invocation per tile and chunk
 * of rows). `unpackNormalEquations` turns the reduced tiles (reduce_partials.wgsl) into the
 * full symmetric JᵀJ (257×257), JᵀF and FᵀF. Reference: residuals.ts accumulateNormalEquations.
 */
import normalEquationsSource from '../../wgsl/normal_equations.wgsl';
import { MofaError } from '../errors.js';
import { CODE_DIM } from '../model/code-layout.js';
import type { GpuContext } from './gpu-context.js';
import { createComputeKernel, dispatchKernel, MAX_WORKGROUPS_PER_DIM, type ComputeKernel } from './kernel.js';
import { JACOBIAN_COLUMNS, JACOBIAN_F_COLUMN } from './residual-rows.js';

export const NORMAL_EQUATIONS_WORKGROUP_SIZE = 64;
/** vec4 blocks per augmented row (65) and upper-triangle 4×4 tiles (2145). */
export const COLUMN_BLOCKS = JACOBIAN_COLUMNS / 4;
export const TILE_COUNT = (COLUMN_BLOCKS * (COLUMN_BLOCKS + 1)) / 2;
/** Rows summed per invocation by default: fewer → more parallelism, more partials to reduce. */
export const DEFAULT_ROWS_PER_CHUNK = 256;
const PARAMS_BYTES = 16;

/** (a, b) block pairs with a ≤ b, in the order tile t is stored. */
export function tilePairs(): Uint32Array {
  const out = new Uint32Array(2 * TILE_COUNT);
  let t = 0;
  for (let a = 0; a < COLUMN_BLOCKS; a++) {
    for (let b = a; b < COLUMN_BLOCKS; b++, t++) {
      out[2 * t] = a;
      out[2 * t + 1] = b;
    }
  }
  return out;
}

/** Number of row chunks for M rows. */
export function chunkCount(rows: number, rowsPerChunk = DEFAULT_ROWS_PER_CHUNK): number {
  return Math.max(1, Math.ceil(rows / rowsPerChunk));
}

/** Bytes of the partials buffer for M rows (chunks · tiles · 16 floats). */
export function partialsBytes(rows: number, rowsPerChunk = DEFAULT_ROWS_PER_CHUNK): number {
  return chunkCount(rows, rowsPerChunk) * TILE_COUNT * 64;
}

/** JᵀJ, JᵀF and FᵀF of the GPU rows, before the regulariser is added. */
export interface NormalEquations {
  /** (257 × 257) full symmetric, row-major. */
  jtj: Float64Array;
  /** (257). */
  jtf: Float64Array;
  /** FᵀF of the same rows. */
  ftf: number;
}

/**
 * Unpacks the reduced tiles (TILE_COUNT × 16 f32: row k of tile t at [16t + 4k, 16t + 4k + 4))
 * into JᵀJ (mirrored to the lower triangle), JᵀF (column 257) and FᵀF (entry (257, 257)).
 */
export function unpackNormalEquations(tiles: Float32Array): NormalEquations {
  if (tiles.length < 16 * TILE_COUNT) throw new MofaError('BAD_INPUT', `expected ${16 * TILE_COUNT} tile values, got ${tiles.length}`);
  const n = CODE_DIM;
  const jtj = new Float64Array(n * n);
  const jtf = new Float64Array(n);
  let ftf = 0;
  const pairs = tilePairs();
  for (let t = 0; t < TILE_COUNT; t++) {
    const a = pairs[2 * t], b = pairs[2 * t + 1];
    for (let k = 0; k < 4; k++) {
      const p = 4 * a + k;
      for (let l = 0; l < 4; l++) {
        const q = 4 * b + l;
        if (q < p) continue; // lower half of a diagonal tile: mirrored below
        const v = tiles[16 * t + 4 * k + l];
        if (p < n && q < n) {
          jtj[p * n + q] = v;
          jtj[q * n + p] = v;
        } else if (p < n && q === JACOBIAN_F_COLUMN) {
          jtf[p] = v;
        } else if (p === JACOBIAN_F_COLUMN && q === JACOBIAN_F_COLUMN) {
          ftf = v;
        }
      }
    }
  }
  return { jtj, jtf, ftf };
}

export class NormalEquationsPass {
  readonly kernel: ComputeKernel;
  /** (TILE_COUNT) vec2<u32> block pairs, uploaded once. */
  readonly tilePairs: GPUBuffer;
  private readonly ctx: GpuContext;
  private readonly params: GPUBuffer;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.kernel = createComputeKernel(
      ctx.device,
      'normal_equations',
      normalEquationsSource,
      ['uniform', 'read-only-storage', 'read-only-storage', 'storage'],
      { WORKGROUP_SIZE: NORMAL_EQUATIONS_WORKGROUP_SIZE },
    );
    this.tilePairs = ctx.createBufferWithData('normal_equations/tile-pairs', tilePairs(), GPUBufferUsage.STORAGE);
    this.params = ctx.createBuffer('normal_equations/params', PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  /**
   * Records the partial tiles of AᵀA for the first `rows` rows of `jacobian` ((rows, 260) f32)
   * into `partials` (≥ partialsBytes(rows) bytes). The parameters go through one uniform
   * buffer written with queue.writeBuffer: encode at most once per submitted command buffer.
   */
  encode(encoder: GPUCommandEncoder, jacobian: GPUBuffer, partials: GPUBuffer, rows: number, rowsPerChunk = DEFAULT_ROWS_PER_CHUNK): void {
    const chunks = chunkCount(rows, rowsPerChunk);
    if (rows * JACOBIAN_COLUMNS * 4 > jacobian.size || partialsBytes(rows, rowsPerChunk) > partials.size || chunks > MAX_WORKGROUPS_PER_DIM) {
      throw new MofaError('BAD_INPUT', `normal_equations: ${rows} rows do not fit the jacobian (${jacobian.size} B) / partials (${partials.size} B) buffers`);
    }
    this.ctx.device.queue.writeBuffer(this.params, 0, Uint32Array.of(rows, COLUMN_BLOCKS, TILE_COUNT, rowsPerChunk));
    dispatchKernel(encoder, this.ctx.device, this.kernel, [this.params, jacobian, this.tilePairs, partials],
      Math.ceil(TILE_COUNT / NORMAL_EQUATIONS_WORKGROUP_SIZE), chunks);
  }

  destroy(): void {
    this.ctx.destroyBuffer(this.params);
    this.ctx.destroyBuffer(this.tilePairs);
  }
}
