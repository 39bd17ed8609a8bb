import {
  type DataType,
  KilnError,
  type NativeAttr,
  type Shape,
  dataTypeSize,
  expectDataType,
  invalidParameterError,
  shapeSize,
} from '@kiln/core';

/** Element types an engine input or output can have in memory (TensorRT's IO formats). */
export type IODataType = 'float32' | 'float16' | 'int8';

/** Memory order of an engine input or output: 'chw' as the network has it, or channels last. */
export type IOLayout = 'chw' | 'hwc';

/**
 * How an engine input or output is stored (like trtexec --inputIOFormats=fp16:hwc). The network
 * computes in float32 with channels at dim 1; the builder converts at the boundary.
 */
export interface IOFormat {
  dtype: IODataType;
  /** 'hwc' moves dim 1 (channels) to the end: an input [N,C,H,W] is fed as [N,H,W,C]. */
  layout: IOLayout;
  /**
   * int8 only: value = scale × stored integer (symmetric, zero point 0). Without it the builder
   * takes the tensor's range from the network's Q/DQ nodes (Q/DQ models, INT8 calibration).
   */
  scale?: number;
}

/** A tensor of a network: an input, a constant (weights) or a layer output. -1 dims are dynamic. */
export class NetworkTensor {
  /** Unique within the network. */
  name: string;
  dtype: DataType;
  /** Declared dims; -1 for dims fixed per execution (inputs) or not yet known (activations). */
  shape: number[];
  /** The bytes of a constant tensor, row-major. */
  readonly constant: Uint8Array | undefined;
  /** Set by NetworkDefinition.setIOFormat: how the engine stores this input or output. */
  ioFormat: IOFormat | undefined;

  /** @internal Use NetworkDefinition.addInput / addConstant / layer outputs. */
  constructor(name: string, dtype: DataType, shape: number[], constant?: Uint8Array) {
    this.name = name;
    this.dtype = dtype;
    this.shape = shape;
    this.constant = constant;
  }

  /** True for weights. */
  get isConstant(): boolean {
    return this.constant !== undefined;
  }

  /** True for a float32 constant of exactly one value (any rank), read without converting the data. */
  get isFloatScalar(): boolean {
    return this.dtype === 'float32' && this.constant?.byteLength === 4;
  }

  /**
   * A float32 constant's values in a new Float32Array of their own (writable, aligned): what
   * passes that compute new weights start from. Far cheaper than values() on large weights.
   */
  floats(): Float32Array {
    if (!this.constant) throw new KilnError('INVALID_STATE', `'${this.name}' is not a constant`);
    if (this.dtype !== 'float32')
      throw new KilnError('UNSUPPORTED', `reading ${this.dtype} constant '${this.name}' as floats`);
    const c = this.constant;
    return new Float32Array(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength));
  }

  /** A constant's values as numbers (float32 or int32/int64 constants only). */
  values(): number[] {
    if (!this.constant) throw new KilnError('INVALID_STATE', `'${this.name}' is not a constant`);
    const c = this.constant;
    switch (this.dtype) {
      case 'float32':
        return Array.from(
          new Float32Array(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength)),
        );
      case 'int32':
        return Array.from(
          new Int32Array(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength)),
        );
      case 'int64':
        return Array.from(
          new BigInt64Array(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength)),
          Number,
        );
      default:
        throw new KilnError(
          'UNSUPPORTED',
          `reading ${this.dtype} constant '${this.name}' as numbers`,
        );
    }
  }
}

/** Precisions a layer can be constrained to. */
export type LayerPrecision = 'fp32' | 'fp16' | 'int8';

