/**
 * Binary glTF 2.0 (GLB) export of triangle meshes (pure TypeScript, browser and Node).
 *
 * Layout (glTF 2.0 spec, "GLB File Format Specification"): 12-byte header (magic "glTF",
 * version 2, total length), a JSON chunk padded with spaces and a BIN chunk padded with zeros,
 * both to 4 bytes; every bufferView starts on a 4-byte boundary. Per mesh, one triangle
 * primitive (mode 4) with non-interleaved float32 attributes:
 * - POSITION (VEC3, with accessor min/max as the spec requires): the caller's values, unchanged
 *   (reconstruct(): camera frame, millimetres);
 * - NORMAL (VEC3) when `normal` is given;
 * - TEXCOORD_0 (VEC2) when `uv` is given, flipped to glTF's top-left origin: (u, 1 − v);
 * - COLOR_0 (VEC3) when `color` is given: LINEAR RGB, clamped to 0..1 (glTF vertex colours are
 *   linear, so the albedo is stored as is; compare OBJ, which sRGB-encodes);
 * - indices: UNSIGNED_SHORT when the mesh has ≤ 65,535 vertices, else UNSIGNED_INT.
 *
 * Units: glTF's unit is the metre. The vertex data keep the caller's unit; the conversion is
 * APPLIED as a uniform scale `unitScale` (default 0.001: mm → m) on the root node that holds
 * the mesh nodes, and recorded in `asset.extras` (`vertexUnit`, `rootNodeScale`). Frame: the
 * reconstruct() camera frame (+x image right, +y up, camera looking down −z) is glTF's own
 * camera convention, so no rotation is applied. The optional camera node (at the origin,
 * unscaled) has the photo's focal length, but glTF cameras are symmetric: their view is centred
 * on the principal point, which for reconstruct() is the face crop's centre, not the image
 * centre. So the camera shows the face centred; to overlay the photo, shift the view by the
 * principal-point offset (the intrinsics are in the camera's `extras`; three.js:
 * `camera.setViewOffset`), or project with `face.projectToImage()`.
 * One material (metallic 0, roughness 1, base colour white) makes COLOR_0 the diffuse colour.
 */
import { MofaError } from '../errors.js';
import type { CameraIntrinsics } from '../model/camera.js';
import { checkExportMesh, clamp01, safeName, type ExportMesh } from './export-mesh.js';

/** Options of `encodeGlb`. */
export interface GlbOptions {
  /**
   * Metres per vertex unit, applied as the root node's uniform scale (> 0, finite). Default
   * 0.001 (vertex data in millimetres, as reconstruct() returns them). 1 = no scale node.
   */
  unitScale?: number;
  /**
   * Adds a perspective camera node at the origin looking down −z with the vertical field of
   * view 2·atan(height / (2·focalPx)) and aspect width / height of these intrinsics
   * (reconstruct(): `face.pose.intrinsics`), which are also stored in the camera's `extras`
   * (the principal point (cx, cy) cannot be expressed by a glTF camera: module comment).
   * Default none.
   */
  camera?: CameraIntrinsics;
  /** `asset.generator`. Default "mofa-web". */
  generator?: string;
  /** Extra JSON-serialisable fields merged into `asset.extras`. Default none. */
  extras?: Record<string, unknown>;
}

/** glTF constants used below (glTF 2.0 spec, accessor.componentType / bufferView.target). */
const FLOAT = 5126, UNSIGNED_SHORT = 5123, UNSIGNED_INT = 5125;
const ARRAY_BUFFER = 34962, ELEMENT_ARRAY_BUFFER = 34963;
const GLB_MAGIC = 0x46546c67, CHUNK_JSON = 0x4e4f534a, CHUNK_BIN = 0x004e4942;

const align4 = (n: number): number => (n + 3) & ~3;

/**
 * Encodes one or more meshes as a GLB file (module comment for the layout and units).
 * @returns the GLB bytes.
 * @throws MofaError('BAD_INPUT') for inconsistent arrays (see `checkExportMesh`) or a bad
 *   `unitScale` / `camera`.
 */
