/**
 * The 257-d semantic code vector x of the paper (Sec. 4, Eq. 1):
 *
 *   x = (α, δ, β, T, t, γ)                                                     (Eq. 1)
 *
 * This file is the ONE table of its layout. The TypeScript slicing helpers below and the WGSL
 * constants block (`wgslCodeLayoutConstants`, written to wgsl/generated/code-layout.wgsl by
 * tools/gen-wgsl-constants.ts) are both derived from `CODE_SEGMENTS`, so they cannot drift.
 *
 * Units and frames of each block are in the table's `unit` / `doc` fields; the math that uses
 * them is in docs/design/opt.md.
 */
import { MofaError } from '../errors.js';

/** Name of one block of the code vector. */
export type CodeSegmentName = 'alpha' | 'delta' | 'beta' | 'rotation' | 'translation' | 'gamma';

/** One block of the code vector: x[offset .. offset + size). */
export interface CodeSegment {
  readonly name: CodeSegmentName;
  /** First index of the block in x. */
  readonly offset: number;
  /** Number of entries. */
  readonly size: number;
  /** Unit of one entry. */
  readonly unit: string;
  /** What the block means (paper equation, frame, layout inside the block). */
  readonly doc: string;
}

/**
 * The code layout, in order. Offsets are written out (not computed) so that this table reads as
 * the specification; `test/unit/code-layout.test.ts` checks that the blocks are contiguous and
 * sum to 257.
 */
export const CODE_SEGMENTS: readonly CodeSegment[] = Object.freeze([
  {
    name: 'alpha', offset: 0, size: 80,
    unit: 'one standard deviation of the shape model',
    doc: 'α, shape coefficients of Eq. (2): V = A_s + E_s α + E_e δ (E_s columns are scaled by σ).',
  },
  {
    name: 'delta', offset: 80, size: 64,
    unit: 'one standard deviation of the expression model',
    doc: 'δ, expression coefficients of Eq. (2) (column k is σ_k × blendshape k, see FaceModel.expressionSigma).',
  },
  {
    name: 'beta', offset: 144, size: 80,
    unit: 'one standard deviation of the reflectance model',
    doc: 'β, reflectance coefficients of Eq. (3): R = A_r + E_r β (linear RGB).',
  },
  {
    name: 'rotation', offset: 224, size: 3,
    unit: 'radians',
    doc: 'Euler angles [pitch, yaw, roll] of Φ (Eq. 5), R = Rz(roll)·Ry(yaw)·Rx(pitch), p_cam = R·v + t (sdk/model/camera.ts).',
  },
  {
    name: 'translation', offset: 227, size: 3,
    unit: 'mm',
    doc: 't of Φ (Eq. 5), camera frame (+x image right, +y up, camera looks down −z: a visible face has t_z < 0).',
  },
  {
    name: 'gamma', offset: 230, size: 27,
    unit: 'SH radiance coefficient (linear RGB)',
    doc: 'γ, camera-frame SH illumination of Eq. (4), channel-major gamma[9·c + b]; the 0.7 ambient offset is added in effectiveGamma (shading.ts) only.',
  },
] as const satisfies readonly CodeSegment[]);

/** Length of the code vector x (paper Eq. 1): 80 + 64 + 80 + 3 + 3 + 27. */
export const CODE_DIM = 257;

/** The segment called `name`. */
export function codeSegment(name: CodeSegmentName): CodeSegment {
  const s = CODE_SEGMENTS.find((seg) => seg.name === name);
  if (!s) throw new MofaError('BAD_INPUT', `unknown code segment '${String(name)}'; valid names: ${CODE_SEGMENTS.map((g) => g.name).join(', ')}`);
  return s;
}

/** Offsets of each block, for hot loops (x[CODE_OFFSET.beta + k]). */
export const CODE_OFFSET: Readonly<Record<CodeSegmentName, number>> = Object.freeze(
  Object.fromEntries(CODE_SEGMENTS.map((s) => [s.name, s.offset])) as Record<CodeSegmentName, number>,
);
/** Sizes of each block. */
export const CODE_SIZE: Readonly<Record<CodeSegmentName, number>> = Object.freeze(
  Object.fromEntries(CODE_SEGMENTS.map((s) => [s.name, s.size])) as Record<CodeSegmentName, number>,
);

/** Views of the blocks of one code vector (see `codeSlices`). */
export type CodeSlices = Record<CodeSegmentName, Float64Array>;

/**
 * Splits x into its blocks. The returned arrays are `subarray` *views* of x (no copy): writing
 * to them writes into x. Use `Float64Array.from(slices.alpha)` for an independent copy.
 * @param x (257) code vector.
 * @throws MofaError('BAD_INPUT') if x does not have CODE_DIM entries.
 */
export function codeSlices(x: Float64Array): CodeSlices {
  checkCodeLength(x);
  const out = {} as CodeSlices;
  for (const s of CODE_SEGMENTS) out[s.name] = x.subarray(s.offset, s.offset + s.size);
  return out;
}

/**
 * Builds a code vector from its blocks; a missing block is all zeros (mean shape, neutral
 * expression, mean albedo, frontal rotation, t = 0, γ = 0 i.e. the ambient offset only).
 * @param parts blocks by name, each of exactly its segment's size.
 * @returns a new Float64Array(257).
 * @throws MofaError('BAD_INPUT') if a block has the wrong length.
 */
export function packCode(parts: Partial<Record<CodeSegmentName, ArrayLike<number>>>): Float64Array {
  const x = new Float64Array(CODE_DIM);
  for (const s of CODE_SEGMENTS) {
    const v = parts[s.name];
    if (v === undefined) continue;
    if (v.length !== s.size) {
      throw new MofaError('BAD_INPUT', `code block '${s.name}' has ${v.length} entries, expected ${s.size} (${s.unit})`);
    }
    for (let k = 0; k < s.size; k++) x[s.offset + k] = v[k];
  }
  return x;
}

/** @throws MofaError('BAD_INPUT') unless x has CODE_DIM entries. */
export function checkCodeLength(x: ArrayLike<number>): void {
  if (x.length !== CODE_DIM) {
    throw new MofaError('BAD_INPUT', `the code vector has ${x.length} entries, expected ${CODE_DIM} (α 80 | δ 64 | β 80 | rotation 3 | translation 3 | γ 27)`);
  }
}

/**
 * WGSL `const` declarations of the layout, to be prepended to shaders that index the code:
 * `CODE_DIM` and, per block, `CODE_<NAME>_OFFSET` and `CODE_<NAME>_SIZE` (u32).
 * The committed wgsl/generated/code-layout.wgsl is this string (tools/gen-wgsl-constants.ts).
 */
export function wgslCodeLayoutConstants(): string {
  const lines = [
    '// GENERATED by tools/gen-wgsl-constants.ts from sdk/model/code-layout.ts — do not edit.',
    '// Layout of the 257-d code vector x (paper Eq. 1); see docs/design/opt.md.',
    `const CODE_DIM: u32 = ${CODE_DIM}u;`,
  ];
  for (const s of CODE_SEGMENTS) {
    const up = s.name.toUpperCase();
    lines.push(`// ${s.name} [${s.offset}, ${s.offset + s.size}), unit: ${s.unit}`);
    lines.push(`const CODE_${up}_OFFSET: u32 = ${s.offset}u;`);
    lines.push(`const CODE_${up}_SIZE: u32 = ${s.size}u;`);
  }
  return lines.join('\n') + '\n';
}
