/**
 * Loading ONNX model bytes and creating onnxruntime-web sessions for the vision models,
 * with failures mapped onto MofaError codes:
 *  - 'ASSET_LOAD'       the model URL could not be fetched;
 *  - 'MODEL_INTEGRITY'  the bytes are not a loadable ONNX model, or the graph's inputs /
 *                       outputs are not what the caller expects.
 */
import type * as OrtModule from 'onnxruntime-web';
import { MofaError } from '../errors.js';

export type Ort = typeof OrtModule;
export type OrtSession = OrtModule.InferenceSession;

/**
 * A model given as bytes, or as a URL (http(s), blob:, data:, relative to the page) that
 * `fetch` reads; in Node a string that is not such a URL is read as a file path (or file: URL).
 */
export type ModelSource = ArrayBuffer | Uint8Array | string | URL;

/** Imports onnxruntime-web unless the caller injected its own module (worker / browser). */
export async function resolveOrt(ort?: Ort): Promise<Ort> {
  if (ort) return ort;
  let m: Ort;
  try {
    const mod = (await import('onnxruntime-web')) as Ort & { default?: Ort };
    m = (mod.InferenceSession ? mod : mod.default) as Ort;
  } catch (cause) {
    throw new MofaError('NO_BACKEND', `onnxruntime-web could not be imported (${(cause as Error).message}); install it or pass { ort }`, { cause });
  }
  // One wasm thread in Node: worker threads there need extra setup and gain nothing here.
  if (isNode() && m.env?.wasm) m.env.wasm.numThreads = 1;
  return m;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
}

/** Reads a model source into bytes. Throws MofaError('ASSET_LOAD') if a URL / file cannot be read. */
export async function loadModelBytes(source: ModelSource, what: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new MofaError('BAD_INPUT', `${what}: model must be an ArrayBuffer, Uint8Array, URL or URL string`);
  }
  const str = String(source);
  if (isNode() && !/^(https?|blob|data):/i.test(str)) {
    const fsName = 'node:fs/promises'; // variable specifier: bundlers leave it alone for the browser build
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    try {
      const b = await fs.readFile(str.startsWith('file:') ? new URL(str) : str);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (cause) {
      throw new MofaError('ASSET_LOAD', `${what}: cannot read model file ${str}: ${(cause as Error).message}`, { cause });
    }
  }
  let res: Response;
  try {
    res = await fetch(str);
  } catch (cause) {
    throw new MofaError('ASSET_LOAD', `${what}: could not fetch ${str}: ${(cause as Error).message}; check the URL and CORS headers`, { cause });
  }
  if (!res.ok) {
    throw new MofaError('ASSET_LOAD', `${what}: fetching ${str} failed with HTTP ${res.status}; check the URL`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Creates an InferenceSession (wasm execution provider) from model bytes and checks that
 * the graph has the expected number of inputs and outputs.
 * Throws MofaError('MODEL_INTEGRITY') when ort rejects the bytes or the I/O does not match.
 */
export async function createSession(
  ort: Ort,
  bytes: Uint8Array,
  what: string,
  expect: { inputs: number; minOutputs: number },
): Promise<OrtSession> {
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  } catch (cause) {
    throw new MofaError(
      'MODEL_INTEGRITY',
      `${what}: the ONNX bytes (${bytes.byteLength} B) could not be loaded (${(cause as Error).message}); re-download or rebuild the model (npm run build:onnx)`,
      { cause },
    );
  }
  if (session.inputNames.length !== expect.inputs || session.outputNames.length < expect.minOutputs) {
    const io = `inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}]`;
    await session.release().catch(() => undefined);
    throw new MofaError('MODEL_INTEGRITY', `${what}: unexpected graph I/O (${io}); is this the right model file?`);
  }
  return session;
}
