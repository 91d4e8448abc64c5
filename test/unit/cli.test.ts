/**
 * The `mofa-web` CLI (sdk/node/cli.ts via bin/mofa-web.mjs: dist/cli.js after `npm run build`,
 * else the TS source through tsx) and the OBJ / GLB exporters (sdk/export/).
 * Exporters: a 2-triangle quad (and a > 65,535-vertex mesh for 32-bit indices), OBJ parsed back,
 * GLB checked against the glTF 2.0 container rules (header, chunk types and padding, 4-byte
 * aligned bufferViews, accessors inside their views, POSITION min/max) and read back.
 * CLI: argument errors → exit 2 with the usage; a non-image file → BAD_INPUT, exit 1, while the
 * portrait in the same run still succeeds; OBJ and GLB outputs of the astronaut ('fast': T1,
 * 7,152 vertices, 14,080 triangles) parse; --json summary lines parse.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MofaError } from '../../sdk/errors.js';
import { linearToSrgb, type ExportMesh } from '../../sdk/export/export-mesh.js';
import { encodeGlb } from '../../sdk/export/gltf.js';
import { encodeObj } from '../../sdk/export/obj.js';
import { main, parseArgs, USAGE, type CliIo } from '../../sdk/node/cli.js';

const T1_VERTICES = 7152;
const T1_TRIANGLES = 14080;

/** Unit quad in the z = −500 plane (mm), two counter-clockwise triangles. */
function quad(): Required<ExportMesh> {
  return {
    name: 'quad',
    position: Float32Array.of(0, 0, -500, 10, 0, -500, 10, 10, -500, 0, 10, -500.25),
    normal: Float32Array.of(0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1),
    uv: Float32Array.of(0, 0, 1, 0, 1, 1, 0, 1),
    index: Uint32Array.of(0, 1, 2, 0, 2, 3),
    color: Float32Array.of(0, 0.5, 1, 0.25, 0.002, 1.5, 0.5, 0.5, 0.5, -0.1, 0.18, 0.9),
  };
}

// ---------------------------------------------------------------- OBJ / GLB readers (test side)

interface ParsedObj {
  v: number[][];
  vt: number[][];
  vn: number[][];
  /** Each face: 3 corners of [v, vt, vn] 1-based indices (NaN where absent). */
  f: number[][][];
  o: string[];
}

function parseObj(text: string): ParsedObj {
  const out: ParsedObj = { v: [], vt: [], vn: [], f: [], o: [] };
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [tag, ...rest] = line.split(' ');
    if (tag === 'o') out.o.push(rest.join(' '));
    else if (tag === 'v' || tag === 'vt' || tag === 'vn') {
      const nums = rest.map(Number);
      expect(nums.every(Number.isFinite), line).toBe(true);
      out[tag].push(nums);
    } else if (tag === 'f') out.f.push(rest.map((c) => c.split('/').map((s) => (s === '' ? NaN : Number(s)))));
    else throw new Error(`unexpected OBJ line: ${line}`);
  }
  return out;
}

interface Glb {
  json: {
    asset: { version: string; extras?: Record<string, unknown> };
    scene: number;
    scenes: { nodes: number[] }[];
    nodes: { mesh?: number; camera?: number; scale?: number[]; children?: number[] }[];
    meshes: { name: string; primitives: { attributes: Record<string, number>; indices: number; material: number; mode: number }[] }[];
    accessors: { bufferView: number; componentType: number; count: number; type: string; min?: number[]; max?: number[] }[];
    bufferViews: { buffer: number; byteOffset: number; byteLength: number; target?: number }[];
    buffers: { byteLength: number }[];
    materials: object[];
    cameras?: { type: string; perspective: { yfov: number; aspectRatio: number; znear: number } }[];
  };
  bin: Uint8Array;
}

const COMPONENT_BYTES: Record<number, number> = { 5126: 4, 5125: 4, 5123: 2, 5121: 1 };
const TYPE_SIZE: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4 };

