/**
 * Loader for mofa-web's AssemblyScript module (build/wasm/mofa.wasm, see assembly/) and
 * typed-array wrappers around its exports. Works in browsers, Web Workers and Node ≥ 18:
 * the caller passes the module's bytes, a compiled WebAssembly.Module, or its URL
 * (the bundled URL is exported by sdk/wasm/mofa-wasm-url.ts).
 */
import { MofaError } from '../errors.js';
import { CholeskyStatus } from '../model/cholesky-ref.js';

export { CholeskyStatus };

/** Raw exports of mofa.wasm. Pointers are byte offsets into `memory`. */
export interface MofaWasmExports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  free(ptr: number): void;
  resetHeap(): void;
  choleskySolve(aPtr: number, bPtr: number, n: number, lambda: number): number;
}

/** Result of one damped solve. */
export interface CholeskySolveResult {
  /** 0 on success; a negative `CholeskyStatus` code; or k > 0 when pivot k − 1 failed. */
  status: number;
  /** Solution x (length n) when status is 0, otherwise null (never a NaN-filled array). */
  x: Float64Array | null;
}

export interface WasmLinalg {
  readonly exports: MofaWasmExports;
  /**
   * Solves (A + λ·diag(A)) x = b (Levenberg–Marquardt step, Marquardt's diagonal damping).
   * @param a n×n row-major SPD matrix (only the lower triangle is read); not modified.
   * @param b right-hand side, length n; not modified.
   * @param lambda damping λ ≥ 0 (default 0).
   */
  choleskySolve(a: Float64Array, b: Float64Array, lambda?: number): CholeskySolveResult;
}

/** Where to load mofa.wasm from: bytes, a compiled module, or an absolute URL. */
export type WasmSource = BufferSource | WebAssembly.Module | URL | string;

/** Instantiates mofa.wasm and returns typed-array wrappers around it. */
export async function loadLinalg(source: WasmSource): Promise<WasmLinalg> {
  const instance = await instantiate(source);
  const ex = instance.exports as unknown as MofaWasmExports;
  for (const name of ['memory', 'alloc', 'free', 'resetHeap', 'choleskySolve'] as const) {
    if (!(name in ex)) throw new MofaError('MODEL_INTEGRITY', `mofa.wasm lacks export '${name}': rebuild it with \`npm run build:wasm\`.`);
  }
  return { exports: ex, choleskySolve: (a, b, lambda = 0) => choleskySolveWasm(ex, a, b, lambda) };
}

/**
 * Instantiates a fresh copy of mofa.wasm (its own linear memory). Used by `loadLinalg` and by
 * owners that keep long-lived data in the module's memory (sdk/wasm/opt-backend.ts), so their
 * allocations never interleave with another owner's in the stub runtime's bump allocator.
 */
export async function instantiateMofaWasm(source: WasmSource): Promise<WebAssembly.Instance> {
  return instantiate(source);
}

async function instantiate(source: WasmSource): Promise<WebAssembly.Instance> {
  let memory: WebAssembly.Memory | undefined;
  const imports: WebAssembly.Imports = {
    env: {
      // AssemblyScript's abort(message, fileName, line, column); strings are UTF-16 with a
      // 4-byte byte length just before the pointer.
      abort(msgPtr: number, filePtr: number, line: number, column: number): never {
        const str = (p: number) => {
          if (!memory || p === 0) return '?';
          const len = new Uint32Array(memory.buffer, p - 4, 1)[0] >>> 1;
          return String.fromCharCode(...new Uint16Array(memory.buffer, p, len));
        };
        throw new MofaError('INTERNAL', `mofa.wasm aborted: ${str(msgPtr)} at ${str(filePtr)}:${line}:${column}`);
      },
    },
  };
  let instance: WebAssembly.Instance;
  try {
    if (source instanceof WebAssembly.Module) {
      instance = await WebAssembly.instantiate(source, imports);
    } else if (typeof source === 'string' || source instanceof URL) {
      const response = await fetch(source);
      if (!response.ok) throw new MofaError('ASSET_LOAD', `Could not fetch mofa.wasm from ${String(source)} (HTTP ${response.status}): check the URL.`);
      instance = (await WebAssembly.instantiate(await response.arrayBuffer(), imports)).instance;
    } else {
      instance = (await WebAssembly.instantiate(source, imports)).instance;
    }
  } catch (e) {
    if (e instanceof MofaError) throw e;
    throw new MofaError('NO_BACKEND', `Could not instantiate mofa.wasm (needs WebAssembly SIMD): ${(e as Error).message}`, { cause: e });
  }
  memory = instance.exports.memory as WebAssembly.Memory;
  return instance;
}

function choleskySolveWasm(ex: MofaWasmExports, a: Float64Array, b: Float64Array, lambda: number): CholeskySolveResult {
  const n = b.length;
  if (n === 0 || a.length !== n * n) {
    throw new MofaError('BAD_INPUT', `choleskySolve: A has ${a.length} entries but b has ${n}; A must be n×n with n = b.length > 0.`);
  }
  // Both blocks come from the bump allocator; it may grow memory, so views are made after.
  const aPtr = ex.alloc(a.byteLength);
  const bPtr = ex.alloc(b.byteLength);
  try {
    new Float64Array(ex.memory.buffer, aPtr, a.length).set(a);
    new Float64Array(ex.memory.buffer, bPtr, n).set(b);
    const status = ex.choleskySolve(aPtr, bPtr, n, lambda);
    const x = status === CholeskyStatus.OK ? new Float64Array(ex.memory.buffer, bPtr, n).slice() : null;
    return { status, x };
  } finally {
    ex.free(bPtr); // stub runtime frees only the most recent block: free in reverse order
    ex.free(aPtr);
  }
}
