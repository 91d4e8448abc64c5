/**
 * The one error type of mofa-web. `code` is a literal union so callers can switch on it;
 * it survives the Web Worker boundary (see `serializeError` / `deserializeError`, which the
 * worker glue registers as a Comlink transfer handler).
 */
export type MofaErrorCode =
  | 'BAD_INPUT' // the image or an option is invalid: fix the argument
  | 'NO_FACE' // no face was found: try another photo or a lower detection threshold
  | 'MODEL_INTEGRITY' // a model bundle / weights file is truncated, corrupt or the wrong version
  | 'ASSET_LOAD' // an asset URL could not be fetched: check the URL and CORS/COEP headers
  | 'NO_BACKEND' // the requested backend is not available here
  | 'DEVICE_LOST' // the GPU device was lost; the next call recreates it
  | 'ABORTED' // the caller's AbortSignal fired
  | 'CLOSED' // the instance was closed; create a new one
  | 'INTERNAL'; // a bug in mofa-web: please report it with the message

export class MofaError extends Error {
  readonly code: MofaErrorCode;
  constructor(code: MofaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MofaError';
    this.code = code;
  }
}

/** Plain-object form of a MofaError, safe for structured clone. */
export interface SerializedMofaError {
  __mofaError: true;
  code: MofaErrorCode;
  message: string;
  stack?: string;
}

export function serializeError(e: unknown): SerializedMofaError {
  if (e instanceof MofaError) return { __mofaError: true, code: e.code, message: e.message, stack: e.stack };
  const msg = e instanceof Error ? e.message : String(e);
  return { __mofaError: true, code: 'INTERNAL', message: msg, stack: e instanceof Error ? e.stack : undefined };
}

export function deserializeError(s: SerializedMofaError): MofaError {
  const e = new MofaError(s.code, s.message);
  if (s.stack) e.stack = s.stack;
  return e;
}

export function isSerializedMofaError(v: unknown): v is SerializedMofaError {
  return typeof v === 'object' && v !== null && (v as SerializedMofaError).__mofaError === true;
}
