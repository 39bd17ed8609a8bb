import {
  type DataType,
  type DeviceName,
  KilnError,
  type NativeEngine,
  type NativeEngineInfo,
  type TacticSource,
  dataTypeFromCode,
  invalidParameterError,
  nativeAddon,
  resolveDevice,
} from '@kiln/core';

import { ExecutionContext } from './execution-context';

/** Options of Engine.createExecutionContext. */
export interface ExecutionContextOptions {
  /** Where the context runs: 'cpu' (default) or 'cuda:N'. Its streams and buffers live there. */
  device?: DeviceName;
  /**
   * cuda only (like trtexec --useCudaGraph): the first enqueue at new input shapes runs
   * normally and is captured into a CUDA graph, which later enqueues at those shapes with the
   * same bound buffers replay with one launch. Other buffers re-capture. Default false.
   */
  cudaGraph?: boolean;
}

/** An input or output of an engine; -1 marks a dim fixed per execution by the input shapes. */
export interface TensorInfo {
  name: string;
  dtype: DataType;
  shape: number[];
  mode: 'input' | 'output';
}

/** The min/opt/max shapes an optimization profile allows for one input. */
export interface ProfileRange {
  name: string;
  min: number[];
  opt: number[];
  max: number[];
}

/** One layer as the engine runs it (like TensorRT's engine inspector). */
export interface LayerInfo {
  name: string;
  op: string;
  inputs: (string | null)[];
  outputs: string[];
  attrs: Record<string, unknown>;
  /** Conditions the layer runs under (branches of an ONNX If). */
  guards?: { tensor: string; value: boolean }[];
  /** The implementation the builder chose for the layer (e.g. 'conv.winograd'), if it had a choice. */
  tactic?: string;
  /** Where that implementation comes from: 'kiln' (its own kernels) or 'onednn'. */
  tacticSource?: TacticSource;
  /**
   * The precision the layer computes in, read from its tensors' types: 'int8' when its data input
   * or output is 8-bit (QLinear* layers, 8-bit pooling), 'fp16' when an input or its output is
   * float16 (e.g. an fp16 IO format's Cast), else 'fp32'. On the cpu, weights stored as FP16 (the
   * 'fp16' flag) are expanded when the engine loads, so their layers compute in, and report, 'fp32'.
   */
  precision: LayerPrecision;
  /** Data types of the inputs (null for an omitted optional input) and of the outputs. */
  inputDtypes: (DataType | null)[];
  outputDtypes: DataType[];
}

/** The precision a layer of an engine computes in (see LayerInfo.precision). */
export type LayerPrecision = 'fp32' | 'fp16' | 'int8';

function layerPrecision(inputs: (DataType | null)[], outputs: DataType[]): LayerPrecision {
  const eightBit = (t: DataType | null | undefined) => t === 'int8' || t === 'uint8';
  if (eightBit(inputs[0]) || eightBit(outputs[0])) return 'int8';
  return inputs.includes('float16') || outputs[0] === 'float16' ? 'fp16' : 'fp32';
}

function toDataType(code: number, name: string): DataType {
  const dtype = dataTypeFromCode(code);
  if (!dtype)
    throw new KilnError('INVALID_PLAN', `tensor '${name}' has an unknown data type code ${code}`);
  return dtype;
}

/**
 * A deserialized engine: its IO tensors, optimization profiles and layers. Create one
 * ExecutionContext per concurrent inference; contexts share the engine's weights.
 */
export class Engine {
  /** @internal */
  readonly native: NativeEngine;
  /** Inputs then outputs. */
  readonly ioTensors: readonly TensorInfo[];
  /** Per profile, the range of each dynamic input. */
  readonly profiles: readonly (readonly ProfileRange[])[];
  readonly #info: NativeEngineInfo;

