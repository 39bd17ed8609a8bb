import { type NativeDeviceBuffer, type NativeHostBuffer, native } from './addon';
import { type DeviceName, resolveDevice } from './device';
import { expectInteger } from './validate';

/** Options for allocating device or host memory. */
export interface AllocationOptions {
  /** Where the memory lives: 'cpu' (default) or 'cuda:N'. */
  device?: DeviceName;
}

/**
 * Memory on a device. Not readable from JavaScript: copy it to the host with a Stream, so
 * the same code runs on the cpu and on a GPU. Memory used by queued work stays valid until
 * that work has finished, even if the buffer is disposed first.
 */
export class DeviceBuffer {
  /** The device the memory is on. */
  readonly device: DeviceName;
  /** @internal */
  readonly native: NativeDeviceBuffer;

  /** Allocates `byteLength` bytes; throws OUT_OF_MEMORY saying how much was asked for. */
  constructor(byteLength: number, options: AllocationOptions = {}) {
    expectInteger('byteLength', byteLength, 0);
    this.device = resolveDevice(options.device);
    this.native = new (native().DeviceBuffer)(this.device, byteLength);
  }

  /** Size in bytes; a DISPOSED KilnError after dispose(). */
  get byteLength(): number {
    return this.native.byteLength;
  }

  /** True once dispose() has been called. */
  get disposed(): boolean {
    return this.native.disposed;
  }

  /** Frees the memory (after queued work using it). A second call is a DISPOSED KilnError. */
  dispose(): void {
    this.native.dispose();
  }

  /** For `using buffer = new DeviceBuffer(...)`. */
  [Symbol.dispose](): void {
    if (!this.disposed) this.dispose();
  }
}

/**
 * Host memory the device copies to and from fastest (page-locked on CUDA, aligned on the
 * cpu), readable and writable from JavaScript through `arrayBuffer`.
 */
export class HostBuffer {
  /** The device this memory is staged for. */
  readonly device: DeviceName;
  /** @internal */
  readonly native: NativeHostBuffer;

  /** Allocates `byteLength` bytes of host memory for `options.device`. */
  constructor(byteLength: number, options: AllocationOptions = {}) {
    expectInteger('byteLength', byteLength, 0);
    this.device = resolveDevice(options.device);
    this.native = new (native().HostBuffer)(this.device, byteLength);
  }

  /** The memory as an ArrayBuffer; detached (length 0) once disposed. */
  get arrayBuffer(): ArrayBuffer {
    return this.native.arrayBuffer;
  }

  /** Size in bytes. */
  get byteLength(): number {
    return this.native.arrayBuffer.byteLength;
  }

  /** True once dispose() has been called. */
  get disposed(): boolean {
    return this.native.disposed;
  }

  /** Detaches `arrayBuffer` and frees the memory once queued work is done. */
  dispose(): void {
    this.native.dispose();
  }

  /** For `using buffer = new HostBuffer(...)`. */
  [Symbol.dispose](): void {
    if (!this.disposed) this.dispose();
  }
}
