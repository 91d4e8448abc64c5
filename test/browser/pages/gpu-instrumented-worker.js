/**
 * TEST-ONLY reconstruction worker: gpu-instrument.js (GPU buffer counting, device destruction),
 * then the real dist/workers/reconstruct-worker.js. Passed to createReconstructor as
 * `assets.worker` by test/browser/reconstruct-robustness.test.ts. ES module evaluation order
 * guarantees the instrumentation is installed before the worker requests a GPU device.
 */
import './gpu-instrument.js';
import '/dist/workers/reconstruct-worker.js';