  /** @internal Use Runtime.deserializeEngine. */
  constructor(planBytes: Uint8Array) {
    this.native = new (nativeAddon().Engine)(planBytes);
    this.#info = this.native.info();
    this.ioTensors = Object.freeze([
      ...this.#info.inputs.map((t) => ({
        name: t.name,
        dtype: toDataType(t.dtype, t.name),
        shape: t.shape,
        mode: 'input' as const,
      })),
      ...this.#info.outputs.map((t) => ({
        name: t.name,
        dtype: toDataType(t.dtype, t.name),
        shape: t.shape,
        mode: 'output' as const,
      })),
    ]);
    this.profiles = Object.freeze(this.#info.profiles.map((p) => Object.freeze(p)));
  }

  /** Names of the inputs, in binding order. */
  get inputNames(): string[] {
    return this.ioTensors.filter((t) => t.mode === 'input').map((t) => t.name);
  }

  /** Names of the outputs, in binding order. */
  get outputNames(): string[] {
    return this.ioTensors.filter((t) => t.mode === 'output').map((t) => t.name);
  }

  /** Number of optimization profiles (1 for an engine with only static shapes). */
  get numOptimizationProfiles(): number {
    return Math.max(this.profiles.length, 1);
  }

  /**
   * Memory one context needs at the largest shapes of any profile, in bytes: its activations plus
   * the kernels' scratch (im2col columns, GEMM packing) on every thread that runs them.
   */
  get deviceMemorySize(): number {
    return Math.max(0, ...this.#info.deviceMemorySize);
  }

  /** The native core version that loaded the engine. */
  get coreVersion(): string {
    return this.#info.coreVersion;
  }

  /** The IO tensor called `name`; a NOT_FOUND KilnError listing the names otherwise. */
  getTensorInfo(name: string): TensorInfo {
    const found = this.ioTensors.find((t) => t.name === name);
    if (!found) {
      throw new KilnError(
        'NOT_FOUND',
        `the engine has no tensor '${name}'; its IO tensors are ${this.ioTensors.map((t) => `'${t.name}'`).join(', ')}`,
      );
    }
    return found;
  }

  /** The layers in execution order, with their attributes. */
  layers(): LayerInfo[] {
    return this.#info.layers.map((l) => {
      const inputDtypes = l.inputDtypes.map((c, i) =>
        c === null ? null : toDataType(c, l.inputs[i] ?? ''),
      );
      const outputDtypes = l.outputDtypes.map((c, i) => toDataType(c, l.outputs[i] ?? ''));
      return {
        ...l,
        tacticSource: l.tacticSource as TacticSource | undefined,
        inputDtypes,
        outputDtypes,
        precision: layerPrecision(inputDtypes, outputDtypes),
      };
    });
  }

  /** A JSON-friendly description: IO, profiles, memory and layers. */
  inspect(): {
    io: readonly TensorInfo[];
    profiles: readonly (readonly ProfileRange[])[];
    deviceMemorySize: number;
    layers: LayerInfo[];
  } {
    return {
      io: this.ioTensors,
      profiles: this.profiles,
      deviceMemorySize: this.deviceMemorySize,
      layers: this.layers(),
    };
  }

  /** The plan bytes of this engine (what Runtime.deserializeEngine reads). */
  serialize(): Uint8Array {
    return new Uint8Array(this.native.serialize());
  }

  /**
   * A new context with its own shapes, bindings and activation memory, running on
   * `options.device` ('cpu' by default, or 'cuda:N'): the engine file is the same for every
   * device, and only this choice changes. Its weights are copied to a GPU once and shared by
   * the contexts there. A device that cannot run some layer is refused here, with an
   * UNSUPPORTED KilnError listing those layers: there is no silent fallback to the cpu.
   * On cuda, `options.cudaGraph` replays each enqueue from a captured CUDA graph.
   */
  createExecutionContext(options: ExecutionContextOptions = {}): ExecutionContext {
    if (options === null || typeof options !== 'object')
      throw invalidParameterError('options', 'an object', options);
    const device = resolveDevice(options.device);
    const cudaGraph = options.cudaGraph ?? false;
    if (typeof cudaGraph !== 'boolean')
      throw invalidParameterError('cudaGraph', 'a boolean', options.cudaGraph);
    if (cudaGraph && device === 'cpu')
      throw new KilnError('INVALID_ARGUMENT', "cudaGraph needs a cuda device, not 'cpu'");
    return new ExecutionContext(this, device, { cudaGraph });
  }
}

/** Loads engines from plan bytes (like TensorRT's IRuntime). */
export class Runtime {
  /**
   * Reads plan bytes. A file from another format version, for another backend or CPU, or
   * truncated or altered, is refused with an INVALID_PLAN KilnError that says which.
   */
  deserializeEngine(planBytes: Uint8Array | ArrayBuffer): Engine {
    if (planBytes instanceof ArrayBuffer) planBytes = new Uint8Array(planBytes);
    if (!(planBytes instanceof Uint8Array))
      throw invalidParameterError('planBytes', 'a Uint8Array or Buffer', planBytes);
    return new Engine(planBytes);
  }
}