/** A layer: an op of the native core (ONNX op names), its inputs, outputs and attributes. */
export class Layer {
  name: string;
  /** The op, e.g. 'Conv', 'Gemm', 'Relu'. */
  op: string;
  /** Inputs in op order; null for an omitted optional input. */
  inputs: (NetworkTensor | null)[];
  outputs: NetworkTensor[];
  attrs: Map<string, NativeAttr>;
  /** Conditions this layer runs under: a bool tensor and the value it must hold (If branches). */
  guards: { tensor: NetworkTensor; value: boolean }[] = [];
  /**
   * A precision constraint (TensorRT's ILayer.precision, trtexec --layerPrecisions): 'fp32'
   * keeps the layer out of INT8 and FP16 weight storage whatever the flags; 'fp16' stores its
   * weights in half precision even without the flag; undefined follows the config's flags.
   */
  precision: LayerPrecision | undefined;

  /** @internal Use NetworkDefinition.add* methods. */
  constructor(
    name: string,
    op: string,
    inputs: (NetworkTensor | null)[],
    outputs: NetworkTensor[],
    attrs: Map<string, NativeAttr>,
  ) {
    this.name = name;
    this.op = op;
    this.inputs = inputs;
    this.outputs = outputs;
    this.attrs = attrs;
  }

  /** The first output, for chaining `network.addX(layer.output)`. */
  get output(): NetworkTensor {
    return this.outputs[0]!;
  }

  /** An attribute's value, or `fallback`. */
  attr<T extends NativeAttr['value']>(key: string, fallback: T): T {
    const a = this.attrs.get(key);
    return (a ? a.value : fallback) as T;
  }
}

function claim(names: Set<string>, base: string): string {
  let name = base;
  for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
  names.add(name);
  return name;
}

/** Attribute values as the add* methods take them: numbers are ints unless marked float. */
export type AttrInput = number | number[] | string | { float: number } | { floats: number[] };

function toNativeAttr(key: string, value: AttrInput): NativeAttr {
  if (typeof value === 'number') {
    if (!Number.isInteger(value))
      throw invalidParameterError(key, 'an integer (use { float: x } for floats)', value);
    return { kind: 'i', value };
  }
  if (typeof value === 'string') return { kind: 's', value };
  if (Array.isArray(value)) {
    if (!value.every(Number.isInteger))
      throw invalidParameterError(key, 'integers (use { floats: [...] } for floats)', value);
    return { kind: 'is', value: [...value] };
  }
  if (value && typeof value === 'object' && 'float' in value)
    return { kind: 'f', value: value.float };
  if (value && typeof value === 'object' && 'floats' in value)
    return { kind: 'fs', value: [...value.floats] };
  throw invalidParameterError(key, 'a number, number[], string, {float} or {floats}', value);
}

/** Padding, strides and dilations for convolution and pooling layers (2-D: [h, w]). */
export interface WindowOptions {
  stride?: number[];
  /** [top, left, bottom, right] (ONNX order: begins then ends). */
  padding?: number[];
  dilation?: number[];
}

/** The activations addActivation and the fusion passes know (TensorRT's ActivationType). */
export type ActivationType =
  | 'relu'
  | 'sigmoid'
  | 'tanh'
  | 'leakyRelu'
  | 'elu'
  | 'clip'
  | 'hardSigmoid'
  | 'hardSwish'
  | 'softplus'
  | 'gelu';

const activationOps: Record<ActivationType, string> = {
  relu: 'Relu',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  leakyRelu: 'LeakyRelu',
  elu: 'Elu',
  clip: 'Clip',
  hardSigmoid: 'HardSigmoid',
  hardSwish: 'HardSwish',
  softplus: 'Softplus',
  gelu: 'Gelu',
};

/** Elementwise binary operations (TensorRT's ElementWiseOperation). */
export type ElementWiseOperation = 'sum' | 'sub' | 'prod' | 'div' | 'max' | 'min' | 'pow';
const elementWiseOps: Record<ElementWiseOperation, string> = {
  sum: 'Add',
  sub: 'Sub',
  prod: 'Mul',
  div: 'Div',
  max: 'Max',
  min: 'Min',
  pow: 'Pow',
};

/**
 * A network built layer by layer, like TensorRT's INetworkDefinition: by the add* methods or
 * by OnnxParser. Layers are kept in execution order.
 */