/** Parses a GLB and checks the container and buffer rules of the glTF 2.0 spec. */
function parseGlb(bytes: Uint8Array): Glb {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(dv.getUint32(0, true), 'magic "glTF"').toBe(0x46546c67);
  expect(dv.getUint32(4, true), 'version').toBe(2);
  expect(dv.getUint32(8, true), 'header length = file length').toBe(bytes.byteLength);
  const jsonLength = dv.getUint32(12, true);
  expect(jsonLength % 4, 'JSON chunk padded to 4 bytes').toBe(0);
  expect(dv.getUint32(16, true), 'chunk 0 is JSON').toBe(0x4e4f534a);
  const jsonText = new TextDecoder().decode(bytes.subarray(20, 20 + jsonLength));
  const padding = jsonText.slice(jsonText.lastIndexOf('}') + 1);
  expect(padding, 'JSON chunk padded with 0..3 spaces').toMatch(/^ {0,3}$/);
  const json = JSON.parse(jsonText) as Glb['json'];
  const binAt = 20 + jsonLength;
  const binLength = dv.getUint32(binAt, true);
  expect(binLength % 4, 'BIN chunk padded to 4 bytes').toBe(0);
  expect(dv.getUint32(binAt + 4, true), 'chunk 1 is BIN').toBe(0x004e4942);
  expect(binAt + 8 + binLength, 'no bytes after the BIN chunk').toBe(bytes.byteLength);
  const bin = bytes.subarray(binAt + 8, binAt + 8 + binLength);

  expect(json.asset.version).toBe('2.0');
  expect(json.buffers).toHaveLength(1);
  expect(json.buffers[0].byteLength).toBeLessThanOrEqual(binLength);
  expect(binLength - json.buffers[0].byteLength).toBeLessThan(4);
  for (const v of json.bufferViews) {
    expect(v.byteOffset % 4, 'bufferView 4-byte aligned').toBe(0);
    expect(v.byteOffset + v.byteLength).toBeLessThanOrEqual(json.buffers[0].byteLength);
  }
  for (const a of json.accessors) {
    const view = json.bufferViews[a.bufferView];
    expect(view).toBeDefined();
    expect(a.count * TYPE_SIZE[a.type] * COMPONENT_BYTES[a.componentType], 'accessor fits its view exactly').toBe(view.byteLength);
  }
  for (const m of json.meshes) {
    for (const p of m.primitives) {
      const pos = json.accessors[p.attributes.POSITION];
      expect(pos.type).toBe('VEC3');
      expect(pos.min).toHaveLength(3);
      expect(pos.max).toHaveLength(3);
      const data = readAccessor({ json, bin }, p.attributes.POSITION);
      for (let c = 0; c < 3; c++) {
        let lo = Infinity, hi = -Infinity;
        for (let i = c; i < data.length; i += 3) (lo = Math.min(lo, data[i])), (hi = Math.max(hi, data[i]));
        expect(pos.min![c], 'POSITION min').toBe(lo);
        expect(pos.max![c], 'POSITION max').toBe(hi);
      }
      for (const k of Object.values(p.attributes)) expect(json.accessors[k].count).toBe(pos.count);
      const idx = readAccessor({ json, bin }, p.indices);
      expect(idx.length % 3).toBe(0);
      expect(Math.max(...idx)).toBeLessThan(pos.count);
      expect(json.bufferViews[json.accessors[p.indices].bufferView].target).toBe(34963);
    }
  }
  return { json, bin };
}

function readAccessor(glb: Pick<Glb, 'json' | 'bin'>, i: number): Float32Array | Uint16Array | Uint32Array {
  const a = glb.json.accessors[i];
  const v = glb.json.bufferViews[a.bufferView];
  const n = a.count * TYPE_SIZE[a.type];
  const bytes = glb.bin.slice(v.byteOffset, v.byteOffset + v.byteLength); // copy: aligned for the typed array
  if (a.componentType === 5126) return new Float32Array(bytes.buffer, 0, n);
  if (a.componentType === 5125) return new Uint32Array(bytes.buffer, 0, n);
  if (a.componentType === 5123) return new Uint16Array(bytes.buffer, 0, n);
  throw new Error(`componentType ${a.componentType}`);
}

