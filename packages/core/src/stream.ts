import { type NativeEvent, type NativeRegion, type NativeStream, native } from './addon';
import { DeviceBuffer, HostBuffer } from './buffers';
import { type DeviceName, resolveDevice } from './device';
import { KilnError } from './errors';
import { expectInteger, invalidParameterError } from './validate';

/** Host memory a copy may read or write. */
export type HostMemory = HostBuffer | ArrayBufferView;

/** Byte ranges of a copy; the length defaults to what is left of the source after srcOffset. */
export interface CopyOptions {
  dstOffset?: number;
  srcOffset?: number;
  byteLength?: number;
}

/** The range of a memset; the length defaults to the rest of the buffer. */
export interface MemsetOptions {
  offset?: number;
  byteLength?: number;
}

function regionOf(
  name: string,
  value: unknown,
  kind: 'device' | 'host',
): { native: NativeRegion; size: number } {
  if (kind === 'device') {
    if (!(value instanceof DeviceBuffer))
      throw invalidParameterError(name, 'a DeviceBuffer', value);
    return { native: value.native, size: value.byteLength };
  }
  if (value instanceof HostBuffer) return { native: value.native, size: value.byteLength };
  if (ArrayBuffer.isView(value)) return { native: value, size: value.byteLength };
  throw invalidParameterError(name, 'a HostBuffer, TypedArray, Buffer or DataView', value);
}

/**
 * An ordered queue of asynchronous work on one device, like a CUDA stream. Enqueue calls
 * return at once; `synchronize()` resolves when everything enqueued before it has finished
 * and rejects with the first error that work raised. On the cpu the work runs on the core's
 * worker threads, so Node's event loop keeps running meanwhile.
 */
export class Stream {
  /** The device whose work this stream orders. */
  readonly device: DeviceName;
  /** @internal */
  readonly native: NativeStream;
  // JS-owned memory that queued copies read or write: kept reachable until a synchronize
  // that follows them has completed.
  #retained: object[] = [];

  constructor(options: { device?: DeviceName } = {}) {
    this.device = resolveDevice(options.device);
    this.native = new (native().Stream)(this.device);
  }

  /** Copies host memory into a DeviceBuffer. */
  copyHostToDevice(dst: DeviceBuffer, src: HostMemory, options: CopyOptions = {}): void {
    this.copy('copyHostToDevice', dst, 'device', src, 'host', options);
  }

  /** Copies a DeviceBuffer into host memory. */
  copyDeviceToHost(dst: HostMemory, src: DeviceBuffer, options: CopyOptions = {}): void {
    this.copy('copyDeviceToHost', dst, 'host', src, 'device', options);
  }

  /** Copies between two DeviceBuffers of this stream's device. */
  copyDeviceToDevice(dst: DeviceBuffer, src: DeviceBuffer, options: CopyOptions = {}): void {
    this.copy('copyDeviceToDevice', dst, 'device', src, 'device', options);
  }

  /** Sets bytes of a DeviceBuffer to `value` (0..255). */
  memset(dst: DeviceBuffer, value: number, options: MemsetOptions = {}): void {
    const region = regionOf('dst', dst, 'device');
    expectInteger('value', value, 0, 255);
    const offset = expectInteger('offset', options.offset ?? 0, 0);
    const length = expectInteger(
      'byteLength',
      options.byteLength ?? Math.max(0, region.size - offset),
      0,
    );
    if (offset + length > region.size) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `memset: [${offset}, ${offset + length}) is outside the ${region.size}-byte buffer`,
      );
    }
    this.native.memset(region.native, offset, value, length);
  }

  /** Resolves once all work enqueued so far has finished; rejects with its first error. */
  synchronize(): Promise<void> {
    const upTo = this.#retained.length;
    return new Promise<void>((resolve, reject) => {
      this.native.notify((error) => {
        this.#retained.splice(0, upTo);
        if (error) reject(error);
        else resolve();
      });
    });
  }

  /** Frees the stream; work already queued still runs. */
  dispose(): void {
    this.native.dispose();
  }

  private copy(
    op: string,
    dst: unknown,
    dstKind: 'device' | 'host',
    src: unknown,
    srcKind: 'device' | 'host',
    options: CopyOptions,
  ): void {
    const d = regionOf('dst', dst, dstKind);
    const s = regionOf('src', src, srcKind);
    const dstOffset = expectInteger('dstOffset', options.dstOffset ?? 0, 0);
    const srcOffset = expectInteger('srcOffset', options.srcOffset ?? 0, 0);
    const length = expectInteger(
      'byteLength',
      options.byteLength ?? Math.max(0, s.size - srcOffset),
      0,
    );
    if (srcOffset + length > s.size) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `${op}: ${length} bytes from offset ${srcOffset} run past the ${s.size}-byte source`,
      );
    }
    if (dstOffset + length > d.size) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `${op}: ${length} bytes at offset ${dstOffset} do not fit in the ${d.size}-byte destination`,
      );
    }
    for (const [buffer, name] of [
      [dst, 'dst'],
      [src, 'src'],
    ] as const) {
      if (
        (buffer instanceof DeviceBuffer || buffer instanceof HostBuffer) &&
        buffer.device !== this.device
      ) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `${op}: ${name} is on ${buffer.device} but this stream is on ${this.device}`,
        );
      }
    }
    this.native.copy(d.native, dstOffset, s.native, srcOffset, length);
    for (const r of [d.native, s.native]) if (ArrayBuffer.isView(r)) this.#retained.push(r);
  }
}

/** A marker in a stream: completes when the work recorded before it has finished. */
export class Event {
  /** The device of the streams this event can be recorded on. */
  readonly device: DeviceName;
  /** @internal */
  readonly native: NativeEvent;

  constructor(options: { device?: DeviceName } = {}) {
    this.device = resolveDevice(options.device);
    this.native = new (native().Event)(this.device);
  }

  /** Marks the current end of `stream`'s queue. */
  record(stream: Stream): void {
    if (!(stream instanceof Stream)) throw invalidParameterError('stream', 'a Stream', stream);
    if (stream.device !== this.device) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `an event of ${this.device} cannot be recorded on a stream of ${stream.device}`,
      );
    }
    stream.native.record(this.native);
  }

  /** True when the recorded work has finished (or the event was never recorded). */
  query(): boolean {
    return this.native.query();
  }

  /** Resolves when the recorded work has finished. */
  synchronize(): Promise<void> {
    return new Promise<void>((resolve) => this.native.notify(() => resolve()));
  }

  /** Milliseconds between two completed events (like cudaEventElapsedTime). */
  static elapsedTime(start: Event, end: Event): number {
    if (!(start instanceof Event)) throw invalidParameterError('start', 'an Event', start);
    if (!(end instanceof Event)) throw invalidParameterError('end', 'an Event', end);
    return end.native.elapsedSince(start.native);
  }

  /** Frees the event. */
  dispose(): void {
    this.native.dispose();
  }
}