export function encodeGlb(meshes: ExportMesh | ExportMesh[], options: GlbOptions = {}): Uint8Array {
  const list = Array.isArray(meshes) ? meshes : [meshes];
  const unitScale = options.unitScale ?? 0.001;
  if (!(Number.isFinite(unitScale) && unitScale > 0)) throw new MofaError('BAD_INPUT', `unitScale must be a finite number > 0 (metres per vertex unit), got ${unitScale}`);
  const counts = list.map((m, i) => checkExportMesh(m, `meshes[${i}]`));

  // Binary payload: one bufferView per attribute, each at a 4-byte aligned offset.
  const parts: { bytes: Uint8Array; offset: number }[] = [];
  const bufferViews: object[] = [];
  const accessors: object[] = [];
  let byteLength = 0;
  const addView = (data: Float32Array | Uint16Array | Uint32Array, target: number): number => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    parts.push({ bytes, offset: byteLength });
    bufferViews.push({ buffer: 0, byteOffset: byteLength, byteLength: bytes.byteLength, target });
    byteLength = align4(byteLength + bytes.byteLength);
    return bufferViews.length - 1;
  };
  const addAccessor = (data: Float32Array | Uint16Array | Uint32Array, type: 'SCALAR' | 'VEC2' | 'VEC3', extra: object = {}): number => {
    const per = type === 'SCALAR' ? 1 : type === 'VEC2' ? 2 : 3;
    const componentType = data instanceof Float32Array ? FLOAT : data instanceof Uint16Array ? UNSIGNED_SHORT : UNSIGNED_INT;
    const target = data instanceof Float32Array ? ARRAY_BUFFER : ELEMENT_ARRAY_BUFFER;
    accessors.push({ bufferView: addView(data, target), componentType, count: data.length / per, type, ...extra });
    return accessors.length - 1;
  };

  const gltfMeshes = list.map((m, i) => {
    const n = counts[i].vertices;
    const position = Float32Array.from(m.position);
    const attributes: Record<string, number> = { POSITION: addAccessor(position, 'VEC3', positionBounds(position)) };
    if (m.normal) attributes.NORMAL = addAccessor(Float32Array.from(m.normal), 'VEC3');
    if (m.uv) attributes.TEXCOORD_0 = addAccessor(flipV(m.uv), 'VEC2');
    if (m.color) attributes.COLOR_0 = addAccessor(Float32Array.from(m.color, clamp01), 'VEC3');
    // 65535 is the primitive-restart value of UNSIGNED_SHORT and may not appear as an index.
    const indices = n <= 65535 ? Uint16Array.from(m.index) : Uint32Array.from(m.index);
    return { name: safeName(m.name, i), primitives: [{ attributes, indices: addAccessor(indices, 'SCALAR'), material: 0, mode: 4 }] };
  });

  const meshNodes = list.map((_, i) => ({ name: gltfMeshes[i].name, mesh: i }));
  const nodes: object[] = [];
  const sceneNodes: number[] = [];
  if (unitScale === 1) {
    nodes.push(...meshNodes);
    sceneNodes.push(...meshNodes.map((_, i) => i));
  } else {
    nodes.push({ name: 'mofa-web', scale: [unitScale, unitScale, unitScale], children: meshNodes.map((_, i) => i + 1) }, ...meshNodes);
    sceneNodes.push(0);
  }
  const cameras: object[] = [];
  if (options.camera) {
    cameras.push(perspectiveCamera(options.camera));
    nodes.push({ name: 'camera', camera: 0 });
    sceneNodes.push(nodes.length - 1);
  }

  const json: Record<string, unknown> = {
    asset: {
      version: '2.0',
      generator: options.generator ?? 'mofa-web',
      extras: {
        vertexUnit: unitScale === 0.001 ? 'millimetre' : `${unitScale} m`,
        rootNodeScale: unitScale,
        colorSpace: 'COLOR_0 is linear RGB (albedo), clamped to 0..1',
        ...options.extras,
      },
    },
    scene: 0,
    scenes: [{ name: 'mofa-web', nodes: sceneNodes }],
    nodes,
    meshes: gltfMeshes,
    materials: [{ name: 'albedo', pbrMetallicRoughness: { baseColorFactor: [1, 1, 1, 1], metallicFactor: 0, roughnessFactor: 1 } }],
    accessors,
    bufferViews,
    buffers: [{ byteLength }],
  };
  if (cameras.length) json.cameras = cameras;
  return assembleGlb(json, parts, byteLength);
}

/** Accessor bounds of a (N, 3) float32 position array (exact float32 values, as the spec requires). */
function positionBounds(p: Float32Array): { min: number[]; max: number[] } {
  const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < p.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = p[i + c];
      if (v < min[c]) min[c] = v;
      if (v > max[c]) max[c] = v;
    }
  }
  return { min, max };
}

/** (N, 2) v-up texture coordinates → glTF's v-down: (u, 1 − v), float32. */
function flipV(uv: ArrayLike<number>): Float32Array {
  const out = new Float32Array(uv.length);
  for (let i = 0; i < uv.length; i += 2) {
    out[i] = uv[i];
    out[i + 1] = 1 - uv[i + 1];
  }
  return out;
}

/**
 * glTF perspective camera of pinhole intrinsics: yfov = 2·atan(height / (2·f)) radians,
 * aspectRatio = width / height, znear 0.01 m (the camera node is not scaled, so this is in metres).
 */
function perspectiveCamera(k: CameraIntrinsics): object {
  if (!(k.focalPx > 0 && k.width > 0 && k.height > 0)) throw new MofaError('BAD_INPUT', `camera intrinsics need focalPx, width, height > 0, got ${k.focalPx}, ${k.width}, ${k.height}`);
  return {
    name: 'photo camera',
    type: 'perspective',
    perspective: { yfov: 2 * Math.atan(k.height / (2 * k.focalPx)), aspectRatio: k.width / k.height, znear: 0.01 },
    extras: { intrinsicsPx: { focalPx: k.focalPx, cx: k.cx, cy: k.cy, width: k.width, height: k.height }, note: 'principal point (cx, cy), image px from the top-left, is not the image centre: the glTF view is centred on it' },
  };
}

/** Writes the GLB container: header, JSON chunk (space-padded), BIN chunk (zero-padded). */
function assembleGlb(json: object, parts: { bytes: Uint8Array; offset: number }[], binLength: number): Uint8Array {
  const jsonBytes = new TextEncoder().encode(JSON.stringify(json));
  const jsonLength = align4(jsonBytes.length);
  const total = 12 + 8 + jsonLength + 8 + binLength;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, GLB_MAGIC, true);
  dv.setUint32(4, 2, true);
  dv.setUint32(8, total, true);
  dv.setUint32(12, jsonLength, true);
  dv.setUint32(16, CHUNK_JSON, true);
  out.set(jsonBytes, 20);
  out.fill(0x20, 20 + jsonBytes.length, 20 + jsonLength);
  const bin = 20 + jsonLength;
  dv.setUint32(bin, binLength, true);
  dv.setUint32(bin + 4, CHUNK_BIN, true);
  for (const p of parts) out.set(p.bytes, bin + 8 + p.offset); // gaps stay zero
  return out;
}