// ---------------------------------------------------------------- exporters

describe('encodeObj', () => {
  it('writes v (with sRGB vertex colours), vt, vn and v/vt/vn faces that parse back', () => {
    const m = quad();
    const obj = parseObj(encodeObj(m, { comment: 'test\nsecond line' }));
    expect(obj.o).toEqual(['quad']);
    expect(obj.v).toHaveLength(4);
    expect(obj.vt).toHaveLength(4);
    expect(obj.vn).toHaveLength(4);
    expect(obj.f).toEqual([
      [[1, 1, 1], [2, 2, 2], [3, 3, 3]],
      [[1, 1, 1], [3, 3, 3], [4, 4, 4]],
    ]);
    for (let k = 0; k < 4; k++) {
      expect(obj.v[k]).toHaveLength(6);
      for (let c = 0; c < 3; c++) {
        expect(obj.v[k][c]).toBeCloseTo(m.position[3 * k + c], 4);
        expect(obj.vn[k][c]).toBeCloseTo(m.normal[3 * k + c], 5);
        expect(obj.v[k][3 + c], 'sRGB-encoded, clamped').toBeCloseTo(linearToSrgb(m.color[3 * k + c]), 4);
      }
      expect(obj.vt[k]).toEqual([m.uv[2 * k], m.uv[2 * k + 1]]); // v up, unchanged
    }
    // sRGB transfer function values (IEC 61966-2-1): 0.5 linear → 0.7354, 0.18 → 0.4614; clamping.
    expect(obj.v[0].slice(3)).toEqual([0, 0.7354, 1]);
    expect(obj.v[1][5]).toBe(1);
    expect(obj.v[3][3]).toBe(0);
    expect(obj.v[3][4]).toBe(0.4614);
    expect(obj.v[1][4]).toBeCloseTo(12.92 * 0.002, 4); // linear segment
  });

  it('offsets the indices of a second mesh and writes a//n or plain faces without uv / normals', () => {
    const a = quad();
    const b: ExportMesh = { position: a.position, normal: a.normal, index: a.index };
    const c: ExportMesh = { name: 'bad name!', position: a.position, index: a.index };
    const obj = parseObj(encodeObj([a, b, c]));
    expect(obj.o).toEqual(['quad', 'mesh_1', 'bad_name_']);
    expect(obj.v).toHaveLength(12);
    expect(obj.v[4]).toHaveLength(3); // no colour
    expect(obj.f[2]).toEqual([[5, NaN, 5], [6, NaN, 6], [7, NaN, 7]]);
    expect(obj.f[4]).toEqual([[9], [10], [11]]);
  });

  it('rejects inconsistent arrays with BAD_INPUT', () => {
    const m = quad();
    expect(() => encodeObj({ ...m, index: Uint32Array.of(0, 1, 4) })).toThrow(MofaError);
    expect(() => encodeObj({ ...m, uv: new Float32Array(6) })).toThrow(/uv has 6 numbers/);
    expect(() => encodeObj({ ...m, position: Float32Array.of(0, 0, NaN, 1, 0, 0, 1, 1, 0, 0, 1, 0) })).toThrow(/finite/);
    try {
      encodeObj({ ...m, index: Uint32Array.of(0, 1) });
    } catch (e) {
      expect((e as MofaError).code).toBe('BAD_INPUT');
    }
  });
});

