/**
 * GpuContext: the one owner of mofa-web's WebGPU memory. It holds a GPUDevice (created here
 * or adopted from the caller), creates labelled buffers whose sizes are rounded up to 16 bytes,
 * tracks them, reads buffers back through short-lived staging buffers, and on `destroy()`
 * frees every buffer it made — and the device only if it created it.
 */
import { MofaError } from '../errors.js';

/** What the adapter says about itself; reported in diagnostics (SwiftShader = CPU fallback). */
export interface GpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters such as SwiftShader: correct but slow; prefer WASM for speed. */
  isFallbackAdapter: boolean;
  features: string[];
}

export interface GpuContextOptions {
  powerPreference?: GPUPowerPreference;
  requiredFeatures?: GPUFeatureName[];
  requiredLimits?: Record<string, number>;
  /** Label of the created device (default 'mofa-web'). */
  label?: string;
}

/** Rounds a byte size up to a multiple of 16 (WebGPU copy alignment; std140-friendly). */
export function alignTo16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

export class GpuContext {
  readonly device: GPUDevice;
  /** Adapter info when this context requested the adapter itself, else null. */
  readonly adapter: GpuAdapterReport | null;
  private readonly ownsDevice: boolean;
  private readonly buffers = new Set<GPUBuffer>();
  private destroyed = false;
  private lostReason: string | null = null;

  private constructor(device: GPUDevice, ownsDevice: boolean, adapter: GpuAdapterReport | null) {
    this.device = device;
    this.ownsDevice = ownsDevice;
    this.adapter = adapter;
    device.lost.then((info) => {
      if (!this.destroyed) this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  /**
   * Requests an adapter and a device. Throws MofaError('NO_BACKEND') when WebGPU or an adapter
   * is unavailable — callers choose the WASM path explicitly; there is no silent fallback here.
   */
  static async create(options: GpuContextOptions = {}): Promise<GpuContext> {
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) throw new MofaError('NO_BACKEND', 'WebGPU is not available here (navigator.gpu is missing): use the "cpu" backend.');
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter) throw new MofaError('NO_BACKEND', 'No WebGPU adapter is available: use the "cpu" backend.');
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({
        label: options.label ?? 'mofa-web',
        requiredFeatures: options.requiredFeatures,
        requiredLimits: options.requiredLimits,
      });
    } catch (e) {
      throw new MofaError('NO_BACKEND', `The WebGPU adapter refused a device: ${(e as Error).message}`, { cause: e });
    }
    return new GpuContext(device, true, describeAdapter(adapter));
  }

  /** Wraps a caller's device; `destroy()` then frees our buffers but leaves the device alive. */
  static adopt(device: GPUDevice): GpuContext {
    return new GpuContext(device, false, null);
  }

  /** Throws MofaError('CLOSED' | 'DEVICE_LOST') when the context can no longer be used. */
  private check(): void {
    if (this.destroyed) throw new MofaError('CLOSED', 'This GpuContext was destroyed: create a new one.');
    if (this.lostReason) throw new MofaError('DEVICE_LOST', `The GPU device was lost (${this.lostReason}): create a new GpuContext.`);
  }

  /** Creates a tracked buffer of at least `size` bytes (rounded up to 16). */
  createBuffer(label: string, size: number, usage: GPUBufferUsageFlags, mappedAtCreation = false): GPUBuffer {
    this.check();
    if (!(size >= 0) || !Number.isFinite(size)) throw new MofaError('BAD_INPUT', `Buffer '${label}': invalid size ${size}.`);
    const buffer = this.device.createBuffer({ label, size: Math.max(16, alignTo16(size)), usage, mappedAtCreation });
    this.buffers.add(buffer);
    return buffer;
  }

  /** Creates a tracked buffer initialised with `data` (its byte length rounded up to 16). */
  createBufferWithData(label: string, data: ArrayBufferView, usage: GPUBufferUsageFlags): GPUBuffer {
    const buffer = this.createBuffer(label, data.byteLength, usage, true);
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    return buffer;
  }

  /** Destroys one buffer made by this context (harmless if already destroyed). */
  destroyBuffer(buffer: GPUBuffer): void {
    if (this.buffers.delete(buffer)) buffer.destroy();
  }

  /** Number of live buffers this context owns (for leak checks). */
  get liveBufferCount(): number {
    return this.buffers.size;
  }

  /**
   * Copies `byteLength` bytes (default: the whole buffer from `byteOffset`) of a COPY_SRC
   * buffer into a fresh ArrayBuffer. The staging buffer is destroyed in `finally`.
   */
  async readback(buffer: GPUBuffer, byteOffset = 0, byteLength = buffer.size - byteOffset): Promise<ArrayBuffer> {
    this.check();
    if (byteOffset % 4 !== 0 || byteLength % 4 !== 0) {
      throw new MofaError('BAD_INPUT', `readback of '${buffer.label}': offset and length must be multiples of 4.`);
    }
    const staging = this.createBuffer(`${buffer.label}/readback`, byteLength, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      const encoder = this.device.createCommandEncoder({ label: `${buffer.label}/readback` });
      encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, byteLength);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ, 0, byteLength);
      return staging.getMappedRange(0, byteLength).slice(0);
    } catch (e) {
      this.check(); // a lost device explains a failed map better than the map error
      throw e;
    } finally {
      this.destroyBuffer(staging);
    }
  }

  /** Frees every buffer this context made, then the device if it created it. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const buffer of this.buffers) buffer.destroy();
    this.buffers.clear();
    if (this.ownsDevice) this.device.destroy();
  }
}

function describeAdapter(adapter: GPUAdapter): GpuAdapterReport {
  const info = adapter.info;
  const features: string[] = [];
  adapter.features.forEach((f) => features.push(f));
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    // `isFallbackAdapter` moved from GPUAdapter to GPUAdapterInfo; read whichever exists.
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features: features.sort(),
  };
}
