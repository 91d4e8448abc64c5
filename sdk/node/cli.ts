/**
 * The `mofa-web` command line (Node; issue 5 item 6). Entry: bin/mofa-web.mjs, which runs the
 * Rollup build of this file (dist/cli.js) or, in a source checkout without a build, this file
 * through tsx.
 *
 *   mofa-web reconstruct <image...> --out <dir> [--format obj|glb|json] [--quality fast|balanced|high]
 *                        [--backend auto|wasm|webgpu] [--max-faces N] [--json]
 *
 * Per input image `<name>.<ext>` it writes into --out (the name made unique within the run by
 * appending `-2`, `-3`, … when two inputs share a basename):
 * - `<name>.obj` / `<name>.glb` (formats obj / glb): every reconstructed face's mesh in the
 *   camera frame, mm, with the albedo as vertex colours (sdk/export/obj.ts: sRGB-encoded;
 *   sdk/export/gltf.ts: linear, root node scaled mm → m);
 * - `<name>.json`: per face lighting (SH γ), pose, code, blendshapes, 468 landmarks (image px),
 *   face box and detection score, plus the run's diagnostics; with --format json also each
 *   face's mesh and albedo (then no separate mesh file is written). Layout: `resultToJson`.
 * With --json, one summary JSON line per image goes to stdout (`ImageSummary`), failures
 * included; otherwise one human-readable line per image. Failures are always also reported on
 * stderr as `mofa-web: <image>: <MofaError code>: <message>`, and the run goes on.
 *
 * Exit status: 0 every image succeeded; 1 at least one image failed (or --out could not be
 * created); 2 usage error (nothing was processed; the usage text goes to stderr).
 *
 * Images are decoded here with sdk/node/image-io.ts (PNG, JPEG) and handed to reconstruct() as
 * RGBA buffers, so the Node build does not depend on the library's lazy image-io import.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { MofaError, type MofaErrorCode } from '../errors.js';
import { encodeGlb } from '../export/gltf.js';
import { encodeObj } from '../export/obj.js';
import type { ExportMesh } from '../export/export-mesh.js';
import { createReconstructor, type Reconstructor } from '../reconstructor.js';
import type { ReconstructBackend, ReconstructQuality } from '../types/reconstruct-options.js';
import type { FaceReconstruction, ReconstructionResult } from '../types/reconstruct-result.js';
import { readImage } from './image-io.js';

export const USAGE = `Usage: mofa-web reconstruct <image...> --out <dir> [options]

Reconstructs the faces in each PNG / JPEG image (MoFA: mesh, albedo, SH lighting, pose).

Options:
  --out <dir>          output directory (created if missing); required
  --format <f>         obj | glb | json (default obj)
                         obj:  <name>.obj, vertex colours = sRGB-encoded albedo, mm
                         glb:  <name>.glb, glTF 2.0, COLOR_0 = linear albedo, mm scaled to m
                         json: mesh + albedo inside <name>.json, no mesh file
                       every format also writes <name>.json (lighting, pose, code,
                       blendshapes, 468 landmarks, face box, diagnostics)
  --quality <q>        fast | balanced | high (default fast)
                         fast: landmark fit; balanced: + Gauss-Newton Opt; high: + Refine
  --backend <b>        auto | wasm | webgpu (default auto) for Opt / Refine
  --max-faces <N>      faces per image, 1..16, highest detection score first (default 1)
  --json               print one JSON summary line per image on stdout
  -h, --help           print this help

Meshes are in the camera frame, millimetres (+x image right, +y up, camera looking down -z).
Exit status: 0 all images succeeded, 1 any image failed, 2 usage error.`;

/** Parsed command line of `mofa-web reconstruct`. */
export interface CliArgs {
  images: string[];
  out: string;
  format: 'obj' | 'glb' | 'json';
  quality: ReconstructQuality;
  backend: ReconstructBackend;
  /** Integer 1..16. */
  maxFaces: number;
  json: boolean;
}

/** A command line that cannot be run; `main` prints the message and the usage and returns 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const FORMATS = ['obj', 'glb', 'json'] as const;
const QUALITIES = ['fast', 'balanced', 'high'] as const;
const BACKENDS = ['auto', 'wasm', 'webgpu'] as const;

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${option} must be one of ${allowed.join(', ')}; got '${value}'`);
  return value as T;
}

/**
 * Parses `argv` (without node and the script): `reconstruct`, then images and options in any
 * order; `--opt value` or `--opt=value`; `--` ends the options.
 * @returns the arguments, or 'help' for -h / --help.
 * @throws UsageError.
 */
