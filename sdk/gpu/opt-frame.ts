/**
 * The per-call uniform `OptFrame` of the Opt kernels (wgsl/common.wgsl): rotation R and its
 * Euler derivatives, translation, intrinsics, SH lighting and weights, computed from the code x
 * in float64 on the CPU (camera.ts, residuals.ts, shading.ts) and stored as f32.
 */
import { CODE_OFFSET } from '../model/code-layout.js';
import { rotationMatrix } from '../model/camera.js';
import { effectiveGamma, SH_COEFFS, SH_LAMBERT_FACTORS } from '../model/shading.js';
import { rotationDerivatives, ZBUFFER_TOLERANCE_MM } from '../opt/residuals.js';
import type { OptWeights } from '../opt/backend.js';

/** Byte size of `struct OptFrame` (26 vec4). */
export const OPT_FRAME_BYTES = 416;

/** Bits of OptFrame.sizes.w (wgsl/common.wgsl FLAG_*). */
export const FRAME_FLAG_JACOBIAN = 1;
export const FRAME_FLAG_ZBUFFER = 2;

/** Everything `packOptFrame` needs besides the code. */
export interface OptFrameInput {
  /** (257) code x (only rotation, translation and γ are read here). */
  x: ArrayLike<number>;
  intrinsics: { focalPx: number; cx: number; cy: number };
  weights: OptWeights;
  /** Vertex count N, photometric sample count S, landmark count L. */
  vertexCount: number;
  sampleCount: number;
  landmarkCount: number;
  /** FRAME_FLAG_* bits. */
  flags: number;
  imageWidth: number;
  imageHeight: number;
}

/** Number of residual rows M = 3S + 2L handled on the GPU (the regulariser is added on the CPU). */
export function gpuResidualRows(sampleCount: number, landmarkCount: number): number {
  return 3 * sampleCount + 2 * landmarkCount;
}

/** Packs `struct OptFrame` (layout and meaning of each field: wgsl/common.wgsl). */
export function packOptFrame(input: OptFrameInput): ArrayBuffer {
  const buf = new ArrayBuffer(OPT_FRAME_BYTES);
  const f = new Float32Array(buf);
  const u = new Uint32Array(buf);
  const { x } = input;
  const euler = [x[CODE_OFFSET.rotation], x[CODE_OFFSET.rotation + 1], x[CODE_OFFSET.rotation + 2]];
  const R = rotationMatrix(euler);
  const dR = rotationDerivatives(euler);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) f[4 * r + c] = R[3 * r + c];
  for (let m = 0; m < 3; m++) {
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) f[12 + 4 * (3 * m + r) + c] = dR[m][3 * r + c];
  }
  for (let a = 0; a < 3; a++) f[48 + a] = x[CODE_OFFSET.translation + a];
  f[52] = input.intrinsics.focalPx;
  f[53] = input.intrinsics.cx;
  f[54] = input.intrinsics.cy;
  // light[b][c] = Â_b γ'_{c,b} (γ' = effectiveGamma: the only place the ambient offset is added).
  const gamma = effectiveGamma(Array.from({ length: 27 }, (_, k) => x[CODE_OFFSET.gamma + k]));
  for (let b = 0; b < SH_COEFFS; b++) {
    for (let c = 0; c < 3; c++) f[56 + 4 * b + c] = SH_LAMBERT_FACTORS[b] * gamma[SH_COEFFS * c + b];
  }
  const L = input.landmarkCount;
  f[92] = input.weights.photo;
  f[93] = L > 0 ? input.weights.land / L : 0;
  f[94] = ZBUFFER_TOLERANCE_MM;
  u[96] = input.vertexCount;
  u[97] = input.sampleCount;
  u[98] = L;
  u[99] = input.flags;
  u[100] = input.imageWidth;
  u[101] = input.imageHeight;
  u[102] = gpuResidualRows(input.sampleCount, L);
  return buf;
}
