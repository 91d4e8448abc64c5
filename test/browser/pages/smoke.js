// Starts dist/workers/smoke-worker.js as a module worker and exposes its Comlink proxy as
// globalThis.smoke. globalThis.__ready resolves once the worker answers.
import * as Comlink from '/node_modules/comlink/dist/esm/comlink.mjs';

const worker = new Worker('/dist/workers/smoke-worker.js', { type: 'module', name: 'smoke-worker' });
worker.addEventListener('error', (e) => {
  // Surface worker load / uncaught errors as a page error (fails the test via the harness).
  setTimeout(() => {
    throw new Error(`smoke worker error: ${e.message || 'failed to load (see console)'}`);
  });
});
globalThis.smoke = Comlink.wrap(worker);
globalThis.__ready = globalThis.smoke.crossOriginIsolated().then((isolated) => {
  globalThis.smokeWorkerIsolated = isolated;
});
