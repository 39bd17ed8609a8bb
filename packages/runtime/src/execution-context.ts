import {
  DeviceBuffer,
  type DeviceName,
  KilnError,
  type NativeExecutionContext,
  type Shape,
  Stream,
  Tensor,
  expectInteger,
  invalidParameterError,
  nativeAddon,
  shapeSize,
  dataTypeSize,
} from '@kiln/core';

import type { Engine, TensorInfo } from './engine';

// Small integer or bool inputs may steer shapes or branches; infer() hands their values over.
function isShapeLike(t: Tensor): boolean {
  return (t.dtype === 'int64' || t.dtype === 'int32' || t.dtype === 'bool') && t.size <= 64;
}

/** Per-layer times of an ExecutionContext (see `profiling`). */
export interface LayerProfile {
  /** Runs the totals cover. */
  runs: number;
  /** One entry per engine layer, in execution order. */
  layers: { name: string; op: string; totalMs: number; averageMs: number }[];
}

/**
 * The state of one inference: profile, input shapes and tensor bindings. Use one per
 * concurrent inference; contexts of one engine share its weights.
 */
export class ExecutionContext {
  /** The engine this context runs. */
  readonly engine: Engine;
  /** The device its layers run on; streams and buffers given to it must be there too. */
  readonly device: DeviceName;
  readonly #native: NativeExecutionContext;
  readonly #addresses = new Map<string, DeviceBuffer>();
  readonly #inputShapes = new Map<string, number[]>();
  #profile = 0;
  #profiling = false;
  // Buffers infer() allocates, reused while they are large enough.
  readonly #scratch = new Map<string, DeviceBuffer>();
  #stream: Stream | undefined;

  /** @internal Use Engine.createExecutionContext. */
  constructor(engine: Engine, device: DeviceName, options: { cudaGraph: boolean }) {
    this.engine = engine;
    this.device = device;
    this.#native = new (nativeAddon().ExecutionContext)(engine.native, device, options);
  }

  /** The active optimization profile. */
  get optimizationProfile(): number {
    return this.#profile;
  }

  /** Selects the profile whose ranges input shapes must lie in. */
  setOptimizationProfile(index: number): void {
    expectInteger('index', index, 0, this.engine.numOptimizationProfiles - 1);
    this.#native.setProfile(index);
    this.#profile = index;
  }

  /**
   * Per-layer timing of this context's runs, like TensorRT's IProfiler: while on, every run
   * adds each layer's wall time (a clock read per layer; leave it off for benchmarks of the
   * whole network). Switching it on zeroes the totals; switching it off keeps them to read.
   */
  set profiling(on: boolean) {
    if (typeof on !== 'boolean') throw invalidParameterError('profiling', 'a boolean', on);
    if (on && this.device !== 'cpu')
      throw new KilnError(
        'UNSUPPORTED',
        `per-layer profiling runs on the cpu device only for now (this context runs on ${this.device})`,
      );
    this.#native.setProfiling(on);
    this.#profiling = on;
  }

  get profiling(): boolean {
    return this.#profiling;
  }

  /**
   * Per-layer times summed over the runs since profiling was last switched on, in execution
   * order (no layers before it ever was). Read it after the runs' stream has synchronized.
   * Layers a branch skipped show 0 ms.
   */
  layerProfile(): LayerProfile {
    const { runs, seconds } = this.#native.layerTimes();
    const layers = this.engine.layers();
    return {
      runs,
      layers: Array.from(seconds, (s, i) => ({
        name: layers[i]!.name,
        op: layers[i]!.op,
        totalMs: s * 1000,
        averageMs: runs > 0 ? (s * 1000) / runs : 0,
      })),
    };
  }

  /** Sets an input's shape; checked against the rank, fixed dims and the profile's range. */
  setInputShape(name: string, shape: Shape): void {
    const info = this.ioInfo(name, 'input');
    shapeSize(shape, `shape of '${name}'`);
    const index = this.engine.inputNames.indexOf(info.name);
    this.#native.setInputShape(index, [...shape]);
    this.#inputShapes.set(name, [...shape]);
  }