export function parseArgs(argv: string[]): CliArgs | 'help' {
  if (argv.includes('-h') || argv.includes('--help') || argv[0] === 'help') return 'help';
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('missing command');
  if (command !== 'reconstruct') throw new UsageError(`unknown command '${command}' (the command is 'reconstruct')`);
  const args: Partial<CliArgs> & { images: string[] } = { images: [], format: 'obj', quality: 'fast', backend: 'auto', maxFaces: 1, json: false };
  let optionsDone = false;
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i];
    if (optionsDone || !token.startsWith('-') || token === '-') {
      args.images.push(token);
      continue;
    }
    if (token === '--') {
      optionsDone = true;
      continue;
    }
    const eq = token.indexOf('=');
    const name = eq >= 0 ? token.slice(0, eq) : token;
    const inline = eq >= 0 ? token.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = rest[++i];
      if (v === undefined || (v.startsWith('--') && v.length > 2)) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--out':
        args.out = value();
        if (args.out === '') throw new UsageError('--out needs a directory');
        break;
      case '--format':
        args.format = oneOf(name, value(), FORMATS);
        break;
      case '--quality':
        args.quality = oneOf(name, value(), QUALITIES);
        break;
      case '--backend':
        args.backend = oneOf(name, value(), BACKENDS);
        break;
      case '--max-faces': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > 16) throw new UsageError(`--max-faces must be an integer 1..16; got '${v}'`);
        args.maxFaces = n;
        break;
      }
      case '--json':
        if (inline !== undefined) throw new UsageError('--json takes no value');
        args.json = true;
        break;
      default:
        throw new UsageError(`unknown option '${name}'`);
    }
  }
  if (args.images.length === 0) throw new UsageError('no input images');
  if (args.out === undefined) throw new UsageError('--out <dir> is required');
  return args as CliArgs;
}

/** Where `main` writes (process.stdout / stderr by default; tests capture it). */
export interface CliIo {
  stdout(line: string): void;
  stderr(line: string): void;
}

const processIo: CliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/** The `--json` summary line of one image. */
export type ImageSummary =
  | {
      image: string;
      ok: true;
      /** Files written, paths as given by --out. */
      files: string[];
      faces: number;
      /** Vertices / triangles of each face's mesh. */
      vertices: number[];
      triangles: number[];
      imageSize: { width: number; height: number };
      quality: ReconstructQuality;
      backend: Exclude<ReconstructBackend, 'auto'>;
      /** reconstruct() wall time, ms (diagnostics.stageMs.total). */
      ms: number;
      /** Per face: detection score 0..1 and landmark-fit median error, crop px. */
      detectionScore: number[];
      landmarkMedianPx: number[];
    }
  | { image: string; ok: false; error: { code: MofaErrorCode; message: string } };

/**
 * Runs the CLI. Never throws: errors become exit codes (module comment).
 * @returns the exit status (0, 1 or 2).
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let args: CliArgs;
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help') {
      io.stdout(USAGE);
      return 0;
    }
    args = parsed;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`mofa-web: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  try {
    mkdirSync(args.out, { recursive: true });
  } catch (e) {
    io.stderr(`mofa-web: cannot create the output directory ${args.out}: ${(e as Error).message}`);
    return 1;
  }

  let rec: Reconstructor | undefined;
  let setupError: MofaError | undefined;
  try {
    rec = await createReconstructor({ quality: args.quality, maxFaces: args.maxFaces, backend: args.backend, runIn: 'thread' });
  } catch (e) {
    setupError = asMofaError(e);
  }
  const names = new Set<string>();
  let failed = 0;
  try {
    for (const image of args.images) {
      const name = uniqueName(image, names);
      let summary: ImageSummary;
      try {
        if (setupError) throw setupError;
        summary = await reconstructFile(rec!, image, join(args.out, name), args);
      } catch (e) {
        const err = asMofaError(e);
        summary = { image, ok: false, error: { code: err.code, message: err.message } };
        io.stderr(`mofa-web: ${image}: ${err.code}: ${err.message}`);
      }
      if (!summary.ok) failed++;
      if (args.json) io.stdout(JSON.stringify(summary));
      else if (summary.ok) io.stdout(`${image}: ${summary.faces} face(s), ${summary.vertices.join('+')} vertices → ${summary.files.join(', ')} (${Math.round(summary.ms)} ms, ${summary.quality}, ${summary.backend})`);
    }
  } finally {
    await rec?.close();
  }
  return failed > 0 ? 1 : 0;
}

/** `<basename without extension>`, made unique within the run with `-2`, `-3`, …. */
function uniqueName(image: string, used: Set<string>): string {
  const stem = basename(image, extname(image)) || 'image';
  let name = stem;
  for (let k = 2; used.has(name); k++) name = `${stem}-${k}`;
  used.add(name);
  return name;
}

