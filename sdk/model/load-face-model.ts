/**
 * Reader of the `.mofa` face-model bundle (format version 1). The byte layout is specified in
 * models/README.md and written by tools/model/bundle.py:
 *
 *   0  "MOFA" | 4 u32 format version | 8 u32 header length H | 12 u32 data length D
 *   16 header JSON (H bytes) | 16+H data section (D bytes, 16-byte aligned LE arrays)
 *
 * The data section's SHA-256 is checked against the header. Per-vertex model quantities
 * (mean shape, bases, mean albedo) may be stored on a coarse control mesh ("base.*") together
 * with the linear subdivision operator `t1.subdivision` (CSR, T1 vertex = Σ w · base vertex);
 * they are then expanded to T1 here, exactly as tools/model/build_model.py defines them.
 */
import { MofaError } from '../errors.js';
import type { Adjacency, FaceModel } from '../types/face-model.js';
import { sha256Hex } from '../util/sha256.js';

export const FACE_MODEL_FORMAT_VERSION = 1;
const MAGIC = 0x41464f4d; // "MOFA" read as LE u32

type DType = 'f32' | 'f16' | 'u32' | 'u8';
interface ArrayEntry {
  dtype: DType;
  shape: number[];
  offset: number;
  byteLength: number;
}
interface BundleHeader {
  format: string;
  formatVersion: number;
  name: string;
  version: string;
  sha256: string;
  provenance: Record<string, unknown>;
  expressionNames: string[];
  regionNames: string[];
  arrays: Record<string, ArrayEntry>;
}

export type FaceModelSource = string | URL | ArrayBuffer | Uint8Array;

/**
 * Loads and validates a face-model bundle.
 * @param source URL (http(s), blob:, data:, relative to the page), a file path in Node, or the bytes.
 * @throws MofaError 'ASSET_LOAD' when the bytes cannot be fetched/read; 'MODEL_INTEGRITY' when
 *   they are truncated, corrupt (checksum mismatch), inconsistent or of another format version.
 */
export async function loadFaceModel(source: FaceModelSource): Promise<FaceModel> {
  const bytes = await readSource(source);
  return parseFaceModel(bytes);
}

