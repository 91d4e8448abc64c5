// Page-side half of test/browser/harness.ts `withDevice` (plain ES module, served as is).

/**
 * Requests an adapter and a fresh device, pushes 'out-of-memory' and 'validation' error
 * scopes, tracks every buffer and texture created through the device, runs `fn(device)`,
 * pops the scopes, destroys everything tracked and the device, then throws if a scope caught
 * an error (or `fn` threw). Returns what `fn` returned.
 * @template T
 * @param {(device: GPUDevice) => T | Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withDevice(fn) {
  if (!navigator.gpu) throw new Error('withDevice: navigator.gpu is missing (WebGPU disabled?)');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('withDevice: No available adapters.');
  const device = await adapter.requestDevice({ label: 'withDevice' });
  const resources = new Set();
  const createBuffer = device.createBuffer.bind(device);
  const createTexture = device.createTexture.bind(device);
  device.createBuffer = (descriptor) => {
    const b = createBuffer(descriptor);
    resources.add(b);
    return b;
  };
  device.createTexture = (descriptor) => {
    const t = createTexture(descriptor);
    resources.add(t);
    return t;
  };
  const uncaptured = [];
  device.addEventListener('uncapturederror', (e) => uncaptured.push(e.error.message));

  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result;
  let fnError = null;
  let validation = null;
  let oom = null;
  try {
    result = await fn(device);
  } catch (e) {
    fnError = e;
  } finally {
    validation = await device.popErrorScope();
    oom = await device.popErrorScope();
    for (const r of resources) r.destroy();
    device.destroy();
  }
  if (validation) throw new Error(`WebGPU validation error: ${validation.message}`);
  if (oom) throw new Error(`WebGPU out-of-memory error: ${oom.message}`);
  if (uncaptured.length) throw new Error(`WebGPU uncaptured error: ${uncaptured.join('; ')}`);
  if (fnError) throw fnError;
  return result;
}
