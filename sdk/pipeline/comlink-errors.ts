/**
 * Makes MofaError survive the Web Worker boundary: replaces Comlink's built-in 'throw' transfer
 * handler (which keeps only name/message/stack) with one that sends `serializeError(e)` and
 * re-throws `deserializeError(...)` on the other side, so `instanceof MofaError` and `code`
 * hold for the caller. Any other thrown value arrives as MofaError('INTERNAL').
 *
 * Both sides must call `registerMofaErrorTransfer()` (each has its own Comlink instance: the
 * library imports the `comlink` peer dependency, the worker bundle carries its own copy).
 */
import * as Comlink from 'comlink';
import { deserializeError, isSerializedMofaError, MofaError, serializeError, type SerializedMofaError } from '../errors.js';

let registered = false;

/** Installs the handler on this realm's Comlink (idempotent). */
export function registerMofaErrorTransfer(): void {
  if (registered) return;
  const builtin = Comlink.transferHandlers.get('throw');
  if (!builtin) throw new MofaError('INTERNAL', "Comlink has no 'throw' transfer handler to replace; check the comlink version (4.x expected)");
  const handler: Comlink.TransferHandler<{ value: unknown }, SerializedMofaError> = {
    canHandle: (v: unknown): v is { value: unknown } => builtin.canHandle(v),
    serialize: ({ value }) => [serializeError(value), []],
    deserialize: (s) => {
      throw isSerializedMofaError(s) ? deserializeError(s) : new MofaError('INTERNAL', `the worker threw a value that is not a serialised MofaError: ${JSON.stringify(s)}`);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
  registered = true;
}