export class NetworkDefinition {
  readonly inputs: NetworkTensor[] = [];
  readonly outputs: NetworkTensor[] = [];
  layers: Layer[] = [];
  // Tensors and layers have separate namespaces, as in ONNX (a node may share a tensor's name).
  readonly #names = new Set<string>();
  readonly #layerNames = new Set<string>();

  /** A tensor name not used yet, derived from `base`. */
  uniqueName(base: string): string {
    return claim(this.#names, base || 'tensor');
  }

  /** A layer name not used yet, derived from `base`. */
  uniqueLayerName(base: string): string {
    return claim(this.#layerNames, base || 'layer');
  }

  /** Declares a network input; -1 dims are dynamic and need an optimization profile. */
  addInput(name: string, dtype: DataType, shape: Shape): NetworkTensor {
    this.checkNewName(name);
    expectDataType('dtype', dtype);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= -1)) {
      throw invalidParameterError('shape', 'an array of dims (non-negative integers or -1)', shape);
    }
    const t = new NetworkTensor(name, dtype, [...shape]);
    this.inputs.push(t);
    return t;
  }

  /** A constant tensor (weights); `data` must hold exactly the shape's elements. */
  addConstant(shape: Shape, dtype: DataType, data: ArrayBufferView, name = 'const'): NetworkTensor {
    expectDataType('dtype', dtype);
    const expected = shapeSize(shape) * dataTypeSize(dtype);
    if (!ArrayBuffer.isView(data) || data.byteLength !== expected) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `constant '${name}' of shape [${shape.join(', ')}] ${dtype} needs ${expected} bytes, got ${ArrayBuffer.isView(data) ? data.byteLength : typeof data}`,
      );
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return new NetworkTensor(this.uniqueName(name), dtype, [...shape], bytes);
  }

  /** Marks a tensor as a network output. */
  markOutput(tensor: NetworkTensor): void {
    if (!(tensor instanceof NetworkTensor))
      throw invalidParameterError('tensor', 'a NetworkTensor', tensor);
    if (!this.outputs.includes(tensor)) this.outputs.push(tensor);
  }

  /**
   * Sets how the engine stores a float32 input or output (TensorRT's ITensor type and allowed
   * formats). The engine's tensor then has that dtype, and with 'hwc' the channels-last shape;
   * optimization profiles and bindings use that shape.
   */
  setIOFormat(tensor: NetworkTensor, format: IOFormat): void {
    const isInput = this.inputs.includes(tensor);
    if (!isInput && !this.outputs.includes(tensor))
      throw invalidParameterError('tensor', 'a network input or marked output', tensor?.name);
    if (tensor.dtype !== 'float32')
      throw new KilnError(
        'INVALID_ARGUMENT',
        `IO formats convert float32 tensors; '${tensor.name}' is ${tensor.dtype}`,
      );
    if (format === null || typeof format !== 'object')
      throw invalidParameterError('format', 'an IOFormat object', format);
    const { dtype, layout, scale } = format;
    if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'int8')
      throw invalidParameterError('format.dtype', "'float32', 'float16' or 'int8'", dtype);
    if (layout !== 'chw' && layout !== 'hwc')
      throw invalidParameterError('format.layout', "'chw' or 'hwc'", layout);
    if (scale !== undefined && (dtype !== 'int8' || !(scale > 0 && Number.isFinite(scale))))
      throw invalidParameterError('format.scale', 'a positive number, for int8 only', scale);
    if (layout === 'hwc' && tensor.shape.length < 3)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `'hwc' needs a tensor of rank 3 or more with channels at dim 1; '${tensor.name}' has ${tensor.shape.length === 0 ? 'no known rank (set its shape)' : `shape [${tensor.shape.join(', ')}]`}`,
      );
    tensor.ioFormat = { dtype, layout, ...(scale !== undefined ? { scale } : {}) };
  }

  /**
   * Adds a layer of any op the native core implements (ONNX names and semantics), with
   * `outputCount` new output tensors. The typed add* methods below are shorthands for this.
   */
  addLayer(
    op: string,
    inputs: (NetworkTensor | null)[],
    attrs: Record<string, AttrInput> = {},
    outputCount = 1,
    name?: string,
  ): Layer {
    if (typeof op !== 'string' || op.length === 0)
      throw invalidParameterError('op', 'an op name', op);
    for (const [i, t] of inputs.entries()) {
      if (t !== null && !(t instanceof NetworkTensor))
        throw invalidParameterError(`inputs[${i}]`, 'a NetworkTensor or null', t);
    }
    const layerName = this.uniqueLayerName(name ?? op.toLowerCase());
    const map = new Map<string, NativeAttr>();
    for (const [k, v] of Object.entries(attrs)) map.set(k, toNativeAttr(k, v));
    const outputs = Array.from(
      { length: outputCount },
      (_, i) =>
        new NetworkTensor(
          this.uniqueName(outputCount === 1 ? `${layerName}_out` : `${layerName}_out${i}`),
          'float32',
          [],
        ),
    );
    const layer = new Layer(layerName, op, inputs, outputs, map);
    this.layers.push(layer);
    return layer;
  }

  /** A 2-D convolution with `numOutputMaps` filters of `kernelSize`; weights [M, C/groups, kh, kw]. */
  addConvolution(
    input: NetworkTensor,
    numOutputMaps: number,
    kernelSize: [number, number],
    kernel: NetworkTensor,
    bias?: NetworkTensor,
    options: WindowOptions & { groups?: number } = {},
  ): Layer {
    if (kernel.shape[0] !== numOutputMaps)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `kernel has ${kernel.shape[0]} filters but numOutputMaps is ${numOutputMaps}`,
      );
    return this.addWindowed('Conv', input, kernelSize, kernel, bias, options);
  }

  /** A 2-D transposed convolution; weights [C, M/groups, kh, kw]. */
  addDeconvolution(
    input: NetworkTensor,
    kernelSize: [number, number],
    kernel: NetworkTensor,
    bias?: NetworkTensor,
    options: WindowOptions & { groups?: number } = {},
  ): Layer {
    return this.addWindowed('ConvTranspose', input, kernelSize, kernel, bias, options);
  }

  // Conv and ConvTranspose take the same attributes.
  private addWindowed(
    op: string,
    input: NetworkTensor,
    kernelSize: [number, number],
    kernel: NetworkTensor,
    bias: NetworkTensor | undefined,
    options: WindowOptions & { groups?: number },
  ): Layer {
    return this.addLayer(op, bias ? [input, kernel, bias] : [input, kernel], {
      kernel_shape: kernelSize,
      strides: options.stride ?? [1, 1],
      pads: options.padding ?? [0, 0, 0, 0],
      dilations: options.dilation ?? [1, 1],
      group: options.groups ?? 1,
    });
  }

  /** Max or average pooling over `windowSize`. */
  addPooling(
    input: NetworkTensor,
    type: 'max' | 'average',
    windowSize: [number, number],
    options: WindowOptions & { ceilMode?: boolean; countIncludePad?: boolean } = {},
  ): Layer {
    const attrs: Record<string, AttrInput> = {
      kernel_shape: windowSize,
      strides: options.stride ?? windowSize,
      pads: options.padding ?? [0, 0, 0, 0],
      ceil_mode: options.ceilMode ? 1 : 0,
    };
    if (type === 'average') attrs.count_include_pad = options.countIncludePad ? 1 : 0;
    else if (options.dilation) attrs.dilations = options.dilation;
    return this.addLayer(type === 'max' ? 'MaxPool' : 'AveragePool', [input], attrs);
  }

  /** Global average or max pooling to [N, C, 1, 1]. */
  addGlobalPooling(input: NetworkTensor, type: 'max' | 'average'): Layer {
    return this.addLayer(type === 'max' ? 'GlobalMaxPool' : 'GlobalAveragePool', [input]);
  }

  /** An activation; alpha/beta as ONNX defines them for that op (clip: alpha=min, beta=max). */
  addActivation(input: NetworkTensor, type: ActivationType, alpha?: number, beta?: number): Layer {
    const op = activationOps[type];
    if (!op)
      throw invalidParameterError('type', `one of ${Object.keys(activationOps).join(', ')}`, type);
    const attrs: Record<string, AttrInput> = {};
    if (type === 'clip') {
      if (alpha !== undefined) attrs.min = { float: alpha };
      if (beta !== undefined) attrs.max = { float: beta };
    } else {
      if (alpha !== undefined) attrs.alpha = { float: alpha };
      if (beta !== undefined) attrs.beta = { float: beta };
    }
    return this.addLayer(op, [input], attrs);
  }

  /** a (op) b with numpy broadcasting. */
  addElementWise(a: NetworkTensor, b: NetworkTensor, op: ElementWiseOperation): Layer {
    const name = elementWiseOps[op];
    if (!name)
      throw invalidParameterError('op', `one of ${Object.keys(elementWiseOps).join(', ')}`, op);
    return this.addLayer(name, [a, b]);
  }

  /** A unary op by its ONNX name ('Exp', 'Sqrt', 'Abs', ...). */
  addUnary(input: NetworkTensor, op: string): Layer {
    return this.addLayer(op, [input]);
  }

  /** Matrix product with numpy batching; `transpose` flags apply to 2-D operands (Gemm). */
  addMatrixMultiply(
    a: NetworkTensor,
    b: NetworkTensor,
    options: { transposeA?: boolean; transposeB?: boolean; bias?: NetworkTensor } = {},
  ): Layer {
    if (options.transposeA || options.transposeB || options.bias) {
      const inputs = options.bias ? [a, b, options.bias] : [a, b];
      return this.addLayer('Gemm', inputs, {
        transA: options.transposeA ? 1 : 0,
        transB: options.transposeB ? 1 : 0,
      });
    }
    return this.addLayer('MatMul', [a, b]);
  }

  /** Fully connected: y = x W^T + b with W [out, in] (x flattened from axis 1). */
  addFullyConnected(input: NetworkTensor, weights: NetworkTensor, bias?: NetworkTensor): Layer {
    const flat = this.addLayer('Flatten', [input], { axis: 1 });
    return this.addMatrixMultiply(flat.output, weights, { transposeB: true, bias });
  }

  /** Softmax over `axis` (default: the last). */
  addSoftMax(input: NetworkTensor, axis = -1): Layer {
    return this.addLayer('Softmax', [input], { axis });
  }

  /** Batch normalization in inference form (folded into a preceding convolution when built). */
  addNormalization(
    input: NetworkTensor,
    scale: NetworkTensor,
    bias: NetworkTensor,
    mean: NetworkTensor,
    variance: NetworkTensor,
    epsilon = 1e-5,
  ): Layer {
    return this.addLayer('BatchNormalization', [input, scale, bias, mean, variance], {
      epsilon: { float: epsilon },
    });
  }

  /** Reshape (0 copies a dim, -1 is inferred), like IShuffleLayer's reshape. */
  addShuffle(input: NetworkTensor, reshape: number[]): Layer {
    const shape = this.addConstant(
      [reshape.length],
      'int64',
      BigInt64Array.from(reshape, BigInt),
      'shape',
    );
    return this.addLayer('Reshape', [input, shape]);
  }

  /** Reshape and/or transpose (TensorRT's IShuffleLayer): first transpose, reshape, second transpose. */
  addShuffleWith(
    input: NetworkTensor,
    options: { firstTranspose?: number[]; reshape?: number[]; secondTranspose?: number[] },
  ): Layer {
    let t = input;
    let last: Layer | undefined;
    if (options.firstTranspose)
      t = (last = this.addLayer('Transpose', [t], { perm: options.firstTranspose })).output;
    if (options.reshape) t = (last = this.addShuffle(t, options.reshape)).output;
    if (options.secondTranspose)
      last = this.addLayer('Transpose', [t], { perm: options.secondTranspose });
    if (!last)
      throw new KilnError(
        'INVALID_ARGUMENT',
        'addShuffleWith needs firstTranspose, reshape or secondTranspose',
      );
    return last;
  }

  /** Reduces over `axes` ('sum' | 'mean' | 'max' | 'min' | 'prod'), keeping reduced dims when asked. */
  addReduce(
    input: NetworkTensor,
    op: 'sum' | 'mean' | 'max' | 'min' | 'prod',
    axes: number[],
    keepDims = true,
  ): Layer {
    const ops = {
      sum: 'ReduceSum',
      mean: 'ReduceMean',
      max: 'ReduceMax',
      min: 'ReduceMin',
      prod: 'ReduceProd',
    } as const;
    if (!(op in ops))
      throw invalidParameterError('op', "'sum', 'mean', 'max', 'min' or 'prod'", op);
    const axesTensor = this.addConstant(
      [axes.length],
      'int64',
      BigInt64Array.from(axes, BigInt),
      'axes',
    );
    return this.addLayer(ops[op], [input, axesTensor], { keepdims: keepDims ? 1 : 0 });
  }

  /** Concatenates along `axis`. */
  addConcatenation(inputs: NetworkTensor[], axis: number): Layer {
    if (!Array.isArray(inputs) || inputs.length === 0)
      throw invalidParameterError('inputs', 'a non-empty array of NetworkTensors', inputs);
    return this.addLayer('Concat', inputs, { axis });
  }

  /** A strided slice: starts, ends and steps per axis in `axes` (ONNX Slice semantics). */
  addSlice(
    input: NetworkTensor,
    starts: number[],
    ends: number[],
    axes?: number[],
    steps?: number[],
  ): Layer {
    const ints = (name: string, v: number[]) =>
      this.addConstant([v.length], 'int64', BigInt64Array.from(v, BigInt), name);
    const axesT = ints('axes', axes ?? starts.map((_, i) => i));
    return this.addLayer('Slice', [
      input,
      ints('starts', starts),
      ints('ends', ends),
      axesT,
      ints('steps', steps ?? starts.map(() => 1)),
    ]);
  }

  /** Gathers slices of `input` along `axis` at `indices` (int32 or int64). */
  addGather(input: NetworkTensor, indices: NetworkTensor, axis = 0): Layer {
    return this.addLayer('Gather', [input, indices], { axis });
  }

  /** Resizes to `sizes` (one per dim) with 'nearest' or 'linear' interpolation. */
  addResize(
    input: NetworkTensor,
    sizes: number[],
    mode: 'nearest' | 'linear' = 'nearest',
    coordinateTransformation = 'half_pixel',
  ): Layer {
    const sizesT = this.addConstant(
      [sizes.length],
      'int64',
      BigInt64Array.from(sizes, BigInt),
      'sizes',
    );
    return this.addLayer('Resize', [input, null, null, sizesT], {
      mode,
      coordinate_transformation_mode: coordinateTransformation,
    });
  }

  /** Flatten to 2-D at `axis`. */
  addFlatten(input: NetworkTensor, axis = 1): Layer {
    return this.addLayer('Flatten', [input], { axis });
  }

  /** Tensors no layer produces and that are not inputs or constants: a broken network. */
  danglingTensors(): NetworkTensor[] {
    const known = new Set<NetworkTensor>(this.inputs);
    const dangling: NetworkTensor[] = [];
    for (const l of this.layers) {
      for (const t of l.inputs) if (t && !t.isConstant && !known.has(t)) dangling.push(t);
      for (const t of l.outputs) known.add(t);
    }
    for (const t of this.outputs) if (!t.isConstant && !known.has(t)) dangling.push(t);
    return dangling;
  }

  private checkNewName(name: string): void {
    if (typeof name !== 'string' || name.length === 0)
      throw invalidParameterError('name', 'a non-empty string', name);
    if (this.#names.has(name))
      throw new KilnError('INVALID_ARGUMENT', `the network already has a tensor named '${name}'`);
    this.#names.add(name);
  }
}