/** Any thrown value as a MofaError (non-MofaErrors are INTERNAL: a bug to report). */
function asMofaError(e: unknown): MofaError {
  if (e instanceof MofaError) return e;
  return new MofaError('INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
}

/** Reconstructs one image file and writes its outputs at `outBase` + extension. */
async function reconstructFile(rec: Reconstructor, image: string, outBase: string, args: CliArgs): Promise<ImageSummary> {
  const pixels = readImage(image); // MofaError('BAD_INPUT') for unreadable / non-image files
  const result = await rec.reconstruct({ data: pixels.data, width: pixels.width, height: pixels.height });
  const files: string[] = [];
  const write = (path: string, data: string | Uint8Array): void => {
    try {
      writeFileSync(path, data);
    } catch (cause) {
      throw new MofaError('BAD_INPUT', `cannot write ${path} (${(cause as Error).message}): check --out`, { cause });
    }
    files.push(path);
  };
  const meshes = result.faces.map(faceToExportMesh);
  if (args.format === 'obj') {
    write(`${outBase}.obj`, encodeObj(meshes, { comment: `mofa-web reconstruction of ${basename(image)} (quality ${result.diagnostics.quality})\nunits: millimetres, camera frame: +x image right, +y up, camera looking down -z` }));
  } else if (args.format === 'glb') {
    write(`${outBase}.glb`, encodeGlb(meshes, { camera: result.faces[0].pose.intrinsics, extras: { source: basename(image), quality: result.diagnostics.quality, frame: 'camera frame of reconstruct(): +x image right, +y up, camera looking down -z; camera node = face 0 intrinsics' } }));
  }
  write(`${outBase}.json`, `${JSON.stringify(resultToJson(result, image, args.format === 'json'))}\n`);
  const d = result.diagnostics;
  return {
    image,
    ok: true,
    files,
    faces: result.faces.length,
    vertices: result.faces.map((f) => f.mesh.position.length / 3),
    triangles: result.faces.map((f) => f.mesh.index.length / 3),
    imageSize: result.imageSize,
    quality: d.quality,
    backend: d.backend,
    ms: d.stageMs.total ?? NaN,
    detectionScore: result.faces.map((f) => f.detectionScore),
    landmarkMedianPx: d.energies.map((e) => e.landmarkMedianPx),
  };
}

/** One face's mesh + albedo (vertex colour) for the exporters; face k is named `face_k`. */
export function faceToExportMesh(face: FaceReconstruction, k: number): ExportMesh {
  return { name: `face_${k}`, position: face.mesh.position, normal: face.mesh.normal, uv: face.mesh.uv, index: face.mesh.index, color: face.albedo };
}

/**
 * The per-image JSON document (`<name>.json`). Typed arrays become plain arrays; float32 values
 * are written with the fewest digits that read back as the same float32. Layout:
 * `{ format: "mofa-web/reconstruction", version: 1, image, imageSize, frames, faces: [{ faceBox,
 * detectionScore, pose: { euler [pitch, yaw, roll] rad, matrix (row-major 3×3), translation mm,
 * intrinsics, cropIntrinsics, cropToImage }, lighting: { sh (27, sh[9c+b]), ambientOffset },
 * code (257), blendshapes, landmarks ([x, y] × 468, image px), mesh?: { topology, position,
 * normal, uv (flat, three.js attribute layout), index }, albedo? (flat linear RGB) }],
 * diagnostics }`; `mesh` and `albedo` only when `includeMesh`.
 */
export function resultToJson(result: ReconstructionResult, image: string, includeMesh: boolean): object {
  return {
    format: 'mofa-web/reconstruction',
    version: 1,
    image,
    imageSize: result.imageSize,
    frames: {
      mesh: 'camera frame, millimetres: +x image right, +y image up, camera looking down -z (visible points have z < 0)',
      landmarks: 'image px: origin top-left, +x right, +y down, pixel centres at +0.5',
      lighting: 'SH radiance gamma, camera frame, sh[9*c + b] (c = R, G, B); the ambient offset is added to b = 0 when shading',
    },
    faces: result.faces.map((f) => ({
      faceBox: f.faceBox,
      detectionScore: f.detectionScore,
      pose: {
        euler: f.pose.rotation.euler,
        matrix: Array.from(f.pose.rotation.matrix),
        translation: f.pose.translation,
        intrinsics: f.pose.intrinsics,
        cropIntrinsics: f.pose.cropIntrinsics,
        cropToImage: f.pose.cropToImage,
      },
      lighting: { sh: f32List(f.lighting.sh), ambientOffset: f.lighting.ambientOffset },
      code: Array.from(f.code),
      blendshapes: f.blendshapes,
      landmarks: pairs(f32List(f.landmarks)),
      ...(includeMesh
        ? {
            mesh: { topology: f.mesh.topology, position: f32List(f.mesh.position), normal: f32List(f.mesh.normal), uv: f32List(f.mesh.uv), index: Array.from(f.mesh.index) },
            albedo: f32List(f.albedo),
          }
        : {}),
    })),
    diagnostics: result.diagnostics,
  };
}

/** Float32 values as the shortest decimals that round-trip through float32 (NaN → null in JSON). */
function f32List(a: Float32Array): number[] {
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    let s = v;
    if (Number.isFinite(v)) {
      for (let p = 6; p <= 9; p++) {
        const c = Number(v.toPrecision(p));
        if (Math.fround(c) === v) {
          s = c;
          break;
        }
      }
    }
    out[i] = s;
  }
  return out;
}

function pairs(a: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < a.length; i += 2) out.push([a[i], a[i + 1]]);
  return out;
}