async function readSource(source: FaceModelSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  const str = String(source);
  const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
  if (isNode && !/^(https?|blob|data):/i.test(str)) {
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    const path = str.startsWith('file:') ? new URL(str) : str;
    try {
      const b = await fs.readFile(path);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (cause) {
      throw new MofaError('ASSET_LOAD', `cannot read face model file ${str}: ${(cause as Error).message}`, { cause });
    }
  }
  let res: Response;
  try {
    res = await fetch(str);
  } catch (cause) {
    throw new MofaError('ASSET_LOAD', `cannot fetch face model ${str}: ${(cause as Error).message}; check the URL and CORS/COEP headers`, { cause });
  }
  if (!res.ok) throw new MofaError('ASSET_LOAD', `cannot fetch face model ${str}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

function integrity(msg: string): MofaError {
  return new MofaError('MODEL_INTEGRITY', `face model bundle: ${msg}. Re-download the bundle or regenerate it with \`npm run build:model\`.`);
}

/** Parses and validates bundle bytes (see {@link loadFaceModel}). */
export async function parseFaceModel(bytes: Uint8Array): Promise<FaceModel> {
  if (bytes.byteLength < 16) throw integrity(`file is ${bytes.byteLength} bytes, too short for the 16-byte preamble`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw integrity('missing "MOFA" magic: not a mofa-web face model');
  const version = dv.getUint32(4, true);
  if (version !== FACE_MODEL_FORMAT_VERSION) {
    throw new MofaError(
      'MODEL_INTEGRITY',
      `face model bundle has format version ${version}, this mofa-web reads version ${FACE_MODEL_FORMAT_VERSION}: use a matching mofa-web release or regenerate the bundle`,
    );
  }
  const headerLen = dv.getUint32(8, true);
  const dataLen = dv.getUint32(12, true);
  if (16 + headerLen + dataLen !== bytes.byteLength) {
    throw integrity(`expected ${16 + headerLen + dataLen} bytes, got ${bytes.byteLength} (truncated or padded)`);
  }
  let header: BundleHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + headerLen)));
  } catch {
    throw integrity('header is not valid JSON');
  }
  if (header.format !== 'mofa-face-model' || header.formatVersion !== version) throw integrity('header format fields do not match the preamble');
  // Copy the data section so typed views are aligned regardless of the caller's buffer offset.
  // (An explicit copy: a Node Buffer's `slice` returns a view, not a copy.)
  const data = new Uint8Array(dataLen);
  data.set(bytes.subarray(16 + headerLen));
  const digest = await sha256Hex(data);
  if (digest !== header.sha256) throw integrity(`SHA-256 mismatch (data ${digest.slice(0, 12)}…, header ${String(header.sha256).slice(0, 12)}…)`);

  const get = <T extends Float32Array | Uint32Array | Uint8Array>(name: string, dtype?: DType, shape?: (number | null)[]): T => {
    const e = header.arrays?.[name];
    if (!e) throw integrity(`array "${name}" is missing`);
    if (dtype && !(e.dtype === dtype || (dtype === 'f32' && e.dtype === 'f16'))) throw integrity(`array "${name}" has dtype ${e.dtype}, expected ${dtype}`);
    if (shape && (e.shape.length !== shape.length || shape.some((s, i) => s !== null && s !== e.shape[i]))) {
      throw integrity(`array "${name}" has shape [${e.shape}], expected [${shape.map((s) => s ?? '*')}]`);
    }
    const count = e.shape.reduce((a, b) => a * b, 1);
    const elt = e.dtype === 'f32' || e.dtype === 'u32' ? 4 : e.dtype === 'f16' ? 2 : 1;
    if (e.offset % 16 !== 0 || e.byteLength !== count * elt || e.offset + e.byteLength > data.byteLength) {
      throw integrity(`array "${name}" has an inconsistent table entry`);
    }
    switch (e.dtype) {
      case 'f32': return new Float32Array(data.buffer, e.offset, count) as T;
      case 'u32': return new Uint32Array(data.buffer, e.offset, count) as T;
      case 'u8': return new Uint8Array(data.buffer, e.offset, count) as T;
      case 'f16': return f16ToF32(new Uint16Array(data.buffer, e.offset, count)) as T;
      default: throw integrity(`array "${name}" has unknown dtype ${(e as ArrayEntry).dtype}`);
    }
  };
  const shapeOf = (name: string): number[] => header.arrays?.[name]?.shape ?? [];

  const n1 = shapeOf('t1.uv')[0];
  const n2 = shapeOf('t2.uv')[0];
  if (!n1 || !n2) throw integrity('t1.uv / t2.uv missing');

  // Per-vertex quantities, either stored on T1 directly or on a control mesh + subdivision.
  const hasSub = 't1.subdivision.offsets' in header.arrays;
  const nb = hasSub ? shapeOf('base.meanShape')[0] : n1;
  const prefix = hasSub ? 'base.' : 't1.';
  const meanShapeB = get<Float32Array>(`${prefix}meanShape`, 'f32', [nb, 3]);
  const albedoMeanB = get<Float32Array>(`${prefix}albedoMean`, 'f32', [nb, 3]);
  const shapeB = get<Float32Array>(`${prefix}shapeBasis`, 'f32', [3 * nb, null]);
  const exprB = get<Float32Array>(`${prefix}expressionBasis`, 'f32', [3 * nb, null]);
  const albedoB = get<Float32Array>(`${prefix}albedoBasis`, 'f32', [3 * nb, null]);
  const shapeDim = shapeOf(`${prefix}shapeBasis`)[1];
  const expressionDim = shapeOf(`${prefix}expressionBasis`)[1];
  const albedoDim = shapeOf(`${prefix}albedoBasis`)[1];

  let expand = (a: Float32Array, _width: number): Float32Array => a;
  if (hasSub) {
    const off = get<Uint32Array>('t1.subdivision.offsets', 'u32', [n1 + 1]);
    const idx = get<Uint32Array>('t1.subdivision.indices', 'u32', [null]);
    const w = get<Float32Array>('t1.subdivision.weights', 'f32', [idx.length]);
    checkCsr(off, idx, nb, 't1.subdivision');
    expand = (a, width) => {
      const out = new Float32Array(n1 * width);
      for (let i = 0; i < n1; i++) {
        const o = i * width;
        for (let p = off[i]; p < off[i + 1]; p++) {
          const wj = w[p], s = idx[p] * width;
          for (let c = 0; c < width; c++) out[o + c] += wj * a[s + c];
        }
      }
      return out;
    };
  }

  const t1Index = get<Uint32Array>('t1.index', 'u32', [null, 3]);
  const t2Index = get<Uint32Array>('t2.index', 'u32', [null, 3]);
  checkIndex(t1Index, n1, 't1.index');
  checkIndex(t2Index, n2, 't2.index');
  const fromIndex = get<Uint32Array>('t2.fromT1.index', 'u32', [n2, 3]);
  checkIndex(fromIndex, n1, 't2.fromT1.index');
  const fromWeight = get<Float32Array>('t2.fromT1.weight', 'f32', [n2, 3]);
  const adj = (t: 't1' | 't2', n: number): Adjacency => {
    const offsets = get<Uint32Array>(`${t}.adjacency.offsets`, 'u32', [n + 1]);
    const neighbors = get<Uint32Array>(`${t}.adjacency.neighbors`, 'u32', [null]);
    checkCsr(offsets, neighbors, n, `${t}.adjacency`);
    return { offsets, neighbors };
  };

  const mediapipe468 = get<Uint32Array>('landmarks.mediapipe468', 'u32', [468]);
  const ibug68 = get<Uint32Array>('landmarks.ibug68', 'u32', [68]);
  const frontFace = get<Uint32Array>('frontFace', 'u32', [null]);
  checkIndex(mediapipe468, n1, 'landmarks.mediapipe468');
  checkIndex(ibug68, n1, 'landmarks.ibug68');
  checkIndex(frontFace, n1, 'frontFace');
  const regions: Record<string, Uint32Array> = {};
  for (const r of header.regionNames ?? []) {
    regions[r] = get<Uint32Array>(`region.${r}`, 'u32', [null]);
    checkIndex(regions[r], n1, `region.${r}`);
  }
  const expressionNames = header.expressionNames;
  if (!Array.isArray(expressionNames) || expressionNames.length !== expressionDim) throw integrity('expressionNames does not match the expression basis');

  return {
    formatVersion: version,
    version: header.version,
    sha256: header.sha256,
    provenance: header.provenance ?? {},
    t1: {
      vertexCount: n1,
      meanShape: expand(meanShapeB, 3),
      index: t1Index,
      uv: get<Float32Array>('t1.uv', 'f32', [n1, 2]),
      adjacency: adj('t1', n1),
    },
    t2: {
      vertexCount: n2,
      index: t2Index,
      uv: get<Float32Array>('t2.uv', 'f32', [n2, 2]),
      adjacency: adj('t2', n2),
      fromT1: { index: fromIndex, weight: fromWeight },
    },
    shapeBasis: expand(shapeB, 3 * shapeDim),
    shapeDim,
    expressionBasis: expand(exprB, 3 * expressionDim),
    expressionDim,
    expressionNames,
    expressionSigma: get<Float32Array>('expressionSigma', 'f32', [expressionDim]),
    albedoMean: expand(albedoMeanB, 3),
    albedoBasis: expand(albedoB, 3 * albedoDim),
    albedoDim,
    landmarks: { mediapipe468, ibug68 },
    frontFace,
    regions,
  };
}

function checkIndex(a: Uint32Array, n: number, name: string): void {
  for (let i = 0; i < a.length; i++) if (a[i] >= n) throw integrity(`${name}[${i}] = ${a[i]} is out of range (< ${n})`);
}

function checkCsr(off: Uint32Array, idx: Uint32Array, n: number, name: string): void {
  if (off[0] !== 0 || off[off.length - 1] !== idx.length) throw integrity(`${name} offsets do not span its indices`);
  for (let i = 1; i < off.length; i++) if (off[i] < off[i - 1]) throw integrity(`${name} offsets decrease at ${i}`);
  checkIndex(idx, n, name);
}

/** IEEE 754 binary16 → binary32 (exact). */
export function f16ToF32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < h.length; i++) {
    const x = h[i];
    const sign = (x & 0x8000) << 16;
    const exp = (x >> 10) & 0x1f;
    const man = x & 0x3ff;
    if (exp === 0) {
      out[i] = (sign ? -1 : 1) * man * 5.960464477539063e-8; // subnormal: man · 2^-24
    } else if (exp === 31) {
      u[i] = sign | 0x7f800000 | (man << 13);
    } else {
      u[i] = sign | ((exp + 112) << 23) | (man << 13);
    }
  }
  return out;
}
