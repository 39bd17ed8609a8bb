import { invalidParameterError } from './validate';

/** Element types of tensors and bindings. */
export type DataType =
  'float32' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool';

/** Every DataType, in a stable order. */
export const DATA_TYPES: readonly DataType[] = [
  'float32',
  'float16',
  'bfloat16',
  'int8',
  'uint8',
  'int32',
  'int64',
  'bool',
];

/** The TypedArray that holds each DataType (float16 and bfloat16 as raw 16-bit patterns). */
export interface TypedArrayOf {
  float32: Float32Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

/** Any TypedArray a tensor may hold. */
export type TensorData = TypedArrayOf[DataType];

type Ctor<T> = {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T;
  BYTES_PER_ELEMENT: number;
};

const info: { [D in DataType]: { size: number; onnx: number; ctor: Ctor<TypedArrayOf[D]> } } = {
  float32: { size: 4, onnx: 1, ctor: Float32Array },
  uint8: { size: 1, onnx: 2, ctor: Uint8Array },
  int8: { size: 1, onnx: 3, ctor: Int8Array },
  int32: { size: 4, onnx: 6, ctor: Int32Array },
  int64: { size: 8, onnx: 7, ctor: BigInt64Array },
  bool: { size: 1, onnx: 9, ctor: Uint8Array },
  float16: { size: 2, onnx: 10, ctor: Uint16Array },
  bfloat16: { size: 2, onnx: 16, ctor: Uint16Array },
};

/** True when `value` names a DataType. */
export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(info, value);
}

/** Throws a KilnError unless `value` names a DataType. */
export function expectDataType(name: string, value: unknown): DataType {
  if (!isDataType(value))
    throw invalidParameterError(name, `a data type (${DATA_TYPES.join(', ')})`, value);
  return value;
}

/** Bytes per element. */
export function dataTypeSize(dtype: DataType): number {
  return info[expectDataType('dtype', dtype)].size;
}

/** The ONNX TensorProto.DataType code (also the native core's). */
export function dataTypeCode(dtype: DataType): number {
  return info[expectDataType('dtype', dtype)].onnx;
}

/** The DataType for an ONNX TensorProto.DataType code, or undefined when kiln has none. */
export function dataTypeFromCode(code: number): DataType | undefined {
  return DATA_TYPES.find((d) => info[d].onnx === code);
}

/** The TypedArray constructor that holds `dtype`. */
export function typedArrayConstructor<D extends DataType>(dtype: D): Ctor<TypedArrayOf[D]> {
  return info[expectDataType('dtype', dtype) as D].ctor;
}
