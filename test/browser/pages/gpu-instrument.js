/**
 * TEST-ONLY instrumentation of WebGPU inside a worker (imported first by
 * gpu-instrumented-worker.js, before the real reconstruct worker runs). It wraps
 * GPUAdapter.prototype.requestDevice, GPUDevice.prototype.createBuffer and
 * GPUBuffer.prototype.destroy to count the live GPU buffers of every device the worker creates,
 * independently of the SDK's own bookkeeping, and lets a test destroy those devices to simulate
 * GPU device loss. Tests reach it with Puppeteer's `worker.evaluate(() => self.__mofaTestGpu…)`.
 * Nothing in the SDK imports this file.
 */
const devices = [];
const owner = new WeakMap();

if (typeof GPUAdapter !== 'undefined') {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    const rec = { device, live: new Set(), created: 0, lost: null };
    devices.push(rec);
    device.lost.then((info) => {
      rec.lost = info.reason || 'unknown';
    });
    return device;
  };
  const createBuffer = GPUDevice.prototype.createBuffer;
  GPUDevice.prototype.createBuffer = function (descriptor) {
    const buffer = createBuffer.call(this, descriptor);
    const rec = devices.find((r) => r.device === this);
    if (rec) {
      rec.live.add(buffer);
      rec.created++;
      owner.set(buffer, rec);
    }
    return buffer;
  };
  const destroy = GPUBuffer.prototype.destroy;
  GPUBuffer.prototype.destroy = function () {
    owner.get(this)?.live.delete(this);
    return destroy.call(this);
  };
}

self.__mofaTestGpu = {
  /** One entry per device requested in this worker, in creation order. */
  report: () => devices.map((r) => ({ live: r.live.size, created: r.created, lost: r.lost })),
  /** Destroys every device not yet lost (its `lost` promise resolves with reason 'destroyed'). Returns how many. */
  destroyDevices: () => {
    let n = 0;
    for (const r of devices) {
      if (r.lost === null) {
        r.device.destroy();
        n++;
      }
    }
    return n;
  },
};
