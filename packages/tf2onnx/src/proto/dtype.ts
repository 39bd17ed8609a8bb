import { KilnError } from '@kiln/core';
import { ElemType } from '@kiln/onnx';

/** TensorFlow DataType enum values (tensorflow/core/framework/types.proto). */
export const TfDType = {
  FLOAT: 1,
  DOUBLE: 2,
  INT32: 3,
  UINT8: 4,
  INT16: 5,
  INT8: 6,
  STRING: 7,
  COMPLEX64: 8,
  INT64: 9,
  BOOL: 10,
  BFLOAT16: 14,
  UINT16: 17,
  COMPLEX128: 18,
  HALF: 19,
  RESOURCE: 20,
  VARIANT: 21,
  UINT32: 22,
  UINT64: 23,
} as const;

const NAMES: Record<string, number> = {
  DT_FLOAT: 1,
  DT_DOUBLE: 2,
  DT_INT32: 3,
  DT_UINT8: 4,
  DT_INT16: 5,
  DT_INT8: 6,
  DT_STRING: 7,
  DT_COMPLEX64: 8,
  DT_INT64: 9,
  DT_BOOL: 10,
  DT_BFLOAT16: 14,
  DT_UINT16: 17,
  DT_COMPLEX128: 18,
  DT_HALF: 19,
  DT_RESOURCE: 20,
  DT_VARIANT: 21,
  DT_UINT32: 22,
  DT_UINT64: 23,
};

/** A TF DataType from its JSON enum name ('DT_FLOAT') or number. */
export function tfDTypeFromName(name: string | number, where: string): number {
  if (typeof name === 'number') return name;
  const v = NAMES[name];
  if (v === undefined)
    throw new KilnError('INVALID_MODEL', `${where}: unknown TensorFlow dtype '${name}'`);
  return v;
}

const BYTES: Record<number, number> = {
  1: 4,
  2: 8,
  3: 4,
  4: 1,
  5: 2,
  6: 1,
  9: 8,
  10: 1,
  14: 2,
  17: 2,
  19: 2,
  22: 4,
  23: 8,
};

/** Bytes per element of a fixed-size TF dtype, or undefined (string, resource, variant). */
export function tfDTypeSize(dtype: number): number | undefined {
  return BYTES[dtype];
}

const TO_ONNX: Record<number, number> = {
  1: ElemType.FLOAT,
  2: ElemType.DOUBLE,
  3: ElemType.INT32,
  4: ElemType.UINT8,
  5: ElemType.INT16,
  6: ElemType.INT8,
  7: ElemType.STRING,
  9: ElemType.INT64,
  10: ElemType.BOOL,
  14: ElemType.BFLOAT16,
  17: ElemType.UINT16,
  19: ElemType.FLOAT16,
  22: ElemType.UINT32,
  23: ElemType.UINT64,
};

/** The ONNX element type of a TF dtype (ref types, dtype+100, count as their base type). */
export function onnxElemType(dtype: number, where: string): number {
  const t = TO_ONNX[dtype > 100 ? dtype - 100 : dtype];
  if (t === undefined)
    throw new KilnError(
      'UNSUPPORTED',
      `${where}: TensorFlow dtype ${dtype} has no ONNX equivalent`,
    );
  return t;
}