describe('encodeGlb', () => {
  it('writes a valid GLB 2.0 whose attributes read back (uv flipped, colours linear clamped, mm → m node scale)', () => {
    const m = quad();
    const glb = parseGlb(encodeGlb(m, { camera: { focalPx: 1000, cx: 256, cy: 256, width: 512, height: 384 } }));
    const { json } = glb;
    expect(json.meshes).toHaveLength(1);
    const p = json.meshes[0].primitives[0];
    expect(p.mode).toBe(4);
    expect(Object.keys(p.attributes).sort()).toEqual(['COLOR_0', 'NORMAL', 'POSITION', 'TEXCOORD_0']);
    expect(Array.from(readAccessor(glb, p.attributes.POSITION))).toEqual(Array.from(m.position));
    expect(json.accessors[p.attributes.POSITION].min).toEqual([0, 0, -500.25]);
    expect(json.accessors[p.attributes.POSITION].max).toEqual([10, 10, -500]);
    expect(Array.from(readAccessor(glb, p.attributes.NORMAL))).toEqual(Array.from(m.normal));
    expect(Array.from(readAccessor(glb, p.attributes.TEXCOORD_0))).toEqual([0, 1, 1, 1, 1, 0, 0, 0]);
    const col = readAccessor(glb, p.attributes.COLOR_0);
    expect(Array.from(col)).toEqual(Array.from(m.color, (v) => Math.fround(Math.min(1, Math.max(0, v)))));
    expect(json.accessors[p.indices].componentType).toBe(5123); // UNSIGNED_SHORT
    expect(Array.from(readAccessor(glb, p.indices))).toEqual([0, 1, 2, 0, 2, 3]);
    // Scene: root node scaled mm → m holding the mesh node; camera node unscaled at the origin.
    const root = json.nodes[json.scenes[json.scene].nodes[0]];
    expect(root.scale).toEqual([0.001, 0.001, 0.001]);
    expect(json.nodes[root.children![0]].mesh).toBe(0);
    expect(json.asset.extras?.rootNodeScale).toBe(0.001);
    const camNode = json.nodes[json.scenes[0].nodes[1]];
    expect(camNode.camera).toBe(0);
    expect(json.cameras![0].perspective.yfov).toBeCloseTo(2 * Math.atan(384 / 2000), 12);
    expect(json.cameras![0].perspective.aspectRatio).toBeCloseTo(512 / 384, 12);
    expect((json.materials[0] as { pbrMetallicRoughness: { metallicFactor: number } }).pbrMetallicRoughness.metallicFactor).toBe(0);
  });

  it('two meshes, no scale node for unitScale 1, optional attributes left out, 32-bit indices above 65,535 vertices', () => {
    const a = quad();
    const big: ExportMesh = { position: new Float32Array(3 * 65536), index: Uint32Array.of(0, 1, 65535) };
    big.position = Float32Array.from(big.position, (_, i) => i % 7);
    const glb = parseGlb(encodeGlb([{ position: a.position, index: a.index }, big], { unitScale: 1 }));
    expect(glb.json.scenes[0].nodes).toEqual([0, 1]);
    expect(glb.json.nodes.every((n) => n.scale === undefined)).toBe(true);
    expect(Object.keys(glb.json.meshes[0].primitives[0].attributes)).toEqual(['POSITION']);
    const bigIdx = glb.json.meshes[1].primitives[0].indices;
    expect(glb.json.accessors[bigIdx].componentType).toBe(5125); // UNSIGNED_INT
    expect(Array.from(readAccessor(glb, bigIdx))).toEqual([0, 1, 65535]);
    expect(() => encodeGlb(a, { unitScale: 0 })).toThrow(/unitScale/);
    expect(() => encodeGlb({ ...a, index: Uint32Array.of(0, 1, 9) })).toThrow(MofaError);
  });
});

// ---------------------------------------------------------------- CLI

function capture(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  return { out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l) };
}

const BIN = 'bin/mofa-web.mjs';