  /**
   * Gives the host values of an input that shapes or conditions depend on (like TensorRT's
   * shape tensor inputs), e.g. Silero VAD's sample rate choosing a branch. Set the shape first;
   * the values must be the same as the data the input is bound to. infer() does this itself
   * for small int32/int64/bool inputs.
   */
  setInputValues(name: string, values: Tensor): void {
    const info = this.ioInfo(name, 'input');
    if (!(values instanceof Tensor)) throw invalidParameterError('values', 'a Tensor', values);
    if (values.dtype !== info.dtype)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `input '${name}' is ${info.dtype} but the values are ${values.dtype}`,
      );
    this.#native.setInputValues(this.engine.inputNames.indexOf(name), values.data);
  }

  /** An input's shape as set, or an output's shape as inferred from the input shapes. */
  getTensorShape(name: string): number[] {
    const info = this.engine.getTensorInfo(name);
    if (info.mode === 'input') {
      const shape =
        this.#inputShapes.get(name) ?? (info.shape.every((d) => d >= 0) ? info.shape : undefined);
      if (!shape) throw new KilnError('INVALID_STATE', `set the shape of input '${name}' first`);
      return [...shape];
    }
    return this.#native.outputShapes()[this.engine.outputNames.indexOf(name)]!;
  }

  /** Binds a DeviceBuffer (on the context's device) to an input or output for the next enqueue. */
  setTensorAddress(name: string, buffer: DeviceBuffer): void {
    this.engine.getTensorInfo(name);
    if (!(buffer instanceof DeviceBuffer))
      throw invalidParameterError('buffer', 'a DeviceBuffer', buffer);
    if (buffer.device !== this.device)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `'${name}' needs a DeviceBuffer on ${this.device}, not on ${buffer.device}`,
      );
    this.#addresses.set(name, buffer);
  }

  /**
   * Enqueues inference on `stream` with the bound buffers and returns at once; await
   * `stream.synchronize()` for the results. Errors of the run reject that promise.
   */
  enqueue(stream: Stream): void {
    if (!(stream instanceof Stream)) throw invalidParameterError('stream', 'a Stream', stream);
    this.#checkStream(stream);
    const bound = (names: string[]) =>
      names.map((n) => {
        const b = this.#addresses.get(n);
        if (!b)
          throw new KilnError(
            'INVALID_STATE',
            `no buffer is bound to '${n}': call setTensorAddress('${n}', buffer) first`,
          );
        return b.native;
      });
    this.#native.enqueue(
      stream.native,
      bound(this.engine.inputNames),
      bound(this.engine.outputNames),
    );
  }

  /**
   * Convenience: runs the engine on host tensors and resolves with host tensors. Sets the
   * input shapes from the tensors, copies them in, enqueues, and copies the outputs back.
   */
  async infer(
    feeds: Record<string, Tensor>,
    options: { stream?: Stream } = {},
  ): Promise<Record<string, Tensor>> {
    if (feeds === null || typeof feeds !== 'object')
      throw invalidParameterError('feeds', 'an object of Tensors by input name', feeds);
    for (const name of Object.keys(feeds)) {
      if (!this.engine.inputNames.includes(name)) {
        throw new KilnError(
          'NOT_FOUND',
          `'${name}' is not an input; the inputs are ${this.engine.inputNames.map((n) => `'${n}'`).join(', ')}`,
        );
      }
    }
    if (options.stream !== undefined) {
      if (!(options.stream instanceof Stream))
        throw invalidParameterError('stream', 'a Stream', options.stream);
      this.#checkStream(options.stream);
    }
    const stream = options.stream ?? (this.#stream ??= new Stream({ device: this.device }));
    for (const name of this.engine.inputNames) {
      const tensor = feeds[name];
      if (!(tensor instanceof Tensor))
        throw new KilnError('INVALID_ARGUMENT', `input '${name}' needs a Tensor`);
      const info = this.ioInfo(name, 'input');
      if (tensor.dtype !== info.dtype) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `input '${name}' is ${info.dtype} but the tensor is ${tensor.dtype}`,
        );
      }
      this.setInputShape(name, tensor.shape);
      if (isShapeLike(tensor)) this.setInputValues(name, tensor);
      const buffer = this.scratch(name, tensor.byteLength);
      stream.copyHostToDevice(buffer, tensor.data, { byteLength: tensor.byteLength });
      this.setTensorAddress(name, buffer);
    }
    const outputs: Record<string, Tensor> = {};
    for (const name of this.engine.outputNames) {
      const info = this.ioInfo(name, 'output');
      const shape = this.getTensorShape(name);
      const bytes = shapeSize(shape) * dataTypeSize(info.dtype);
      const buffer = this.scratch(name, bytes);
      this.setTensorAddress(name, buffer);
      outputs[name] = new Tensor(info.dtype, shape);
    }
    this.enqueue(stream);
    for (const name of this.engine.outputNames) {
      const t = outputs[name]!;
      stream.copyDeviceToHost(t.data, this.#addresses.get(name)!, { byteLength: t.byteLength });
    }
    await stream.synchronize();
    return outputs;
  }

  #checkStream(stream: Stream): void {
    if (stream.device !== this.device)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `this context runs on ${this.device}: enqueue it on a stream there, not on ${stream.device}`,
      );
  }

  private ioInfo(name: string, mode: 'input' | 'output'): TensorInfo {
    if (typeof name !== 'string') throw invalidParameterError('name', 'a tensor name', name);
    const info = this.engine.getTensorInfo(name);
    if (info.mode !== mode)
      throw new KilnError('INVALID_ARGUMENT', `'${name}' is an ${info.mode}, not an ${mode}`);
    return info;
  }

  private scratch(name: string, bytes: number): DeviceBuffer {
    let buffer = this.#scratch.get(name);
    if (!buffer || buffer.byteLength < bytes) {
      buffer = new DeviceBuffer(Math.max(bytes, 1), { device: this.device });
      this.#scratch.set(name, buffer);
    }
    return buffer;
  }
}