/** Runs bin/mofa-web.mjs in a child process. */
function runBin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'mofa-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('CLI arguments', () => {
  it('parses images and options in any order, --opt=value, and the defaults', () => {
    expect(parseArgs(['reconstruct', 'a.png', '--out', 'o', 'b.jpg', '--format=glb', '--max-faces', '3', '--json'])).toEqual({
      images: ['a.png', 'b.jpg'], out: 'o', format: 'glb', quality: 'fast', backend: 'auto', maxFaces: 3, json: true,
    });
    expect(parseArgs(['reconstruct', '--out', 'o', '--quality', 'high', '--backend', 'wasm', '--', '--weird.png'])).toMatchObject({ images: ['--weird.png'], quality: 'high', backend: 'wasm' });
    expect(parseArgs(['reconstruct', '--help'])).toBe('help');
  });

  it.each([
    [[], /missing command/],
    [['rebuild', 'a.png', '--out', 'o'], /unknown command 'rebuild'/],
    [['reconstruct', '--out', 'o'], /no input images/],
    [['reconstruct', 'a.png'], /--out <dir> is required/],
    [['reconstruct', 'a.png', '--out'], /--out needs a value/],
    [['reconstruct', 'a.png', '--out', 'o', '--format', 'stl'], /--format must be one of obj, glb, json/],
    [['reconstruct', 'a.png', '--out', 'o', '--quality', 'best'], /--quality must be one of/],
    [['reconstruct', 'a.png', '--out', 'o', '--backend', 'cuda'], /--backend must be one of/],
    [['reconstruct', 'a.png', '--out', 'o', '--max-faces', '0'], /--max-faces must be an integer 1\.\.16/],
    [['reconstruct', 'a.png', '--out', 'o', '--max-faces', '2.5'], /--max-faces/],
    [['reconstruct', 'a.png', '--out', 'o', '--verbose'], /unknown option '--verbose'/],
  ])('usage error %j → exit 2 with the message and the usage on stderr, nothing on stdout', async (argv, message) => {
    const io = capture();
    expect(await main(argv as string[], io)).toBe(2);
    expect(io.out).toEqual([]);
    expect(io.err.join('\n')).toMatch(message);
    expect(io.err.join('\n')).toContain(USAGE);
  });

  it('--help prints the usage on stdout, exit 0', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toEqual([USAGE]);
  });
});

// npm test runs `npm run build` first, so these exercise dist/cli.js; a source checkout without a
// build runs sdk/node/cli.ts through tsx.
describe(`CLI end to end (bin/mofa-web.mjs → ${existsSync('dist/cli.js') ? 'dist/cli.js' : 'sdk/node/cli.ts via tsx'})`, () => {
  it('bad arguments: exit 2 and the usage', async () => {
    const r = await runBin(['reconstruct', 'demo/assets/astronaut.png', '--format', 'ply', '--out', tmp]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--format must be one of obj, glb, json');
    expect(r.stderr).toContain('Usage: mofa-web reconstruct');
    expect(r.stdout).toBe('');
  });

  it('--format obj --json: a non-image file fails with BAD_INPUT (exit 1) while the portrait after it succeeds', async () => {
    const out = join(tmp, 'obj');
    const bad = join(tmp, 'notes.png');
    writeFileSync(bad, 'this is not an image\n');
    const r = await runBin(['reconstruct', bad, 'demo/assets/astronaut.png', '--out', out, '--format', 'obj', '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/notes\.png: BAD_INPUT: /);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ image: bad, ok: false, error: { code: 'BAD_INPUT' } });
    const s = lines[1];
    expect(s).toMatchObject({ image: 'demo/assets/astronaut.png', ok: true, faces: 1, vertices: [T1_VERTICES], triangles: [T1_TRIANGLES], quality: 'fast', imageSize: { width: 512, height: 512 } });
    expect(s.files).toEqual([join(out, 'astronaut.obj'), join(out, 'astronaut.json')]);
    expect(['wasm', 'webgpu']).toContain(s.backend);
    expect(s.ms).toBeGreaterThan(0);
    expect(existsSync(join(out, 'notes.obj'))).toBe(false);

    const obj = parseObj(readFileSync(join(out, 'astronaut.obj'), 'utf8'));
    expect(obj.o).toEqual(['face_0']);
    expect(obj.v).toHaveLength(T1_VERTICES);
    expect(obj.vt).toHaveLength(T1_VERTICES);
    expect(obj.vn).toHaveLength(T1_VERTICES);
    expect(obj.f).toHaveLength(T1_TRIANGLES);
    for (const v of obj.v) {
      expect(v).toHaveLength(6);
      expect(v[2], 'camera frame: in front of the camera, z < 0 (mm)').toBeLessThan(-100);
      for (let c = 3; c < 6; c++) expect(v[c] >= 0 && v[c] <= 1).toBe(true);
    }
    for (const f of obj.f) for (const corner of f) expect(corner[0] >= 1 && corner[0] <= T1_VERTICES && corner[0] === corner[1] && corner[1] === corner[2]).toBe(true);

    const doc = JSON.parse(readFileSync(join(out, 'astronaut.json'), 'utf8'));
    expect(doc.format).toBe('mofa-web/reconstruction');
    expect(doc.faces).toHaveLength(1);
    const face = doc.faces[0];
    expect(face.landmarks).toHaveLength(468);
    expect(face.landmarks.every((p: number[]) => p.length === 2 && p[0] > 0 && p[0] < 512 && p[1] > 0 && p[1] < 512)).toBe(true);
    expect(face.lighting.sh).toHaveLength(27);
    expect(face.code).toHaveLength(257);
    expect(face.pose.matrix).toHaveLength(9);
    expect(Object.keys(face.blendshapes).length).toBeGreaterThan(0);
    expect(face.faceBox.width).toBeGreaterThan(0);
    expect(face.mesh).toBeUndefined(); // mesh only with --format json
    expect(doc.diagnostics.quality).toBe('fast');
  }, 90_000);

  it('--format glb: exit 0, a valid GLB 2.0 with the T1 mesh in mm under a 0.001 scale node', async () => {
    const out = join(tmp, 'glb');
    const r = await runBin(['reconstruct', 'demo/assets/astronaut.png', '--out', out, '--format', 'glb']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/astronaut\.png: 1 face\(s\), 7152 vertices/);
    const glb = parseGlb(new Uint8Array(readFileSync(join(out, 'astronaut.glb'))));
    const p = glb.json.meshes[0].primitives[0];
    expect(Object.keys(p.attributes).sort()).toEqual(['COLOR_0', 'NORMAL', 'POSITION', 'TEXCOORD_0']);
    expect(glb.json.accessors[p.attributes.POSITION].count).toBe(T1_VERTICES);
    expect(glb.json.accessors[p.indices].count).toBe(3 * T1_TRIANGLES);
    expect(glb.json.accessors[p.attributes.POSITION].max![2]).toBeLessThan(-100); // mm, camera frame
    const normals = readAccessor(glb, p.attributes.NORMAL);
    for (let i = 0; i < normals.length; i += 3) expect(Math.hypot(normals[i], normals[i + 1], normals[i + 2])).toBeCloseTo(1, 3);
    expect(glb.json.nodes[glb.json.scenes[0].nodes[0]].scale).toEqual([0.001, 0.001, 0.001]);
    expect(glb.json.cameras).toHaveLength(1);
    expect(existsSync(join(out, 'astronaut.json'))).toBe(true);
  }, 90_000);

  it('--format json: mesh and albedo inside <name>.json, no mesh file', async () => {
    const out = join(tmp, 'json');
    const r = await runBin(['reconstruct', 'demo/assets/astronaut.png', '--out', out, '--format', 'json', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim()).files).toEqual([join(out, 'astronaut.json')]);
    expect(existsSync(join(out, 'astronaut.obj')) || existsSync(join(out, 'astronaut.glb'))).toBe(false);
    const face = JSON.parse(readFileSync(join(out, 'astronaut.json'), 'utf8')).faces[0];
    expect(face.mesh.topology).toBe('T1');
    expect(face.mesh.position).toHaveLength(3 * T1_VERTICES);
    expect(face.mesh.normal).toHaveLength(3 * T1_VERTICES);
    expect(face.mesh.uv).toHaveLength(2 * T1_VERTICES);
    expect(face.mesh.index).toHaveLength(3 * T1_TRIANGLES);
    expect(face.albedo).toHaveLength(3 * T1_VERTICES);
    expect(face.albedo.every((v: number) => v > 0 && v < 1.2)).toBe(true);
  }, 90_000);
});
